package updown

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/groundcap/groundcap/training/checkpoint"
)

// Checkpoint file names inside a trainer's directory.
const (
	// LastCheckpoint is the latest training state (resumed from).
	LastCheckpoint = "last.ckpt"
	// BestCheckpoint is the state with the best validation CIDEr-D.
	BestCheckpoint = "best.ckpt"
)

// Stage names recorded in checkpoints.
const (
	StageXE   = "xe"
	StageSCST = "scst"
)

// Progress is a trainer's periodic report.
type Progress struct {
	// Stage is StageXE or StageSCST.
	Stage string
	// Epoch (0-based) of Epochs; Step the global steps done; StepInEpoch of
	// StepsPerEpoch the position in the epoch.
	Epoch, Epochs              int
	Step                       int64
	StepInEpoch, StepsPerEpoch int
	// Loss of the last step; XE and KL its parts (XE stage); Reward and
	// GreedyCIDEr the mean sample reward and greedy CIDEr-D (SCST stage).
	Loss, XE, KL        float64
	Reward, GreedyCIDEr float64
	// LR and SSProb are the learning rate and scheduled-sampling
	// probability in use; GradNorm the step's global gradient norm before
	// clipping.
	LR, SSProb, GradNorm float64
	// ItemsPerSec is captions/s (XE) or images/s (SCST) in this run; ETA
	// estimates the time to the last step from it.
	ItemsPerSec float64
	ETA         time.Duration
}

// History records the training curves; it is stored in the checkpoints so a
// resumed run continues it.
type History struct {
	// Steps and Loss: the loss after each global step.
	Steps []int64   `json:"steps"`
	Loss  []float64 `json:"loss"`
	// Epochs and ValCIDEr: the validation score after each epoch (1-based
	// count of completed epochs).
	Epochs   []int     `json:"epochs"`
	ValCIDEr []float64 `json:"val_cider"`
	// Best is the best validation score so far and BestEpoch its epoch count
	// (−1: none; 0: the starting model's best, carried in by
	// SCSTTrainer.InitBest, which no epoch has beaten).
	Best      float64 `json:"best"`
	BestEpoch int     `json:"best_epoch"`
}

// ValidateFunc scores the model after an epoch (epochs completed so far),
// e.g. the CIDEr-D of greedy decodes of the validation split (GreedyCIDEr).
// Higher is better.
type ValidateFunc func(m *Model, epochsDone int) (float64, error)

// runConfig is what a checkpoint stores as its configuration.
type runConfig struct {
	Stage string      `json:"stage"`
	Model Config      `json:"model"`
	XE    *XEConfig   `json:"xe,omitempty"`
	SCST  *SCSTConfig `json:"scst,omitempty"`
}

// loop is the epoch/step machinery shared by both trainers.
type loop struct {
	stage    string
	m        *Model
	opt      *Optimizer
	src      Source
	dir      string
	cfgJSON  json.RawMessage
	meta     map[string]string
	seed     uint64
	epochs   int
	batchImg int
	every    int
	progress func(Progress)
	validate ValidateFunc
	init     *checkpoint.Checkpoint
	// initBest, when set, is the best model so far at the start, with its
	// validation score initBestScore.
	initBest      *checkpoint.Checkpoint
	initBestScore float64
	// step runs one optimisation step and fills the stage fields of p; it
	// returns the loss and the number of items (captions or images).
	step func(b *Batch, epoch int, r *rand.Rand, p *Progress) (loss float64, items int, err error)
}

func (l *loop) path(name string) string { return filepath.Join(l.dir, name) }

// state is the mutable part saved in checkpoints.
type loopState struct {
	epoch   int
	dataPos int64
	step    int64
	pcg     *rand.PCG
	hist    History
}

