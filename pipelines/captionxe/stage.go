package captionxe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/progress"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
)

// Output names inside the stage's directory.
const (
	BestFile    = updown.BestCheckpoint
	LastFile    = updown.LastCheckpoint
	HistoryFile = "history.json"
	MetricsFile = "metrics.json"
	CurvesFile  = "curves.png"
)

// Input names of the stage.
const (
	InputCaptions   = "captions"
	InputVocab      = "vocab"
	InputDocFreq    = "cider_df"
	InputFeatures   = "features"
	InputAlignments = "alignments"
	InputMatcher    = "matcher"
)

// ErrInjected is the failure tests inject to stop training as a kill would.
var ErrInjected = errors.New("captionxe: injected failure (test)")

// Metrics is metrics.json.
type Metrics struct {
	Stage    string          `json:"stage"`
	Teacher  models.Teacher  `json:"teacher"`
	Alpha    AlphaMode       `json:"alpha,omitempty"`
	KLWeight float64         `json:"kl_weight"`
	Model    updown.Config   `json:"model"`
	XE       updown.XEConfig `json:"xe"`
	Params   int             `json:"params"`
	// Data sizes.
	TrainImages   int `json:"train_images"`
	TrainCaptions int `json:"train_captions"`
	ValImages     int `json:"val_images"`
	ValCaptions   int `json:"val_captions"`
	// Steps done; ValCIDEr the greedy val CIDEr-D after each epoch; BestEpoch (1-based) the
	// epoch of best.ckpt.
	Steps        int64     `json:"steps"`
	ValCIDEr     []float64 `json:"val_cider"`
	BestEpoch    int       `json:"best_epoch"`
	BestValCIDEr float64   `json:"best_val_cider"`
	// LastEpochLoss is the mean training loss of the last epoch's steps.
	LastEpochLoss float64 `json:"last_epoch_loss"`
}

// Stage returns the stage instance called name (NameBase, NameSCAN or NamePOSSCAN).
func Stage(name string, p Params) (*engine.Stage, error) {
	if !IsInstance(name) {
		return nil, fmt.Errorf("captionxe: stage name %q (want one of %v)", name, Names())
	}
	p, err := p.resolve()
	if err == nil {
		err = p.validate()
	}
	if err != nil {
		return nil, fmt.Errorf("captionxe: %s: %w", name, err)
	}
	desc := "train the Up-Down captioner with cross-entropy (no distillation), best model by val CIDEr-D"
	if p.Teacher != models.None {
		desc = fmt.Sprintf("train the Up-Down captioner with XE + %g·KL(α‖β) distilled from %s (%s α), best model by val CIDEr-D", p.XEConfig.KLWeight, p.Teacher, p.Alpha)
	}
	inputs := []engine.Input{
		{Name: InputCaptions, Ref: p.Captions},
		{Name: InputVocab, Ref: p.Vocab},
		{Name: InputDocFreq, Ref: p.DocFreq},
		{Name: InputFeatures, Ref: p.Features},
	}
	switch {
	case p.Alignments != "":
		inputs = append(inputs, engine.Input{Name: InputAlignments, Ref: p.Alignments})
	case p.Matcher != "":
		inputs = append(inputs, engine.Input{Name: InputMatcher, Ref: p.Matcher})
	}
	return &engine.Stage{
		Name:        name,
		Description: desc,
		// 2: the default BLAS is simd (training/sgemm), whose products round differently
		// from gonum's; the backend does not enter the key, and a captioner without
		// alignments or matcher has no upstream that changed with it.
		Version:       "2",
		SchemaVersion: "1",
		Params:        config.Key(p),
		Inputs:        inputs,
		Run:           func(ctx context.Context, r *engine.Run) error { return run(ctx, r, name, p) },
	}, nil
}

// Validation returns the trainers' validation hook: mean greedy CIDEr-D of src under sc.
func Validation(src updown.Source, sc *caption.Scorer, batch int) updown.ValidateFunc {
	return func(m *updown.Model, _ int) (float64, error) {
		return updown.GreedyCIDEr(m, src, sc, batch)
	}
}

