package updown

import (
	"context"
	"math"
	"slices"
	"testing"
)

// TestSCSTImprovesReward starts SCST from an XE model of a toy set whose
// references say "and" and "near" equally often, with the reward
// r = CIDEr-D + S where the stand-in matching score S is 3 for captions
// saying "near". The greedy decodes' mean reward must rise: they switch to
// "near" while their CIDEr-D does not fall. (Starting from a weak XE model
// with a CIDEr-only reward, the toy runs were too noisy for a stable
// assertion: samples far below the greedy baseline get only negative
// advantages; see docs/bench/captioner.md.)
func TestSCSTImprovesReward(t *testing.T) {
	w := newToyWorld(4, 48, 6, 8, true)
	src := w.source(0, 48)
	sc, err := w.scorer()
	if err != nil {
		t.Fatal(err)
	}
	near := func(_ int, toks [][]int32) []float32 {
		out := make([]float32, len(toks))
		for i, s := range toks {
			if slices.Contains(s, w.wordNear) {
				out[i] = 3
			}
		}
		return out
	}
	fracNear := func(m *Model) float64 {
		b, err := src.Batch(seqRange(48, 1))
		if err != nil {
			t.Fatal(err)
		}
		caps, err := m.Greedy(&b.Images)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range caps {
			if slices.Contains(c.Tokens, w.wordNear) {
				n++
			}
		}
		return float64(n) / float64(len(caps))
	}
	cfg := w.config()
	cfg.Dropout = 0 // no dropout
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	trainXE(t, m, src, 60, 1e-2, 0, 5)
	c0, err := GreedyCIDEr(m, src, sc, 16)
	if err != nil {
		t.Fatal(err)
	}
	f0 := fracNear(m)
	var last Progress
	tr := &SCSTTrainer{Model: m, Config: scstConfig(func(c *SCSTConfig) { c.BatchImages, c.Epochs, c.LR, c.Seed = 16, 3, 5e-4, 1 }), Source: src,
		Rewarder: Rewarder{Scorer: sc, Match: near},
		Harness: Harness{Dir: t.TempDir(), Progress: func(p Progress) { last = p },
			Validate: func(m *Model, _ int) (float64, error) { return GreedyCIDEr(m, src, sc, 16) }},
	}
	h, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c1, f1 := h.ValCIDEr[len(h.ValCIDEr)-1], fracNear(m)
	t.Logf("greedy: XE start CIDEr-D %.3f, %.0f%% say near; after SCST %.3f, %.0f%%", c0, 100*f0, c1, 100*f1)
	// Measured: 6.35, 60% → 6.47, 100%. Greedy reward = CIDEr-D + 3·fraction.
	if !(c1+3*f1 > c0+3*f0+0.6) || f1 < 0.95 || c1 < c0-0.1 {
		t.Fatalf("greedy reward %.3f → %.3f (near %.2f → %.2f, CIDEr-D %.3f → %.3f): want a rise of > 0.6 with ≥ 95%% near and CIDEr-D kept", c0+3*f0, c1+3*f1, f0, f1, c0, c1)
	}
	if last.Step != 9 || last.StepsPerEpoch != 3 || last.Stage != StageSCST || !(last.ItemsPerSec > 0) {
		t.Errorf("last progress %+v: want step 9 of 3 per epoch, stage scst, a positive rate", last)
	}
	if len(h.Loss) != 9 || h.BestEpoch < 1 {
		t.Errorf("history has %d losses, best epoch %d", len(h.Loss), h.BestEpoch)
	}
}

// TestSCSTMatchCallback checks the matching reward's plumbing: the callback
// gets each image's source index and its samples then its greedy decode
// (words only), and its scores enter the reported rewards.
func TestSCSTMatchCallback(t *testing.T) {
	w := newToyWorld(5, 6, 6, 8, true)
	sc, err := w.scorer()
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(w.config())
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.source(0, 6).Batch([]int{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	b.Index = []int{30, 50}
	var seen []int
	var lengths []float64
	match := func(idx int, toks [][]int32) []float32 {
		seen = append(seen, idx)
		if len(toks) != 4 {
			t.Errorf("image %d: %d sequences, want 3 samples + greedy", idx, len(toks))
		}
		out := make([]float32, len(toks))
		for i, s := range toks {
			if slices.Contains(s, EndToken) {
				t.Errorf("image %d sequence %d contains the end token: %v", idx, i, s)
			}
			out[i] = float32(len(s))
			lengths = append(lengths, float64(len(s)))
		}
		return out
	}
	opt, err := NewOptimizer(m, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.SCSTStep(b, 1e-4, 3, 0, &Rewarder{Scorer: sc, Match: match, WCider: 1, WMatch: 2}, randFor(1), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{30, 50}) {
		t.Fatalf("callback saw images %v, want [30 50]", seen)
	}
	// Sample match = mean sample length (entries 0-2 and 4-6 of lengths).
	wantS := (lengths[0] + lengths[1] + lengths[2] + lengths[4] + lengths[5] + lengths[6]) / 6
	wantG := (lengths[3] + lengths[7]) / 2
	if math.Abs(st.SampleMatch-wantS) > 1e-9 || math.Abs(st.GreedyMatch-wantG) > 1e-9 {
		t.Fatalf("match means %v/%v, want %v/%v", st.SampleMatch, st.GreedyMatch, wantS, wantG)
	}
	if d := st.SampleReward - (st.SampleCIDEr + 2*st.SampleMatch); math.Abs(d) > 1e-9 {
		t.Fatalf("sample reward %v ≠ CIDEr %v + 2·match %v", st.SampleReward, st.SampleCIDEr, st.SampleMatch)
	}
	if _, err := m.SCSTStep(b, 1e-4, 3, 0, &Rewarder{Scorer: sc, Match: func(int, [][]int32) []float32 { return nil }, WMatch: 1}, randFor(2), opt); err == nil {
		t.Fatal("a MatchFunc returning no scores was accepted")
	}
}

// TestSCSTMaxLen: samples and the greedy baseline run to the SCST length, not to the
// references' truncation length (Config.MaxLen).
func TestSCSTMaxLen(t *testing.T) {
	w := newToyWorld(5, 6, 6, 8, true)
	sc, err := w.scorer()
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.config()
	cfg.MaxLen = 2
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.source(0, 6).Batch([]int{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	var longest int
	match := func(_ int, toks [][]int32) []float32 {
		for _, s := range toks {
			longest = max(longest, len(s))
		}
		return make([]float32, len(toks))
	}
	opt, err := NewOptimizer(m, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		if _, err := m.SCSTStep(b, 1e-4, 4, 7, &Rewarder{Scorer: sc, Match: match, WCider: 1, WMatch: 1}, randFor(seed), opt); err != nil {
			t.Fatal(err)
		}
	}
	if longest <= cfg.MaxLen || longest > 7 {
		t.Errorf("longest sampled or greedy caption has %d words, want more than max_len %d and at most 7", longest, cfg.MaxLen)
	}
}
