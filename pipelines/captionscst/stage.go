package captionscst

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
)

// Output names (as caption-xe's).
const (
	BestFile    = captionxe.BestFile
	LastFile    = captionxe.LastFile
	HistoryFile = captionxe.HistoryFile
	MetricsFile = captionxe.MetricsFile
	CurvesFile  = captionxe.CurvesFile
)

// Input names of the stage.
const (
	InputInit     = "init"
	InputCaptions = "captions"
	InputVocab    = "vocab"
	InputDocFreq  = "cider_df"
	InputFeatures = "features"
	InputMatcher  = "matcher"
)

// ErrInjected is the failure tests inject to stop training as a kill would.
var ErrInjected = errors.New("captionscst: injected failure (test)")

// Metrics is metrics.json.
type Metrics struct {
	Stage   string            `json:"stage"`
	Init    string            `json:"init"`
	Matcher models.Teacher    `json:"matcher"`
	Model   updown.Config     `json:"model"`
	SCST    updown.SCSTConfig `json:"scst"`
	// Data sizes.
	TrainImages   int `json:"train_images"`
	TrainCaptions int `json:"train_captions"`
	ValImages     int `json:"val_images"`
	// StartValCIDEr is the greedy val CIDEr-D of the starting (XE) model.
	StartValCIDEr float64 `json:"start_val_cider"`
	// Steps, ValCIDEr, BestEpoch, BestValCIDEr and LastEpochLoss as in caption-xe.
	Steps         int64     `json:"steps"`
	ValCIDEr      []float64 `json:"val_cider"`
	BestEpoch     int       `json:"best_epoch"`
	BestValCIDEr  float64   `json:"best_val_cider"`
	LastEpochLoss float64   `json:"last_epoch_loss"`
}

// Stage returns the stage instance called name.
func Stage(name string, p Params) (*engine.Stage, error) {
	if !IsInstance(name) {
		return nil, fmt.Errorf("captionscst: stage name %q (want one of %v)", name, Names())
	}
	p = p.resolve()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("captionscst: %s: %w", name, err)
	}
	desc := fmt.Sprintf("self-critical training from %s, reward %g·CIDEr-D", p.Init, p.WCider)
	if p.Matcher != models.None {
		desc += fmt.Sprintf(" + %g·S(%s)", p.WMatch, p.Matcher)
	}
	inputs := []engine.Input{
		{Name: InputInit, Ref: p.Init},
		{Name: InputCaptions, Ref: p.Captions},
		{Name: InputVocab, Ref: p.Vocab},
		{Name: InputDocFreq, Ref: p.DocFreq},
		{Name: InputFeatures, Ref: p.Features},
	}
	if p.MatcherModel != "" {
		inputs = append(inputs, engine.Input{Name: InputMatcher, Ref: p.MatcherModel})
	}
	return &engine.Stage{
		Name:        name,
		Description: desc,
		// 2: samples and the greedy baseline run to max_len (default 20) words, no longer to
		// the references' truncation length.
		Version:       "2",
		SchemaVersion: "1",
		Params:        config.Key(p),
		Inputs:        inputs,
		Run:           func(ctx context.Context, r *engine.Run) error { return run(ctx, r, name, p) },
	}, nil
}