// NewScorer builds the CIDEr-D scorer of the captions stage's document frequencies for the
// captioner's token ids.
func NewScorer(ctx context.Context, dfLoc string, words []string) (*caption.Scorer, error) {
	df, err := captions.ReadDocFreq(ctx, dfLoc)
	if err != nil {
		return nil, err
	}
	sc, err := caption.NewScorer(df, updown.ScorerVocab(captions.EOS, words))
	if err != nil {
		return nil, fmt.Errorf("captionxe: %s: %w", dfLoc, err)
	}
	return sc, nil
}

// Reporter returns a trainer progress hook that logs a line every progress.Interval (and at the
// last step) and calls stop after failAfter steps (0: never).
func Reporter(r *engine.Run, failAfter int64, stop func()) func(updown.Progress) {
	var last time.Time
	return func(pr updown.Progress) {
		final := pr.Epoch+1 == pr.Epochs && pr.StepInEpoch == pr.StepsPerEpoch
		if now := time.Now(); now.Sub(last) >= progress.Interval || final {
			last = now
			unit, extra := "captions/s", fmt.Sprintf("XE %.4g KL %.4g ss %.2f", pr.XE, pr.KL, pr.SSProb)
			if pr.Stage == updown.StageSCST {
				unit, extra = "images/s", fmt.Sprintf("reward %.4g greedy CIDEr-D %.4g", pr.Reward, pr.GreedyCIDEr)
			}
			r.Logf("epoch %d/%d batch %d/%d step %d: loss %.4g (%s), lr %.3g, %.1f %s, ETA %s",
				pr.Epoch+1, pr.Epochs, pr.StepInEpoch, pr.StepsPerEpoch, pr.Step, pr.Loss, extra, pr.LR, pr.ItemsPerSec, unit, pr.ETA.Round(time.Second))
		}
		if failAfter > 0 && pr.Step == failAfter {
			stop()
		}
	}
}

// WriteJSON writes v as indented JSON to a location.
func WriteJSON(ctx context.Context, loc string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("captionxe: %s: %w", loc, err)
	}
	return blobio.WriteAll(ctx, loc, append(b, '\n'))
}

// LastEpochLoss returns the mean loss of the last stepsPerEpoch steps of h.
func LastEpochLoss(h *updown.History, stepsPerEpoch int) float64 {
	n := min(stepsPerEpoch, len(h.Loss))
	if n == 0 {
		return 0
	}
	var s float64
	for _, l := range h.Loss[len(h.Loss)-n:] {
		s += l
	}
	return s / float64(n)
}

// FinishOutputs publishes the trainer's checkpoints, writes history.json and curves.png, and
// removes the work directory's other files once everything is in the output.
func FinishOutputs(ctx context.Context, r *engine.Run, work string, hist *updown.History) error {
	if err := Publish(ctx, r, work, BestFile, LastFile); err != nil {
		return err
	}
	if err := WriteJSON(ctx, r.Output(HistoryFile), hist); err != nil {
		return err
	}
	png := filepath.Join(work, CurvesFile)
	if err := updown.WriteCurves(png, hist); err != nil {
		return err
	}
	return Publish(ctx, r, work, CurvesFile)
}

