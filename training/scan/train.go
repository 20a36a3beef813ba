package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// BatchSource yields training batches. Its order must be a deterministic
// function of (seed, epoch) so that a resumed run sees the same batches.
type BatchSource interface {
	// Start positions the source at the beginning of epoch (0-based) and
	// skips its first skip batches (already consumed before a resume).
	Start(epoch int, skip int64) error
	// Next returns the next batch of the epoch (caption j matching image j),
	// or io.EOF at its end.
	Next(ctx context.Context) (Batch, error)
}

// TrainOptions controls Train. The zero value trains cfg.Epochs epochs
// without checkpoints.
type TrainOptions struct {
	// CheckpointPath, if set, receives a checkpoint at the end of every
	// epoch and every CheckpointEvery steps (written atomically).
	CheckpointPath string
	// CheckpointEvery is the step period of mid-epoch checkpoints (0: none).
	CheckpointEvery int64
	// MaxSteps stops training once the model has done this many steps in
	// total (0: no limit); Train then returns nil.
	MaxSteps int64
	// OnEpochEnd, if set, runs after each epoch (validation, best-model
	// selection) before the epoch checkpoint; an error stops training.
	OnEpochEnd func(ctx context.Context, epoch int, m *Model) error
}

// Progress is reported after every step.
type Progress struct {
	// Epoch and Batch locate the step (Batch counts from 1 in the epoch).
	Epoch int
	Batch int64
	// Step is the model's total step count.
	Step int64
	// Result is the step's loss, gradient norm and learning rate.
	Result StepResult
	// Captions is the number of captions in the step's batch; Elapsed the
	// wall time of the step (forward, backward, update).
	Captions int
	Elapsed  time.Duration
}

// Train runs the training loop from the model's current epoch and data
// position to Config.Epochs, calling progress (may be nil) after each step.
// It stops with ctx's error when ctx is cancelled (after writing a
// checkpoint if CheckpointPath is set).
func Train(ctx context.Context, m *Model, src BatchSource, opts TrainOptions, progress func(Progress)) error {
	save := func() error {
		if opts.CheckpointPath == "" {
			return nil
		}
		return m.Save(opts.CheckpointPath)
	}
	for m.epoch < m.cfg.Epochs {
		if err := src.Start(m.epoch, m.dataPos); err != nil {
			return fmt.Errorf("scan: starting epoch %d at batch %d: %w", m.epoch, m.dataPos, err)
		}
		for {
			if opts.MaxSteps > 0 && m.step >= opts.MaxSteps {
				return save()
			}
			if err := ctx.Err(); err != nil {
				if serr := save(); serr != nil {
					return errors.Join(err, serr)
				}
				return err
			}
			b, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("scan: epoch %d batch %d: %w", m.epoch, m.dataPos+1, err)
			}
			t0 := time.Now()
			res, err := m.TrainStep(b)
			if err != nil {
				return fmt.Errorf("scan: epoch %d batch %d: %w", m.epoch, m.dataPos+1, err)
			}
			if progress != nil {
				progress(Progress{Epoch: m.epoch, Batch: m.dataPos, Step: m.step, Result: res, Captions: len(b.Captions), Elapsed: time.Since(t0)})
			}
			if opts.CheckpointEvery > 0 && m.step%opts.CheckpointEvery == 0 {
				if err := save(); err != nil {
					return err
				}
			}
		}
		if opts.OnEpochEnd != nil {
			if err := opts.OnEpochEnd(ctx, m.epoch, m); err != nil {
				return fmt.Errorf("scan: after epoch %d: %w", m.epoch, err)
			}
		}
		m.epoch++
		m.dataPos = 0
		if err := save(); err != nil {
			return err
		}
	}
	return nil
}
