package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Agg is how word-level similarities R_t become an image–caption score.
type Agg string

const (
	// AggLSE is (1/λ_lse) log Σ_t exp(λ_lse R_t) (the default; the empty
	// string means LSE).
	AggLSE Agg = "lse"
	// AggAVG is the mean of R_t.
	AggAVG Agg = "avg"
)

// Config configures POS-SCAN / SCAN. Zero fields take the documented
// defaults (those of the original code); Resolved returns the filled copy
// that is stored with every checkpoint.
type Config struct {
	// Vocab is the vocabulary size (required, > 0), ids 0..Vocab−1.
	Vocab int `json:"vocab"`
	// Pad is the padding id (0: id 0). Its embedding row is zero and never trained.
	Pad int `json:"pad"`
	// ImgDim is the region feature width D (0: 2048).
	ImgDim int `json:"img_dim"`
	// Embed is the joint embedding width and GRU hidden size (0: 1024).
	Embed int `json:"embed"`
	// WordDim is the word embedding width (0: 300).
	WordDim int `json:"word_dim"`
	// PlainSCAN turns the POS mask off (false, the zero value: POS-SCAN,
	// only noun positions enter normalisation and score; true: SCAN, all words).
	PlainSCAN bool `json:"plain_scan"`
	// LambdaSoftmax is the attention temperature λ_softmax (0: 9).
	LambdaSoftmax float64 `json:"lambda_softmax"`
	// Agg is the score aggregation ("" or "lse": LSE; "avg": mean).
	Agg Agg `json:"agg"`
	// LambdaLSE is λ_lse of the LSE aggregation (0: 6).
	LambdaLSE float64 `json:"lambda_lse"`
	// Margin of the hinge triplet loss (0: 0.2).
	Margin float64 `json:"margin"`
	// AllViolations sums over all negatives (false, the zero value: only
	// the hardest negative, VSE++ max_violation, as POS-SCAN).
	AllViolations bool `json:"all_violations"`
	// LR is Adam's initial learning rate (0: 2e-4).
	LR float64 `json:"lr"`
	// LRUpdate is the epoch period of the ×LRGamma decay (0: 15).
	LRUpdate int `json:"lr_update"`
	// LRGamma is the decay factor (0: 0.1).
	LRGamma float64 `json:"lr_gamma"`
	// Epochs to train (0: 30).
	Epochs int `json:"epochs"`
	// BatchSize of training batches (0: 128); the batch source decides the
	// actual batches, this is recorded for the trainer and data stage.
	BatchSize int `json:"batch_size"`
	// GradClip is the global gradient-norm clip (0: 2.0).
	GradClip float64 `json:"grad_clip"`
	// Seed initialises the weights and the model's random source.
	Seed uint64 `json:"seed"`
	// LenBucket rounds the padded caption length up to a multiple of it, so
	// that few graph shapes are built (0: 4).
	LenBucket int `json:"len_bucket"`
}

// Resolved returns c with every zero field replaced by its default.
func (c Config) Resolved() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.ImgDim, 2048)
	def(&c.Embed, 1024)
	def(&c.WordDim, 300)
	deff(&c.LambdaSoftmax, 9)
	if c.Agg == "" {
		c.Agg = AggLSE
	}
	deff(&c.LambdaLSE, 6)
	deff(&c.Margin, 0.2)
	deff(&c.LR, 2e-4)
	def(&c.LRUpdate, 15)
	deff(&c.LRGamma, 0.1)
	def(&c.Epochs, 30)
	def(&c.BatchSize, 128)
	deff(&c.GradClip, 2.0)
	def(&c.LenBucket, 4)
	return c
}

// Validate reports the first bad field (after defaults).
func (c Config) Validate() error {
	r := c.Resolved()
	switch {
	case r.Vocab <= 0:
		return fmt.Errorf("scan: Config.Vocab = %d, want > 0", r.Vocab)
	case r.Pad < 0 || r.Pad >= r.Vocab:
		return fmt.Errorf("scan: Config.Pad = %d, want in [0, Vocab=%d)", r.Pad, r.Vocab)
	case r.ImgDim < 0 || r.Embed < 0 || r.WordDim < 0:
		return fmt.Errorf("scan: Config ImgDim %d, Embed %d, WordDim %d: want > 0", r.ImgDim, r.Embed, r.WordDim)
	case r.Agg != AggLSE && r.Agg != AggAVG:
		return fmt.Errorf("scan: Config.Agg = %q, want %q or %q", r.Agg, AggLSE, AggAVG)
	case r.LambdaSoftmax < 0 || r.LambdaLSE < 0 || r.Margin < 0:
		return fmt.Errorf("scan: Config LambdaSoftmax %v, LambdaLSE %v, Margin %v: want ≥ 0", r.LambdaSoftmax, r.LambdaLSE, r.Margin)
	case r.LR < 0 || r.LRGamma < 0 || r.LRUpdate < 0 || r.GradClip < 0:
		return fmt.Errorf("scan: Config LR %v, LRGamma %v, LRUpdate %d, GradClip %v: want ≥ 0", r.LR, r.LRGamma, r.LRUpdate, r.GradClip)
	case r.Epochs < 0 || r.BatchSize < 0 || r.LenBucket < 0:
		return fmt.Errorf("scan: Config Epochs %d, BatchSize %d, LenBucket %d: want ≥ 0", r.Epochs, r.BatchSize, r.LenBucket)
	}
	return nil
}

// ParseConfig decodes a JSON config, rejecting unknown keys, and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("scan: config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
