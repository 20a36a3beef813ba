package trainrun

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/tensorboard"
)

// TensorBoard locations: BoardDir in the work directory holds the live event files, and
// BoardFile in the output the compacted log of the finished run.
const (
	BoardDir  = "tensorboard"
	BoardFile = "tensorboard/events.out.tfevents.0000000000.groundcap"
)

// Tag prefixes of the TensorBoard log.
const (
	tagTrain = "train/"
	tagVal   = "val/"
	// tagTime marks throughput: wall-clock dependent, left out of the published log.
	tagTime = "time/"
)

// boardWriter returns the run's live event file, created at its first use in BoardDir: a new file
// per attempt of the run (named after the stage, numbered when two attempts start in one second).
func (t *Run) boardWriter() (*tensorboard.Writer, error) {
	if t.board != nil {
		return t.board, nil
	}
	dir := t.Path(BoardDir)
	for i := 0; ; i++ {
		suffix := "." + t.Stage.Name
		if i > 0 {
			suffix += "." + strconv.Itoa(i)
		}
		w, err := tensorboard.Create(dir, tensorboard.Options{Suffix: suffix})
		if errors.Is(err, fs.ErrExist) && i < 99 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("trainrun: %w", err)
		}
		t.board = w
		return w, nil
	}
}

// logStep writes a step's scalars and throughput.
func (t *Run) logStep(s Step) error {
	vals := make(map[string]float64, len(s.Scalars)+1)
	for _, sc := range s.Scalars {
		vals[tagTrain+sc.Name] = sc.Value
	}
	if s.Rate > 0 && s.Unit != "" {
		vals[tagTime+s.Unit+"_per_s"] = s.Rate
	}
	w, err := t.boardWriter()
	if err != nil {
		return err
	}
	return w.Scalars(s.Step, vals)
}

// logValidation writes a validation's metrics at its step.
func (t *Run) logValidation(v Validation) error {
	vals := make(map[string]float64, len(v.Metrics))
	for _, m := range v.Metrics {
		vals[tagVal+m.Name] = m.Value
	}
	w, err := t.boardWriter()
	if err != nil {
		return err
	}
	return w.Scalars(v.Step, vals)
}

// Image adds a picture to the run's TensorBoard log under tag at step (e.g. a validation's
// attention on one image: "attention/<image id>"). It must be deterministic for a seed: it is
// published with the output.
func (t *Run) Image(tag string, step int64, img image.Image) error {
	w, err := t.boardWriter()
	if err != nil {
		return err
	}
	return w.Image(tag, step, img)
}

// publishBoard closes the live event file and writes the compacted log of every attempt's files
// into the output; a run that logged nothing publishes nothing.
func (t *Run) publishBoard(ctx context.Context) error {
	if t.board != nil {
		err := t.board.Close()
		t.board = nil
		if err != nil {
			return err
		}
	}
	files, err := filepath.Glob(filepath.Join(t.Path(BoardDir), "events.out.tfevents.*"))
	if err != nil || len(files) == 0 {
		return err
	}
	// Names start with the creation time in seconds, zero-padded: sorted (Glob) is the attempts'
	// order.
	data, err := tensorboard.Compact(files, func(tag string) bool { return !strings.HasPrefix(tag, tagTime) })
	if err != nil {
		return fmt.Errorf("trainrun: %w", err)
	}
	return blobio.WriteAll(ctx, t.Output(BoardFile), data)
}
