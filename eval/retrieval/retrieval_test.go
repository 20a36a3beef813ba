package retrieval

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

const tol = 1e-12

func TestEvaluate(t *testing.T) {
	// 2 images × 2 captions per image (captions 0, 1 → image 0; 2, 3 → image 1). Hand-derived ranks:
	// image 0 row [.9 .1 .5 .2]: caption 0 rank 0 → i2t rank 0.
	// image 1 row [.8 .3 .7 .1]: caption 2 rank 1 (.8 above), caption 3 rank 3 → i2t rank 1.
	// t2i: caption 0 column [.9 .8] → image 0 rank 0; caption 1 [.1 .3] → rank 1; caption 2 [.5 .7] →
	// image 1 rank 0; caption 3 [.2 .1] → rank 1.
	sims := []float32{
		.9, .1, .5, .2,
		.8, .3, .7, .1,
	}
	res, err := Evaluate(sims, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	// i2t ranks [0 1]: R@1 50, R@5 100, R@10 100, median floor(0.5)+1 = 1, mean 0.5+1.
	// t2i ranks [0 1 0 1]: R@1 50, R@5 100, R@10 100, median floor(0.5)+1 = 1, mean 1.5.
	want := Result{
		I2T:  Recalls{R1: 50, R5: 100, R10: 100, MedR: 1, MeanR: 1.5},
		T2I:  Recalls{R1: 50, R5: 100, R10: 100, MedR: 1, MeanR: 1.5},
		RSum: 500,
	}
	if !equal(res, want) {
		t.Errorf("got %+v, want %+v", res, want)
	}
}

func equal(a, b Result) bool {
	x := []float64{a.I2T.R1, a.I2T.R5, a.I2T.R10, a.I2T.MedR, a.I2T.MeanR, a.T2I.R1, a.T2I.R5, a.T2I.R10, a.T2I.MedR, a.T2I.MeanR, a.RSum}
	y := []float64{b.I2T.R1, b.I2T.R5, b.I2T.R10, b.I2T.MedR, b.I2T.MeanR, b.T2I.R1, b.T2I.R5, b.T2I.R10, b.T2I.MedR, b.T2I.MeanR, b.RSum}
	for i := range x {
		if !scalar.EqualWithinAbs(x[i], y[i], tol) {
			return false
		}
	}
	return true
}

func TestEvaluateTiesAndDeepRanks(t *testing.T) {
	// 12 images, 1 caption each; every similarity equal. Stable-reversed ties: caption c's rank for
	// image i is the number of captions with a larger index, 11 − c; image i's target is caption i.
	// i2t ranks 11 − i: R@1 = 1/12 (i = 11), R@5 = 5/12, R@10 = 10/12. t2i is symmetric.
	n := 12
	sims := make([]float64, n*n)
	res, err := Evaluate(sims, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !scalar.EqualWithinAbs(res.I2T.R1, 100.0/12, tol) || !scalar.EqualWithinAbs(res.I2T.R5, 500.0/12, tol) || !scalar.EqualWithinAbs(res.T2I.R10, 1000.0/12, tol) {
		t.Errorf("ties: got %+v", res)
	}
	// Ranks 0..11: median (5+6)/2 = 5.5 → floor + 1 = 6; mean 5.5 + 1 = 6.5.
	if res.I2T.MedR != 6 || res.I2T.MeanR != 6.5 {
		t.Errorf("medr %v meanr %v, want 6 6.5", res.I2T.MedR, res.I2T.MeanR)
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate([]float32{1, 2}, 1, 1); err == nil {
		t.Error("wrong length accepted")
	}
	if _, err := Evaluate([]float32{}, 0, 5); err == nil {
		t.Error("zero images accepted")
	}
	if _, err := Evaluate([]float64{math.NaN()}, 1, 1); err == nil {
		t.Error("NaN accepted")
	}
}

// BenchmarkEvaluate: 1,000 images × 5,000 captions (SCAN's 1K test protocol).
func BenchmarkEvaluate(b *testing.B) {
	n := 1000
	sims := make([]float32, n*5*n)
	for i := range sims {
		sims[i] = float32((i*2654435761)%1000) / 1000
	}
	for b.Loop() {
		if _, err := Evaluate(sims, n, 5); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sims)*b.N)/b.Elapsed().Seconds(), "sims/s")
}
