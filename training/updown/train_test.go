package updown

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// trainXE runs steps XE steps over the whole source as one batch.
func trainXE(t *testing.T, m *Model, src Source, steps int, lr, lambda float64, seed uint64) XEStats {
	t.Helper()
	all := make([]int, src.Len())
	for i := range all {
		all[i] = i
	}
	b, err := src.Batch(all)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewOptimizer(m, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	var st XEStats
	for i := 0; i < steps; i++ {
		if st, err = m.XEStep(b, lr, lambda, 0, r, opt); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestOverfit trains on four images with one caption each until the loss is
// near 0; greedy and beam decoding must then reproduce the references.
func TestOverfit(t *testing.T) {
	w := newToyWorld(1, 4, 6, 8, false)
	cfg := w.config()
	cfg.Dropout = 0 // no dropout
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := w.source(0, 4)
	st := trainXE(t, m, src, 200, 5e-3, 0, 1)
	t.Logf("final XE %.4g", st.XE)
	// 0.05 nats per token: every reference word has p > 0.95 on average.
	if st.XE > 0.05 {
		t.Fatalf("XE after overfitting = %.4g, want < 0.05", st.XE)
	}
	b, _ := src.Batch([]int{0, 1, 2, 3})
	for _, k := range []int{1, 3} {
		caps, err := m.Beam(&b.Images, k)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range caps {
			if !slices.Equal(c.Tokens, b.Captions[i]) || !c.Ended {
				t.Errorf("beam %d image %d: decoded %v (ended %v), want %v", k, i, c.Tokens, c.Ended, b.Captions[i])
			}
			if len(c.Beta) != len(c.Tokens) || len(c.Beta[0]) != b.NumBoxes[i] || len(c.LogProbs) != len(c.Tokens) {
				t.Errorf("beam %d image %d: %d betas of %d, %d logprobs for %d tokens", k, i, len(c.Beta), len(c.Beta[0]), len(c.LogProbs), len(c.Tokens))
			}
		}
	}
}

// TestDistillationLowersKL trains the same model with λ = 0 and λ = 1 on a
// toy set whose teacher attention α puts 0.9 on each noun's region; on
// held-out images KL(α‖β) must be clearly lower with distillation.
func TestDistillationLowersKL(t *testing.T) {
	w := newToyWorld(2, 56, 6, 8, true)
	train, val := w.source(0, 48), w.source(48, 56)
	vb, err := val.Batch([]int{0, 1, 2, 3, 4, 5, 6, 7})
	if err != nil {
		t.Fatal(err)
	}
	kl := map[float64]float64{}
	for _, lambda := range []float64{0, 1} {
		m, err := New(w.config())
		if err != nil {
			t.Fatal(err)
		}
		trainXE(t, m, train, 50, 1e-2, lambda, 3)
		st, err := m.Loss(vb)
		if err != nil {
			t.Fatal(err)
		}
		kl[lambda] = st.KL
		t.Logf("λ=%g: val XE %.4f KL %.4f", lambda, st.XE, st.KL)
	}
	// Uniform attention over 3–4 regions gives KL ≈ 0.6–0.9 against α; a
	// captioner that learned α's peaks reaches well under half of λ = 0's.
	if !(kl[1] < 0.5*kl[0]) {
		t.Fatalf("val KL with λ=1 is %.4f, with λ=0 %.4f: want less than half", kl[1], kl[0])
	}
}

func randFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// TestGradNormBeforeClipping checks that a step reports the gradients' norm
// before clipping: the same first step with and without value clipping
// reports the same positive norm, larger than any clipped gradient's norm.
func TestGradNormBeforeClipping(t *testing.T) {
	w := newToyWorld(1, 4, 6, 8, false)
	b, err := w.source(0, 4).Batch([]int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	const clip = 1e-6
	var norms []float64
	for _, c := range []float64{0, clip} {
		m, err := New(w.config())
		if err != nil {
			t.Fatal(err)
		}
		opt, err := NewOptimizer(m, c)
		if err != nil {
			t.Fatal(err)
		}
		st, err := m.XEStep(b, 1e-3, 0, 0, rand.New(rand.NewPCG(1, 1)), opt)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range m.Params() {
			n += len(p)
		}
		if !(st.GradNorm > clip*math.Sqrt(float64(n))) || math.IsInf(st.GradNorm, 0) {
			t.Errorf("clip %g: GradNorm %g, want finite and above %g (the largest clipped norm)", c, st.GradNorm, clip*math.Sqrt(float64(n)))
		}
		norms = append(norms, st.GradNorm)
	}
	if norms[0] != norms[1] {
		t.Errorf("GradNorm without clipping %g, with clipping %g; want equal", norms[0], norms[1])
	}
}
