// Package scan is the matching-model training stage: it trains POS-SCAN (stage "scan") or plain
// SCAN (stage "scan-plain") on the captions and features stores, validates every epoch on the val
// split with R@1/5/10 in both directions and rsum, keeps the best checkpoint and draws the
// training curve.
//
// # Outputs
//
//   - model.ckpt: the checkpoint of the epoch with the best val rsum (training/checkpoint format;
//     scan.FromCheckpoint rebuilds the model; its config is stored in it);
//   - last.ckpt: the latest training state (weights, Adam moments, counters, RNG, data position):
//     a run that was killed resumes from it, and ends with the same bytes as an uninterrupted run;
//   - metrics.json (Metrics): per-epoch validation, the best epoch, the training-loss history;
//   - curve.png: training loss per step (light) and its running mean, and val rsum per epoch.
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

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
)

// Stage names: POS-SCAN and plain SCAN are two instances of this package with their own config
// sections.
const (
	NamePOS   = "scan"
	NamePlain = "scan-plain"
)

// Default input references.
const (
	DefaultCaptions = "@captions/captions"
	DefaultVocab    = "@captions/vocab.json"
	// DefaultMatchVocab is the matching vocabulary (read with text: original).
	DefaultMatchVocab = "@captions/match_vocab.json"
	DefaultFeatures   = "@features"
)

// Defaults of Params (the original code's, except where noted).
const (
	DefaultEmbed           = 1024
	DefaultWordDim         = 300
	DefaultLR              = 2e-4
	DefaultLRUpdate        = 15
	DefaultLRGamma         = 0.1
	DefaultEpochs          = 30
	DefaultBatchSize       = 128
	DefaultGradClip        = 2.0
	DefaultMargin          = 0.2
	DefaultLambdaSoftmax   = 9
	DefaultLambdaLSE       = 6
	DefaultCaptionsPerImg  = 5
	DefaultEvalImages      = 8
	DefaultEvalCaptions    = 128
	DefaultFeatureCacheMB  = 4096
	DefaultCheckpointEvery = 100
)

// Params configure the scan and scan-plain stages (config sections "scan" and "scan-plain"). Zero
// values are the documented defaults, which are the paper's. yaml tags are config keys; json tags
// are what enters the cache key (input references enter it by content digest instead; knobs that
// never change the output are left out).
type Params struct {
	// Captions is the captions table (default "@captions/captions").
	Captions string `yaml:"captions" json:"-"`
	// Vocab is the vocabulary (default "@captions/vocab.json").
	Vocab string `yaml:"vocab" json:"-"`
	// Features is the feature store directory (default "@features").
	Features string `yaml:"features" json:"-"`
	// MatchVocab is the matching vocabulary (default "@captions/match_vocab.json"; read with
	// text: original).
	MatchVocab string `yaml:"match_vocab" json:"-"`
	// Text is the model's text input: original (default; the original code's: the matching
	// vocabulary, whole captions with punctuation and <start>/<end>) or captioner (the
	// captioner's vocabulary and labels cut at max_length). See Text.
	Text string `yaml:"text" json:"text"`

	// POS restricts attention normalisation and the score to noun positions (POS-SCAN). Default:
	// true for the scan stage, false for scan-plain (which rejects pos: true).
	POS *bool `yaml:"pos" json:"pos"`
	// Embed is the joint embedding width and GRU hidden size (default 1024).
	Embed int `yaml:"embed" json:"embed"`
	// WordDim is the word embedding width (default 300).
	WordDim int `yaml:"word_dim" json:"word_dim"`
	// LR is Adam's initial learning rate (default 2e-4), multiplied by LRGamma (default 0.1) every
	// LRUpdate epochs (default 15).
	LR       float64 `yaml:"lr" json:"lr"`
	LRUpdate int     `yaml:"lr_update" json:"lr_update"`
	LRGamma  float64 `yaml:"lr_gamma" json:"lr_gamma"`
	// Epochs to train (default 30).
	Epochs int `yaml:"epochs" json:"epochs"`
	// BatchSize is the number of captions per step (default 128).
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// GradClip is the global gradient-norm clip (default 2).
	GradClip float64 `yaml:"grad_clip" json:"grad_clip"`
	// Margin of the hinge triplet loss (default 0.2).
	Margin float64 `yaml:"margin" json:"margin"`
	// LambdaSoftmax is the attention temperature (default 9).
	LambdaSoftmax float64 `yaml:"lambda_softmax" json:"lambda_softmax"`
	// LambdaLSE is λ of the log-sum-exp score (default 6).
	LambdaLSE float64 `yaml:"lambda_lse" json:"lambda_lse"`
	// MaxSteps stops training after this many steps in total (default 0: no limit); the last
	// state is validated like an epoch end.
	MaxSteps int64 `yaml:"max_steps" json:"max_steps"`
	// Seed fixes weight initialisation and the data order (default: the config's seed).
	Seed int64 `yaml:"seed" json:"seed"`
	// CaptionsPerImage is the number of captions per val image in retrieval (default 5, SCAN's).
	CaptionsPerImage int `yaml:"captions_per_image" json:"captions_per_image"`

	// BLAS is the matrix backend: simd (default), go, openblas, cuda or auto. It does not enter the key.
	BLAS string `yaml:"blas" json:"-"`
	// Device runs training and validation device-resident (docs/gpu.md): cuda (an NVIDIA GPU;
	// libraries from $GROUNDCAP_CUDA_LIB_DIR) or emulate (the same code on the CPU emulation of
	// the kernels: slow, for checks); cpu (default) runs gorgonia with the BLAS backend. It does
	// not enter the key (like blas, it changes the last bits of results, not the model).
	Device string `yaml:"device" json:"-"`
	// CheckpointEvery writes last.ckpt every this many steps besides every epoch end (default 100;
	// negative: at epoch ends only).
	CheckpointEvery int64 `yaml:"checkpoint_every" json:"-"`
	// EvalImages and EvalCaptions size the image × caption blocks of validation scoring
	// (defaults 8 and 128); they bound memory and do not change results.
	EvalImages   int `yaml:"eval_images" json:"-"`
	EvalCaptions int `yaml:"eval_captions" json:"-"`
	// FeatureCacheMB bounds the memory that holds region features read from the store (default
	// 4096); features beyond it are read again when needed.
	FeatureCacheMB int `yaml:"feature_cache_mb" json:"-"`

	// failAfterStep (tests only) makes the run fail once the model has done this many steps, after
	// the checkpoint of that step, as a killed process would leave it; 0: never.
	failAfterStep int64
}

