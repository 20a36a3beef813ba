// Package optim holds the optimiser, gradient clipping and learning-rate
// schedules of groundcap's trainers. The optimiser's state (Adam moments and
// step count) is exported so that checkpoints can save and restore it
// exactly (gorgonia's own Adam keeps it unexported).
//
// Parameters and gradients are passed as flat float32 slices in a fixed
// order (the model's parameter order); Values and Grads extract them from
// gorgonia nodes without copying.
package optim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
)

// AdamConfig holds Adam's constants. Zero fields take PyTorch's defaults.
type AdamConfig struct {
	// Beta1 is the first-moment decay (0: 0.9).
	Beta1 float64
	// Beta2 is the second-moment decay (0: 0.999).
	Beta2 float64
	// Eps is added to the denominator (0: 1e-8).
	Eps float64
}

func (c AdamConfig) withDefaults() AdamConfig {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Validate reports out-of-range constants (after defaults).
func (c AdamConfig) Validate() error {
	c = c.withDefaults()
	if !(c.Beta1 > 0 && c.Beta1 < 1) {
		return fmt.Errorf("optim: AdamConfig.Beta1 = %v, want in (0, 1)", c.Beta1)
	}
	if !(c.Beta2 > 0 && c.Beta2 < 1) {
		return fmt.Errorf("optim: AdamConfig.Beta2 = %v, want in (0, 1)", c.Beta2)
	}
	if !(c.Eps > 0) {
		return fmt.Errorf("optim: AdamConfig.Eps = %v, want > 0", c.Eps)
	}
	return nil
}

// AdamState is Adam's complete mutable state: the number of updates applied
// and the first (M) and second (V) moments, one slice per parameter in
// parameter order. It is what a checkpoint stores.
type AdamState struct {
	Step int64
	M, V [][]float32
}

// Adam is PyTorch's Adam (no weight decay, no amsgrad):
//
//	m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g²
//	p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
type Adam struct {
	Config AdamConfig
	State  AdamState
}

// NewAdam returns Adam with zero moments for parameters of the given sizes.
func NewAdam(cfg AdamConfig, sizes []int) (*Adam, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Adam{Config: cfg.withDefaults()}
	a.State.M = make([][]float32, len(sizes))
	a.State.V = make([][]float32, len(sizes))
	for i, n := range sizes {
		a.State.M[i] = make([]float32, n)
		a.State.V[i] = make([]float32, n)
	}
	return a, nil
}

// Update applies one Adam step with learning rate lr to params using grads
// (same shapes as the state). It returns an error, changing nothing, if the
// shapes disagree or a gradient is NaN or Inf.
func (a *Adam) Update(lr float64, params, grads [][]float32) error {
	if err := a.checkShapes(params, grads); err != nil {
		return err
	}
	work := chunks(grads)
	if err := firstNonFinite(grads, work); err != nil {
		return err
	}
	a.update(lr, params, grads, work, 1)
	return nil
}

// ClipAndUpdate is ClipGlobalNorm(grads, maxNorm) followed by Update, in
// two passes over the gradients instead of four: the norm, then Adam's
// update with each gradient scaled on the fly (the same values as scaling
// them first; grads are not modified). It returns the norm before clipping,
// and an error wrapping ErrNonFinite, changing nothing, when a gradient is
// NaN or Inf (exactly when the norm is not finite: squares of float32 values
// summed in float64 cannot overflow).
func (a *Adam) ClipAndUpdate(lr, maxNorm float64, params, grads [][]float32) (float64, error) {
	if err := a.checkShapes(params, grads); err != nil {
		return 0, err
	}
	n := GlobalNorm(grads)
	work := chunks(grads)
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return n, fmt.Errorf("%w: %w", ErrNonFinite, firstNonFinite(grads, work))
	}
	a.update(lr, params, grads, work, ClipScale(n, maxNorm))
	return n, nil
}

// ClipScale is the factor ClipAndUpdate multiplies the gradients by for a global norm n and a
// clip maxNorm: maxNorm/(n + 1e-6) when that is below 1 (PyTorch's clip_grad_norm_), else 1.
func ClipScale(n, maxNorm float64) float32 {
	if coef := maxNorm / (n + 1e-6); coef < 1 {
		return float32(coef)
	}
	return 1
}

