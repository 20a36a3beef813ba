package updown

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/training/blas"
)

// countFlops runs fn with a counting wrapper around the pure-Go BLAS installed and returns the
// flops of the products it issued.
func countFlops(t *testing.T, fn func() error) float64 {
	t.Helper()
	be, err := blas.Select(blas.Go)
	if err != nil {
		t.Fatal(err)
	}
	c := blas.NewCounter(be.Impl)
	blas.Install(blas.Backend{Name: "count", Impl: c})
	defer blas.Install(be)
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	return float64(c.Flops())
}

func sameFlops(got, want float64) bool { return math.Abs(got-want) <= 1e-9*want }

// TestCostModelMatchesProducts checks the cost model against the products that XEStep, Loss,
// greedy and beam decoding and SCSTStep really issue (blas.Counter; both count 2·m·n·k per
// product). Decoding stops when every row has ended, so for the decoders the test finds the
// number of steps whose cost matches the count, within the allowed range.
func TestCostModelMatchesProducts(t *testing.T) {
	cfg := Config{VocabSize: 40, FeatDim: 24, Arch: arch(12, 10, 8, 9, 7), Seed: 3}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	const nImg, k = 4, 6
	b := benchBatch(5, nImg, k, cfg.FeatDim, cfg.VocabSize) // 5 captions of 10–16 words per image
	n := len(b.Captions)
	tt := min(16, c.MaxLen) + 1 // every caption is truncated to MaxLen: t = MaxLen + 1
	opt, err := NewOptimizer(m, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	if got, want := countFlops(t, func() error { _, err := m.XEStep(b, 1e-3, 0.1, 0, r, opt); return err }), blas.Flops(c.XEStepProducts(nImg, n, k, tt)); !sameFlops(got, want) {
		t.Errorf("XEStep: %.0f flops issued, the cost model says %.0f", got, want)
	}
	if got, want := countFlops(t, func() error { _, err := m.Loss(b); return err }), blas.Flops(c.LossProducts(nImg, n, k, tt)); !sameFlops(got, want) {
		t.Errorf("Loss: %.0f flops issued, the cost model says %.0f", got, want)
	}
	// stepsOf returns the steps in [1, max] whose products match got, or -1.
	stepsOf := func(got float64, model func(steps int) []blas.Product, max int) int {
		for s := 1; s <= max; s++ {
			if sameFlops(got, blas.Flops(model(s))) {
				return s
			}
		}
		return -1
	}
	var caps []Caption
	got := countFlops(t, func() error { caps, err = m.Greedy(&b.Images); return err })
	steps := 0
	for _, cp := range caps {
		s := len(cp.Tokens)
		if cp.Ended {
			s++
		}
		steps = max(steps, s)
	}
	if s := stepsOf(got, func(s int) []blas.Product { return c.DecodeProducts(nImg, 1, k, s) }, c.DecodeMaxLen); s != steps {
		t.Errorf("Greedy: %.0f flops issued match %d steps of the cost model, the captions took %d", got, s, steps)
	}
	got = countFlops(t, func() error { _, err := m.Beam(&b.Images, 3); return err })
	if s := stepsOf(got, func(s int) []blas.Product { return c.DecodeProducts(nImg, 3, k, s) }, c.DecodeMaxLen); s < 1 {
		t.Errorf("Beam: %.0f flops issued match no step count of the cost model", got)
	}
	// SCST: the greedy baseline and the sampling stop on their own; find both step counts.
	words := make([]string, cfg.VocabSize)
	refs := make([][][]string, nImg)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i+1)
	}
	for j, cp := range b.Captions {
		var ws []string
		for _, id := range cp {
			ws = append(ws, words[id-1])
		}
		refs[b.ImageOf[j]] = append(refs[b.ImageOf[j]], append(ws, "<eos>"))
	}
	df, err := caption.BuildDocFreq(refs)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := caption.NewScorer(df, ScorerVocab("<eos>", words))
	if err != nil {
		t.Fatal(err)
	}
	got = countFlops(t, func() error {
		_, err := m.SCSTStep(b, 1e-4, 5, 0, &Rewarder{Scorer: sc, WCider: 1}, r, opt)
		return err
	})
	found := false
	for g := 1; g <= c.MaxLen && !found; g++ {
		for s := 1; s <= c.MaxLen && !found; s++ {
			found = sameFlops(got, blas.Flops(c.SCSTStepProducts(nImg, 5, k, g, s)))
		}
	}
	if !found {
		t.Errorf("SCSTStep: %.0f flops issued match no step counts of the cost model", got)
	}
}
