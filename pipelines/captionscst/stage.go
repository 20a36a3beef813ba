package captionscst

import (
	"context"
	"fmt"

	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/training/checkpoint"
	"github.com/groundcap/groundcap/training/updown"
)

// Input names of the stage besides those of every captioner (captioning.InputCaptions...).
const (
	InputInit     = "init"
	InputInitBest = "init_best"
	InputMatcher  = "matcher"
)

// Metrics is metrics.json.
type Metrics struct {
	Stage   string            `json:"stage"`
	Init    string            `json:"init"`
	Matcher models.Teacher    `json:"matcher"`
	Model   updown.Config     `json:"model"`
	SCST    updown.SCSTConfig `json:"scst"`
	captioning.Sizes
	// Selection is the val score of StartValCIDEr, InitBestValCIDEr, ValCIDEr and BestValCIDEr.
	Selection captioning.Selection `json:"selection"`
	// StartValCIDEr is the val score of the starting (XE) model.
	StartValCIDEr float64 `json:"start_val_cider"`
	// InitBest is the XE model whose val score, InitBestValCIDEr, was carried in (carry_best;
	// empty when not carried).
	InitBest         string  `json:"init_best,omitempty"`
	InitBestValCIDEr float64 `json:"init_best_val_cider,omitempty"`
	// Outcome as in caption-xe; BestEpoch 0: no SCST epoch beat the carried score, and best.ckpt
	// is InitBest's model.
	captioning.Outcome
	// Best says where best.ckpt comes from: "scst epoch N", or InitBest.
	Best string `json:"best"`
}

// Stage returns the stage instance called name.
func Stage(name string, p Params) (*engine.Stage, error) {
	p = p.resolve()
	if err := declare.Instance(name, models.SCSTCaptioners(), p.validate); err != nil {
		return nil, fmt.Errorf("captionscst: %w", err)
	}
	desc := fmt.Sprintf("self-critical training from %s, reward %g·CIDEr-D", p.Init, p.WCider)
	if p.Matcher != models.None {
		desc += fmt.Sprintf(" + %g·S(%s)", p.WMatch, p.Matcher)
	}
	inputs := []engine.Input{{Name: InputInit, Ref: p.Init}}
	if p.CarryBest {
		inputs = append(inputs, engine.Input{Name: InputInitBest, Ref: p.InitBest})
		desc += fmt.Sprintf(", best model by val %s against %s's carried in", p.Selection, p.InitBest)
	}
	inputs = append(inputs, p.Settings.Inputs()...)
	if p.MatcherModel != "" {
		inputs = append(inputs, engine.Input{Name: InputMatcher, Ref: p.MatcherModel})
	}
	// Version 2: samples and the greedy baseline run to max_len (default 20) words, no longer
	// to the references' truncation length. 3: best model by coco-caption CIDEr-D on val
	// (selection), the XE model's best score carried in (carry_best).
	return captioning.Stage(name, desc, "3", p, inputs, captioning.Job{Settings: p.Settings, TrainImages: p.TrainImages, BatchImages: p.BatchImages,
		Trainer: &trainer{name: name, p: p}, Meta: map[string]string{"input.init": p.Init, "input.init_best": p.InitBest, "input.matcher": p.MatcherModel}}), nil
}

// trainer is self-critical training (captioning.Trainer).
type trainer struct {
	name string
	p    Params
	// start is the starting model's checkpoint, matcher the reward's matching model (nil: none).
	start   *checkpoint.Checkpoint
	matcher *Matcher
	// startCIDEr is the starting model's val score; initBest the carried best model (nil: not
	// carried) and initBestCIDEr its val score.
	startCIDEr    float64
	initBest      *checkpoint.Checkpoint
	initBestCIDEr float64
}