func (l *loop) save(name string, st *loopState) error {
	rng, err := st.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("updown: saving RNG: %w", err)
	}
	hj, err := json.Marshal(st.hist)
	if err != nil {
		return fmt.Errorf("updown: encoding history: %w", err)
	}
	meta := map[string]string{"history": string(hj), "stage": l.stage}
	for k, v := range l.meta {
		meta[k] = v
	}
	c := &checkpoint.Checkpoint{
		Params: l.m.Tensors(), OptimStep: l.opt.Adam.State.Step, M: l.opt.Adam.State.M, V: l.opt.Adam.State.V,
		Step: st.step, Epoch: st.epoch, DataPos: st.dataPos, RNG: rng, Config: l.cfgJSON, Meta: meta,
	}
	return checkpoint.Save(l.path(name), c)
}

// restore loads weights and optimiser state from c (shapes checked).
func (l *loop) restore(c *checkpoint.Checkpoint, what string) error {
	if err := l.m.SetTensors(c.Params); err != nil {
		return fmt.Errorf("updown: %s: %w", what, err)
	}
	if c.M == nil {
		return fmt.Errorf("updown: %s has no optimiser state", what)
	}
	l.opt.Adam.State.Step = c.OptimStep
	for i := range c.M {
		copy(l.opt.Adam.State.M[i], c.M[i])
		copy(l.opt.Adam.State.V[i], c.V[i])
	}
	return nil
}