func (p Params) withDefaults(name string) Params {
	if p.Captions == "" {
		p.Captions = DefaultCaptions
	}
	if p.Vocab == "" {
		p.Vocab = DefaultVocab
	}
	if p.Features == "" {
		p.Features = DefaultFeatures
	}
	if p.MatchVocab == "" {
		p.MatchVocab = DefaultMatchVocab
	}
	if p.Text == "" {
		p.Text = TextOriginal
	}
	if p.POS == nil {
		pos := name != NamePlain
		p.POS = &pos
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.Embed, DefaultEmbed)
	def(&p.WordDim, DefaultWordDim)
	deff(&p.LR, DefaultLR)
	def(&p.LRUpdate, DefaultLRUpdate)
	deff(&p.LRGamma, DefaultLRGamma)
	def(&p.Epochs, DefaultEpochs)
	def(&p.BatchSize, DefaultBatchSize)
	deff(&p.GradClip, DefaultGradClip)
	deff(&p.Margin, DefaultMargin)
	deff(&p.LambdaSoftmax, DefaultLambdaSoftmax)
	deff(&p.LambdaLSE, DefaultLambdaLSE)
	def(&p.CaptionsPerImage, DefaultCaptionsPerImg)
	if p.BLAS == "" {
		p.BLAS = blas.Default
	}
	if p.CheckpointEvery == 0 {
		p.CheckpointEvery = DefaultCheckpointEvery
	}
	def(&p.EvalImages, DefaultEvalImages)
	def(&p.EvalCaptions, DefaultEvalCaptions)
	def(&p.FeatureCacheMB, DefaultFeatureCacheMB)
	return p
}

// Resolved returns p with the defaults of the named stage instance applied.
func (p Params) Resolved(name string) Params { return p.withDefaults(name) }

// Validate reports the first bad field (after the defaults of the named instance), by its key.
func (p Params) Validate(name string) error {
	if name != NamePOS && name != NamePlain {
		return fmt.Errorf("scan: stage name %q (want %s or %s)", name, NamePOS, NamePlain)
	}
	pos := p.POS != nil && *p.POS
	p = p.withDefaults(name)
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("scan: %s: %s: %v (want %s)", name, key, v, want)
	}
	switch {
	case name == NamePlain && pos:
		return bad("pos", true, "false or unset: scan-plain is plain SCAN; POS-SCAN is the scan stage")
	case p.Text != TextOriginal && p.Text != TextCaptioner:
		return bad("text", p.Text, TextOriginal+" or "+TextCaptioner)
	case p.Embed < 1:
		return bad("embed", p.Embed, "≥ 1")
	case p.WordDim < 1:
		return bad("word_dim", p.WordDim, "≥ 1")
	case p.LR < 0:
		return bad("lr", p.LR, "> 0")
	case p.LRUpdate < 1:
		return bad("lr_update", p.LRUpdate, "≥ 1")
	case p.LRGamma < 0:
		return bad("lr_gamma", p.LRGamma, "> 0")
	case p.Epochs < 1:
		return bad("epochs", p.Epochs, "≥ 1")
	case p.BatchSize < 2:
		return bad("batch_size", p.BatchSize, "≥ 2 (the triplet loss needs negatives)")
	case p.GradClip < 0:
		return bad("grad_clip", p.GradClip, "> 0")
	case p.Margin < 0:
		return bad("margin", p.Margin, "> 0")
	case p.LambdaSoftmax < 0:
		return bad("lambda_softmax", p.LambdaSoftmax, "> 0")
	case p.LambdaLSE < 0:
		return bad("lambda_lse", p.LambdaLSE, "> 0")
	case p.MaxSteps < 0:
		return bad("max_steps", p.MaxSteps, "≥ 0")
	case p.Seed < 0:
		return bad("seed", p.Seed, "≥ 0")
	case p.CaptionsPerImage < 1:
		return bad("captions_per_image", p.CaptionsPerImage, "≥ 1")
	case !blas.Known(p.BLAS):
		return bad("blas", p.BLAS, blas.KnownNames)
	case !gpu.ValidKind(p.Device):
		return bad("device", p.Device, "cpu, cuda or emulate")
	case p.EvalImages < 1:
		return bad("eval_images", p.EvalImages, "≥ 1")
	case p.EvalCaptions < 1:
		return bad("eval_captions", p.EvalCaptions, "≥ 1")
	case p.FeatureCacheMB < 0:
		return bad("feature_cache_mb", p.FeatureCacheMB, "≥ 0")
	}
	return nil
}
