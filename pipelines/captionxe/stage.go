package captionxe

import (
	"context"
	"fmt"

	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/training/updown"
)

// Output names inside the stage's directory.
const (
	BestFile    = captioning.BestFile
	LastFile    = captioning.LastFile
	HistoryFile = captioning.HistoryFile
	MetricsFile = captioning.MetricsFile
	CurvesFile  = captioning.CurvesFile
)

// Input names of the stage besides those of every captioner (captioning.InputCaptions...).
const (
	InputAlignments    = "alignments"
	InputMatcher       = "matcher"
	InputGroundingRefs = "grounding_refs"
)

// Metrics is metrics.json.
type Metrics struct {
	Stage   string         `json:"stage"`
	Teacher models.Teacher `json:"teacher"`
	Alpha   AlphaMode      `json:"alpha,omitempty"`
	// GTAttention is teacher gt's α (argmax or softmax).
	GTAttention captioning.GTTarget `json:"gt_attention,omitempty"`
	KLWeight    float64             `json:"kl_weight"`
	Model       updown.Config       `json:"model"`
	XE          updown.XEConfig     `json:"xe"`
	Params      int                 `json:"params"`
	captioning.Sizes
	ValCaptions int `json:"val_captions"`
	// Selection is the val score of ValCIDEr (captioning.Selection: coco-caption's CIDEr-D by
	// default).
	Selection captioning.Selection `json:"selection"`
	captioning.Outcome
}

// Stage returns the stage instance called name (one of models.XECaptioners).
func Stage(name string, p Params) (*engine.Stage, error) {
	p, err := p.resolve()
	if err != nil {
		return nil, fmt.Errorf("captionxe: %s: %w", name, err)
	}
	if err := declare.Instance(name, models.XECaptioners(), p.validate); err != nil {
		return nil, fmt.Errorf("captionxe: %w", err)
	}
	desc := fmt.Sprintf("train the Up-Down captioner with cross-entropy (no distillation), best model by val %s", p.Selection)
	switch p.Teacher {
	case models.None:
	case models.GT:
		desc = fmt.Sprintf("train the Up-Down captioner with XE + %g·KL(α‖β), α from the ground-truth boxes (%s), best model by val %s", p.XEConfig.KLWeight, p.GTAttention, p.Selection)
	default:
		desc = fmt.Sprintf("train the Up-Down captioner with XE + %g·KL(α‖β) distilled from %s (%s α), best model by val %s", p.XEConfig.KLWeight, p.Teacher, p.Alpha, p.Selection)
	}
	inputs := p.Settings.Inputs()
	switch {
	case p.GroundingRefs != "":
		inputs = append(inputs, engine.Input{Name: InputGroundingRefs, Ref: p.GroundingRefs})
	case p.Alignments != "":
		inputs = append(inputs, engine.Input{Name: InputAlignments, Ref: p.Alignments})
	case p.Matcher != "":
		inputs = append(inputs, engine.Input{Name: InputMatcher, Ref: p.Matcher})
	}
	meta := map[string]string{"input.alignments": p.Alignments, "input.matcher": p.Matcher}
	if p.GroundingRefs != "" {
		meta["input.grounding_refs"] = p.GroundingRefs
	}
	// Version 2: the default BLAS is simd (training/sgemm), whose products round differently
	// from gonum's; the backend does not enter the key, and a captioner without alignments or
	// matcher has no upstream that changed with it. 3: best model by coco-caption CIDEr-D on
	// val (selection).
	return captioning.Stage(name, desc, "3", p, inputs, captioning.Job{Settings: p.Settings, BatchImages: p.BatchImages, Trainer: &trainer{name: name, p: p},
		Meta: meta}), nil
}

// trainer is cross-entropy training with attention distillation (captioning.Trainer).
type trainer struct {
	name string
	p    Params
}

// Prepare builds a fresh captioner and, when distilling, the source of α.
func (t *trainer) Prepare(ctx context.Context, r *engine.Run, d *captioning.Data) (*updown.Model, string, error) {
	p := t.p
	alpha, err := t.alpha(ctx, r, d.UNK)
	if err != nil {
		return nil, "", err
	}
	d.TrainSrc.Alpha = alpha
	model, err := updown.New(p.ModelConfig(len(d.Words), d.Store.Dim()))
	if err != nil {
		return nil, "", fmt.Errorf("captionxe: %w", err)
	}
	what := "no distillation"
	switch p.Teacher {
	case models.None:
	case models.GT:
		what = fmt.Sprintf("ground-truth attention from the Entities boxes (λ %g, %s)", p.XEConfig.KLWeight, p.GTAttention)
	default:
		what = fmt.Sprintf("teacher %s (λ %g, %s α)", p.Teacher, p.XEConfig.KLWeight, p.Alpha)
	}
	return model, what, nil
}

// alpha returns the source of the distillation target α the parameters name: the ground-truth
// boxes, the align stage's precomputed alignments or the matching model run online; nil when
// the captioner is not distilled.
func (t *trainer) alpha(ctx context.Context, r *engine.Run, unk int32) (captioning.AlphaSource, error) {
	switch p := t.p; {
	case p.GroundingRefs != "":
		refs, err := captionstable.ReadGroundingRefs(ctx, r.Input(InputGroundingRefs))
		if err != nil {
			return nil, err
		}
		return captioning.NewGTBoxes(refs, p.GTAttention, unk)
	case p.Alignments != "":
		rows, err := alignments.ReadAll(ctx, r.Input(InputAlignments))
		if err != nil {
			return nil, err
		}
		return captioning.NewPrecomputed(rows)
	case p.Matcher != "":
		m, err := models.LoadMatching(ctx, r.Input(InputMatcher))
		if err != nil {
			return nil, err
		}
		return &captioning.Online{Model: m}, nil
	}
	return nil, nil
}

// Train runs the cross-entropy trainer.
func (t *trainer) Train(ctx context.Context, m *updown.Model, d *captioning.Data, h updown.Harness) (*updown.History, error) {
	tr := &updown.XETrainer{Model: m, Config: t.p.XEConfig, Source: d.TrainSrc, Harness: h}
	return tr.Run(ctx)
}

// Summary returns metrics.json and the manifest's summary.
func (t *trainer) Summary(m *updown.Model, d *captioning.Data, res captioning.Result) (any, string, map[string]any) {
	p := t.p
	met := Metrics{Stage: t.name, Teacher: p.Teacher, Alpha: p.Alpha, GTAttention: p.GTAttention, KLWeight: p.XEConfig.KLWeight, Model: m.Config(), XE: p.XEConfig,
		Params: m.NumParams(), Sizes: d.Sizes(), ValCaptions: d.Val.NumCaptions(), Selection: p.Selection, Outcome: res.Outcome()}
	return met, "caption_xe", map[string]any{"teacher": string(p.Teacher), "kl_weight": p.XEConfig.KLWeight, "steps": met.Steps,
		"best_epoch": met.BestEpoch, "best_val_cider": met.BestValCIDEr}
}
