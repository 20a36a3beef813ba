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
	return SgemmGFLOPS(impl, n, n, n, reps)
}

// SgemmGFLOPS measures C = A·B (NoTrans, NoTrans) of impl in GFLOP/s for an
// m×k A and a k×n B: the best of reps timed products after one warm-up, or,
// for products that take under 10 ms, the best of reps batches of as many
// products as fill 10 ms. m, n, k and reps must be positive.
func SgemmGFLOPS(impl Float32, m, n, k, reps int) (float64, error) {
	if m <= 0 || n <= 0 || k <= 0 || reps <= 0 {
		return 0, fmt.Errorf("blas: SgemmGFLOPS needs m, n, k, reps > 0, got %d, %d, %d, %d", m, n, k, reps)
	}
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	for i := range b {
		b[i] = r.Float32() - 0.5
	}
	run := func() { impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n) }
	start := time.Now()
	run()
	batch := 1
	if d := time.Since(start); d < 10*time.Millisecond {
		batch = int(10*time.Millisecond/max(d, time.Microsecond)) + 1
	}
	best := 0.0
	for i := 0; i < reps; i++ {
		start := time.Now()
		for j := 0; j < batch; j++ {
			run()
		}
		gf := 2 * float64(m) * float64(n) * float64(k) * float64(batch) / time.Since(start).Seconds() / 1e9
		best = max(best, gf)
	}
	return best, nil
}
