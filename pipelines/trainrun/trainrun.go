// Package trainrun is the run of a training stage (scan, scan-plain, caption-xe*,
// caption-scst*): where its resumable state lives, how its final files reach the output, its
// progress lines, its JSON outputs, the observers of its steps and validations, and its one
// cancellation path.
//
// # Work directory and resume
//
// A trainer keeps its checkpoints in the run's work directory, never in the stage's output:
// beside the output (<key>.work) for a local root, under the system temporary directory for
// other stores (a rerun then resumes only on the same machine). The directory is locked while a
// run uses it, so two runs of one stage on one root never share it. A run that dies resumes from
// the work directory; Publish copies the final files into the output and Finish removes the work
// directory once everything is published. A run killed between the two (the output holds the
// final files, its manifest is missing) gets those files back into the work directory from the
// output when it starts, and so resumes from its final state. A run whose engine.Run asks for a
// restart (--force, a damaged output) starts from an empty work directory.
//
// # Cancellation
//
// Start derives the training context from the stage's context, which the command cancels on
// SIGINT and SIGTERM. It is also cancelled when an observer's Step or Validation fails or the
// stage calls Stop (an error of a callback that cannot return one); Err turns what the trainer
// returns into the error to report: that cause, or the trainer's own error.
//
// # Observers
//
// An Observer attached to the context the stages run with (Observe) sees every training step
// with its scalars (loss, KL, learning rate, gradient norm, throughput) and every validation
// with its metrics, under the stage's name and key: the place for a TensorBoard writer, and the
// way tests stop a run after a given step as a kill would.
//
// # TensorBoard
//
// Every run also writes what it reports as TensorBoard events: the steps' scalars under
// train/<name> and their throughput under time/<unit>_per_s, the validations' metrics under
// val/<name>, and the pictures a stage adds with Image (attention/<image id>). They go live into
// the work directory's tensorboard/ folder (wall-clock times), so that `tensorboard --logdir
// <root>` follows a run while it trains; Finish publishes them into the output as
// BoardFile, compacted (tensorboard.Compact): each step's last values in step order, zero
// wall times and no time/ tags, so that the output has the same bytes for a seed whether or not
// the run was interrupted and resumed.
package trainrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/progress"
	"github.com/groundcap/groundcap/internal/tensorboard"
	"github.com/groundcap/groundcap/pipelines/engine"
)

// Run is one run of a training stage.
type Run struct {
	*engine.Run
	// Dir is the local work directory: the trainer's checkpoints and the files to publish.
	Dir string

	ctx       context.Context
	cancel    context.CancelCauseFunc
	unlock    func()
	observers []Observer
	start     time.Time // of the run
	first     int64     // step count before the first step reported; -1: none reported
	items     int64     // items of the steps reported
	last      time.Time // of the last progress line
	board     *tensorboard.Writer
}

// Start takes the work directory of r (created and locked: a second run of the stage on the same
// root fails at once), empties it when r asks for a restart and otherwise copies back from the
// output those of restore that the output holds and the directory lacks, and returns the run
// with its training context. Close (or Finish) releases it.
func Start(ctx context.Context, r *engine.Run, restore ...string) (*Run, context.Context, error) {
	dir := WorkDir(r)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("trainrun: work directory: %w", err)
	}
	unlock, err := lock(dir)
	if err != nil {
		return nil, nil, err
	}
	tctx, cancel := context.WithCancelCause(ctx)
	t := &Run{Run: r, Dir: dir, ctx: tctx, cancel: cancel, unlock: unlock, observers: observersOf(ctx), start: time.Now(), first: -1}
	if r.Restart {
		err = clear(dir)
	} else {
		err = t.restore(ctx, restore)
	}
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, tctx, nil
}

// WorkDir returns the local work directory of a stage run: beside the output directory
// (<out>.work) when the output is a local file:// location, under the system temporary directory
// otherwise. It never lies inside the output, so half-written checkpoints never enter the
// manifest.
func WorkDir(r *engine.Run) string {
	if s, ok := strings.CutPrefix(r.Out, "file://"); ok {
		return filepath.FromSlash(strings.TrimSuffix(s, "/")) + ".work"
	}
	return filepath.Join(os.TempDir(), "groundcap-work", r.Stage.Name, r.Key)
}

// Path returns the local path of a file in the work directory.
func (t *Run) Path(name string) string { return filepath.Join(t.Dir, name) }