// StepConstants are the float32 constants of one Adam update: with g a gradient (times the
// clip scale), m = Beta1·m + (1−Beta1)·g, v = Beta2·v + (1−Beta2)·g², and
// p −= StepSize·m / (√v·InvSqrtBC2 + Eps).
type StepConstants struct {
	StepSize, InvSqrtBC2, Beta1, Beta2, Eps float32
}

// Advance counts one more update in the state and returns its constants at learning rate lr:
// the update that Update and ClipAndUpdate apply, for implementations that apply it elsewhere
// (training/scan's device step).
func (a *Adam) Advance(lr float64) StepConstants {
	c := a.Config.withDefaults()
	a.State.Step++
	t := float64(a.State.Step)
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	return StepConstants{StepSize: float32(lr / bc1), InvSqrtBC2: float32(1 / math.Sqrt(bc2)),
		Beta1: float32(c.Beta1), Beta2: float32(c.Beta2), Eps: float32(c.Eps)}
}

func (a *Adam) checkShapes(params, grads [][]float32) error {
	if len(params) != len(a.State.M) || len(grads) != len(params) {
		return fmt.Errorf("optim: Adam.Update: %d params, %d grads, state for %d", len(params), len(grads), len(a.State.M))
	}
	for i := range params {
		if len(params[i]) != len(a.State.M[i]) || len(grads[i]) != len(params[i]) {
			return fmt.Errorf("optim: Adam.Update: param %d has %d values, grad %d, state %d", i, len(params[i]), len(grads[i]), len(a.State.M[i]))
		}
	}
	return nil
}

// firstNonFinite returns an error naming the first NaN or Inf gradient, or nil.
func firstNonFinite(grads [][]float32, work []chunk) error {
	bad := make([]int, len(work)) // first non-finite gradient of each chunk, −1 for none
	forChunks(work, func(n int, c chunk) {
		bad[n] = -1
		for j, g := range grads[c.i][c.lo:c.hi] {
			if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
				bad[n] = c.lo + j
				return
			}
		}
	})
	for n, j := range bad { // chunks are in (param, index) order: the first is the first
		if j >= 0 {
			i := work[n].i
			return fmt.Errorf("optim: Adam.Update: gradient %d[%d] is %v", i, j, grads[i][j])
		}
	}
	return nil
}

// update is Adam's step with every gradient multiplied by scale (when it is
// not 1) as it is read.
func (a *Adam) update(lr float64, params, grads [][]float32, work []chunk, scale float32) {
	k := a.Advance(lr)
	stepSize, invSqrtBC2, b1, b2, eps := k.StepSize, k.InvSqrtBC2, k.Beta1, k.Beta2, k.Eps
	// Every value is updated on its own, so splitting the work changes no result.
	forChunks(work, func(_ int, ch chunk) {
		p := params[ch.i][ch.lo:ch.hi]
		m, v, g := a.State.M[ch.i][ch.lo:ch.hi], a.State.V[ch.i][ch.lo:ch.hi], grads[ch.i][ch.lo:ch.hi]
		for j := range p {
			gj := g[j]
			if scale != 1 {
				gj *= scale
			}
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			den := float32(math.Sqrt(float64(v[j])))*invSqrtBC2 + eps
			p[j] -= stepSize * m[j] / den
		}
	})
}

// chunk is values [lo, hi) of tensor i.
type chunk struct{ i, lo, hi int }

// chunkSize is the most values of one chunk of element-wise optimiser work.
const chunkSize = 1 << 16

// chunks cuts the tensors into chunks of at most chunkSize values, in order.
func chunks(ts [][]float32) []chunk {
	var out []chunk
	for i, t := range ts {
		for lo := 0; lo < len(t); lo += chunkSize {
			out = append(out, chunk{i, lo, min(lo+chunkSize, len(t))})
		}
	}
	return out
}

