package updown

import (
	"fmt"
	"math"

	"github.com/groundcap/groundcap/internal/config"
)

// Defaults of Config, XEConfig and SCSTConfig (the paper's and
// self-critical.pytorch's values).
const (
	DefaultInputEncoding = 512
	DefaultRNNSize       = 512
	DefaultAttHid        = 512
	DefaultDropout       = 0.5
	DefaultMaxLen        = 16
	DefaultDecodeMaxLen  = 20
	// DefaultSCSTMaxLen is the SCST samples' and greedy baseline's length (the original's
	// max_length).
	DefaultSCSTMaxLen = 20

	DefaultBatchImages   = 29
	DefaultXEEpochs      = 30
	DefaultXELR          = 5e-4
	DefaultLRDecayEvery  = 3
	DefaultLRDecayRate   = 0.8
	DefaultGradClip      = 0.1
	DefaultSSEvery       = 5
	DefaultSSIncrease    = 0.05
	DefaultSSMax         = 0.25
	DefaultSCSTEpochs    = 80
	DefaultSCSTLR        = 5e-5
	DefaultSCSTSamples   = 5
	DefaultRewardWeight  = 1.0
	DefaultKLWeightFlick = 0.1 // λ of the paper on Flickr30k (1 on COCO); XEConfig.KLWeight 0 disables
)

// EndToken is the token id that ends (and starts) every sequence, as in
// self-critical.pytorch: word ids are 1..VocabSize, id 0 is the begin token
// fed at the first step and the end token the model emits. A caption.Scorer
// used for rewards must map id 0 to the end word its DocFreq was built with.
const EndToken int32 = 0

// Arch holds the architecture hyperparameters of the Up-Down captioner, by their config keys
// (a captioner stage's section embeds it). DefaultArch gives the paper's values.
type Arch struct {
	// InputEncoding is the word-embedding width E.
	InputEncoding int `json:"input_encoding" yaml:"input_encoding" check:"≥ 1"`
	// RNNSize is the width of both LSTMs and of the embedded regions.
	RNNSize int `json:"rnn_size" yaml:"rnn_size" check:"≥ 1"`
	// AttHid is the hidden width of the additive attention.
	AttHid int `json:"att_hid" yaml:"att_hid" check:"≥ 1"`
	// Dropout is the drop probability of the word embedding, the embedded regions, fc and the
	// language LSTM output (0: no dropout).
	Dropout float64 `json:"dropout" yaml:"dropout" check:"in [0, 1); 0: no dropout"`
	// MaxLen is the training caption length: references are truncated to it and SCST samples
	// stop after it.
	MaxLen int `json:"max_len" yaml:"max_len" check:"≥ 1"`
	// DecodeMaxLen is the greedy/beam decoding length.
	DecodeMaxLen int `json:"decode_max_len" yaml:"decode_max_len" check:"≥ 1"`
}

// DefaultArch returns the paper's architecture: 512-wide embeddings, LSTMs and attention,
// dropout 0.5, captions of 16 words in training and 20 in decoding.
func DefaultArch() Arch {
	return Arch{InputEncoding: DefaultInputEncoding, RNNSize: DefaultRNNSize, AttHid: DefaultAttHid,
		Dropout: DefaultDropout, MaxLen: DefaultMaxLen, DecodeMaxLen: DefaultDecodeMaxLen}
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags).
func (a Arch) Validate() error { return config.Check(a) }

// Config is a captioner model: its vocabulary and feature sizes (from the data), its
// architecture and the seed of its weights. It is stored with every checkpoint.
type Config struct {
	// VocabSize is the number of words V (ids 1..V; 0 is EndToken).
	VocabSize int `json:"vocab_size"`
	// FeatDim is the region feature width D (2048 for bottom-up features).
	FeatDim int `json:"feat_dim"`
	Arch
	// Seed initialises the weights.
	Seed uint64 `json:"seed"`
}