func run(ctx context.Context, r *engine.Run, name string, p Params) error {
	backend, err := blas.Use(string(p.BLAS))
	if err != nil {
		return fmt.Errorf("captionxe: blas: %w", err)
	}
	in, err := OpenInputs(ctx, r.Input(InputCaptions), r.Input(InputVocab), r.Input(InputFeatures), p.FeatureCacheMB)
	if err != nil {
		return err
	}
	defer in.Close()
	sc, err := NewScorer(ctx, r.Input(InputDocFreq), in.Words)
	if err != nil {
		return err
	}
	train, err := SelectSplit(in.Rows, p.TrainSplits, 0)
	if err != nil {
		return err
	}
	val, err := SelectSplit(in.Rows, []string{p.ValSplit}, p.ValImages)
	if err != nil {
		return err
	}
	if len(train.Images) == 0 {
		return fmt.Errorf("captionxe: %s has no captions of splits %v", r.Input(InputCaptions), p.TrainSplits)
	}
	if len(val.Images) == 0 {
		return fmt.Errorf("captionxe: %s has no captions of split %s (val_split)", r.Input(InputCaptions), p.ValSplit)
	}
	trainSrc := &Source{Ctx: ctx, Split: train, Feats: in.Feats}
	switch {
	case p.Alignments != "":
		rows, err := align.ReadAll(ctx, r.Input(InputAlignments))
		if err != nil {
			return err
		}
		pre, err := NewPrecomputed(rows)
		if err != nil {
			return err
		}
		trainSrc.Alpha = pre
	case p.Matcher != "":
		m, err := scan.LoadModel(ctx, r.Input(InputMatcher))
		if err != nil {
			return err
		}
		trainSrc.Alpha = &Online{Model: m}
	}
	valSrc := &Source{Ctx: ctx, Split: val, Feats: in.Feats}
	model, err := updown.New(p.ModelConfig(len(in.Words), in.Store.Dim()))
	if err != nil {
		return fmt.Errorf("captionxe: %w", err)
	}
	xc := p.XEConfig
	distill := "no distillation"
	if p.Teacher != models.None {
		distill = fmt.Sprintf("teacher %s (λ %g, %s α)", p.Teacher, xc.KLWeight, p.Alpha)
	}
	r.Logf("%d train images (%d captions), %d val images; vocab %d, D %d, %d weights; %s; blas %s",
		len(train.Images), train.NumCaptions(), len(val.Images), len(in.Words), in.Store.Dim(), model.NumParams(), distill, backend)

	work := WorkDir(r)
	unlock, err := LockWork(work)
	if err != nil {
		return err
	}
	defer unlock()
	if err := PrepareWork(ctx, r, work, LastFile, BestFile); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(work, LastFile)); err == nil {
		r.Logf("resuming from %s", filepath.Join(work, LastFile))
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tr := &updown.XETrainer{
		Model: model, Config: xc, Source: trainSrc, Dir: work,
		Progress: Reporter(r, p.failAfterStep, func() { cancel(ErrInjected) }),
		Validate: Validation(valSrc, sc, xc.BatchImages),
		Meta: map[string]string{"stage": name, "key": r.Key, "input.captions": p.Captions, "input.vocab": p.Vocab,
			"input.cider_df": p.DocFreq, "input.features": p.Features, "input.alignments": p.Alignments, "input.matcher": p.Matcher},
	}
	hist, err := tr.Run(tctx)
	if err != nil {
		if cause := context.Cause(tctx); cause != nil && ctx.Err() == nil {
			return cause
		}
		return err
	}
	if hist.BestEpoch < 0 {
		return fmt.Errorf("captionxe: training ended without a validation")
	}
	if err := FinishOutputs(ctx, r, work, hist); err != nil {
		return err
	}
	perEpoch := (len(train.Images) + xc.BatchImages - 1) / xc.BatchImages
	met := Metrics{Stage: name, Teacher: p.Teacher, Alpha: p.Alpha, KLWeight: xc.KLWeight, Model: model.Config(), XE: xc,
		Params: model.NumParams(), TrainImages: len(train.Images), TrainCaptions: train.NumCaptions(), ValImages: len(val.Images),
		ValCaptions: val.NumCaptions(), ValCIDEr: hist.ValCIDEr, BestEpoch: hist.BestEpoch, BestValCIDEr: hist.Best,
		LastEpochLoss: LastEpochLoss(hist, perEpoch)}
	if n := len(hist.Steps); n > 0 {
		met.Steps = hist.Steps[n-1]
	}
	if err := WriteJSON(ctx, r.Output(MetricsFile), met); err != nil {
		return err
	}
	r.SetInfo("caption_xe", map[string]any{"teacher": string(p.Teacher), "kl_weight": xc.KLWeight, "steps": met.Steps,
		"best_epoch": met.BestEpoch, "best_val_cider": met.BestValCIDEr})
	r.Logf("best: epoch %d, val CIDEr-D %.4f; %s", hist.BestEpoch, hist.Best, r.Output(BestFile))
	if err := os.RemoveAll(work); err != nil {
		return fmt.Errorf("captionxe: removing %s: %w", work, err)
	}
	return nil
}
