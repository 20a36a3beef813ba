package blas

import (
	"math"
	"testing"
	"time"
)

func TestProductFlops(t *testing.T) {
	ps := []Product{{M: 2, N: 3, K: 4, Count: 1}, {M: 5, N: 1, K: 7, Count: 3}}
	// 2·2·3·4 + 3·2·5·7
	if got := Flops(ps); got != 48+210 {
		t.Errorf("Flops = %v, want 258", got)
	}
	if got := Flops(Scale(ps, 2)); got != 2*258 {
		t.Errorf("Flops of the doubled list = %v, want 516", got)
	}
	if ps[0].Count != 1 {
		t.Error("Scale changed its argument")
	}
}

// TestCalibrate measures the representatives of three size classes and checks the rates'
// bookkeeping: one rate per class, measured on the class's shape with the most flops in all, and
// Seconds = Σ flops/rate.
func TestCalibrate(t *testing.T) {
	b, err := Select(Go)
	if err != nil {
		t.Fatal(err)
	}
	ps := []Product{
		{M: 64, N: 64, K: 64, Count: 10},    // 5.2e5 flops: class 5, 5.2e6 in all
		{M: 32, N: 64, K: 128, Count: 1},    // class 5, 5.2e5 in all
		{M: 4096, N: 600, K: 512, Count: 1}, // caps to 512³ (2.7e8): class 8
		{M: 1000, N: 513, K: 700, Count: 2}, // caps to 512³ too
		{M: 200, N: 1, K: 100, Count: 5},    // 4e4: class 4
		{M: 5, N: 0, K: 3, Count: 7},        // no work
	}
	r, err := Calibrate(Go, b.Impl, ps, 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := [][3]int{{200, 1, 100}, {64, 64, 64}, {512, 512, 512}}
	if len(r.Shapes) != len(want) || r.Backend != Go {
		t.Fatalf("rates %+v: want %v", r, want)
	}
	for i, s := range r.Shapes {
		if [3]int{s.M, s.N, s.K} != want[i] || !(s.FlopsPerSecond > 0) {
			t.Errorf("shape %d: %+v, want %v with a positive rate", i, s, want[i])
		}
	}
	sec := 0.0
	for _, p := range ps {
		if p.Flops() > 0 {
			sec += p.Flops() / r.Rate(p)
		}
	}
	if got := r.Seconds(ps); math.Abs(got-sec) > 1e-12*sec {
		t.Errorf("Seconds = %v, want %v", got, sec)
	}
	// 32×64×128 takes its class's rate (64³'s); a class that was not measured the nearest one's.
	if got, w := r.Rate(ps[1]), r.Shapes[1].FlopsPerSecond; got != w {
		t.Errorf("rate of 32×64×128 = %v, want 64³'s %v", got, w)
	}
	if got, w := r.Rate(Product{M: 2, N: 2, K: 2, Count: 1}), r.Shapes[0].FlopsPerSecond; got != w {
		t.Errorf("rate of 2³ = %v, want the smallest class's %v", got, w)
	}
	if _, err := Calibrate(Go, b.Impl, []Product{{M: -1, N: 1, K: 1, Count: 1}}, time.Millisecond); err == nil {
		t.Error("a negative product calibrated")
	}
	if _, err := Calibrate(Go, b.Impl, []Product{{M: 0, N: 1, K: 1, Count: 1}}, time.Millisecond); err == nil {
		t.Error("products without work calibrated")
	}
	if _, err := Calibrate(Go, b.Impl, nil, time.Millisecond); err == nil {
		t.Error("no products calibrated")
	}
}
