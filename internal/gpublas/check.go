package gpublas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas"
)

// Case is one Sgemm comparison: C = Alpha·op(A)·op(B) + Beta·C with
// op(A) M×K and op(B) K×N, row-major, each leading dimension the smallest
// valid one plus its pad.
type Case struct {
	TA, TB           blas.Transpose
	M, N, K          int
	PadA, PadB, PadC int
	Alpha, Beta      float32
}

// String describes the case, e.g. "NT m=96 n=80 k=72 pad=3,1,5 alpha=1.5 beta=0.5".
func (c Case) String() string {
	t := func(x blas.Transpose) string {
		if isTrans(x) {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s m=%d n=%d k=%d pad=%d,%d,%d alpha=%g beta=%g",
		t(c.TA), t(c.TB), c.M, c.N, c.K, c.PadA, c.PadB, c.PadC, c.Alpha, c.Beta)
}

// dims returns the stored shapes and leading dimensions of A, B and C.
func (c Case) dims() (aRows, aCols, lda, bRows, bCols, ldb, ldc int) {
	aRows, aCols = c.M, c.K
	if isTrans(c.TA) {
		aRows, aCols = c.K, c.M
	}
	bRows, bCols = c.K, c.N
	if isTrans(c.TB) {
		bRows, bCols = c.N, c.K
	}
	return aRows, aCols, aCols + c.PadA, bRows, bCols, bCols + c.PadB, c.N + c.PadC
}

// CheckCases returns the cases that gpu-check and doctor run: the four
// transpose combinations with odd sizes and padded leading dimensions, with
// beta zero and non-zero, and two larger products. All reach
// DefaultThreshold, so a BLAS with the default threshold sends them to the
// device.
func CheckCases() []Case {
	var cs []Case
	for _, ta := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tb := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			cs = append(cs,
				Case{TA: ta, TB: tb, M: 97, N: 83, K: 71, PadA: 3, PadB: 1, PadC: 5, Alpha: 1.5, Beta: 0},
				Case{TA: ta, TB: tb, M: 64, N: 130, K: 65, PadA: 0, PadB: 7, PadC: 2, Alpha: -0.75, Beta: 0.5},
			)
		}
	}
	return append(cs,
		Case{TA: blas.NoTrans, TB: blas.NoTrans, M: 128, N: 1024, K: 1024, Alpha: 1, Beta: 0},
		Case{TA: blas.NoTrans, TB: blas.Trans, M: 512, N: 384, K: 1000, PadC: 1, Alpha: 1, Beta: 1},
	)
}

// gapValue fills the elements between the rows of C (ldc > n); an
// implementation must leave them alone.
const gapValue = float32(-12345.25)

// Compare runs case c through got and want on the same operands (uniform
// in [-0.5, 0.5) from seed) and returns the max-norm relative error
// max|got−want| / max|want| over C's m×n elements. It returns an error when
// got changed A, B or the gaps between C's rows, or produced NaN.
func Compare(got, want blas.Float32, c Case, seed uint64) (float64, error) {
	aRows, aCols, lda, bRows, bCols, ldb, ldc := c.dims()
	r := rand.New(rand.NewPCG(seed, 1))
	fill := func(rows, cols, ld int) []float32 {
		x := make([]float32, rows*ld)
		for i := 0; i < rows; i++ {
			for j := 0; j < ld; j++ {
				if j < cols {
					x[i*ld+j] = r.Float32() - 0.5
				} else {
					x[i*ld+j] = gapValue
				}
			}
		}
		return x
	}
	a := fill(aRows, aCols, lda)
	b := fill(bRows, bCols, ldb)
	c0 := fill(c.M, c.N, ldc)
	a0, b0 := slices.Clone(a), slices.Clone(b)
	cw, cg := slices.Clone(c0), slices.Clone(c0)
	want.Sgemm(c.TA, c.TB, c.M, c.N, c.K, c.Alpha, a, lda, b, ldb, c.Beta, cw, ldc)
	got.Sgemm(c.TA, c.TB, c.M, c.N, c.K, c.Alpha, a, lda, b, ldb, c.Beta, cg, ldc)
	if !slices.Equal(a, a0) || !slices.Equal(b, b0) {
		return 0, fmt.Errorf("gpublas: %v: the product changed its input A or B", c)
	}
	var maxDiff, maxWant float64
	for i := 0; i < c.M; i++ {
		for j := 0; j < ldc; j++ {
			g, w := cg[i*ldc+j], cw[i*ldc+j]
			if j >= c.N {
				if g != c0[i*ldc+j] {
					return 0, fmt.Errorf("gpublas: %v: C[%d][%d] between rows changed from %g to %g", c, i, j, c0[i*ldc+j], g)
				}
				continue
			}
			if math.IsNaN(float64(g)) {
				return 0, fmt.Errorf("gpublas: %v: C[%d][%d] is NaN", c, i, j)
			}
			maxDiff = max(maxDiff, math.Abs(float64(g)-float64(w)))
			maxWant = max(maxWant, math.Abs(float64(w)))
		}
	}
	if maxWant == 0 {
		return maxDiff, nil
	}
	return maxDiff / maxWant, nil
}

// GFLOPS measures impl on an m×k by k×n product: one warm-up call (which
// also sizes device buffers), then reps timed calls. It returns the
// throughput in GFLOP/s (2·m·n·k per call) and the mean time per call.
func GFLOPS(impl blas.Float32, m, n, k, reps int) (float64, time.Duration, error) {
	if m <= 0 || n <= 0 || k <= 0 || reps <= 0 {
		return 0, 0, fmt.Errorf("gpublas: GFLOPS needs m, n, k, reps > 0, got %d, %d, %d, %d", m, n, k, reps)
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
	impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	start := time.Now()
	for i := 0; i < reps; i++ {
		impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	}
	el := time.Since(start)
	per := el / time.Duration(reps)
	return 2 * float64(m) * float64(n) * float64(k) * float64(reps) / el.Seconds() / 1e9, per, nil
}
