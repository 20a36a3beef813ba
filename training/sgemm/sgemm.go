package sgemm

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
)

// Impl is a single-precision GEMM/GEMV on one instruction set's kernels. Its
// methods are safe for concurrent use.
type Impl struct {
	k kernel

	mu    sync.Mutex
	depth int // Threads calls running
	limit int // the smallest n of those calls

	pool sync.Pool // *workspace
}

// New returns the implementation on the named instruction set (AVX512, AVX2
// or Generic), or an error when this CPU cannot run it; "" picks the best
// this CPU runs.
func New(isa string) (*Impl, error) {
	ks := kernels()
	if isa == "" {
		return &Impl{k: ks[0]}, nil
	}
	for _, k := range ks {
		if k.name == isa {
			return &Impl{k: k}, nil
		}
	}
	return nil, fmt.Errorf("sgemm: instruction set %q not available on this CPU (available: %v)", isa, Available())
}

// Available returns the instruction sets this CPU runs, best first.
func Available() []string {
	var out []string
	for _, k := range kernels() {
		out = append(out, k.name)
	}
	return out
}

// ISA returns the name of the instruction set im runs with.
func (im *Impl) ISA() string { return im.k.name }

// Threads runs fn, during which every product of im, issued from any
// goroutine, uses at most n goroutines (n < 1 counts as 1), and returns true.
// Calls may nest and overlap: while several run, the smallest n holds.
// Results do not depend on the limit (see the package documentation).
func (im *Impl) Threads(n int, fn func()) bool {
	n = max(n, 1)
	im.mu.Lock()
	if im.depth == 0 || n < im.limit {
		im.limit = n
	}
	im.depth++
	im.mu.Unlock()
	defer func() {
		im.mu.Lock()
		im.depth--
		if im.depth == 0 {
			im.limit = 0
		}
		im.mu.Unlock()
	}()
	fn()
	return true
}

// maxThreads is the number of goroutines a product may use now.
func (im *Impl) maxThreads() int {
	p := runtime.GOMAXPROCS(0)
	im.mu.Lock()
	if im.depth > 0 {
		p = min(p, im.limit)
	}
	im.mu.Unlock()
	return p
}

// Blocking. kMax is the longest run of k summed in registers before the
// partial sums are added to C: products with k ≤ kMax take one pass, longer
// ones ceil(k/kTarget) passes of equal length (a multiple of 8). It depends on
// k only, so that every instruction set and thread count sums in the same
// order. mcTiles MR-panels of A (up to ~300 KB at kc 384) stay in L2 while a
// goroutine runs over its B panels; a goroutine packs at most ncMax columns
// of B at a time.
var (
	kMax    = 384
	kTarget = 320
	mcTiles = 16
)

const (
	ncMax = 4096
	// parallelFlops is the smallest product (2·m·n·k) spread over several
	// goroutines; smaller ones take a few microseconds and run on the
	// calling goroutine.
	parallelFlops = 1 << 22
)

// kBlock is the length of the passes over k (the last may be shorter).
func kBlock(k int) int {
	if k <= kMax {
		return k
	}
	passes := (k + kTarget - 1) / kTarget
	return ((k+passes-1)/passes + 7) &^ 7
}

// workspace holds the buffers of one product's goroutines: a packed A
// panel, packed B panels and an edge tile each.
type workspace struct {
	a, b, tiles [][]float32
}

// alignedFloats returns a slice of n float32s starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

