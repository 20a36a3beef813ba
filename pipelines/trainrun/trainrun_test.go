package trainrun

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/pipelines/engine"
)

// runIn returns an engine run of stage s under a local root, with the given restart flag.
func runIn(t *testing.T, root string, restart bool) *engine.Run {
	t.Helper()
	return &engine.Run{Stage: &engine.Stage{Name: "s"}, Key: "k", Out: "file://" + filepath.ToSlash(filepath.Join(root, "s", "k")), Log: io.Discard, Restart: restart}
}

// TestWorkDirResumeAndRestart checks that the work directory lies beside the output, keeps
// what a run left for the next one, is emptied on Restart and removed by Finish.
func TestWorkDirResumeAndRestart(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	tr, _, err := Start(ctx, runIn(t, root, false))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "s", "k.work"); tr.Dir != want {
		t.Fatalf("work directory %s, want %s", tr.Dir, want)
	}
	if err := os.WriteFile(tr.Path("last.ckpt"), []byte("state"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.Close() // a run that dies leaves its work directory

	// The output holds best.ckpt (an earlier attempt published it and died before its
	// manifest): the next run gets it back, and keeps its own last.ckpt.
	out := filepath.Join(root, "s", "k")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"best.ckpt": "published", "last.ckpt": "published"} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, _, err = Start(ctx, runIn(t, root, false), "last.ckpt", "best.ckpt", "none.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Resuming("last.ckpt") {
		t.Error("the second run does not resume")
	}
	for name, want := range map[string]string{"best.ckpt": "published", "last.ckpt": "state"} {
		if b, err := os.ReadFile(tr.Path(name)); err != nil || string(b) != want {
			t.Errorf("work %s: %q, %v; want %q", name, b, err, want)
		}
	}
	if _, err := os.Stat(tr.Path("none.ckpt")); !os.IsNotExist(err) {
		t.Errorf("none.ckpt: %v", err)
	}
	tr.Close()

	tr, _, err = Start(ctx, runIn(t, root, true), "last.ckpt", "best.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Resuming("last.ckpt") {
		t.Error("a restart resumes")
	}
	if err := os.WriteFile(tr.Path("best.ckpt"), []byte("best"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tr.Publish(ctx, "best.ckpt"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "s", "k", "best.ckpt")); err != nil || string(b) != "best" {
		t.Errorf("published %q, %v", b, err)
	}
	if err := tr.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tr.Dir); !os.IsNotExist(err) {
		t.Errorf("the work directory is still there: %v", err)
	}
}

// TestWorkDirOfOtherStores checks that a store without local files gets a work directory under
// the system temporary directory, named by stage and key.
func TestWorkDirOfOtherStores(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := &engine.Run{Stage: &engine.Stage{Name: "s"}, Key: "k", Out: "mem://b/s/k"}
	if got, want := WorkDir(r), filepath.Join(tmp, "groundcap-work", "s", "k"); got != want {
		t.Errorf("work directory %s, want %s", got, want)
	}
}

// TestObserversStopTraining checks that an observer carried by the context sees the steps and
// validations of a run, that its error stops training and is what Err reports, and that a plain
// cancellation of the stage's context is reported as itself.
func TestObserversStopTraining(t *testing.T) {
	errStop := errors.New("stop")
	var steps []int64
	var vals []Validation
	ctx := Observe(context.Background(), Observer{Validation: func(_ *Run, v Validation) error {
		vals = append(vals, v)
		return nil
	}})
	ctx = Observe(ctx, Observer{Step: func(r *Run, s Step) error {
		steps = append(steps, s.Step)
		if r.Stage.Name == "s" && s.Step == 2 {
			return errStop
		}
		return nil
	}})
	var log bytes.Buffer
	r := runIn(t, t.TempDir(), false)
	r.Log = &log
	tr, tctx, err := Start(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	step := func(n int64) Step {
		return Step{Epoch: 0, Epochs: 2, Batch: int(n), Batches: 2, Step: n, Steps: 4, Items: 8, Unit: "captions",
			Scalars: []Scalar{{Name: Loss, Value: 0.5}, {Name: LR, Value: 1e-3}}}
	}
	tr.Step(step(1))
	if tctx.Err() != nil {
		t.Fatal("stopped after step 1")
	}
	tr.Validated(Validation{Epoch: 1, Step: 1, Metrics: []Scalar{{Name: RSum, Value: 12.5}}, Best: true})
	tr.Step(step(2))
	if tctx.Err() == nil {
		t.Fatal("not stopped after step 2")
	}
	if err := tr.Err(tctx.Err()); !errors.Is(err, errStop) {
		t.Errorf("Err = %v, want the observer's error", err)
	}
	if !slices.Equal(steps, []int64{1, 2}) || len(vals) != 1 || vals[0].Metrics[0].Value != 12.5 {
		t.Errorf("observed steps %v, validations %+v", steps, vals)
	}
	for _, want := range []string{"epoch 1/2 batch 1/2 step 1/4: loss 0.5, lr 0.001, ", " captions/s, ETA ", "epoch 1 step 1: validation rsum 12.5 (best)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}

	parent, cancel := context.WithCancel(context.Background())
	tr2, tctx2, err := Start(parent, runIn(t, t.TempDir(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	cancel()
	if err := tr2.Err(tctx2.Err()); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the stage's cancellation = %v, want context.Canceled", err)
	}
	if err := tr2.Err(nil); err != nil {
		t.Errorf("Err(nil) = %v", err)
	}
}
