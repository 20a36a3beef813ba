package nn

import (
	"math"
	"testing"
)

func TestFastExp(t *testing.T) {
	var worst float64
	for x := -699.9; x < 699.9; x += 0.000731 {
		e, f := math.Exp(x), fastExp(x)
		worst = max(worst, math.Abs(e-f)/e)
	}
	if worst > 1e-15 {
		t.Errorf("largest relative error %g", worst)
	}
	for _, x := range []float64{0, -0.0, 1, -1, 700, -700, 709, -745, 1000, -1000, math.Inf(1), math.Inf(-1)} {
		if e, f := math.Exp(x), fastExp(x); math.Abs(e-f) > 1e-15*e {
			t.Errorf("fastExp(%v) = %v, math.Exp %v", x, f, e)
		}
	}
	if !math.IsNaN(fastExp(math.NaN())) {
		t.Error("fastExp(NaN) is not NaN")
	}
}

// TestFastSigmoidTanh compares the float32 sigmoid and tanh with the math package's functions
// rounded to float32: equal but for rare double-rounding cases (one ulp), over a dense sweep of
// [−40, 40], tiny values and the special values.
func TestFastSigmoidTanh(t *testing.T) {
	ulps := func(a, b float32) int64 {
		d := int64(int32(math.Float32bits(a))) - int64(int32(math.Float32bits(b)))
		return max(d, -d)
	}
	var differ int
	check := func(name string, x, got, want float32) {
		if got == want || (math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
			return
		}
		differ++
		if ulps(got, want) > 1 || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Fatalf("%s(%v) = %v, math gives %v", name, x, got, want)
		}
	}
	xs := []float32{0, float32(math.Copysign(0, -1)), 1e-3, -1e-3, 20, -20, 88, -88, 104, -104,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := -4_000_000; i <= 4_000_000; i++ {
		xs = append(xs, float32(i)*1e-5)
	}
	for x := float32(1e-30); x < 1; x *= 1.01 {
		xs = append(xs, x, -x)
	}
	for _, x := range xs {
		check("sigmoid", x, sigmoid(x), float32(1/(1+math.Exp(-float64(x)))))
		check("tanh", x, tanh(x), float32(math.Tanh(float64(x))))
		check("exp", x, expF(x), float32(math.Exp(float64(x))))
	}
	if differ > 20 {
		t.Errorf("%d of %d values differ by one ulp; expected only rare double-rounding cases", differ, 3*len(xs))
	}
	if sigmoid(0.3) != 1/(1+math.Exp(-0.3)) || tanh(0.3) != math.Tanh(0.3) || expF(0.3) != math.Exp(0.3) {
		t.Error("the float64 functions are not the math package's")
	}
}

// TestTanhRational bounds tanhRational's error against math.Tanh over a dense sweep of
// [−30, 30], tiny values and the infinities; NaN stays NaN.
func TestTanhRational(t *testing.T) {
	worst, at := 0.0, float32(0)
	check := func(x float32) {
		if d := math.Abs(float64(tanhRational(x)) - math.Tanh(float64(x))); d > worst {
			worst, at = d, x
		}
	}
	for i := -3_000_000; i <= 3_000_000; i++ {
		check(float32(i) * 1e-5)
	}
	for x := float32(1e-30); x < 1; x *= 1.01 {
		check(x)
		check(-x)
	}
	check(float32(math.Inf(1)))
	check(float32(math.Inf(-1)))
	if worst > 5e-7 {
		t.Errorf("largest error %g at %v", worst, at)
	}
	if !math.IsNaN(float64(tanhRational(float32(math.NaN())))) {
		t.Error("tanhRational(NaN) is not NaN")
	}
	t.Logf("largest error %g at %v", worst, at)
}

func BenchmarkTanh(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) * 3e-3
	}
	out := make([]float32, len(xs))
	b.Run("tanh32", func(b *testing.B) {
		for range b.N {
			for i, x := range xs {
				out[i] = tanh32(x)
			}
		}
	})
	b.Run("rational", func(b *testing.B) {
		for range b.N {
			for i, x := range xs {
				out[i] = tanhRational(x)
			}
		}
	})
}
