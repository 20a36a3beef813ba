package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/groundcap/groundcap/eval/retrieval"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/progress"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/checkpoint"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// Output names inside the stage's directory.
const (
	ModelFile   = models.MatchingFile
	LastFile    = models.LastFile
	MetricsFile = "metrics.json"
	CurveFile   = models.MatchingCurveFile
)

// Input names of the stage.
const (
	InputCaptions = "captions"
	InputVocab    = "vocab"
	// InputMatchVocab is the matching vocabulary (text: original).
	InputMatchVocab = "match_vocab"
	InputFeatures   = "features"
)

// stateKey is the checkpoint meta key under which the training history travels with last.ckpt,
// so that a resumed run continues the same curve and best-model selection.
const stateKey = "groundcap.scan.history"

// EpochVal is one validation of the model (at an epoch end, or at max_steps: Partial).
type EpochVal struct {
	Epoch     int     `json:"epoch"`
	Step      int64   `json:"step"`
	Partial   bool    `json:"partial,omitempty"`
	TrainLoss float64 `json:"train_loss"` // mean batch loss of the epoch's steps
	models.Retrieval
}

// history is the training record carried in checkpoints.
type history struct {
	Loss []float32  `json:"loss"` // per step
	Val  []EpochVal `json:"val"`
	Best int        `json:"best"` // index into Val of model.ckpt's validation; -1: none yet
}

// Metrics is metrics.json.
type Metrics struct {
	Stage  string       `json:"stage"`
	POS    bool         `json:"pos"`
	Config tscan.Config `json:"config"`
	// Data sizes.
	TrainImages   int `json:"train_images"`
	TrainCaptions int `json:"train_captions"`
	ValImages     int `json:"val_images"`
	ValCaptions   int `json:"val_captions"`
	ValExcluded   int `json:"val_images_excluded"`
	// Steps done, epochs completed, whether max_steps stopped training.
	Steps             int64 `json:"steps"`
	EpochsDone        int   `json:"epochs_done"`
	StoppedAtMaxSteps bool  `json:"stopped_at_max_steps"`
	// Best is the validation of model.ckpt; Val every validation.
	Best EpochVal   `json:"best"`
	Val  []EpochVal `json:"val"`
	// Loss is the training loss of every step.
	Loss []float32 `json:"loss"`
}

// Stage returns the POS-SCAN stage "scan".
func Stage(p Params) (*engine.Stage, error) { return StageNamed(NamePOS, p) }

// PlainStage returns the plain SCAN stage "scan-plain".
func PlainStage(p Params) (*engine.Stage, error) { return StageNamed(NamePlain, p) }

// StageNamed returns the stage instance called name (NamePOS or NamePlain).
func StageNamed(name string, p Params) (*engine.Stage, error) {
	if err := p.Validate(name); err != nil {
		return nil, err
	}
	desc := "train POS-SCAN (noun-restricted attention), validate R@K each epoch, keep the best model"
	inputs := []engine.Input{
		{Name: InputCaptions, Ref: p.Captions},
		{Name: InputVocab, Ref: p.Vocab},
		{Name: InputFeatures, Ref: p.Features},
	}
	if p.Text == models.TextOriginal {
		inputs = append(inputs, engine.Input{Name: InputMatchVocab, Ref: p.MatchVocab})
	}
	if !p.POS {
		desc = "train plain SCAN, validate R@K each epoch, keep the best model"
	}
	return &engine.Stage{
		Name:        name,
		Description: desc,
		// 2: noun slots, fused GRU and attention ops (same model, other float rounding, so
		// other bytes than version 1's outputs). 3: the input projections inside the fused
		// GRU, both directions as one op, chunked gradient norm (other rounding again).
		// 4: the default BLAS is simd (training/sgemm), whose products round
		// differently from gonum's; the backend does not enter the key, so the version marks
		// the change of the default's bytes (downstream stages follow through the digests).
		Version:       "4",
		SchemaVersion: "1",
		Params:        config.Key(p),
		Inputs:        inputs,
		Run:           func(ctx context.Context, r *engine.Run) error { return run(ctx, r, name, p) },
	}, nil
}

