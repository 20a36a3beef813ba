package sgemm

import "gonum.org/v1/gonum/blas"

// parallelGemv is the smallest matrix (m·n values) whose Sgemv is spread
// over several goroutines.
const parallelGemv = 1 << 17

// Sgemv computes y = alpha·op(A)·x + beta·y for a row-major m×n matrix A, as
// gonum's blas.Float32 Sgemv (same arguments, same panics; negative
// increments walk the vector backwards). When alpha is 0, A and x are not
// read; when beta is 0, y is not read. y must not overlap A or x.
func (im *Impl) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if tA != blas.NoTrans && tA != blas.Trans && tA != blas.ConjTrans {
		panic("blas: illegal transpose")
	}
	switch {
	case m < 0:
		panic("blas: m < 0")
	case n < 0:
		panic("blas: n < 0")
	case lda < max(1, n):
		panic("blas: bad leading dimension of A")
	case incX == 0:
		panic("blas: zero x index increment")
	case incY == 0:
		panic("blas: zero y index increment")
	}
	trans := tA != blas.NoTrans
	lenX, lenY := n, m
	if trans {
		lenX, lenY = m, n
	}
	if m == 0 || n == 0 {
		return
	}
	if (incX > 0 && (lenX-1)*incX >= len(x)) || (incX < 0 && (1-lenX)*incX >= len(x)) {
		panic("blas: insufficient length of x")
	}
	if (incY > 0 && (lenY-1)*incY >= len(y)) || (incY < 0 && (1-lenY)*incY >= len(y)) {
		panic("blas: insufficient length of y")
	}
	if len(a) < lda*(m-1)+n {
		panic("blas: insufficient length of a")
	}
	if alpha == 0 && beta == 1 {
		return
	}
	yv := gather(y, incY, lenY)
	if alpha == 0 {
		scale(1, lenY, beta, yv, lenY)
	} else {
		xv := gather(x, incX, lenX)
		if overlaps(yv, a[:lda*(m-1)+n]) || overlaps(yv, xv) {
			panic("sgemm: y overlaps A or x")
		}
		im.gemv(trans, m, n, alpha, a, lda, xv, beta, yv)
	}
	if incY != 1 {
		scatter(yv, y, incY)
	}
}

// gather returns the n elements of v at increment inc (BLAS order) as a
// contiguous slice (v itself when inc is 1).
func gather(v []float32, inc, n int) []float32 {
	if inc == 1 {
		return v[:n]
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = v[idx(i, inc, n)]
	}
	return out
}

// scatter writes the contiguous values back to v at increment inc.
func scatter(vals, v []float32, inc int) {
	for i, x := range vals {
		v[idx(i, inc, len(vals))] = x
	}
}

// idx is the position of element i of an n-vector at increment inc.
func idx(i, inc, n int) int {
	if inc > 0 {
		return i * inc
	}
	return (n - 1 - i) * -inc
}

// gemv is Sgemv on contiguous x and y, alpha ≠ 0.
func (im *Impl) gemv(trans bool, m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) {
	threads := 1
	if m*n >= parallelGemv {
		threads = im.maxThreads()
	}
	kn := &im.k
	if !trans { // y(i) = beta·y(i) + alpha·(row i of A)·x: one dot product per row
		threads = min(threads, m)
		parallel(threads, func(t int) {
			for i := m * t / threads; i < m*(t+1)/threads; i++ {
				d := kn.dot(a[i*lda:i*lda+n], x)
				if beta == 0 {
					y[i] = alpha * d
				} else {
					y[i] = beta*y[i] + alpha*d
				}
			}
		})
		return
	}
	// y(j) = beta·y(j) + alpha·Σ_i A(i, j)·x(i): rows of A added in order into
	// a sum, columns shared out in runs of 32 so that which columns take the
	// vector path does not depend on the split.
	sum := make([]float32, n)
	runs := (n + 31) / 32
	threads = min(threads, runs)
	parallel(threads, func(t int) {
		j0, j1 := 32*(runs*t/threads), min(n, 32*(runs*(t+1)/threads))
		s := sum[j0:j1]
		for i := 0; i < m; i++ {
			kn.axpy(x[i], a[i*lda+j0:i*lda+j1], s)
		}
		for j, v := range s {
			if beta == 0 {
				y[j0+j] = alpha * v
			} else {
				y[j0+j] = beta*y[j0+j] + alpha*v
			}
		}
	})
}
