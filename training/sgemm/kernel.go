package sgemm

// kernel is one instruction set's micro-kernels.
//
// gemm computes one mr×nr tile of C: with A(i, p) = a[i·rs+p·cs] (mr rows
// of op(A) read in place, or a packed panel with rs 1 and cs mr) and b a
// packed panel of kc groups of nr values (b[p·nr+j] = B(p, j)), it sums
// acc(i, j) = Σ_p A(i, p)·B(p, j) in order of p, one multiply-add per step,
// then writes c[i·ldc+j] = beta·c[i·ldc+j] + alpha·acc(i, j), or
// alpha·acc(i, j) without reading c when useC is false (so that NaN in c
// does not propagate when beta is 0). kc ≥ 1; c holds at least
// (mr−1)·ldc+nr values.
//
// gemmHalf, when set, is gemm on the first nr/2 columns only (the same
// operations per element), for tiles that C cuts to at most nr/2 columns.
// packB, when set, replaces the Go packing of B panels (see pack).
//
// dot returns Σ x[i]·y[i] over len(x) values (len(y) ≥ len(x)); axpy adds
// alpha·x[i] to y[i] for i < len(x). Both use a fixed order of operations
// that depends only on len(x).
type kernel struct {
	name     string
	mr, nr   int
	gemm     func(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool)
	gemmHalf func(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool)
	packB    func(bT bool, b []float32, ldb, pc, kc, col, cols int, dst []float32)
	dot      func(x, y []float32) float32
	axpy     func(alpha float32, x, y []float32)
}

// Names of the instruction sets.
const (
	// AVX512 is the AVX-512F kernel (12×32 tile).
	AVX512 = "avx512"
	// AVX2 is the AVX2+FMA kernel (6×16 tile).
	AVX2 = "avx2"
	// Generic is the portable Go kernel (4×4 tile).
	Generic = "generic"
)

// generic is the portable kernel.
var generic = kernel{name: Generic, mr: 4, nr: 4, gemm: gemmGeneric, dot: dotGeneric, axpy: axpyGeneric}

// gemmGeneric is the 4×4 micro-kernel in Go: each step loads the four
// values of A, then one value of B at a time (21 live values, few spills
// on amd64's 16 registers, none on arm64's 32).
func gemmGeneric(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	b = b[:4*kc]
	last := (kc - 1) * cs
	r0, r1, r2, r3 := a[:last+1], a[rs:rs+last+1], a[2*rs:2*rs+last+1], a[3*rs:3*rs+last+1]
	for p, o := 0, 0; p < kc; p, o = p+1, o+cs {
		a0, a1, a2, a3 := r0[o], r1[o], r2[o], r3[o]
		bp := b[4*p : 4*p+4 : 4*p+4]
		x := bp[0]
		c00 += a0 * x
		c10 += a1 * x
		c20 += a2 * x
		c30 += a3 * x
		x = bp[1]
		c01 += a0 * x
		c11 += a1 * x
		c21 += a2 * x
		c31 += a3 * x
		x = bp[2]
		c02 += a0 * x
		c12 += a1 * x
		c22 += a2 * x
		c32 += a3 * x
		x = bp[3]
		c03 += a0 * x
		c13 += a1 * x
		c23 += a2 * x
		c33 += a3 * x
	}
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	_ = c[3*ldc+3]
	for i := range acc {
		row := c[i*ldc : i*ldc+4 : i*ldc+4]
		for j, v := range acc[i] {
			if useC {
				row[j] = beta*row[j] + alpha*v
			} else {
				row[j] = alpha * v
			}
		}
	}
}

// dotGeneric is the dot product in Go, in four partial sums.
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGeneric is y += alpha·x in Go.
func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}