// Validate reports the first bad field of c: its sizes, then its architecture (Arch.Validate).
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("updown: vocabulary of %d words, want > 0", c.VocabSize)
	case c.VocabSize+1 > 1<<16:
		return fmt.Errorf("updown: vocabulary of %d words, want < 65536 (CIDEr-D scorer limit)", c.VocabSize)
	case c.FeatDim <= 0:
		return fmt.Errorf("updown: feature dimension %d, want > 0", c.FeatDim)
	}
	if err := c.Arch.Validate(); err != nil {
		return fmt.Errorf("updown: %w", err)
	}
	return nil
}

// Schedule holds what cross-entropy and self-critical training share: batch, epochs, the
// learning rate and its step decay, gradient clipping and checkpoints, by their config keys.
type Schedule struct {
	// BatchImages is the number of images per batch; every caption of each image is used.
	BatchImages int `json:"batch_images" yaml:"batch_images" check:"≥ 1"`
	// Epochs is the number of epochs.
	Epochs int `json:"epochs" yaml:"epochs" check:"≥ 1"`
	// LR is Adam's base learning rate.
	LR float64 `json:"lr" yaml:"lr" check:"> 0"`
	// LRDecayEvery and LRDecayRate: lr ×rate every so many epochs after LRDecayStart
	// (LRDecayEvery ≤ 0: no decay).
	LRDecayEvery int     `json:"lr_decay_every" yaml:"lr_decay_every"`
	LRDecayRate  float64 `json:"lr_decay_rate" yaml:"lr_decay_rate" check:"> 0"`
	LRDecayStart int     `json:"lr_decay_start" yaml:"lr_decay_start" check:"≥ 0"`
	// GradClip clamps every gradient value to [−GradClip, GradClip] (≤ 0: no clipping).
	GradClip float64 `json:"grad_clip" yaml:"grad_clip"`
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags; grad_clip may be any number).
func (s Schedule) Validate() error {
	if err := config.Check(s); err != nil {
		return err
	}
	if math.IsNaN(s.GradClip) {
		return config.Invalid("grad_clip", s.GradClip, "a number; ≤ 0: no clipping")
	}
	return nil
}

// LRAt returns the learning rate of epoch (0-based): self-critical's
// lr·rate^⌊(epoch − start)/every⌋ for epoch > start.
func (s Schedule) LRAt(epoch int) float64 {
	if s.LRDecayEvery <= 0 || epoch <= s.LRDecayStart {
		return s.LR
	}
	return s.LR * math.Pow(s.LRDecayRate, float64((epoch-s.LRDecayStart)/s.LRDecayEvery))
}

// RunConfig holds what cross-entropy and self-critical training share besides their Schedule:
// when to save the training state and the seed. Embedded last, it keeps both configs' JSON
// fields in their order.
type RunConfig struct {
	// CheckpointEvery saves the training state every so many steps in addition to each epoch's
	// end (0: only at epoch ends).
	CheckpointEvery int `json:"checkpoint_every" yaml:"checkpoint_every" check:"≥ 0; 0: at epoch ends only"`
	// Seed fixes the data order, dropout and sampling.
	Seed uint64 `json:"seed" yaml:"seed"`
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags).
func (r RunConfig) Validate() error { return config.Check(r) }

// XEConfig configures cross-entropy training with attention distillation. DefaultXEConfig gives
// self-critical.pytorch's and the paper's values.
type XEConfig struct {
	// BatchImages (29), Epochs (30), LR (5e-4), its decay ×0.8 every 3 epochs, GradClip (0.1).
	Schedule `yaml:",inline"`
	// SSStart, SSEvery, SSIncrease, SSMax (+0.05 every 5 epochs up to 0.25).
	ScheduledSampling `yaml:",inline"`
	// KLWeight is λ of L = XE + λ·KL(α‖β); 0 disables the term (DefaultKLWeightFlick is the
	// paper's Flickr30k value). A captioner stage sets it from its teacher.
	KLWeight float64 `json:"kl_weight" yaml:"-" check:"≥ 0"`
	// CheckpointEvery and Seed (the data order, dropout and scheduled sampling).
	RunConfig `yaml:",inline"`
}