func (l *loop) run(ctx context.Context) (*History, error) {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("updown: checkpoint directory: %w", err)
	}
	st := &loopState{pcg: rand.NewPCG(l.seed, 0x5eed), hist: History{BestEpoch: -1}}
	last, err := checkpoint.Load(l.path(LastCheckpoint))
	switch {
	case err == nil:
		if !bytes.Equal(compactJSON(last.Config), compactJSON(l.cfgJSON)) {
			return nil, fmt.Errorf("updown: %s was written with another configuration (%s), this run has %s; use a fresh directory", l.path(LastCheckpoint), last.Config, l.cfgJSON)
		}
		if err := l.restore(last, l.path(LastCheckpoint)); err != nil {
			return nil, err
		}
		if err := st.pcg.UnmarshalBinary(last.RNG); err != nil {
			return nil, fmt.Errorf("updown: %s: RNG state: %w", l.path(LastCheckpoint), err)
		}
		if err := json.Unmarshal([]byte(last.Meta["history"]), &st.hist); err != nil {
			return nil, fmt.Errorf("updown: %s: history: %w", l.path(LastCheckpoint), err)
		}
		st.epoch, st.dataPos, st.step = last.Epoch, last.DataPos, last.Step
	case errors.Is(err, fs.ErrNotExist):
		if l.init != nil {
			if err := l.restore(l.init, "initial checkpoint"); err != nil {
				return nil, err
			}
		}
		if l.initBest != nil {
			if err := checkpoint.Save(l.path(BestCheckpoint), l.initBest); err != nil {
				return nil, err
			}
			st.hist.Best, st.hist.BestEpoch = l.initBestScore, 0
		}
	default:
		return nil, err
	}
	r := rand.New(st.pcg)
	n := l.src.Len()
	if n == 0 {
		return nil, fmt.Errorf("updown: the training source has no images")
	}
	nb := (n + l.batchImg - 1) / l.batchImg
	total := int64(nb) * int64(l.epochs)
	start := time.Now()
	startStep := st.step
	var items int64
	for ; st.epoch < l.epochs; st.epoch, st.dataPos = st.epoch+1, 0 {
		perm := rand.New(rand.NewPCG(l.seed, uint64(st.epoch)+1<<32)).Perm(n)
		for ; st.dataPos < int64(nb); st.dataPos++ {
			if err := ctx.Err(); err != nil {
				return &st.hist, err
			}
			lo := int(st.dataPos) * l.batchImg
			idx := perm[lo:min(lo+l.batchImg, n)]
			b, err := l.src.Batch(idx)
			if err != nil {
				return &st.hist, fmt.Errorf("updown: epoch %d batch %d: %w", st.epoch, st.dataPos, err)
			}
			b.Index = append([]int(nil), idx...)
			p := Progress{Stage: l.stage, Epoch: st.epoch, Epochs: l.epochs, StepInEpoch: int(st.dataPos) + 1, StepsPerEpoch: nb}
			loss, k, err := l.step(b, st.epoch, r, &p)
			if err != nil {
				return &st.hist, fmt.Errorf("updown: epoch %d batch %d: %w", st.epoch, st.dataPos, err)
			}
			st.step++
			items += int64(k)
			st.hist.Steps = append(st.hist.Steps, st.step)
			st.hist.Loss = append(st.hist.Loss, loss)
			if l.progress != nil {
				el := time.Since(start).Seconds()
				p.Step, p.Loss = st.step, loss
				p.ItemsPerSec = float64(items) / el
				done := st.step - startStep
				p.ETA = time.Duration(el / float64(done) * float64(total-st.step) * float64(time.Second))
				l.progress(p)
			}
			if l.every > 0 && st.step%int64(l.every) == 0 {
				st.dataPos++
				err := l.save(LastCheckpoint, st)
				st.dataPos--
				if err != nil {
					return &st.hist, err
				}
			}
		}
		if l.validate != nil {
			v, err := l.validate(l.m, st.epoch+1)
			if err != nil {
				return &st.hist, fmt.Errorf("updown: validation after epoch %d: %w", st.epoch+1, err)
			}
			st.hist.Epochs = append(st.hist.Epochs, st.epoch+1)
			st.hist.ValCIDEr = append(st.hist.ValCIDEr, v)
			if st.hist.BestEpoch < 0 || v > st.hist.Best {
				st.hist.Best, st.hist.BestEpoch = v, st.epoch+1
				end := *st
				end.epoch, end.dataPos = st.epoch+1, 0
				if err := l.save(BestCheckpoint, &end); err != nil {
					return &st.hist, err
				}
			}
		}
		end := *st
		end.epoch, end.dataPos = st.epoch+1, 0
		if err := l.save(LastCheckpoint, &end); err != nil {
			return &st.hist, err
		}
	}
	return &st.hist, nil
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// Harness is what both trainers share besides their configuration: where they keep their
// checkpoints and whom they tell about progress and validation.
type Harness struct {
	// Dir holds LastCheckpoint (resumed from when present) and BestCheckpoint.
	Dir string
	// Progress, when set, is called after every step.
	Progress func(Progress)
	// Validate, when set, is called after every epoch; the best score keeps
	// BestCheckpoint.
	Validate ValidateFunc
	// Meta is stored in every checkpoint (git SHA, input URIs, …).
	Meta map[string]string
}

// newLoop returns the loop of a trainer of stage over m with its schedule and run settings;
// rc is stored in every checkpoint and must equal a resumed checkpoint's.
func newLoop(stage string, m *Model, src Source, h Harness, sched Schedule, run RunConfig, rc runConfig) (*loop, error) {
	opt, err := NewOptimizer(m, sched.GradClip)
	if err != nil {
		return nil, err
	}
	cj, err := json.Marshal(rc)
	if err != nil {
		return nil, fmt.Errorf("updown: encoding config: %w", err)
	}
	return &loop{stage: stage, m: m, opt: opt, src: src, dir: h.Dir, cfgJSON: cj, meta: h.Meta,
		seed: run.Seed, epochs: sched.Epochs, batchImg: sched.BatchImages, every: run.CheckpointEvery,
		progress: h.Progress, validate: h.Validate}, nil
}

// XETrainer runs cross-entropy training with attention distillation.
type XETrainer struct {
	// Model is trained in place.
	Model *Model
	// Config is the training configuration; it must be valid (XEConfig.Validate).
	Config XEConfig
	// Source supplies the training images and captions (with NounPos and
	// Alpha when Config.KLWeight > 0).
	Source Source
	Harness
}

