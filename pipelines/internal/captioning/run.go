// Package captioning is what the captioner stages (caption-xe*, caption-scst*) and the stages
// that read their models (evaluate) share: the captioner's data (splits, sources, α), its
// checkpoints, and the one run of a captioner stage (Run), which differs between cross-entropy
// and self-critical training only in its Trainer.
package captioning

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/groundcap/groundcap/eval/caption"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/picture"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
)

// Output names inside a captioner stage's directory.
const (
	BestFile    = models.BestFile
	LastFile    = models.LastFile
	HistoryFile = "history.json"
	MetricsFile = "metrics.json"
	CurvesFile  = models.CurvesFile
)

// Input names every captioner stage declares.
const (
	InputCaptions = "captions"
	InputVocab    = "vocab"
	InputDocFreq  = "cider_df"
	InputFeatures = "features"
)

// Default input references and settings of the captioner stages.
const (
	DefaultVocab   = "@captions/vocab.json"
	DefaultDocFreq = "@captions/cider_df.json"
	// DefaultValSplit is the split validated after every epoch.
	DefaultValSplit = "val"
	// DefaultFeatureCacheMB bounds the memory of cached region features.
	DefaultFeatureCacheMB = 4096
)

// Job is one run of a captioner stage: the settings the cross-entropy and self-critical stages
// share, and the Trainer that differs.
type Job struct {
	Settings
	// TrainImages > 0 keeps the first so many training images by id.
	TrainImages int
	// BatchImages is the training batch, also the batch of validation decoding.
	BatchImages int
	// Meta is the provenance stored in every checkpoint besides the stage's name and key and
	// the Settings' inputs: the stage's other input references as written.
	Meta map[string]string
	// Trainer trains the model.
	Trainer Trainer
}

// Data is what a captioner stage reads, opened.
type Data struct {
	*Inputs
	Scorer     *caption.Scorer
	Train, Val *Split
	// TrainSrc and ValSrc serve the splits' images with their captions.
	TrainSrc, ValSrc *Source
	// Selector scores models on val (Settings.Selection).
	Selector *Selector
	// Validate is the Selector's score of a model on val, reported to the run's observers.
	Validate updown.ValidateFunc
}

// MetaStage is the checkpoint Meta key naming the stage that trained the weights.
const MetaStage = "stage"

// Result is a finished training.
type Result struct {
	Hist *updown.History
	// Steps done; LastEpochLoss the mean loss of the last epoch's steps.
	Steps         int64
	LastEpochLoss float64
}

// Sizes is the data a captioner trained on, as both captioners' metrics.json give it.
type Sizes struct {
	TrainImages   int `json:"train_images"`
	TrainCaptions int `json:"train_captions"`
	ValImages     int `json:"val_images"`
}

// Sizes returns the sizes of d's training and validation data.
func (d *Data) Sizes() Sizes {
	return Sizes{TrainImages: len(d.Train.Images), TrainCaptions: d.Train.NumCaptions(), ValImages: len(d.Val.Images)}
}

// Outcome is how a captioner's training went, as both captioners' metrics.json give it.
type Outcome struct {
	// Steps done; ValCIDEr the val score (the stage's selection) of the greedy captions after
	// each epoch; BestEpoch the epoch of best.ckpt (1-based) and BestValCIDEr its score.
	Steps        int64     `json:"steps"`
	ValCIDEr     []float64 `json:"val_cider"`
	BestEpoch    int       `json:"best_epoch"`
	BestValCIDEr float64   `json:"best_val_cider"`
	// LastEpochLoss is the mean training loss of the last epoch's steps.
	LastEpochLoss float64 `json:"last_epoch_loss"`
}

// Outcome returns the outcome of a finished training.
func (r Result) Outcome() Outcome {
	return Outcome{Steps: r.Steps, ValCIDEr: r.Hist.ValCIDEr, BestEpoch: r.Hist.BestEpoch, BestValCIDEr: r.Hist.Best,
		LastEpochLoss: r.LastEpochLoss}
}

// Trainer is the part of a captioner stage that differs between cross-entropy and self-critical
// training.
type Trainer interface {
	// Prepare returns the model to train (new, or loaded from the start checkpoint) and a
	// phrase for the log saying what it trains.
	Prepare(ctx context.Context, r *engine.Run, d *Data) (*updown.Model, string, error)
	// Train trains m on d from the state in h.Dir (resuming when it holds one), calling
	// h.Progress after every step and h.Validate (d.Validate) after every epoch, with h.Meta
	// stored in every checkpoint.
	Train(ctx context.Context, m *updown.Model, d *Data, h updown.Harness) (*updown.History, error)
	// Summary returns metrics.json and the manifest's summary (its key and value) of a
	// finished training.
	Summary(m *updown.Model, d *Data, res Result) (metrics any, infoKey string, info map[string]any)
}