func (im *Impl) workspace(threads, na, nb int) *workspace {
	ws, _ := im.pool.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	for len(ws.a) < threads {
		ws.a = append(ws.a, nil)
		ws.b = append(ws.b, nil)
		ws.tiles = append(ws.tiles, make([]float32, im.k.mr*im.k.nr))
	}
	for t := 0; t < threads; t++ {
		if cap(ws.a[t]) < na {
			ws.a[t] = alignedFloats(na)
		}
		if cap(ws.b[t]) < nb {
			ws.b[t] = alignedFloats(nb)
		}
		ws.a[t], ws.b[t] = ws.a[t][:na], ws.b[t][:nb]
	}
	return ws
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// op(A) m×k, op(B) k×n and C m×n, as gonum's blas.Float32 Sgemm (same
// arguments, same panics). C must not overlap A or B (it panics if it does);
// A and B may be the same memory. When alpha is 0 or k is 0, A and B are not
// read; when beta is 0, C is not read (NaN in it does not propagate).
func (im *Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	aT, bT := checkGemm(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	cEnd := (m-1)*ldc + n
	if overlaps(c[:cEnd], a) || overlaps(c[:cEnd], b) {
		panic("sgemm: C overlaps A or B")
	}
	im.gemm(aT, bT, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// scale sets C = beta·C (zeros when beta is 0, whatever C held).
func scale(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// overlaps reports whether x and y share memory.
func overlaps(x, y []float32) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	x0, y0 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return x0 < y0+uintptr(len(y))*4 && y0 < x0+uintptr(len(x))*4
}

// gemm is Sgemm after the checks: m, n, k ≥ 1, alpha ≠ 0.
//
// The tiles of C are split between the goroutines along n (runs of B
// panels) or, when C has fewer column panels than row panels and too few
// to share, along m. Each goroutine packs the B panels it needs (all of
// them when split along m) into its own buffer and runs every pass over k
// on its share, so that no goroutine waits for another until the end.
//
// With pre, B's panels come from pre (PackB) instead of being packed.
func (im *Impl) gemm(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, pre *PackedB) {
	kn := &im.k
	mr, nr := kn.mr, kn.nr
	kc := kBlock(k)
	mPanels, nPanels := (m+mr-1)/mr, (n+nr-1)/nr
	threads := 1
	if 2*float64(m)*float64(n)*float64(k) >= parallelFlops {
		threads = min(im.maxThreads(), mPanels*nPanels)
	}
	splitN := nPanels >= mPanels || nPanels >= 4*threads
	if splitN {
		threads = min(threads, nPanels)
	} else {
		threads = min(threads, mPanels)
	}
	ncPanels := ncMax / nr // B panels packed at a time
	share := nPanels
	if splitN {
		share = (nPanels + threads - 1) / threads
	}
	nb := min(share, ncPanels) * nr * kc
	if pre != nil {
		nb = 0
	}
	ws := im.workspace(threads, mr*kc, nb)
	defer im.pool.Put(ws)

	parallel(threads, func(t int) {
		i0, i1, j0, j1 := 0, mPanels, 0, nPanels
		if splitN {
			j0, j1 = nPanels*t/threads, nPanels*(t+1)/threads
		} else {
			i0, i1 = mPanels*t/threads, mPanels*(t+1)/threads
		}
		ab, bb, tile := ws.a[t], ws.b[t], ws.tiles[t]
		edgeRows := 0 // rows of the last A panel, packed because C cuts it short
		if i1 == mPanels {
			edgeRows = m - (mPanels-1)*mr
			if edgeRows == mr {
				edgeRows = 0
			}
		}
		for jb := j0; jb < j1; jb += ncPanels {
			jbEnd := min(jb+ncPanels, j1)
			for pc := 0; pc < k; pc += kc {
				kcur := min(kc, k-pc)
				bet, useC := beta, beta != 0
				if pc > 0 {
					bet, useC = 1, true
				}
				for jp := jb; jp < jbEnd && pre == nil; jp++ {
					col := jp * nr
					dst := bb[(jp-jb)*nr*kcur : (jp-jb+1)*nr*kcur]
					if kn.packB != nil {
						kn.packB(bT, b, ldb, pc, kcur, col, min(nr, n-col), dst)
					} else {
						pack(!bT, b, ldb, col, min(nr, n-col), pc, kcur, nr, dst)
					}
				}
				if edgeRows > 0 {
					pack(aT, a, lda, m-edgeRows, edgeRows, pc, kcur, mr, ab[:mr*kcur])
				}
				for ib := i0; ib < i1; ib += mcTiles {
					for jp := jb; jp < jbEnd; jp++ {
						var bp []float32
						if pre != nil {
							bp = pre.panel(pc, kcur, jp)
						} else {
							bp = bb[(jp-jb)*nr*kcur : (jp-jb+1)*nr*kcur]
						}
						col := jp * nr
						cols := min(nr, n-col)
						for ip := ib; ip < min(ib+mcTiles, i1); ip++ {
							row := ip * mr
							rows := min(mr, m-row)
							// A(i, p) of this panel: in place, or packed.
							ap, rs, cs := ab, 1, mr
							switch {
							case rows < mr:
							case aT:
								ap, rs, cs = a[pc*lda+row:], 1, lda
							default:
								ap, rs, cs = a[row*lda+pc:], lda, 1
							}
							if rows == mr && cols == nr {
								kn.gemm(kcur, ap, rs, cs, bp, c[row*ldc+col:], ldc, alpha, bet, useC)
								continue
							}
							edgeTile(kn, kcur, ap, rs, cs, bp, c, row, rows, col, cols, ldc, tile, alpha, bet, useC)
						}
					}
				}
			}
		}
	})
}

// edgeTile runs the kernel on a tile that C cuts short, through tile: the
// same operations as on a full tile, so results do not depend on where the
// edge falls.
func edgeTile(kn *kernel, kc int, ap []float32, rs, cs int, bp, c []float32, row, rows, col, cols, ldc int, tile []float32, alpha, beta float32, useC bool) {
	nr := kn.nr
	if useC {
		for i := 0; i < rows; i++ {
			copy(tile[i*nr:i*nr+cols], c[(row+i)*ldc+col:])
		}
	}
	if kn.gemmHalf != nil && cols <= nr/2 {
		kn.gemmHalf(kc, ap, rs, cs, bp, tile, nr, alpha, beta, useC)
	} else {
		kn.gemm(kc, ap, rs, cs, bp, tile, nr, alpha, beta, useC)
	}
	for i := 0; i < rows; i++ {
		copy(c[(row+i)*ldc+col:(row+i)*ldc+col+cols], tile[i*nr:])
	}
}

// parallel runs fn(0) … fn(n−1), on n goroutines (this one included), and
// waits.
func parallel(n int, fn func(t int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(n - 1)
	for t := 1; t < n; t++ {
		go func() {
			defer wg.Done()
			fn(t)
		}()
	}
	fn(0)
	wg.Wait()
}

// pack packs kc steps of w lines of a matrix x (leading dimension ld)
// into dst as kc groups of g values, zero past w: value i of group p is
// x[(p0+p)·ld + i0+i] when byStep (a step is a run of x's memory), else
// x[(i0+i)·ld + p0+p] (a line is a run). Rows of op(A) are lines with
// byStep = transposed A; columns of op(B) are lines with byStep = B not
// transposed.
func pack(byStep bool, x []float32, ld, i0, w, p0, kc, g int, dst []float32) {
	dst = dst[:kc*g]
	if byStep {
		for p := 0; p < kc; p++ {
			grp := dst[p*g : (p+1)*g]
			copy(grp, x[(p0+p)*ld+i0:(p0+p)*ld+i0+w])
			clear(grp[w:])
		}
		return
	}
	for i := 0; i < w; i++ {
		src := x[(i0+i)*ld+p0:]
		src = src[:kc]
		d := dst[i:]
		for p, v := range src {
			d[p*g] = v
		}
	}
	for i := w; i < g; i++ {
		for p := 0; p < kc; p++ {
			dst[p*g+i] = 0
		}
	}
}

// checkGemm panics, with gonum's messages, on arguments gonum's Sgemm
// rejects, and returns whether A and B are transposed.
func checkGemm(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) (aT, bT bool) {
	trans := func(t blas.Transpose) bool {
		switch t {
		case blas.NoTrans:
			return false
		case blas.Trans, blas.ConjTrans:
			return true
		}
		panic("blas: illegal transpose")
	}
	aT, bT = trans(tA), trans(tB)
	switch {
	case m < 0:
		panic("blas: m < 0")
	case n < 0:
		panic("blas: n < 0")
	case k < 0:
		panic("blas: k < 0")
	case aT && lda < max(1, m), !aT && lda < max(1, k):
		panic("blas: bad leading dimension of A")
	case bT && ldb < max(1, k), !bT && ldb < max(1, n):
		panic("blas: bad leading dimension of B")
	case ldc < max(1, n):
		panic("blas: bad leading dimension of C")
	}
	if m == 0 || n == 0 {
		return aT, bT
	}
	switch {
	case aT && len(a) < (k-1)*lda+m, !aT && len(a) < (m-1)*lda+k:
		panic("blas: insufficient length of a")
	case bT && len(b) < (n-1)*ldb+k, !bT && len(b) < (k-1)*ldb+n:
		panic("blas: insufficient length of b")
	case len(c) < (m-1)*ldc+n:
		panic("blas: insufficient length of c")
	}
	return aT, bT
}
