package updown

import (
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
	cfg.Dropout = -1
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := w.source(0, 4)
	st := trainXE(t, m, src, 400, 5e-3, 0, 1)
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