// Stage returns the engine stage of a captioner: its name, description, version and inputs as
// the stage gives them, every parameter of p (its typed params) in the key, and job as its run.
func Stage(name, desc, version string, p any, inputs []engine.Input, job Job) *engine.Stage {
	return &engine.Stage{Name: name, Description: desc, Version: version, SchemaVersion: "1", Params: config.Key(p), Inputs: inputs,
		Run: func(ctx context.Context, r *engine.Run) error { return Run(ctx, r, job) }}
}

// Run runs a captioner stage: it opens the data, prepares the model, trains it in the run's work
// directory (trainrun: resuming there after a crash), publishes best.ckpt, last.ckpt,
// history.json, curves.png and metrics.json, and removes the work directory.
func Run(ctx context.Context, r *engine.Run, job Job) error {
	backend, err := blas.Use(string(job.BLAS))
	if err != nil {
		return fmt.Errorf("captioning: blas: %w", err)
	}
	in, err := OpenInputs(ctx, r.Input(InputCaptions), r.Input(InputVocab), r.Input(InputFeatures), job.FeatureCacheMB)
	if err != nil {
		return err
	}
	defer in.Close()
	d := &Data{Inputs: in}
	if d.Scorer, err = NewScorer(ctx, r.Input(InputDocFreq), in.Words); err != nil {
		return err
	}
	if d.Train, err = SelectSplit(in.Rows, job.TrainSplits, job.TrainImages); err != nil {
		return err
	}
	if d.Val, err = SelectSplit(in.Rows, []string{job.ValSplit}, job.ValImages); err != nil {
		return err
	}
	if len(d.Train.Images) == 0 || len(d.Val.Images) == 0 {
		return fmt.Errorf("captioning: %s has %d images of splits %v and %d of %s (val_split); both must be > 0",
			r.Input(InputCaptions), len(d.Train.Images), job.TrainSplits, len(d.Val.Images), job.ValSplit)
	}
	d.TrainSrc = &Source{Ctx: ctx, Split: d.Train, Feats: in.Feats}
	d.ValSrc = &Source{Ctx: ctx, Split: d.Val, Feats: in.Feats}
	var (
		t        *trainrun.Run // set while training
		lastStep int64
	)
	if d.Selector, err = NewSelector(job.Selection, d.Val, in.Words, d.Scorer); err != nil {
		return err
	}
	nouns := NounIDs(d.Train)
	d.Validate = func(m *updown.Model, epochs int) (float64, error) {
		v, err := d.Selector.Validate(m, d.ValSrc, job.BatchImages)
		if err == nil && t != nil {
			t.Validated(trainrun.Validation{Epoch: epochs, Step: lastStep, Metrics: []trainrun.Scalar{{Name: trainrun.ValCIDEr, Value: v}}})
			err = LogAttention(t, m, d.ValSrc, in.Words, nouns, lastStep)
		}
		return v, err
	}
	model, what, err := job.Trainer.Prepare(ctx, r, d)
	if err != nil {
		return err
	}
	r.Logf("%d train images (%d captions), %d val images; vocab %d, D %d, %d weights; %s; blas %s",
		len(d.Train.Images), d.Train.NumCaptions(), len(d.Val.Images), len(in.Words), in.Store.Dim(), model.NumParams(), what, backend)

	t, tctx, err := trainrun.Start(ctx, r, LastFile, BestFile)
	if err != nil {
		return err
	}
	defer t.Close()
	t.Resuming(LastFile)
	meta := job.meta()
	meta[MetaStage], meta["key"] = r.Stage.Name, r.Key
	maps.Copy(meta, job.Meta)
	hist, err := job.Trainer.Train(tctx, model, d, updown.Harness{Dir: t.Dir, Progress: func(pr updown.Progress) {
		lastStep = pr.Step
		t.Step(step(pr))
	}, Validate: d.Validate, Meta: meta})
	if err := t.Err(err); err != nil {
		return err
	}
	if hist.BestEpoch < 0 {
		return fmt.Errorf("captioning: training ended without a validation")
	}
	if err := updown.WriteCurves(t.Path(CurvesFile), hist); err != nil {
		return err
	}
	if err := t.Publish(ctx, BestFile, LastFile, CurvesFile); err != nil {
		return err
	}
	if err := t.WriteJSON(ctx, HistoryFile, hist); err != nil {
		return err
	}
	res := Result{Hist: hist, LastEpochLoss: LastEpochLoss(hist, (len(d.Train.Images)+job.BatchImages-1)/job.BatchImages)}
	if n := len(hist.Steps); n > 0 {
		res.Steps = hist.Steps[n-1]
	}
	met, infoKey, info := job.Trainer.Summary(model, d, res)
	if err := t.WriteJSON(ctx, MetricsFile, met); err != nil {
		return err
	}
	r.SetInfo(infoKey, info)
	r.Logf("best: epoch %d, val %s %.4f; %s", hist.BestEpoch, job.Selection, hist.Best, r.Output(BestFile))
	return t.Finish(ctx)
}

