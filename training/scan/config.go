package scan

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
)

// Agg is how word-level similarities R_t become an image–caption score.
type Agg string

const (
	// AggLSE is (1/λ_lse) log Σ_t exp(λ_lse R_t) (the default).
	AggLSE Agg = "lse"
	// AggAVG is the mean of R_t.
	AggAVG Agg = "avg"
)

// Config configures POS-SCAN / SCAN. DefaultConfig gives the original code's values; the
// fields a matching-model stage's section sets carry their config keys (yaml tags). The config
// is stored with every checkpoint (json tags).
type Config struct {
	// Vocab is the vocabulary size (required, > 0), ids 0..Vocab−1.
	Vocab int `json:"vocab" yaml:"-"`
	// Pad is the padding id. Its embedding row is zero and never trained.
	Pad int `json:"pad" yaml:"-"`
	// ImgDim is the region feature width D (2048 for bottom-up features).
	ImgDim int `json:"img_dim" yaml:"-"`
	// Embed is the joint embedding width and GRU hidden size.
	Embed int `json:"embed" yaml:"embed" check:"≥ 1"`
	// WordDim is the word embedding width.
	WordDim int `json:"word_dim" yaml:"word_dim" check:"≥ 1"`
	// PlainSCAN turns the POS mask off (false: POS-SCAN, only noun positions enter
	// normalisation and score; true: SCAN, all words).
	PlainSCAN bool `json:"plain_scan" yaml:"-"`
	// LambdaSoftmax is the attention temperature λ_softmax.
	LambdaSoftmax float64 `json:"lambda_softmax" yaml:"lambda_softmax" check:"> 0"`
	// Agg is the score aggregation (lse or avg).
	Agg Agg `json:"agg" yaml:"-"`
	// LambdaLSE is λ_lse of the LSE aggregation.
	LambdaLSE float64 `json:"lambda_lse" yaml:"lambda_lse" check:"> 0"`
	// Margin of the hinge triplet loss.
	Margin float64 `json:"margin" yaml:"margin" check:"≥ 0"`
	// AllViolations sums over all negatives (false: only the hardest negative, VSE++
	// max_violation, as POS-SCAN).
	AllViolations bool `json:"all_violations" yaml:"-"`
	// LR is Adam's initial learning rate, multiplied by LRGamma every LRUpdate epochs.
	LR       float64 `json:"lr" yaml:"lr" check:"> 0"`
	LRUpdate int     `json:"lr_update" yaml:"lr_update" check:"≥ 1"`
	LRGamma  float64 `json:"lr_gamma" yaml:"lr_gamma" check:"> 0"`
	// Epochs to train.
	Epochs int `json:"epochs" yaml:"epochs" check:"≥ 1"`
	// BatchSize is the number of captions per training batch; the batch source decides the
	// actual batches, this is recorded for the trainer and data stage.
	BatchSize int `json:"batch_size" yaml:"batch_size" check:"≥ 2 (the triplet loss needs negatives)"`
	// GradClip is the global gradient-norm clip.
	GradClip float64 `json:"grad_clip" yaml:"grad_clip" check:"> 0"`
	// Seed initialises the weights and the model's random source (and the data order of a
	// matching-model stage).
	Seed uint64 `json:"seed" yaml:"seed"`
	// LenBucket rounds the padded caption length up to a multiple of it, so that few graph
	// shapes are built.
	LenBucket int `json:"len_bucket" yaml:"-"`
}

// Defaults of Config (the original code's).
const (
	DefaultImgDim        = 2048
	DefaultEmbed         = 1024
	DefaultWordDim       = 300
	DefaultLambdaSoftmax = 9
	DefaultLambdaLSE     = 6
	DefaultMargin        = 0.2
	DefaultLR            = 2e-4
	DefaultLRUpdate      = 15
	DefaultLRGamma       = 0.1
	DefaultEpochs        = 30
	DefaultBatchSize     = 128
	DefaultGradClip      = 2.0
	DefaultLenBucket     = 4
)

// DefaultConfig returns POS-SCAN with the original code's hyperparameters for D = 2048 region
// features; Vocab is left to the caller.
func DefaultConfig() Config {
	return Config{ImgDim: DefaultImgDim, Embed: DefaultEmbed, WordDim: DefaultWordDim, LambdaSoftmax: DefaultLambdaSoftmax,
		Agg: AggLSE, LambdaLSE: DefaultLambdaLSE, Margin: DefaultMargin, LR: DefaultLR, LRUpdate: DefaultLRUpdate,
		LRGamma: DefaultLRGamma, Epochs: DefaultEpochs, BatchSize: DefaultBatchSize, GradClip: DefaultGradClip,
		LenBucket: DefaultLenBucket}
}

// Validate reports the first bad hyperparameter (what a stage's section sets, bounded by its
// check tag) as a *config.FieldError naming its config key.
func (c Config) Validate() error { return config.Check(c) }

// check reports the first bad field of a model to build: its sizes from the data and its fixed
// structure, then its hyperparameters (Validate).
func (c Config) check() error {
	switch {
	case c.Vocab <= 0:
		return fmt.Errorf("scan: vocabulary of %d ids, want > 0", c.Vocab)
	case c.Pad < 0 || c.Pad >= c.Vocab:
		return fmt.Errorf("scan: padding id %d, want in [0, %d)", c.Pad, c.Vocab)
	case c.ImgDim < 1:
		return fmt.Errorf("scan: feature dimension %d, want > 0", c.ImgDim)
	case c.Agg != AggLSE && c.Agg != AggAVG:
		return fmt.Errorf("scan: aggregation %q, want %q or %q", c.Agg, AggLSE, AggAVG)
	case c.LenBucket < 1:
		return fmt.Errorf("scan: length bucket %d, want ≥ 1", c.LenBucket)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	return nil
}

// ParseConfig decodes a JSON config over DefaultConfig (a key it lacks keeps its default),
// rejecting unknown keys, and validates it.
func ParseConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("scan: config: %w", err)
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}
