// Package scan is the matching-model training stage: it trains POS-SCAN (stage "scan") or plain
// SCAN (stage "scan-plain") on the captions and features stores, validates every epoch on the val
// split with R@1/5/10 in both directions and rsum, keeps the best checkpoint and draws the
// training curve.
//
// # Outputs
//
//   - model.ckpt: the checkpoint of the epoch with the best val rsum (training/checkpoint format;
//     models.LoadMatching rebuilds the model; its config and text input are stored in it);
//   - last.ckpt: the final training state (weights, Adam moments, counters, RNG, data position);
//   - metrics.json (Metrics): per-epoch validation, the best epoch, the training-loss history;
//   - curve.png: training loss per step (light) and its running mean, and val rsum per epoch.
//
// # Resume
//
// The run is a pipelines/trainrun run: model.ckpt and last.ckpt are written into the run's work
// directory (<key>.work) while training and copied into the output at the end; a run that was
// killed resumes from the work directory's last.ckpt and ends with the same bytes as an
// uninterrupted run.
//
// # Data
//
// Training captions are the train and restval rows of the captions table (as the text setting
// reads them: the matching model's own text by default, or the captioner's labels and noun mask),
// each paired with its image's region features read from the feature store; the caption order
// of epoch e is a permutation drawn from (seed, e), cut into batches of batch_size (the last batch
// may be smaller), as SCAN's data loader does with shuffle on. Validation uses the val images that
// have at least captions_per_image (5) captions, with their first five (by caption index).
package scan

import (
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// Stage names: POS-SCAN and plain SCAN are two instances of this package with their own config
// sections; each is the teacher of its name.
const (
	NamePOS   = string(models.POSSCAN)
	NamePlain = string(models.SCAN)
)

// Default input references.
const (
	DefaultVocab = "@captions/vocab.json"
	// DefaultMatchVocab is the matching vocabulary (read with text: original).
	DefaultMatchVocab = "@captions/match_vocab.json"
)

// Defaults of Params besides the model's (tscan.DefaultConfig).
const (
	DefaultFeatureCacheMB  = 4096
	DefaultCheckpointEvery = 100
)

// Params configure the scan and scan-plain stages (config sections "scan" and "scan-plain");
// DefaultParams gives the defaults, which are the paper's. The model's hyperparameters are its
// training configuration, embedded. Input references enter the cache key by their content
// digests, and knobs that never change the output do not enter it (key:"-").
type Params struct {
	// Captions and Features: the captions table and the feature store.
	captionstable.Data `yaml:",inline"`
	// Vocab is the vocabulary.
	Vocab string `yaml:"vocab" key:"-"`
	// MatchVocab is the matching vocabulary (read with text: original).
	MatchVocab string `yaml:"match_vocab" key:"-"`
	// Text is the model's text input: original (the original code's: the matching vocabulary,
	// whole captions with punctuation and <start>/<end>) or captioner (the captioner's
	// vocabulary and labels cut at max_length). See Text.
	Text string `yaml:"text"`

	// POS restricts attention normalisation and the score to noun positions (POS-SCAN): true for
	// the scan stage, false for scan-plain (which rejects pos: true).
	POS bool `yaml:"pos"`
	// Config holds the hyperparameters (embed 1024, word_dim 300, lr 2e-4 ×0.1 every 15 epochs,
	// 30 epochs of batches of 128, grad_clip 2, margin 0.2, lambda_softmax 9, lambda_lse 6)
	// and the seed of the weights and the data order; the stage fills in the sizes from the data.
	tscan.Config `yaml:",inline"`
	// MaxSteps stops training after this many steps in total (0: no limit); the last state is
	// validated like an epoch end.
	MaxSteps int64 `yaml:"max_steps" check:"≥ 0; 0: no limit"`
	// Retrieval sizes the val retrieval evaluation: captions_per_image (5, SCAN's), eval_images
	// and eval_captions.
	matching.Retrieval `yaml:",inline"`

	// BLAS is the matrix backend.
	BLAS blas.Name `yaml:"blas" key:"-"`
	// Device runs training and validation device-resident (docs/gpu.md): cuda (an NVIDIA GPU;
	// libraries from $GROUNDCAP_CUDA_LIB_DIR) or emulate (the same code on the CPU emulation of
	// the kernels: slow, for checks); cpu runs gorgonia with the BLAS backend. It does not enter
	// the key (like blas, it changes the last bits of results, not the model).
	Device gpu.Kind `yaml:"device" key:"-"`
	// CheckpointEvery writes the training state every this many steps besides every epoch end
	// (0: at epoch ends only).
	CheckpointEvery int64 `yaml:"checkpoint_every" key:"-" check:"≥ 0; 0: at epoch ends only"`
	// FeatureCacheMB bounds the memory that holds region features read from the store; features
	// beyond it are read again when needed.
	FeatureCacheMB int `yaml:"feature_cache_mb" key:"-" check:"≥ 0"`
}

// DefaultParams returns the defaults of the named instance (NamePOS or NamePlain).
func DefaultParams(name string) Params {
	return Params{Data: captionstable.DefaultData(), Vocab: DefaultVocab, MatchVocab: DefaultMatchVocab, Text: models.TextOriginal, POS: name != NamePlain,
		Config: tscan.DefaultConfig(), Retrieval: matching.DefaultRetrieval(), BLAS: blas.Default, Device: gpu.KindCPU,
		CheckpointEvery: DefaultCheckpointEvery,
		FeatureCacheMB:  DefaultFeatureCacheMB}
}

// Validate reports the first bad field for the named instance: a *config.FieldError by its key
// (bounds: the check tags, the embedded Config's and Retrieval's).
func (p Params) Validate(name string) error {
	if name != NamePOS && name != NamePlain {
		return fmt.Errorf("scan: stage name %q (want %s or %s)", name, NamePOS, NamePlain)
	}
	return config.Prefix("scan: "+name, p.validate(name))
}

func (p Params) validate(name string) error {
	switch {
	case name == NamePlain && p.POS:
		return config.Invalid("pos", true, "false: scan-plain is plain SCAN; POS-SCAN is the scan stage")
	case p.Text != models.TextOriginal && p.Text != models.TextCaptioner:
		return config.Invalid("text", p.Text, models.TextOriginal+" or "+models.TextCaptioner)
	}
	return config.Check(p)
}

// ModelConfig returns the model the stage trains for a vocabulary of vocab ids and features of
// dim values: its hyperparameters with the data's sizes.
func (p Params) ModelConfig(vocab, dim int) tscan.Config {
	c := p.Config
	c.Vocab, c.ImgDim, c.PlainSCAN = vocab, dim, !p.POS
	return c
}