// Run trains until Config.Epochs are done, resuming from Dir/LastCheckpoint
// if it exists (its configuration must equal this one). It returns the
// training history; a cancelled ctx stops it before the next step with
// ctx's error (the last saved checkpoint is the resume point).
func (t *XETrainer) Run(ctx context.Context) (*History, error) {
	c := t.Config
	l, err := newLoop(StageXE, t.Model, t.Source, t.Harness, c.Schedule, c.RunConfig,
		runConfig{Stage: StageXE, Model: t.Model.cfg, XE: &c})
	if err != nil {
		return nil, err
	}
	l.step = func(b *Batch, epoch int, r *rand.Rand, p *Progress) (float64, int, error) {
		p.LR, p.SSProb = c.LRAt(epoch), c.SSProbAt(epoch)
		st, err := t.Model.XEStep(b, p.LR, c.KLWeight, p.SSProb, r, l.opt)
		p.XE, p.KL, p.GradNorm = st.XE, st.KL, st.GradNorm
		return st.Loss, st.Captions, err
	}
	return l.run(ctx)
}

// SCSTTrainer runs self-critical training, usually from the last XE
// checkpoint.
type SCSTTrainer struct {
	// Model is trained in place.
	Model *Model
	// Config is the training configuration; it must be valid (SCSTConfig.Validate).
	Config SCSTConfig
	// Source supplies images with their reference captions.
	Source Source
	// Rewarder computes the rewards; its weights are overridden by
	// Config.WCider and Config.WMatch.
	Rewarder Rewarder
	// Init, when set, gives the starting weights and optimiser state (the
	// XE stage's last checkpoint) unless Dir already holds a checkpoint.
	Init *checkpoint.Checkpoint
	// InitBest, when set, is the XE stage's best checkpoint and
	// InitBestScore its validation score, carried in as the original
	// carries best_val_score: a fresh run writes InitBest as
	// BestCheckpoint with History.Best = InitBestScore and BestEpoch 0, so
	// an epoch replaces it only with a higher score.
	InitBest      *checkpoint.Checkpoint
	InitBestScore float64
	Harness
}

// Run trains until Config.Epochs are done, resuming as XETrainer.Run does.
func (t *SCSTTrainer) Run(ctx context.Context) (*History, error) {
	c, rw := t.Config, t.Rewarder
	rw.WCider, rw.WMatch = c.WCider, c.WMatch
	l, err := newLoop(StageSCST, t.Model, t.Source, t.Harness, c.Schedule, c.RunConfig,
		runConfig{Stage: StageSCST, Model: t.Model.cfg, SCST: &c})
	if err != nil {
		return nil, err
	}
	l.init, l.initBest, l.initBestScore = t.Init, t.InitBest, t.InitBestScore
	l.step = func(b *Batch, epoch int, r *rand.Rand, p *Progress) (float64, int, error) {
		p.LR = c.LRAt(epoch)
		st, err := t.Model.SCSTStep(b, p.LR, c.Samples, c.MaxLen, &rw, r, l.opt)
		p.Reward, p.GreedyCIDEr, p.GradNorm = st.SampleReward, st.GreedyCIDEr, st.GradNorm
		return st.Loss, st.Images, err
	}
	return l.run(ctx)
}

// LoadModel reads a trainer checkpoint and returns the model with its
// weights, and the checkpoint (for Init of an SCSTTrainer).
func LoadModel(path string) (*Model, *checkpoint.Checkpoint, error) {
	c, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, err
	}
	var rc runConfig
	dec := json.NewDecoder(bytes.NewReader(c.Config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		return nil, nil, fmt.Errorf("updown: %s: configuration: %w", path, err)
	}
	m, err := New(rc.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("updown: %s: %w", path, err)
	}
	if err := m.SetTensors(c.Params); err != nil {
		return nil, nil, fmt.Errorf("updown: %s: %w", path, err)
	}
	return m, c, nil
}
