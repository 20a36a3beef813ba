package blas

import (
	"fmt"
	"math/rand/v2"
	"time"

	gblas "gonum.org/v1/gonum/blas"
)

// PeakSgemm measures the sgemm throughput of impl in GFLOP/s on square n×n
// float32 matrices: the best of reps timed products after one warm-up
// product (the best, so that a briefly busy machine does not lower the
// peak). It is a measurement helper for benchmarks; n must be positive.
func PeakSgemm(impl Float32, n, reps int) (float64, error) {
	if n <= 0 || reps <= 0 {
		return 0, fmt.Errorf("blas: PeakSgemm needs n, reps > 0, got %d, %d", n, reps)
	}
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]float32, n*n)
	b := make([]float32, n*n)
	c := make([]float32, n*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
		b[i] = r.Float32() - 0.5
	}
	impl.Sgemm(gblas.NoTrans, gblas.NoTrans, n, n, n, 1, a, n, b, n, 0, c, n)
	best := 0.0
	for i := 0; i < reps; i++ {
		start := time.Now()
		impl.Sgemm(gblas.NoTrans, gblas.NoTrans, n, n, n, 1, a, n, b, n, 0, c, n)
		gf := 2 * float64(n) * float64(n) * float64(n) / time.Since(start).Seconds() / 1e9
		best = max(best, gf)
	}
	return best, nil
}