// Resuming reports whether the work directory holds name (the state a trainer resumes from) and
// logs it.
func (t *Run) Resuming(name string) bool {
	if _, err := os.Stat(t.Path(name)); err != nil {
		return false
	}
	t.Logf("resuming from %s", t.Path(name))
	return true
}

// restore copies the files the output holds and the work directory lacks into the work directory.
func (t *Run) restore(ctx context.Context, files []string) error {
	for _, f := range files {
		if _, err := os.Stat(t.Path(f)); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trainrun: %w", err)
		}
		data, err := blobio.ReadAll(ctx, t.Output(f))
		if blobio.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(t.Path(f), data); err != nil {
			return fmt.Errorf("trainrun: %w", err)
		}
	}
	return nil
}

// Stop stops training with cause (an error of a callback that cannot return one).
func (t *Run) Stop(cause error) { t.cancel(cause) }

// Err returns the error to report for what the trainer returned: the cause that stopped training
// (an observer's, Stop's) unless the stage's own context ended, else err itself.
func (t *Run) Err(err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(t.ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	return err
}

// Step reports a finished training step: a progress line with rate and ETA every
// progress.Interval (and at the last step), and the step to the observers; an observer's error
// stops training.
func (t *Run) Step(s Step) {
	now := time.Now()
	if t.first < 0 {
		t.first = s.Step - 1
	}
	t.items += int64(s.Items)
	if s.Rate == 0 && s.Items > 0 {
		if el := now.Sub(t.start).Seconds(); el > 0 {
			s.Rate = float64(t.items) / el
		}
		if done := s.Step - t.first; s.Steps > s.Step && done > 0 {
			s.ETA = time.Duration(float64(now.Sub(t.start)) * float64(s.Steps-s.Step) / float64(done))
		}
	}
	if final := s.Steps > 0 && s.Step >= s.Steps; final || now.Sub(t.last) >= progress.Interval {
		t.last = now
		t.Logf("%s", s.line())
	}
	t.notify(t.logStep(s), func(o Observer) error {
		if o.Step == nil {
			return nil
		}
		return o.Step(t, s)
	})
}

// Validated reports a validation: a log line, and the validation to the observers; an
// observer's error stops training.
func (t *Run) Validated(v Validation) {
	t.Logf("%s", v.line())
	t.notify(t.logValidation(v), func(o Observer) error {
		if o.Validation == nil {
			return nil
		}
		return o.Validation(t, v)
	})
}

// notify passes an event to every observer (call); the error of the event's log write (logErr)
// or of an observer stops training, the first one being the cause.
func (t *Run) notify(logErr error, call func(Observer) error) {
	if logErr != nil {
		t.cancel(logErr)
	}
	for _, o := range t.observers {
		if err := call(o); err != nil {
			t.cancel(err)
		}
	}
}

// Publish copies files from the work directory into the output, each atomically.
func (t *Run) Publish(ctx context.Context, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(t.Path(f))
		if err != nil {
			return fmt.Errorf("trainrun: %w", err)
		}
		if err := blobio.WriteAll(ctx, t.Output(f), data); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes v as indented JSON to the output file name.
func (t *Run) WriteJSON(ctx context.Context, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("trainrun: %s: %w", name, err)
	}
	return blobio.WriteAll(ctx, t.Output(name), append(b, '\n'))
}

// Finish publishes the run's TensorBoard log (BoardFile), then removes the work directory
// once every output is published and releases it.
func (t *Run) Finish(ctx context.Context) error {
	if err := t.publishBoard(ctx); err != nil {
		t.Close()
		return err
	}
	t.Close()
	if err := os.RemoveAll(t.Dir); err != nil {
		return fmt.Errorf("trainrun: removing %s: %w", t.Dir, err)
	}
	return nil
}

// Close releases the work directory's lock and the training context, keeping the directory for
// the next run to resume from (Finish does both; defer Close for the paths that fail).
func (t *Run) Close() {
	t.cancel(nil)
	if t.board != nil {
		_ = t.board.Close() // a failed run: its error is the one to report
		t.board = nil
	}
	if t.unlock != nil {
		t.unlock()
		t.unlock = nil
	}
}

// clear empties a work directory, keeping its lock file.
func clear(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("trainrun: %w", err)
	}
	for _, e := range ents {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("trainrun: %w", err)
		}
	}
	return nil
}
