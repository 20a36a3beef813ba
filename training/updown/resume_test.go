package updown

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/training/checkpoint"
)

// runXE runs an XE trainer in dir, cancelling it (as a kill would stop it)
// once killAt steps are done (0: never).
func runXE(t *testing.T, w *toyWorld, dir string, killAt int64) (*Model, *History, error) {
	t.Helper()
	m, err := New(w.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &XETrainer{Model: m, Source: w.source(0, len(w.images)),
		// Dropout (default 0.5), distillation and scheduled sampling all draw
		// from the checkpointed RNG.
		Config: xeConfig(func(c *XEConfig) {
			c.BatchImages, c.Epochs, c.LR, c.KLWeight, c.SSEvery, c.SSIncrease, c.CheckpointEvery, c.Seed = 3, 3, 5e-3, 0.5, 1, 0.2, 2, 9
		}),
		Harness: Harness{Dir: dir, Progress: func(p Progress) {
			if p.Step == killAt {
				cancel()
			}
		}},
	}
	h, err := tr.Run(ctx)
	return m, h, err
}

// TestXEResumeIdentity kills a run mid-epoch (after step 5, last checkpoint
// at step 4) and resumes it: the final weights and loss history must equal
// an uninterrupted run's exactly.
func TestXEResumeIdentity(t *testing.T) {
	w := newToyWorld(6, 10, 6, 8, true)
	straight, hs, err := runXE(t, w, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := runXE(t, w, dir, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run returned %v, want context.Canceled", err)
	}
	c, err := checkpoint.Load(filepath.Join(dir, LastCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if c.Step != 4 || c.Epoch != 1 || c.DataPos != 0 {
		t.Fatalf("resume point step %d epoch %d pos %d, want step 4 = epoch 1 position 0", c.Step, c.Epoch, c.DataPos)
	}
	resumed, hr, err := runXE(t, w, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range straight.Params() {
		if !slices.Equal(p, resumed.Params()[i]) {
			t.Fatalf("parameter %s differs after resume", straight.names[i])
		}
	}
	if !reflect.DeepEqual(hs.Loss, hr.Loss) || len(hs.Loss) != 12 {
		t.Fatalf("loss histories differ or have the wrong length (%d): %v vs %v", len(hs.Loss), hs.Loss, hr.Loss)
	}
	// A finished run resumed again does nothing and keeps the weights.
	again, _, err := runXE(t, w, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Params()[0], straight.Params()[0]) {
		t.Fatal("rerunning a finished training changed the weights")
	}
}

// TestSCSTResumeIdentity does the same for SCST started from an XE
// checkpoint (weights and optimiser state restored).
func TestSCSTResumeIdentity(t *testing.T) {
	w := newToyWorld(7, 8, 6, 8, true)
	sc, err := w.scorer()
	if err != nil {
		t.Fatal(err)
	}
	xeDir := t.TempDir()
	if _, _, err := runXE(t, w, xeDir, 0); err != nil {
		t.Fatal(err)
	}
	run := func(dir string, killAt int64) (*Model, error) {
		m, init, err := LoadModel(filepath.Join(xeDir, LastCheckpoint))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := &SCSTTrainer{Model: m, Init: init, Source: w.source(0, 8), Rewarder: Rewarder{Scorer: sc},
			Config: scstConfig(func(c *SCSTConfig) {
				c.BatchImages, c.Epochs, c.LR, c.Samples, c.CheckpointEvery, c.Seed = 3, 2, 1e-3, 2, 1, 3
			}),
			Harness: Harness{Dir: dir, Progress: func(p Progress) {
				if p.Step == killAt {
					cancel()
				}
			}}}
		_, err = tr.Run(ctx)
		return m, err
	}
	straight, err := run(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := run(dir, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run returned %v", err)
	}
	resumed, err := run(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range straight.Params() {
		if !slices.Equal(p, resumed.Params()[i]) {
			t.Fatalf("parameter %s differs after resume", straight.names[i])
		}
	}
	// A directory written with another configuration is refused.
	m, _, _ := LoadModel(filepath.Join(xeDir, LastCheckpoint))
	tr := &SCSTTrainer{Model: m, Source: w.source(0, 8), Harness: Harness{Dir: dir}, Rewarder: Rewarder{Scorer: sc}, Config: scstConfig(func(c *SCSTConfig) { c.BatchImages = 4 })}
	if _, err := tr.Run(context.Background()); err == nil {
		t.Fatal("resuming with another configuration was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, BestCheckpoint)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("best checkpoint without a validation hook: %v", err)
	}
}
