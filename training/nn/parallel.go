package nn

import (
	"runtime"
	"sync"

	gblas "gonum.org/v1/gonum/blas"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/sgemm"
)

// parallelMin is the smallest step (rows × width values) whose element-wise work
// parallelRows spreads over the CPUs.
const parallelMin = 1 << 14

// parallelRows calls fn on consecutive row ranges covering [0, rows), on up to GOMAXPROCS
// goroutines when rows × width is large enough to pay for them, and waits.
func parallelRows(rows, width int, fn func(lo, hi int)) {
	parallelRowsN(runtime.GOMAXPROCS(0), rows, width, fn)
}

// parallelRowsN is parallelRows on up to p goroutines.
func parallelRowsN(p, rows, width int, fn func(lo, hi int)) {
	p = min(p, rows)
	if p < 2 || rows*width < parallelMin {
		fn(0, rows)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < p; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(rows*i/p, rows*(i+1)/p)
		}()
	}
	fn(0, rows/p)
	wg.Wait()
}

// ParallelFor calls fn on consecutive ranges covering [0, n), on up to GOMAXPROCS goroutines,
// and waits.
func ParallelFor(n int, fn func(lo, hi int)) {
	parallelRowsN(runtime.GOMAXPROCS(0), n, parallelMin, fn)
}

// threadedBLAS is training/blas's Threaded: the installed BLAS can limit the
// threads of the products issued while fn runs.
type threadedBLAS interface{ Threads(n int, fn func()) bool }

// eachSmall calls fn on consecutive ranges covering [0, n); each call issues
// small matrix products and writes only outputs of its own range. When the
// installed BLAS can run products single-threaded (OpenBLAS), the ranges go
// to up to GOMAXPROCS goroutines whose products run one thread each, which
// for products of a few million flops is 2–3× faster per product than
// spreading each over all threads. Otherwise fn(0, n) runs on this goroutine:
// a threaded BLAS called from several goroutines at once contends badly, and
// a BLAS that parallelises internally gains nothing from it.
//
// Each product is computed by the same single-threaded kernel whatever the
// split, so results do not depend on the number of CPUs.
func eachSmall(n int, fn func(lo, hi int)) {
	tb, ok := tensor.WhichBLAS().(threadedBLAS)
	if !ok || runtime.GOMAXPROCS(0) < 2 || n < 2 || !tb.Threads(1, func() { ParallelFor(n, fn) }) {
		fn(0, n)
	}
}

// rowsFunc spreads fn over consecutive row ranges covering [0, rows) of a
// matrix with width columns (parallelRows, or a limited version of it).
type rowsFunc func(rows, width int, fn func(lo, hi int))

// sideBySide runs independent computations, each a chain of products and
// element-wise work. When the installed BLAS can limit its threads and there
// are at least as many CPUs as computations, they run at once on their own
// goroutines, each with an equal share of the CPUs for its products and for
// its element-wise work (the rowsFunc it gets); otherwise one after another,
// each with all of them.
func sideBySide(fns ...func(rows rowsFunc)) {
	p := runtime.GOMAXPROCS(0)
	if tb, ok := tensor.WhichBLAS().(threadedBLAS); ok && len(fns) > 1 && p >= len(fns) {
		share := p / len(fns)
		rows := func(rows, width int, fn func(lo, hi int)) { parallelRowsN(share, rows, width, fn) }
		ran := tb.Threads(share, func() {
			var wg sync.WaitGroup
			for _, f := range fns[1:] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f(rows)
				}()
			}
			fns[0](rows)
			wg.Wait()
		})
		if ran {
			return
		}
	}
	for _, f := range fns {
		f(parallelRows)
	}
}

// packingBLAS is training/blas's Packer: the installed BLAS can pack a B operand once for
// several products.
type packingBLAS interface {
	PackB(tB gblas.Transpose, k, n int, b []float32, ldb int) *sgemm.PackedB
	SgemmPacked(tA gblas.Transpose, m int, alpha float32, a []float32, lda int, p *sgemm.PackedB, beta float32, c []float32, ldc int)
}

// operandB is the B operand (op(B) k×n) of several products in a pass, packed once when the
// installed BLAS can (float32, packingBLAS): the same values as gemm with B each time.
type operandB[F float] struct {
	tB     bool
	k, n   int
	b      []F
	ldb    int
	packed *sgemm.PackedB
	blas   packingBLAS
}

func newOperandB[F float](tB bool, k, n int, b []F, ldb int) operandB[F] {
	o := operandB[F]{tB: tB, k: k, n: n, b: b, ldb: ldb}
	if b32, ok := any(b).([]float32); ok {
		if pb, ok := tensor.WhichBLAS().(packingBLAS); ok {
			t := gblas.NoTrans
			if tB {
				t = gblas.Trans
			}
			if o.packed = pb.PackB(t, k, n, b32, ldb); o.packed != nil {
				o.blas = pb
			}
		}
	}
	return o
}

// gemm is C = alpha·A·op(B) + beta·C with A m×k (lda) and C m×n (ldc).
func (o operandB[F]) gemm(m int, alpha F, a []F, lda int, beta F, c []F, ldc int) {
	if o.packed != nil {
		o.blas.SgemmPacked(gblas.NoTrans, m, float32(alpha), any(a).([]float32), lda, o.packed, float32(beta), any(c).([]float32), ldc)
		return
	}
	gemm(false, o.tB, m, o.n, o.k, alpha, a, lda, o.b, o.ldb, beta, c, ldc)
}