// forChunks calls fn on every chunk, on up to GOMAXPROCS goroutines, and waits.
func forChunks(cs []chunk, fn func(n int, c chunk)) {
	workers := min(runtime.GOMAXPROCS(0), len(cs))
	if workers < 2 {
		for n, c := range cs {
			fn(n, c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := int(next.Add(1) - 1); n < len(cs); n = int(next.Add(1) - 1) {
				fn(n, cs[n])
			}
		}()
	}
	wg.Wait()
}

// GlobalNorm returns √(Σ g²) over all gradients, accumulated in float64:
// each chunk of chunkSize values (in order, four interleaved partial sums)
// on up to GOMAXPROCS goroutines, then the chunks' sums in order, so the
// result does not depend on the number of CPUs.
func GlobalNorm(grads [][]float32) float64 {
	work := chunks(grads)
	sums := make([]float64, len(work))
	forChunks(work, func(n int, c chunk) {
		g := grads[c.i][c.lo:c.hi]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= len(g); j += 4 {
			a, b, c, d := float64(g[j]), float64(g[j+1]), float64(g[j+2]), float64(g[j+3])
			s0 += a * a
			s1 += b * b
			s2 += c * c
			s3 += d * d
		}
		for ; j < len(g); j++ {
			s0 += float64(g[j]) * float64(g[j])
		}
		sums[n] = (s0 + s1) + (s2 + s3)
	})
	var s float64
	for _, x := range sums {
		s += x
	}
	return math.Sqrt(s)
}

// ClipGlobalNorm is PyTorch's clip_grad_norm_: when the global norm exceeds
// maxNorm every gradient is scaled by maxNorm/(norm + 1e-6). It returns the
// norm before clipping.
func ClipGlobalNorm(grads [][]float32, maxNorm float64) float64 {
	n := GlobalNorm(grads)
	coef := maxNorm / (n + 1e-6)
	if coef < 1 {
		c := float32(coef)
		forChunks(chunks(grads), func(_ int, ch chunk) {
			g := grads[ch.i][ch.lo:ch.hi]
			for j := range g {
				g[j] *= c
			}
		})
	}
	return n
}

// ClipValue clamps every gradient value to [−c, c] (self-critical's
// clip_gradient), returning how many values were clipped.
func ClipValue(grads [][]float32, c float64) int {
	lo, hi := float32(-c), float32(c)
	n := 0
	for _, g := range grads {
		for j, x := range g {
			if x > hi {
				g[j] = hi
				n++
			} else if x < lo {
				g[j] = lo
				n++
			}
		}
	}
	return n
}

// StepLR is a step-wise learning-rate schedule:
// lr(epoch) = Base · Gamma^⌊(epoch − Start)/Every⌋ for epoch > Start, Base
// before. SCAN: Base 2e-4, Gamma 0.1, Every 15 (lr_update), Start 0.
// self-critical: Gamma 0.8, Every 3, Start = learning_rate_decay_start.
type StepLR struct {
	// Base is the initial learning rate.
	Base float64
	// Gamma is the decay factor applied every Every epochs (0: no decay).
	Gamma float64
	// Every is the decay period in epochs (0: no decay).
	Every int
	// Start is the epoch after which decay begins (0: from the start).
	Start int
}

// Validate names a bad field.
func (s StepLR) Validate() error {
	if !(s.Base > 0) {
		return fmt.Errorf("optim: StepLR.Base = %v, want > 0", s.Base)
	}
	if s.Gamma < 0 || s.Every < 0 || s.Start < 0 {
		return fmt.Errorf("optim: StepLR Gamma %v, Every %d, Start %d: want ≥ 0", s.Gamma, s.Every, s.Start)
	}
	return nil
}

// LR returns the learning rate of epoch (0-based).
func (s StepLR) LR(epoch int) float64 {
	if s.Every <= 0 || s.Gamma == 0 || epoch <= s.Start {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64((epoch-s.Start)/s.Every))
}

// Values returns the float32 backing slices of the nodes' values (no copy:
// writing to them changes the parameters).
func Values(nodes G.Nodes) ([][]float32, error) {
	out := make([][]float32, len(nodes))
	for i, n := range nodes {
		v := n.Value()
		if v == nil {
			return nil, fmt.Errorf("optim: node %s has no value", n.Name())
		}
		d, ok := v.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("optim: node %s holds %T, want []float32", n.Name(), v.Data())
		}
		out[i] = d
	}
	return out, nil
}

// Grads returns the float32 gradient slices of the nodes after a backward
// pass (no copy).
func Grads(nodes G.Nodes) ([][]float32, error) {
	out := make([][]float32, len(nodes))
	for i, n := range nodes {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("optim: gradient of %s: %w", n.Name(), err)
		}
		d, ok := gv.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("optim: gradient of %s holds %T, want []float32", n.Name(), gv.Data())
		}
		out[i] = d
	}
	return out, nil
}

// ErrNonFinite is returned (wrapped) when a loss or gradient norm is NaN or
// Inf.
var ErrNonFinite = errors.New("optim: non-finite value")
