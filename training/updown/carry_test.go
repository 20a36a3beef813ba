package updown

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/training/checkpoint"
)

// TestSCSTCarriesXEBest starts SCST from an XE run's last checkpoint with the XE run's best
// checkpoint and score carried in: an SCST epoch replaces the best model only with a higher
// score; when none does, best.ckpt stays the XE best model (BestEpoch 0), also across a resume.
func TestSCSTCarriesXEBest(t *testing.T) {
	w := newToyWorld(7, 8, 6, 8, true)
	sc, err := w.scorer()
	if err != nil {
		t.Fatal(err)
	}
	// An XE run whose best validation is its first epoch: best.ckpt ≠ last.ckpt.
	xeDir := t.TempDir()
	xeScores := []float64{0.9, 0.5, 0.4}
	m, err := New(w.config())
	if err != nil {
		t.Fatal(err)
	}
	xe := &XETrainer{Model: m, Source: w.source(0, len(w.images)),
		Config:  xeConfig(func(c *XEConfig) { c.BatchImages, c.Epochs, c.LR, c.Seed = 3, 3, 5e-3, 9 }),
		Harness: Harness{Dir: xeDir, Validate: func(_ *Model, e int) (float64, error) { return xeScores[e-1], nil }}}
	xh, err := xe.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if xh.BestEpoch != 1 || xh.Best != 0.9 {
		t.Fatalf("XE best %g at epoch %d, want 0.9 at 1", xh.Best, xh.BestEpoch)
	}
	xeBest, err := checkpoint.Load(filepath.Join(xeDir, BestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	xeLast, err := checkpoint.Load(filepath.Join(xeDir, LastCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if checkpoint.EqualTensors(xeBest.Params, xeLast.Params) {
		t.Fatal("the XE run's best and last checkpoints hold the same weights; the test cannot tell them apart")
	}

	run := func(dir string, scores []float64, killAt int64) (*Model, *History, error) {
		m, init, err := LoadModel(filepath.Join(xeDir, LastCheckpoint))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := &SCSTTrainer{Model: m, Init: init, InitBest: xeBest, InitBestScore: xh.Best, Source: w.source(0, 8),
			Rewarder: Rewarder{Scorer: sc},
			Config: scstConfig(func(c *SCSTConfig) {
				c.BatchImages, c.Epochs, c.LR, c.Samples, c.CheckpointEvery, c.Seed = 3, 2, 1e-3, 2, 1, 3
			}),
			Harness: Harness{Dir: dir, Validate: func(_ *Model, e int) (float64, error) { return scores[e-1], nil },
				Progress: func(p Progress) {
					if p.Step == killAt {
						cancel()
					}
				}}}
		h, err := tr.Run(ctx)
		return m, h, err
	}
	for _, c := range []struct {
		name      string
		scores    []float64
		killAt    int64
		wantEpoch int
		wantBest  float64
	}{
		{"never beaten (equal does not beat)", []float64{0.8, 0.9}, 0, 0, 0.9},
		{"never beaten, killed and resumed", []float64{0.8, 0.9}, 4, 0, 0.9},
		{"beaten in epoch 2", []float64{0.8, 0.95}, 0, 2, 0.95},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.killAt > 0 {
				if _, _, err := run(dir, c.scores, c.killAt); !errors.Is(err, context.Canceled) {
					t.Fatalf("killed run returned %v", err)
				}
			}
			m, h, err := run(dir, c.scores, 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.BestEpoch != c.wantEpoch || h.Best != c.wantBest || !slices.Equal(h.ValCIDEr, c.scores) {
				t.Errorf("best %g at epoch %d, val %v; want %g at %d", h.Best, h.BestEpoch, h.ValCIDEr, c.wantBest, c.wantEpoch)
			}
			best, err := checkpoint.Load(filepath.Join(dir, BestCheckpoint))
			if err != nil {
				t.Fatal(err)
			}
			final := m.Tensors()
			if c.wantEpoch == 0 {
				if !checkpoint.EqualTensors(best.Params, xeBest.Params) || checkpoint.EqualTensors(best.Params, final) {
					t.Error("best.ckpt is not the XE best model")
				}
				if best.Meta["stage"] != StageXE {
					t.Errorf("best.ckpt's stage %q, want the XE checkpoint's %q", best.Meta["stage"], StageXE)
				}
			} else if !checkpoint.EqualTensors(best.Params, final) || best.Meta["stage"] != StageSCST {
				t.Errorf("best.ckpt is not SCST's epoch %d (stage %q)", c.wantEpoch, best.Meta["stage"])
			}
		})
	}
}
