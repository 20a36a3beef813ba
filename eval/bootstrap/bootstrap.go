// Package bootstrap computes percentile bootstrap intervals of evaluation metrics over the units
// they average (test images), and paired intervals of the difference between two systems scored
// on the same units.
//
// # Method
//
// A [Statistic] is a metric written as a function of unit weights: Value(w) with w[i] the number
// of times unit i is in the sample, so that all ones gives the observed value and a bootstrap
// replicate is one multinomial draw of n units with replacement. Corpus metrics that are not
// means (BLEU's summed counts, GVD's class-averaged F1) resample exactly this way: their
// per-unit sufficient statistics are summed with the weights and the metric is recomputed.
//
// The interval of level L (default 95 %) is the percentile interval: the (1−L)/2 and (1+L)/2
// quantiles of the B replicate values (default B = 1000), quantiles interpolated linearly
// between order statistics (numpy.percentile's default, "type 7"). A paired difference
// a − b evaluates both statistics on the same replicate, so the interval accounts for the
// correlation between two systems scored on the same images.
//
// # Determinism
//
// Replicate k draws its units from PCG(seed, k), so a [Resampler] gives the same replicates to
// every statistic it evaluates (the pairing) and the same bytes on every run and machine; the
// result does not depend on the order in which statistics are evaluated.
package bootstrap

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults of Options.
const (
	DefaultResamples = 1000
	DefaultLevel     = 0.95
)

// Options configure a [Resampler]. Zero values are the documented defaults.
type Options struct {
	// Resamples is the number of bootstrap replicates B (default 1000).
	Resamples int `json:"resamples"`
	// Level is the coverage of the intervals (default 0.95).
	Level float64 `json:"level"`
	// Seed fixes the replicates (0 is a seed like any other).
	Seed uint64 `json:"seed"`
}

// Resolved returns o with its defaults applied.
func (o Options) Resolved() Options {
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	return o
}

// Validate names the first bad field (after defaults).
func (o Options) Validate() error {
	r := o.Resolved()
	switch {
	case r.Resamples < 2:
		return fmt.Errorf("bootstrap: Resamples = %d, want ≥ 2", o.Resamples)
	case !(r.Level > 0 && r.Level < 1):
		return fmt.Errorf("bootstrap: Level = %v, want in (0, 1)", o.Level)
	}
	return nil
}

// Statistic is a metric over n units written as a function of unit weights.
type Statistic interface {
	// Units is the number of units n.
	Units() int
	// Value computes the metric with unit i counted w[i] times (len(w) = Units()); all ones gives
	// the observed value. It must not keep w.
	Value(w []float64) float64
}

// Estimate is a metric's observed value and its bootstrap interval.
type Estimate struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// ContainsZero reports whether the interval contains 0 (for a difference: not significant at
// the interval's level).
func (e Estimate) ContainsZero() bool { return e.Lo <= 0 && 0 <= e.Hi }

// Scale returns e with every field multiplied by f (fractions to percent).
func (e Estimate) Scale(f float64) Estimate { return Estimate{e.Value * f, e.Lo * f, e.Hi * f} }

// ErrNaN marks a statistic that returned NaN on the observed sample or a replicate.
var ErrNaN = errors.New("bootstrap: statistic is NaN")

// Resampler draws the replicates of n units and evaluates statistics on them. It is safe for
// concurrent use (each call draws into its own buffers).
type Resampler struct {
	n    int
	opts Options
}

// New returns a resampler over n ≥ 1 units; it panics on invalid options or n < 1 (a programmer
// error: validate Options where they come from).
func New(n int, opts Options) *Resampler {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	if n < 1 {
		panic(fmt.Sprintf("bootstrap: New: %d units, want ≥ 1", n))
	}
	return &Resampler{n: n, opts: opts.Resolved()}
}

// Units returns n.
func (r *Resampler) Units() int { return r.n }

// Options returns the resolved options.
func (r *Resampler) Options() Options { return r.opts }

// draw fills w with replicate k's unit counts.
func (r *Resampler) draw(k int, w []float64) {
	clear(w)
	g := rand.New(rand.NewPCG(r.opts.Seed, uint64(k)))
	for range r.n {
		w[g.IntN(r.n)]++
	}
}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// check reports a statistic over a different number of units.
func (r *Resampler) check(ss ...Statistic) error {
	for _, s := range ss {
		if s.Units() != r.n {
			return fmt.Errorf("bootstrap: a statistic over %d units, the resampler has %d", s.Units(), r.n)
		}
	}
	return nil
}