// DefaultXEConfig returns the default cross-entropy training: batches of 29 images, 30 epochs,
// lr 5e-4 ×0.8 every 3 epochs, gradient values clipped to 0.1, scheduled sampling +0.05 every 5
// epochs up to 0.25, no distillation.
func DefaultXEConfig() XEConfig {
	return XEConfig{
		Schedule: Schedule{BatchImages: DefaultBatchImages, Epochs: DefaultXEEpochs, LR: DefaultXELR,
			LRDecayEvery: DefaultLRDecayEvery, LRDecayRate: DefaultLRDecayRate, GradClip: DefaultGradClip},
		ScheduledSampling: ScheduledSampling{SSEvery: DefaultSSEvery, SSIncrease: DefaultSSIncrease, SSMax: DefaultSSMax},
	}
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags of its fields and of Schedule and RunConfig).
func (c XEConfig) Validate() error { return config.Check(c) }

// ScheduledSampling is the cross-entropy trainer's scheduled sampling: after SSStart epochs the
// probability of feeding a sampled word instead of the reference grows by SSIncrease every
// SSEvery epochs up to SSMax (SSEvery ≤ 0: off).
type ScheduledSampling struct {
	SSStart    int     `json:"ss_start" yaml:"ss_start" check:"≥ 0"`
	SSEvery    int     `json:"ss_every" yaml:"ss_every"`
	SSIncrease float64 `json:"ss_increase" yaml:"ss_increase" check:"≥ 0"`
	SSMax      float64 `json:"ss_max" yaml:"ss_max" check:"in [0, 1]"`
}

// SSProbAt returns the scheduled-sampling probability of epoch (0-based):
// min(SSIncrease·⌊(epoch − SSStart)/SSEvery⌋, SSMax) for epoch > SSStart.
func (c ScheduledSampling) SSProbAt(epoch int) float64 {
	if c.SSEvery <= 0 || epoch <= c.SSStart {
		return 0
	}
	return math.Min(c.SSIncrease*float64((epoch-c.SSStart)/c.SSEvery), c.SSMax)
}

// SCSTConfig configures self-critical training. DefaultSCSTConfig gives the original code's
// values.
type SCSTConfig struct {
	// BatchImages (29), Epochs (80, the original's 30 → 110), LR (5e-5, no decay), GradClip (0.1).
	Schedule `yaml:",inline"`
	// Samples is the number of multinomial samples per image.
	Samples int `json:"samples" yaml:"samples" check:"≥ 1"`
	// MaxLen is the longest sample and greedy baseline in words (20, the original's
	// max_length; the references stay cut at Config.MaxLen).
	MaxLen int `json:"max_len" yaml:"max_len" check:"≥ 1"`
	// WCider and WMatch weight CIDEr-D and the matching score in the reward (0 switches a term
	// off). WMatch is ignored without a MatchFunc.
	WCider float64 `json:"w_cider" yaml:"w_cider" check:"≥ 0; 0 switches the term off"`
	WMatch float64 `json:"w_match" yaml:"w_match" check:"≥ 0; 0 switches the term off"`
	// CheckpointEvery and Seed (the data order, dropout and sampling).
	RunConfig `yaml:",inline"`
}

// DefaultSCSTConfig returns the default self-critical training: batches of 29 images, 80
// epochs, lr 5e-5 without decay, gradient values clipped to 0.1, 5 samples per image, reward
// CIDEr-D + matching score.
func DefaultSCSTConfig() SCSTConfig {
	return SCSTConfig{
		Schedule: Schedule{BatchImages: DefaultBatchImages, Epochs: DefaultSCSTEpochs, LR: DefaultSCSTLR,
			LRDecayRate: DefaultLRDecayRate, GradClip: DefaultGradClip},
		Samples: DefaultSCSTSamples, MaxLen: DefaultSCSTMaxLen, WCider: DefaultRewardWeight, WMatch: DefaultRewardWeight,
	}
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags of its fields and of Schedule and RunConfig).
func (c SCSTConfig) Validate() error { return config.Check(c) }