func run(ctx context.Context, r *engine.Run, name string, p Params) (err error) {
	backend, err := blas.Use(string(p.BLAS))
	if err != nil {
		return fmt.Errorf("scan: blas: %w", err)
	}
	voc, err := captionstable.ReadVocab(ctx, r.Input(InputVocab))
	if err != nil {
		return err
	}
	var match *vocab.Matching
	if p.Text == models.TextOriginal {
		if match, err = captionstable.ReadMatchVocab(ctx, r.Input(InputMatchVocab)); err != nil {
			return err
		}
	}
	text, err := models.NewText(p.Text, match, voc)
	if err != nil {
		return err
	}
	rows, err := captionstable.ReadCaptions(ctx, r.Input(InputCaptions))
	if err != nil {
		return err
	}
	store, err := feat.OpenStore(ctx, r.Input(InputFeatures))
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer store.Close()
	fc := matching.NewFeatureCache(store, int64(p.FeatureCacheMB)<<20)

	var train []trainCaption
	images := map[int64]bool{}
	for i := range rows {
		if !IsTrain(rows[i].Split) {
			continue
		}
		c, err := text.Caption(&rows[i])
		if err != nil {
			return err
		}
		train = append(train, trainCaption{image: rows[i].ImageID, cap: c})
		images[rows[i].ImageID] = true
	}
	if len(train) == 0 {
		return fmt.Errorf("scan: %s has no train captions", r.Input(InputCaptions))
	}
	val, err := matching.NewEvalSet(rows, "val", p.CaptionsPerImage, text)
	if err != nil {
		return err
	}
	if len(val.Images) == 0 {
		return fmt.Errorf("scan: %s has no val image with %d captions (captions_per_image)", r.Input(InputCaptions), p.CaptionsPerImage)
	}
	valFeats, err := val.Feats(ctx, fc)
	if err != nil {
		return err
	}
	cfg := p.ModelConfig(text.VocabSize(len(voc.IxToWord)), store.Dim())
	r.Logf("%d train captions of %d images, %d val images (%d left out: fewer than %d captions); text %s, vocab %d, D %d, embed %d, pos %v, blas %s",
		len(train), len(images), len(val.Images), val.Excluded, p.CaptionsPerImage, p.Text, cfg.Vocab, cfg.ImgDim, cfg.Embed, p.POS, backend)

	t, tctx, err := trainrun.Start(ctx, r, LastFile, ModelFile)
	if err != nil {
		return err
	}
	defer t.Close()
	ckptPath := t.Path(LastFile)
	m, hist, err := openModel(ckptPath, cfg)
	if err != nil {
		return err
	}
	release, err := matching.UseDevice(string(p.Device), r.Logf, m)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	if m.Step() > 0 {
		r.Logf("resuming from %s: step %d, epoch %d, batch %d", ckptPath, m.Step(), m.Epoch(), m.DataPos())
	}
	// Provenance: the stage key names the module version, parameters and input digests; the
	// references are stored as written (locations would make the bytes depend on the root).
	m.SetMeta("stage", name)
	m.SetMeta("key", r.Key)
	m.SetMeta("input.captions", p.Captions)
	m.SetMeta("input.vocab", p.Vocab)
	m.SetMeta("input.features", p.Features)
	if err := text.Store(m); err != nil {
		return err
	}
	setHistory := func() error {
		b, err := json.Marshal(hist)
		if err != nil {
			return fmt.Errorf("scan: history: %w", err)
		}
		m.SetMeta(stateKey, string(b))
		return nil
	}

	src := &batchSource{caps: train, batch: cfg.BatchSize, seed: cfg.Seed, feats: fc}
	perEpoch := int64(src.batches())
	total := int64(cfg.Epochs) * perEpoch
	if p.MaxSteps > 0 {
		total = min(total, p.MaxSteps)
	}
	validate := func(epoch int, partial bool) error {
		rep := progress.New(matching.LogWriter(r.Logf), "validation", "pairs", int64(len(valFeats))*int64(len(val.Captions)))
		sims, err := matching.Similarities(ctx, m, valFeats, val.Captions, p.EvalImages, p.EvalCaptions, func(done, _ int64) { rep.Set(done) })
		if err != nil {
			return err
		}
		res, err := retrieval.Evaluate(sims, len(val.Images), val.PerImage)
		if err != nil {
			return fmt.Errorf("scan: validation: %w", err)
		}
		ev := EpochVal{Epoch: epoch, Step: m.Step(), Partial: partial, Retrieval: models.FromResult(res)}
		from := int64(0)
		if n := len(hist.Val); n > 0 {
			from = hist.Val[n-1].Step
		}
		if n := m.Step() - from; n > 0 {
			var s float64
			for _, l := range hist.Loss[from:m.Step()] {
				s += float64(l)
			}
			ev.TrainLoss = s / float64(n)
		}
		hist.Val = append(hist.Val, ev)
		improved := hist.Best < 0 || ev.RSum > hist.Val[hist.Best].RSum
		if improved {
			hist.Best = len(hist.Val) - 1
		}
		t.Validated(trainrun.Validation{Epoch: epoch, Step: m.Step(), Best: improved, Metrics: []trainrun.Scalar{
			{Name: "train_loss", Value: ev.TrainLoss}, {Name: "i2t_r1", Value: ev.I2T.R1}, {Name: "i2t_r5", Value: ev.I2T.R5},
			{Name: "i2t_r10", Value: ev.I2T.R10}, {Name: "t2i_r1", Value: ev.T2I.R1}, {Name: "t2i_r5", Value: ev.T2I.R5},
			{Name: "t2i_r10", Value: ev.T2I.R10}, {Name: trainrun.RSum, Value: ev.RSum}}})
		if err := logAttention(ctx, t, m, val, valFeats, fc, text, m.Step()); err != nil {
			return err
		}
		if err := setHistory(); err != nil {
			return err
		}
		if improved {
			return m.Save(t.Path(ModelFile))
		}
		return nil
	}

	opts := tscan.TrainOptions{
		CheckpointPath:  ckptPath,
		CheckpointEvery: p.CheckpointEvery,
		MaxSteps:        p.MaxSteps,
		OnEpochEnd: func(ctx context.Context, epoch int, m *tscan.Model) error {
			return validate(epoch, false)
		},
	}
	err = tscan.Train(tctx, m, src, opts, func(pr tscan.Progress) {
		hist.Loss = append(hist.Loss, float32(pr.Result.Loss))
		if err := setHistory(); err != nil {
			t.Stop(err)
		}
		// An observer that stops training here stops it as a kill would: Train writes the
		// checkpoint of this step, then returns.
		t.Step(trainrun.Step{Epoch: pr.Epoch, Epochs: cfg.Epochs, Batch: int(pr.Batch), Batches: int(perEpoch), Step: pr.Step, Steps: total,
			Scalars: []trainrun.Scalar{{Name: trainrun.Loss, Value: pr.Result.Loss}, {Name: trainrun.GradNorm, Value: pr.Result.GradNorm},
				{Name: trainrun.LR, Value: pr.Result.LR}}, Items: pr.Captions, Unit: "captions"})
	})
	if err := t.Err(err); err != nil {
		return err
	}
	partial := m.DataPos() > 0
	if partial { // max_steps stopped training inside an epoch: validate that state too
		if err := validate(m.Epoch(), true); err != nil {
			return err
		}
		if err := m.Save(ckptPath); err != nil {
			return err
		}
	}
	if hist.Best < 0 {
		return fmt.Errorf("scan: training ended without a validation (max_steps %d)", p.MaxSteps)
	}
	if err := t.Publish(ctx, ModelFile, LastFile); err != nil {
		return err
	}
	met := Metrics{Stage: name, POS: p.POS, Config: m.Config(), TrainImages: len(images), TrainCaptions: len(train),
		ValImages: len(val.Images), ValCaptions: len(val.Captions), ValExcluded: val.Excluded,
		Steps: m.Step(), EpochsDone: m.Epoch(), StoppedAtMaxSteps: p.MaxSteps > 0 && m.Step() >= p.MaxSteps && m.Epoch() < cfg.Epochs,
		Best: hist.Val[hist.Best], Val: hist.Val, Loss: hist.Loss}
	if err := t.WriteJSON(ctx, MetricsFile, met); err != nil {
		return err
	}
	var png bytes.Buffer
	if err := DrawCurve(&png, hist.Loss, hist.Val); err != nil {
		return err
	}
	if err := blobio.WriteAll(ctx, r.Output(CurveFile), png.Bytes()); err != nil {
		return err
	}
	b := met.Best
	r.SetInfo("scan", map[string]any{"pos": p.POS, "steps": met.Steps, "epochs_done": met.EpochsDone, "best_epoch": b.Epoch,
		"best_rsum": b.RSum, "best_i2t_r1": b.I2T.R1, "best_t2i_r1": b.T2I.R1})
	r.Logf("best: epoch %d (step %d) rsum %.1f; %s", b.Epoch, b.Step, b.RSum, r.Output(ModelFile))
	return t.Finish(ctx)
}

// openModel resumes from the checkpoint at path when it exists (checking that it was trained
// with cfg) or builds a fresh model.
func openModel(path string, cfg tscan.Config) (*tscan.Model, *history, error) {
	hist := &history{Best: -1}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		m, err := tscan.New(cfg)
		return m, hist, err
	}
	c, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("scan: resuming: %w", err)
	}
	m, err := tscan.FromCheckpoint(c)
	if err != nil {
		return nil, nil, fmt.Errorf("scan: resuming from %s: %w", path, err)
	}
	if m.Config() != cfg {
		return nil, nil, fmt.Errorf("scan: resuming from %s: it was trained with %+v, this run wants %+v", path, m.Config(), cfg)
	}
	if s, ok := c.Meta[stateKey]; ok {
		if err := json.Unmarshal([]byte(s), hist); err != nil {
			return nil, nil, fmt.Errorf("scan: resuming from %s: history: %w", path, err)
		}
	}
	if int64(len(hist.Loss)) != m.Step() {
		return nil, nil, fmt.Errorf("scan: resuming from %s: history has %d steps, the model %d", path, len(hist.Loss), m.Step())
	}
	return m, hist, nil
}
