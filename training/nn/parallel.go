package nn

import (
	"runtime"
	"sync"

	"gorgonia.org/tensor"
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