// Prepare loads the starting model, checks it against the data, loads the matcher and scores
// the start.
func (t *trainer) Prepare(ctx context.Context, r *engine.Run, d *captioning.Data) (*updown.Model, string, error) {
	p := t.p
	model, ck, err := captioning.LoadModel(ctx, r.Input(InputInit))
	if err != nil {
		return nil, "", err
	}
	if mc := model.Config(); mc.VocabSize != len(d.Words) || mc.FeatDim != d.Store.Dim() {
		return nil, "", fmt.Errorf("captionscst: %s was trained for %d words and D %d; the inputs have %d words and D %d",
			p.Init, mc.VocabSize, mc.FeatDim, len(d.Words), d.Store.Dim())
	}
	t.start = ck
	if p.MatcherModel != "" {
		mm, err := models.LoadMatching(ctx, r.Input(InputMatcher))
		if err != nil {
			return nil, "", err
		}
		if t.matcher, err = NewMatcher(mm, d.TrainSrc, d.Words); err != nil {
			return nil, "", err
		}
	}
	start, err := d.Validate(model, 0)
	if err != nil {
		return nil, "", err
	}
	t.startCIDEr = start
	what := fmt.Sprintf("start (%s) val %s %.4f", p.Init, p.Selection, start)
	if p.CarryBest {
		bm, bc, err := captioning.LoadModel(ctx, r.Input(InputInitBest))
		if err != nil {
			return nil, "", err
		}
		if bm.Config() != model.Config() {
			return nil, "", fmt.Errorf("captionscst: %s's model (%+v) differs from %s's (%+v)", p.InitBest, bm.Config(), p.Init, model.Config())
		}
		t.initBest = bc
		// When the XE run's best epoch was its last, the best model is the start's weights, and
		// the same weights decode the same captions: its score is the start's.
		same := checkpoint.EqualTensors(bc.Params, ck.Params)
		t.initBestCIDEr = start
		if !same {
			if t.initBestCIDEr, err = d.Validate(bm, 0); err != nil {
				return nil, "", err
			}
		}
		what += fmt.Sprintf("; carried best (%s) %.4f", p.InitBest, t.initBestCIDEr)
		if same {
			what += ", the start's weights"
		}
	}
	return model, fmt.Sprintf("%s; reward %g·CIDEr-D + %g·S(%s)", what, p.WCider, p.WMatch, p.Matcher), nil
}

// Train runs the self-critical trainer.
func (t *trainer) Train(ctx context.Context, m *updown.Model, d *captioning.Data, h updown.Harness) (*updown.History, error) {
	rw := updown.Rewarder{Scorer: d.Scorer}
	if t.matcher != nil {
		rw.Match = t.matcher.Func()
	}
	tr := &updown.SCSTTrainer{Model: m, Config: t.p.SCSTConfig, Source: d.TrainSrc, Rewarder: rw, Init: t.start,
		InitBest: t.initBest, InitBestScore: t.initBestCIDEr, Harness: h}
	hist, err := tr.Run(ctx)
	if t.matcher != nil && t.matcher.Err() != nil {
		return nil, t.matcher.Err()
	}
	return hist, err
}

// Summary returns metrics.json and the manifest's summary.
func (t *trainer) Summary(m *updown.Model, d *captioning.Data, res captioning.Result) (any, string, map[string]any) {
	p, h := t.p, res.Hist
	met := Metrics{Stage: t.name, Init: p.Init, Matcher: p.Matcher, Model: m.Config(), SCST: p.SCSTConfig,
		Sizes: d.Sizes(), Selection: p.Selection, StartValCIDEr: t.startCIDEr, Outcome: res.Outcome(),
		Best: fmt.Sprintf("scst epoch %d", h.BestEpoch)}
	if p.CarryBest {
		met.InitBest, met.InitBestValCIDEr = p.InitBest, t.initBestCIDEr
		if h.BestEpoch == 0 {
			met.Best = p.InitBest
		}
	}
	return met, "caption_scst", map[string]any{"matcher": string(p.Matcher), "steps": met.Steps, "start_val_cider": t.startCIDEr,
		"best_epoch": met.BestEpoch, "best_val_cider": met.BestValCIDEr, "best": met.Best}
}