// Pictures is the number of val images (the first by id) whose greedy caption and attention go
// to the run's TensorBoard log after every validation.
const Pictures = 3

// NounIDs returns the word ids tagged as nouns somewhere in the split's captions: the words whose
// attention LogAttention draws.
func NounIDs(s *Split) map[int32]bool {
	ids := map[int32]bool{}
	for _, rows := range s.Rows {
		for _, r := range rows {
			for i, id := range r.Labels {
				if i < len(r.NounMask) && r.NounMask[i] {
					ids[id] = true
				}
			}
		}
	}
	return ids
}

// LogAttention decodes the first Pictures images of src greedily and adds each to the run's
// TensorBoard log as attention/<image id> at step: the caption below a canvas of the image's size
// on which each noun's most attended region is outlined and labelled (internal/picture).
func LogAttention(t *trainrun.Run, m *updown.Model, src *Source, words []string, nouns map[int32]bool, step int64) error {
	n := min(Pictures, src.Len())
	recs := make([]*feat.Record, n)
	var im updown.Images
	for i := range n {
		rec, err := src.Record(i)
		if err != nil {
			return err
		}
		recs[i] = rec
		im.Feats = append(im.Feats, rec.Features)
		im.NumBoxes = append(im.NumBoxes, rec.NumBoxes)
	}
	caps, err := m.Greedy(&im)
	if err != nil {
		return fmt.Errorf("captioning: attention pictures: %w", err)
	}
	for i, c := range caps {
		rec := recs[i]
		text := make([]string, len(c.Tokens))
		var marked []picture.Word
		for k, id := range c.Tokens {
			if id < 1 || int(id) > len(words) {
				return fmt.Errorf("captioning: attention pictures: image %d: word id %d outside the vocabulary", rec.ImageID, id)
			}
			text[k] = words[id-1]
			if !nouns[id] || k >= len(c.Beta) {
				continue
			}
			marked = append(marked, picture.Word{Text: text[k], Box: picture.MostAttended(c.Beta[k], rec.Boxes)})
		}
		img := picture.Draw(nil, int(rec.Width), int(rec.Height), strings.Join(text, " "), marked)
		if err := t.Image(fmt.Sprintf("attention/%d", rec.ImageID), step, img); err != nil {
			return err
		}
	}
	return nil
}

// step converts a trainer's progress into the step the run reports.
func step(pr updown.Progress) trainrun.Step {
	s := trainrun.Step{Epoch: pr.Epoch, Epochs: pr.Epochs, Batch: pr.StepInEpoch, Batches: pr.StepsPerEpoch,
		Step: pr.Step, Steps: int64(pr.Epochs) * int64(pr.StepsPerEpoch), Rate: pr.ItemsPerSec, ETA: pr.ETA}
	if pr.Stage == updown.StageSCST {
		s.Unit = "images"
		s.Scalars = []trainrun.Scalar{{Name: trainrun.Loss, Value: pr.Loss}, {Name: "reward", Value: pr.Reward},
			{Name: "greedy_cider", Value: pr.GreedyCIDEr}, {Name: trainrun.GradNorm, Value: pr.GradNorm}, {Name: trainrun.LR, Value: pr.LR}}
		return s
	}
	s.Unit = "captions"
	s.Scalars = []trainrun.Scalar{{Name: trainrun.Loss, Value: pr.Loss}, {Name: "xe", Value: pr.XE}, {Name: trainrun.KL, Value: pr.KL},
		{Name: "ss_prob", Value: pr.SSProb}, {Name: trainrun.GradNorm, Value: pr.GradNorm}, {Name: trainrun.LR, Value: pr.LR}}
	return s
}

// NewScorer builds the CIDEr-D scorer of the captions stage's document frequencies for the
// captioner's token ids.
func NewScorer(ctx context.Context, dfLoc string, words []string) (*caption.Scorer, error) {
	df, err := captionstable.ReadDocFreq(ctx, dfLoc)
	if err != nil {
		return nil, err
	}
	sc, err := caption.NewScorer(df, updown.ScorerVocab(captionstable.EOS, words))
	if err != nil {
		return nil, fmt.Errorf("captioning: %s: %w", dfLoc, err)
	}
	return sc, nil
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
