package bootstrap

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantileMatchesNumpy(t *testing.T) {
	// Expected values from numpy.percentile([1, 2, 3, 4, 10], [0, 2.5, 25, 50, 97.5, 100]) with
	// the default linear method: 1.0, 1.1, 2.0, 3.0, 9.4, 10.0.
	const tol = 1e-12
	s := []float64{1, 2, 3, 4, 10}
	for i, c := range []struct{ q, want float64 }{{0, 1}, {0.025, 1.1}, {0.25, 2}, {0.5, 3}, {0.975, 9.4}, {1, 10}} {
		if got := Quantile(s, c.q); math.Abs(got-c.want) > tol {
			t.Errorf("%d: Quantile(%v) = %v, want %v", i, c.q, got, c.want)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Errorf("Quantile of no values is not NaN")
	}
}

func normals(seed uint64, n int, mu, sd float64) []float64 {
	g := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = mu + sd*g.NormFloat64()
	}
	return out
}

func TestMeanIntervalWidth(t *testing.T) {
	// The bootstrap interval of a mean approaches mean ± 1.96·sd/√n for a normal sample; with
	// n = 400 and B = 4000 the half-width is within 10 % of that (sampling error of B replicates
	// and of the sample's own sd).
	x := normals(1, 400, 5, 2)
	var m, v float64
	for _, a := range x {
		m += a / float64(len(x))
	}
	for _, a := range x {
		v += (a - m) * (a - m) / float64(len(x)-1)
	}
	est, err := New(len(x), Options{Resamples: 4000, Seed: 3}).Interval(Mean(x))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(est.Value-m) > 1e-12 {
		t.Errorf("value %v, want the sample mean %v", est.Value, m)
	}
	want := 1.96 * math.Sqrt(v/float64(len(x)))
	for _, h := range []float64{m - est.Lo, est.Hi - m} {
		if math.Abs(h-want)/want > 0.1 {
			t.Errorf("half-width %v, want %v ± 10%% (interval %+v)", h, want, est)
		}
	}
}

func TestDeterministicAndOrderFree(t *testing.T) {
	x, y := normals(2, 50, 0, 1), normals(3, 50, 1, 3)
	r := New(50, Options{Resamples: 200, Seed: 9})
	a1, _ := r.Interval(Mean(x))
	b1, _ := r.Interval(Mean(y))
	r2 := New(50, Options{Resamples: 200, Seed: 9})
	b2, _ := r2.Interval(Mean(y)) // another order, another resampler: the same replicates
	a2, _ := r2.Interval(Mean(x))
	if a1 != a2 || b1 != b2 {
		t.Errorf("same seed, other order: %+v %+v vs %+v %+v", a1, b1, a2, b2)
	}
	a3, _ := New(50, Options{Resamples: 200, Seed: 10}).Interval(Mean(x))
	if a3 == a1 {
		t.Errorf("another seed gave the same interval %+v", a3)
	}
}

func TestDifferenceIsPaired(t *testing.T) {
	// b = a + 0.25 on every unit: every paired replicate differs by exactly −0.25, while the
	// unpaired intervals of a and b are wide.
	a := normals(4, 100, 0, 1)
	b := make(Mean, len(a))
	for i := range a {
		b[i] = a[i] + 0.25
	}
	r := New(len(a), Options{Seed: 1})
	d, err := r.Difference(Mean(a), b)
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-9
	for _, v := range []float64{d.Value, d.Lo, d.Hi} {
		if math.Abs(v+0.25) > tol {
			t.Errorf("paired difference %+v, want −0.25 everywhere", d)
		}
	}
	if d.ContainsZero() {
		t.Errorf("%+v contains 0", d)
	}
	ia, _ := r.Interval(Mean(a))
	if ia.Hi-ia.Lo < 0.2 {
		t.Errorf("unpaired interval of a %+v is implausibly narrow", ia)
	}
	same, _ := r.Difference(Mean(a), Mean(a))
	if same != (Estimate{}) || !same.ContainsZero() {
		t.Errorf("a − a = %+v, want zeros", same)
	}
}

func TestConstantStatistic(t *testing.T) {
	est, err := New(5, Options{Resamples: 50}).Interval(Mean{2, 2, 2, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	if est != (Estimate{2, 2, 2}) {
		t.Errorf("constant: %+v", est)
	}
}

func TestClassMean(t *testing.T) {
	// Two classes: class 0 has 1/2 hits in unit 0 and 1/1 in unit 1; class 1 has 0/1 in unit 1.
	// All ones: (2/3 + 0) / 2 = 1/3. Weights (2, 0): only class 0 with 2/4 → 1/2.
	c := ClassMean{Classes: 3, PerUnit: [][]Count{{{0, 1, 2}}, {{0, 1, 1}, {1, 0, 1}}}}
	const tol = 1e-12
	if got := c.Value([]float64{1, 1}); math.Abs(got-1.0/3) > tol {
		t.Errorf("all ones: %v, want 1/3", got)
	}
	if got := c.Value([]float64{2, 0}); math.Abs(got-0.5) > tol {
		t.Errorf("(2, 0): %v, want 1/2", got)
	}
	if got := (ClassMean{Classes: 1, PerUnit: [][]Count{nil}}).Value([]float64{1}); got != 0 {
		t.Errorf("no trials: %v, want 0", got)
	}
}

func TestRatio(t *testing.T) {
	r := Ratio{Num: []float64{3, 1}, Den: []float64{2, 0}}
	if got := r.Value([]float64{1, 1}); got != 2 {
		t.Errorf("%v, want 4/2", got)
	}
	if got := r.Value([]float64{0, 3}); got != 0 {
		t.Errorf("no denominator: %v, want 0", got)
	}
}

type nanAt struct{ k int }

func (n nanAt) Units() int { return 3 }
func (n nanAt) Value(w []float64) float64 {
	if w[0] == float64(n.k) {
		return math.NaN()
	}
	return 1
}

func TestErrors(t *testing.T) {
	r := New(3, Options{Resamples: 100})
	if _, err := r.Interval(Mean{1, 2}); err == nil {
		t.Errorf("2 units on a resampler of 3: no error")
	}
	if _, err := r.Interval(nanAt{1}); !errors.Is(err, ErrNaN) {
		t.Errorf("NaN on the observed sample: %v", err)
	}
	if _, err := r.Interval(nanAt{3}); !errors.Is(err, ErrNaN) {
		t.Errorf("NaN on a replicate (unit 0 drawn three times): %v", err)
	}
	if err := (Options{Level: 1}).Validate(); err == nil {
		t.Errorf("level 1 accepted")
	}
	if err := (Options{Resamples: 1}).Validate(); err == nil {
		t.Errorf("one resample accepted")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("New(0 units) did not panic")
		}
	}()
	New(0, Options{})
}
