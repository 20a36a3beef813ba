package trainrun

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/tensorboard"
)

// trainSteps reports steps from..to of a 6-step training with a validation and a picture after
// step 3 and step 6, as a stage would; rate is the (wall-clock) throughput reported.
func trainSteps(t *testing.T, tr *Run, from, to int64, rate float64) {
	t.Helper()
	pic := image.NewRGBA(image.Rect(0, 0, 7, 5))
	pic.Set(2, 3, color.RGBA{9, 8, 7, 255})
	for s := from; s <= to; s++ {
		tr.Step(Step{Epoch: int((s - 1) / 3), Epochs: 2, Batch: int((s-1)%3) + 1, Batches: 3, Step: s, Steps: 6, Items: 4, Unit: "captions", Rate: rate,
			Scalars: []Scalar{{Name: Loss, Value: 1 / float64(s)}, {Name: LR, Value: 1e-3}}})
		if s%3 == 0 {
			tr.Validated(Validation{Epoch: int(s / 3), Step: s, Metrics: []Scalar{{Name: ValCIDEr, Value: float64(s) / 10}}})
			if err := tr.Image("attention/42", s, pic); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTensorBoardLog checks the live log in the work directory and the compacted log Finish
// publishes: the tags and values of the steps, validations and pictures, no throughput, and the
// same bytes for a run killed after step 5 and resumed from step 2 as for an uninterrupted run.
func TestTensorBoardLog(t *testing.T) {
	ctx := context.Background()
	published := func(root string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(root, "s", "k", filepath.FromSlash(BoardFile)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	clean := t.TempDir()
	tr, _, err := Start(ctx, runIn(t, clean, false))
	if err != nil {
		t.Fatal(err)
	}
	trainSteps(t, tr, 1, 6, 100)
	live, err := filepath.Glob(filepath.Join(tr.Dir, BoardDir, "events.out.tfevents.*.s"))
	if err != nil || len(live) != 1 {
		t.Fatalf("live event files %v, %v; want one in the work directory", live, err)
	}
	if evs, err := tensorboard.ReadEvents(live[0]); err != nil || len(evs) < 7 || evs[1].WallTime == 0 {
		t.Fatalf("live log: %d events, %v; want the steps with wall-clock times", len(evs), err)
	}
	if err := tr.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	want := published(clean)

	resumed := t.TempDir()
	tr, _, err = Start(ctx, runIn(t, resumed, false))
	if err != nil {
		t.Fatal(err)
	}
	trainSteps(t, tr, 1, 5, 50)
	tr.Close() // killed after step 5; its checkpoint was of step 2
	tr, _, err = Start(ctx, runIn(t, resumed, false))
	if err != nil {
		t.Fatal(err)
	}
	trainSteps(t, tr, 3, 6, 70)
	if err := tr.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := published(resumed); !bytes.Equal(got, want) {
		t.Error("the resumed run published another TensorBoard log than the uninterrupted one")
	}

	evs, err := tensorboard.ParseEvents(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 7 {
		t.Fatalf("%d events, want the file_version event and 6 steps", len(evs))
	}
	for i, ev := range evs[1:] {
		step := int64(i + 1)
		var tags []string
		for _, v := range ev.Values {
			tags = append(tags, v.Tag)
			switch v.Tag {
			case "train/loss":
				if v.Scalar != float32(1/float64(step)) {
					t.Errorf("step %d: train/loss %g, want %g", step, v.Scalar, 1/float64(step))
				}
			case "val/val_cider":
				if v.Scalar != float32(float64(step)/10) {
					t.Errorf("step %d: val/val_cider %g", step, v.Scalar)
				}
			case "attention/42":
				if v.Image == nil || v.Image.Width != 7 || v.Image.Height != 5 {
					t.Errorf("step %d: picture %+v, want 7x5", step, v.Image)
				}
			}
		}
		wantTags := "train/loss train/lr"
		if step%3 == 0 {
			wantTags = "attention/42 train/loss train/lr val/val_cider"
		}
		if got := strings.Join(tags, " "); ev.Step != step || ev.WallTime != 0 || got != wantTags {
			t.Errorf("event %d: step %d, wall time %g, tags %q; want step %d, 0, %q", i+1, ev.Step, ev.WallTime, got, step, wantTags)
		}
	}
	if _, err := os.Stat(filepath.Join(resumed, "s", "k.work")); !os.IsNotExist(err) {
		t.Errorf("the work directory (and its live log) outlived Finish: %v", err)
	}
}
