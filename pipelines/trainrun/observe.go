package trainrun

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Scalar is one named value of a step or a validation.
type Scalar struct {
	Name  string
	Value float64
}

// Scalar names the stages report (others may follow).
const (
	Loss     = "loss"      // the step's training loss
	KL       = "kl"        // the distillation term KL(α‖β) of a caption-xe step
	LR       = "lr"        // the learning rate in use
	GradNorm = "grad_norm" // the global gradient norm before clipping
	ValCIDEr = "val_cider" // the greedy val CIDEr-D of a captioner
	RSum     = "rsum"      // the retrieval rsum of a matching model
)

// Step is one finished training step.
type Step struct {
	// Epoch (0-based) of Epochs; Batch (1-based) of Batches in the epoch; Step (1-based, over the
	// whole training) of Steps (the last step; 0: unknown).
	Epoch, Epochs  int
	Batch, Batches int
	Step, Steps    int64
	// Scalars are the step's values, Loss first, in the order the progress line shows them.
	Scalars []Scalar
	// Items is the number of Unit (captions, images) the step trained on. Rate (Unit per second)
	// and ETA come from the trainer or, when Rate is 0, from Items and the run's clock.
	Items int
	Unit  string
	Rate  float64
	ETA   time.Duration
}

// Validation is one validation of the model being trained.
type Validation struct {
	// Epoch is the epochs completed (1-based count), Step the steps done.
	Epoch int
	Step  int64
	// Metrics are the validation's values in the order the log line shows them.
	Metrics []Scalar
	// Best reports whether it is the best validation so far (the model kept).
	Best bool
}

// Observer watches the training runs of the stages run with a context that carries it
// (Observe). Its functions run on the trainer's goroutine after every step and every
// validation; an error stops training with that error. Nil functions are skipped.
type Observer struct {
	Step       func(t *Run, s Step) error
	Validation func(t *Run, v Validation) error
}

type observersKey struct{}

// Observe returns ctx carrying o, besides the observers ctx already carries, to every training
// run started with it.
func Observe(ctx context.Context, o Observer) context.Context {
	obs := append(append([]Observer(nil), observersOf(ctx)...), o)
	return context.WithValue(ctx, observersKey{}, obs)
}

func observersOf(ctx context.Context) []Observer {
	obs, _ := ctx.Value(observersKey{}).([]Observer)
	return obs
}

func scalars(b *strings.Builder, ss []Scalar) {
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %.4g", s.Name, s.Value)
	}
}

// line is the progress line of a step.
func (s Step) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d/%d batch %d/%d step %d", s.Epoch+1, s.Epochs, s.Batch, s.Batches, s.Step)
	if s.Steps > 0 {
		fmt.Fprintf(&b, "/%d", s.Steps)
	}
	b.WriteString(": ")
	scalars(&b, s.Scalars)
	if s.Rate > 0 {
		fmt.Fprintf(&b, ", %.1f %s/s", s.Rate, s.Unit)
	}
	if s.ETA > 0 {
		fmt.Fprintf(&b, ", ETA %s", s.ETA.Round(time.Second))
	}
	return b.String()
}

// line is the log line of a validation.
func (v Validation) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d step %d: validation ", v.Epoch, v.Step)
	scalars(&b, v.Metrics)
	if v.Best {
		b.WriteString(" (best)")
	}
	return b.String()
}