// Interval returns the statistic's observed value and its percentile interval.
func (r *Resampler) Interval(s Statistic) (Estimate, error) {
	return r.estimate(func(w []float64) float64 { return s.Value(w) }, s)
}

// Difference returns the observed a − b and the percentile interval of the paired replicates
// (both evaluated on the same draw of units).
func (r *Resampler) Difference(a, b Statistic) (Estimate, error) {
	return r.estimate(func(w []float64) float64 { return a.Value(w) - b.Value(w) }, a, b)
}

func (r *Resampler) estimate(f func(w []float64) float64, ss ...Statistic) (Estimate, error) {
	if err := r.check(ss...); err != nil {
		return Estimate{}, err
	}
	est := Estimate{Value: f(ones(r.n))}
	if math.IsNaN(est.Value) {
		return Estimate{}, fmt.Errorf("%w on the observed sample", ErrNaN)
	}
	vals := make([]float64, r.opts.Resamples)
	w := make([]float64, r.n)
	for k := range vals {
		r.draw(k, w)
		vals[k] = f(w)
		if math.IsNaN(vals[k]) {
			return Estimate{}, fmt.Errorf("%w on replicate %d", ErrNaN, k)
		}
	}
	slices.Sort(vals)
	a := (1 - r.opts.Level) / 2
	est.Lo, est.Hi = Quantile(vals, a), Quantile(vals, 1-a)
	return est, nil
}

// Quantile returns the q-quantile of sorted values by linear interpolation between order
// statistics (numpy.percentile's default): position q·(n−1).
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[lo+1]-sorted[lo])
}

// Mean is the weighted mean of one value per unit (CIDEr-D and ROUGE-L are corpus means).
type Mean []float64

// Units returns the number of values.
func (m Mean) Units() int { return len(m) }

// Value returns Σ w·x / Σ w.
func (m Mean) Value(w []float64) float64 {
	var s, n float64
	for i, x := range m {
		s += w[i] * x
		n += w[i]
	}
	return s / n
}

// Ratio is Σ w·Num / Σ w·Den over units (a mean over sub-units, such as a KL divergence per noun
// with Num the unit's sum and Den its number of nouns). A sample without denominator gives 0.
type Ratio struct {
	Num, Den []float64
}

// Units returns the number of units.
func (r Ratio) Units() int { return len(r.Num) }

// Value returns the weighted ratio.
func (r Ratio) Value(w []float64) float64 {
	var s, n float64
	for i := range r.Num {
		s += w[i] * r.Num[i]
		n += w[i] * r.Den[i]
	}
	if n == 0 {
		return 0
	}
	return s / n
}

// Count is one class's hits and trials within a unit.
type Count struct {
	Class int32   // index of the class
	Hits  float64 // successes
	N     float64 // trials
}

// ClassMean is a macro average: per class the rate Σ w·Hits / Σ w·N over units, then the mean
// over the classes with trials in the sample (GVD's attention accuracy: per class the share of
// words whose attended box hits, then the mean over classes).
type ClassMean struct {
	Classes int       // number of classes (Count.Class < Classes)
	PerUnit [][]Count // the counts of each unit
}

// Units returns the number of units.
func (c ClassMean) Units() int { return len(c.PerUnit) }

// Value returns the weighted macro average (0 when no class has a trial).
func (c ClassMean) Value(w []float64) float64 {
	hits := make([]float64, c.Classes)
	n := make([]float64, c.Classes)
	for i, cs := range c.PerUnit {
		if w[i] == 0 {
			continue
		}
		for _, x := range cs {
			hits[x.Class] += w[i] * x.Hits
			n[x.Class] += w[i] * x.N
		}
	}
	var sum float64
	k := 0
	for j := range n {
		if n[j] > 0 {
			sum += hits[j] / n[j]
			k++
		}
	}
	if k == 0 {
		return 0
	}
	return sum / float64(k)
}

// Scaled multiplies a statistic by a constant (fractions to percent).
type Scaled struct {
	S      Statistic
	Factor float64
}

// Units returns the units of the wrapped statistic.
func (s Scaled) Units() int { return s.S.Units() }

// Value returns Factor·S.Value(w).
func (s Scaled) Value(w []float64) float64 { return s.Factor * s.S.Value(w) }

// Sum is the sum of statistics over the same units (rsum: six recalls).
type Sum []Statistic

// Units returns the units of the first statistic.
func (s Sum) Units() int { return s[0].Units() }

// Value returns Σ s_k.Value(w).
func (s Sum) Value(w []float64) float64 {
	var t float64
	for _, x := range s {
		t += x.Value(w)
	}
	return t
}