func run(ctx context.Context, r *engine.Run, name string, p Params) error {
	backend, err := blas.Use(string(p.BLAS))
	if err != nil {
		return fmt.Errorf("captionscst: blas: %w", err)
	}
	in, err := captionxe.OpenInputs(ctx, r.Input(InputCaptions), r.Input(InputVocab), r.Input(InputFeatures), p.FeatureCacheMB)
	if err != nil {
		return err
	}
	defer in.Close()
	sc, err := captionxe.NewScorer(ctx, r.Input(InputDocFreq), in.Words)
	if err != nil {
		return err
	}
	train, err := captionxe.SelectSplit(in.Rows, p.TrainSplits, p.TrainImages)
	if err != nil {
		return err
	}
	val, err := captionxe.SelectSplit(in.Rows, []string{p.ValSplit}, p.ValImages)
	if err != nil {
		return err
	}
	if len(train.Images) == 0 || len(val.Images) == 0 {
		return fmt.Errorf("captionscst: %s has %d images of splits %v and %d of %s (val_split); both must be > 0",
			r.Input(InputCaptions), len(train.Images), p.TrainSplits, len(val.Images), p.ValSplit)
	}
	model, ck, err := captionxe.LoadModel(ctx, r.Input(InputInit))
	if err != nil {
		return err
	}
	if mc := model.Config(); mc.VocabSize != len(in.Words) || mc.FeatDim != in.Store.Dim() {
		return fmt.Errorf("captionscst: %s was trained for %d words and D %d; the inputs have %d words and D %d",
			p.Init, mc.VocabSize, mc.FeatDim, len(in.Words), in.Store.Dim())
	}
	trainSrc := &captionxe.Source{Ctx: ctx, Split: train, Feats: in.Feats}
	valSrc := &captionxe.Source{Ctx: ctx, Split: val, Feats: in.Feats}
	sc2 := p.SCSTConfig
	rw := updown.Rewarder{Scorer: sc}
	var matcher *Matcher
	if p.MatcherModel != "" {
		mm, err := scan.LoadModel(ctx, r.Input(InputMatcher))
		if err != nil {
			return err
		}
		if matcher, err = NewMatcher(mm, trainSrc, in.Words); err != nil {
			return err
		}
		rw.Match = matcher.Func()
	}
	validate := captionxe.Validation(valSrc, sc, sc2.BatchImages)
	start, err := validate(model, 0)
	if err != nil {
		return err
	}
	r.Logf("%d train images (%d captions), %d val images; start (%s) val CIDEr-D %.4f; reward %g·CIDEr-D + %g·S(%s); blas %s",
		len(train.Images), train.NumCaptions(), len(val.Images), p.Init, start, sc2.WCider, sc2.WMatch, p.Matcher, backend)

	work := captionxe.WorkDir(r)
	unlock, err := captionxe.LockWork(work)
	if err != nil {
		return err
	}
	defer unlock()
	if err := captionxe.PrepareWork(ctx, r, work, LastFile, BestFile); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(work, LastFile)); err == nil {
		r.Logf("resuming from %s", filepath.Join(work, LastFile))
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tr := &updown.SCSTTrainer{
		Model: model, Config: sc2, Source: trainSrc, Rewarder: rw, Init: ck, Dir: work,
		Progress: captionxe.Reporter(r, p.failAfterStep, func() { cancel(ErrInjected) }),
		Validate: validate,
		Meta: map[string]string{"stage": name, "key": r.Key, "input.init": p.Init, "input.captions": p.Captions,
			"input.vocab": p.Vocab, "input.cider_df": p.DocFreq, "input.features": p.Features, "input.matcher": p.MatcherModel},
	}
	hist, err := tr.Run(tctx)
	if matcher != nil && matcher.Err() != nil {
		return matcher.Err()
	}
	if err != nil {
		if cause := context.Cause(tctx); cause != nil && ctx.Err() == nil {
			return cause
		}
		return err
	}
	if hist.BestEpoch < 0 {
		return fmt.Errorf("captionscst: training ended without a validation")
	}
	if err := captionxe.FinishOutputs(ctx, r, work, hist); err != nil {
		return err
	}
	perEpoch := (len(train.Images) + sc2.BatchImages - 1) / sc2.BatchImages
	met := Metrics{Stage: name, Init: p.Init, Matcher: p.Matcher, Model: model.Config(), SCST: sc2,
		TrainImages: len(train.Images), TrainCaptions: train.NumCaptions(), ValImages: len(val.Images), StartValCIDEr: start,
		ValCIDEr: hist.ValCIDEr, BestEpoch: hist.BestEpoch, BestValCIDEr: hist.Best, LastEpochLoss: captionxe.LastEpochLoss(hist, perEpoch)}
	if n := len(hist.Steps); n > 0 {
		met.Steps = hist.Steps[n-1]
	}
	if err := captionxe.WriteJSON(ctx, r.Output(MetricsFile), met); err != nil {
		return err
	}
	r.SetInfo("caption_scst", map[string]any{"matcher": string(p.Matcher), "steps": met.Steps, "start_val_cider": start,
		"best_epoch": met.BestEpoch, "best_val_cider": met.BestValCIDEr})
	r.Logf("best: epoch %d, val CIDEr-D %.4f (start %.4f); %s", hist.BestEpoch, hist.Best, start, r.Output(BestFile))
	if err := os.RemoveAll(work); err != nil {
		return fmt.Errorf("captionscst: removing %s: %w", work, err)
	}
	return nil
}
