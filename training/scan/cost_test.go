package scan

import (
	"context"
	"math"
	"testing"

	"github.com/groundcap/groundcap/training/blas"
)

// countFlops runs fn with a counting wrapper around the pure-Go BLAS installed and returns the
// flops of the products it issued.
func countFlops(t *testing.T, fn func()) float64 {
	t.Helper()
	be, err := blas.Select(blas.Go)
	if err != nil {
		t.Fatal(err)
	}
	c := blas.NewCounter(be.Impl)
	blas.Install(blas.Backend{Name: "count", Impl: c})
	defer blas.Install(be)
	fn()
	return float64(c.Flops())
}

// TestCostModelMatchesProducts checks the cost model against the products a training step,
// Forward and Scores really issue: the counted flops must equal the model's (exactly: both count
// 2·m·n·k per product), for two shapes, POS-SCAN and SCAN.
func TestCostModelMatchesProducts(t *testing.T) {
	for i, tc := range []struct {
		batch, k, d, l, e, w, vocab int
		plain                       bool
	}{
		{batch: 6, k: 5, d: 24, l: 7, e: 16, w: 12, vocab: 50},              // 0
		{batch: 9, k: 7, d: 20, l: 10, e: 12, w: 8, vocab: 40, plain: true}, // 1
	} {
		cfg := testConfig(func(c *Config) {
			c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.PlainSCAN, c.Seed = tc.vocab, tc.d, tc.e, tc.w, tc.plain, 3
		})
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := benchBatch(tc.batch, tc.k, tc.d, tc.l, tc.vocab)
		p, err := m.prepare(b)
		if err != nil {
			t.Fatal(err)
		}
		d := p.d
		check := func(what string, model []blas.Product, fn func() error) {
			var err error
			got := countFlops(t, func() { err = fn() })
			if err != nil {
				t.Fatal(err)
			}
			if want := blas.Flops(model); math.Abs(got-want) > 1e-9*want {
				t.Errorf("%d: %s with dims %+v: %.0f flops issued, the cost model says %.0f", i, what, d, got, want)
			}
		}
		check("TrainStep", m.cfg.TrainStepProducts(d), func() error { _, err := m.TrainStep(b); return err })
		check("Forward", m.cfg.ForwardProducts(d), func() error { _, err := m.Forward(b); return err })
		// Scores in blocks of 4 images × 5 captions: full and partial blocks both ways.
		opts := ScoreOptions{Images: 4, Captions: 5}
		var total []blas.Product
		for i0 := 0; i0 < tc.batch; i0 += 4 {
			for j0 := 0; j0 < tc.batch; j0 += 5 {
				// Each block pads to its own longest caption and most nouns.
				bp, err := m.prepare(Batch{Feats: b.Feats[i0:min(i0+4, tc.batch)], Captions: b.Captions[j0:min(j0+5, tc.batch)]})
				if err != nil {
					t.Fatal(err)
				}
				total = append(total, m.cfg.ForwardProducts(bp.d)...)
			}
		}
		check("Scores", total, func() error { _, err := m.Scores(context.Background(), b.Feats, b.Captions, opts); return err })
		// ScoresProducts with the batch's sizes gives the same as the blocks here (every caption
		// has the same length and nouns).
		if got, want := blas.Flops(m.cfg.ScoresProducts(tc.batch, tc.batch, d, opts)), blas.Flops(total); math.Abs(got-want) > 1e-9*want {
			t.Errorf("%d: ScoresProducts %.0f flops, the blocks %.0f", i, got, want)
		}
	}
}

// TestNumWeights checks the weight count of the cost model against the model's parameters.
func TestNumWeights(t *testing.T) {
	cfg := testConfig(func(c *Config) { c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.Seed = 37, 11, 6, 5, 1 })
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range m.ParamNames() {
		n += len(m.Param(name))
	}
	if got := cfg.NumWeights(); got != n {
		t.Errorf("NumWeights = %d, the model has %d", got, n)
	}
}
