package updown

import (
	"fmt"
	"math"
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

// Config is the Up-Down captioner's architecture. Zero fields take the
// documented defaults (the paper's); VocabSize and FeatDim are required.
type Config struct {
	// VocabSize is the number of words V (ids 1..V; 0 is EndToken). Required.
	VocabSize int `json:"vocab_size"`
	// FeatDim is the region feature width D (2048 for bottom-up features). Required.
	FeatDim int `json:"feat_dim"`
	// InputEncoding is the word-embedding width E (0: 512).
	InputEncoding int `json:"input_encoding"`
	// RNNSize is the width of both LSTMs and of the embedded regions (0: 512).
	RNNSize int `json:"rnn_size"`
	// AttHid is the hidden width of the additive attention (0: 512).
	AttHid int `json:"att_hid"`
	// Dropout is the drop probability of the word embedding, the embedded
	// regions, fc and the language LSTM output (0: 0.5; negative: no dropout).
	Dropout float64 `json:"dropout"`
	// MaxLen is the training caption length: references are truncated to it
	// and SCST samples stop after it (0: 16).
	MaxLen int `json:"max_len"`
	// DecodeMaxLen is the greedy/beam decoding length (0: 20).
	DecodeMaxLen int `json:"decode_max_len"`
	// Seed initialises the weights.
	Seed uint64 `json:"seed"`
}

// Resolved returns c with defaults filled in (Dropout < 0 becomes 0).
func (c Config) Resolved() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.InputEncoding, DefaultInputEncoding)
	def(&c.RNNSize, DefaultRNNSize)
	def(&c.AttHid, DefaultAttHid)
	def(&c.MaxLen, DefaultMaxLen)
	def(&c.DecodeMaxLen, DefaultDecodeMaxLen)
	switch {
	case c.Dropout == 0:
		c.Dropout = DefaultDropout
	case c.Dropout < 0:
		c.Dropout = 0
	}
	return c
}

// Validate names the first bad field of c (after defaults).
func (c Config) Validate() error {
	r := c.Resolved()
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("updown: Config.VocabSize = %d, want > 0", c.VocabSize)
	case c.VocabSize+1 > 1<<16:
		return fmt.Errorf("updown: Config.VocabSize = %d, want < 65536 (CIDEr-D scorer limit)", c.VocabSize)
	case c.FeatDim <= 0:
		return fmt.Errorf("updown: Config.FeatDim = %d, want > 0", c.FeatDim)
	case r.InputEncoding < 0:
		return fmt.Errorf("updown: Config.InputEncoding = %d, want ≥ 0", c.InputEncoding)
	case r.RNNSize < 0:
		return fmt.Errorf("updown: Config.RNNSize = %d, want ≥ 0", c.RNNSize)
	case r.AttHid < 0:
		return fmt.Errorf("updown: Config.AttHid = %d, want ≥ 0", c.AttHid)
	case !(r.Dropout >= 0 && r.Dropout < 1):
		return fmt.Errorf("updown: Config.Dropout = %v, want < 1", c.Dropout)
	case r.MaxLen < 0:
		return fmt.Errorf("updown: Config.MaxLen = %d, want ≥ 0", c.MaxLen)
	case r.DecodeMaxLen < 0:
		return fmt.Errorf("updown: Config.DecodeMaxLen = %d, want ≥ 0", c.DecodeMaxLen)
	}
	return nil
}

// XEConfig configures cross-entropy training with attention distillation.
// Zero fields take the documented defaults (self-critical.pytorch's and the
// paper's), except KLWeight, where 0 disables distillation.
type XEConfig struct {
	// BatchImages is the number of images per batch; every caption of each
	// image is used (0: 29).
	BatchImages int `json:"batch_images"`
	// Epochs is the number of epochs (0: 30).
	Epochs int `json:"epochs"`
	// LR is Adam's base learning rate (0: 5e-4).
	LR float64 `json:"lr"`
	// LRDecayEvery and LRDecayRate: lr ×rate every so many epochs after
	// LRDecayStart (0: 3, 0.8; LRDecayEvery < 0 disables decay).
	LRDecayEvery int     `json:"lr_decay_every"`
	LRDecayRate  float64 `json:"lr_decay_rate"`
	LRDecayStart int     `json:"lr_decay_start"`
	// GradClip clamps every gradient value to [−GradClip, GradClip] (0: 0.1;
	// negative: no clipping).
	GradClip float64 `json:"grad_clip"`
	// Scheduled sampling: after SSStart epochs the probability of feeding a
	// sampled word grows by SSIncrease every SSEvery epochs up to SSMax
	// (0: 0, 5, 0.05, 0.25; SSEvery < 0 disables scheduled sampling).
	SSStart    int     `json:"ss_start"`
	SSEvery    int     `json:"ss_every"`
	SSIncrease float64 `json:"ss_increase"`
	SSMax      float64 `json:"ss_max"`
	// KLWeight is λ of L = XE + λ·KL(α‖β); 0 disables the term
	// (DefaultKLWeightFlick is the paper's Flickr30k value).
	KLWeight float64 `json:"kl_weight"`
	// CheckpointEvery saves the training state every so many steps in
	// addition to each epoch's end (0: only at epoch ends).
	CheckpointEvery int `json:"checkpoint_every"`
	// Seed fixes the data order, dropout and scheduled sampling.
	Seed uint64 `json:"seed"`
}

// Resolved returns c with defaults filled in.
func (c XEConfig) Resolved() XEConfig {
	if c.BatchImages == 0 {
		c.BatchImages = DefaultBatchImages
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultXEEpochs
	}
	if c.LR == 0 {
		c.LR = DefaultXELR
	}
	if c.LRDecayEvery == 0 {
		c.LRDecayEvery = DefaultLRDecayEvery
	}
	if c.LRDecayRate == 0 {
		c.LRDecayRate = DefaultLRDecayRate
	}
	if c.GradClip == 0 {
		c.GradClip = DefaultGradClip
	}
	if c.SSEvery == 0 {
		c.SSEvery = DefaultSSEvery
	}
	if c.SSIncrease == 0 {
		c.SSIncrease = DefaultSSIncrease
	}
	if c.SSMax == 0 {
		c.SSMax = DefaultSSMax
	}
	return c
}

// Validate names the first bad field of c (after defaults).
func (c XEConfig) Validate() error {
	r := c.Resolved()
	if err := validateSchedule("XEConfig", r.schedule(), c.schedule()); err != nil {
		return err
	}
	switch {
	case r.SSStart < 0:
		return fmt.Errorf("updown: XEConfig.SSStart = %d, want ≥ 0", c.SSStart)
	case !(r.SSIncrease >= 0):
		return fmt.Errorf("updown: XEConfig.SSIncrease = %v, want ≥ 0", c.SSIncrease)
	case !(r.SSMax >= 0 && r.SSMax <= 1):
		return fmt.Errorf("updown: XEConfig.SSMax = %v, want in [0, 1]", c.SSMax)
	case !(r.KLWeight >= 0) || math.IsInf(r.KLWeight, 0):
		return fmt.Errorf("updown: XEConfig.KLWeight = %v, want ≥ 0", c.KLWeight)
	}
	return nil
}

// schedule is what XEConfig and SCSTConfig share: batch, epochs, learning rate and its decay,
// clipping, checkpoints.
type schedule struct {
	batchImages, epochs, lrDecayStart, checkpointEvery int
	lr, lrDecayRate, gradClip                          float64
}

func (c XEConfig) schedule() schedule {
	return schedule{c.BatchImages, c.Epochs, c.LRDecayStart, c.CheckpointEvery, c.LR, c.LRDecayRate, c.GradClip}
}

func (c SCSTConfig) schedule() schedule {
	return schedule{c.BatchImages, c.Epochs, c.LRDecayStart, c.CheckpointEvery, c.LR, c.LRDecayRate, c.GradClip}
}

// validateSchedule checks the resolved values r of config kind, naming the values the user set
// in the message.
func validateSchedule(kind string, r, set schedule) error {
	switch {
	case r.batchImages < 0:
		return fmt.Errorf("updown: %s.BatchImages = %d, want > 0", kind, set.batchImages)
	case r.epochs < 0:
		return fmt.Errorf("updown: %s.Epochs = %d, want > 0", kind, set.epochs)
	case !(r.lr > 0) || math.IsInf(r.lr, 0):
		return fmt.Errorf("updown: %s.LR = %v, want > 0", kind, set.lr)
	case !(r.lrDecayRate > 0):
		return fmt.Errorf("updown: %s.LRDecayRate = %v, want > 0", kind, set.lrDecayRate)
	case r.lrDecayStart < 0:
		return fmt.Errorf("updown: %s.LRDecayStart = %d, want ≥ 0", kind, set.lrDecayStart)
	case math.IsNaN(r.gradClip):
		return fmt.Errorf("updown: %s.GradClip is NaN", kind)
	case r.checkpointEvery < 0:
		return fmt.Errorf("updown: %s.CheckpointEvery = %d, want ≥ 0", kind, set.checkpointEvery)
	}
	return nil
}

// LRAt returns the learning rate of epoch (0-based): self-critical's
// lr·rate^⌊(epoch − start)/every⌋ for epoch > start.
func (c XEConfig) LRAt(epoch int) float64 {
	r := c.Resolved()
	return stepLR(r.LR, r.LRDecayRate, r.LRDecayEvery, r.LRDecayStart, epoch)
}

// SSProbAt returns the scheduled-sampling probability of epoch (0-based):
// min(SSIncrease·⌊(epoch − SSStart)/SSEvery⌋, SSMax) for epoch > SSStart.
func (c XEConfig) SSProbAt(epoch int) float64 {
	r := c.Resolved()
	if r.SSEvery < 0 || epoch <= r.SSStart {
		return 0
	}
	return math.Min(r.SSIncrease*float64((epoch-r.SSStart)/r.SSEvery), r.SSMax)
}

func stepLR(base, rate float64, every, start, epoch int) float64 {
	if every <= 0 || epoch <= start {
		return base
	}
	return base * math.Pow(rate, float64((epoch-start)/every))
}

// SCSTConfig configures self-critical training. Zero fields take the
// documented defaults.
type SCSTConfig struct {
	// BatchImages is the number of images per batch (0: 29).
	BatchImages int `json:"batch_images"`
	// Epochs is the number of SCST epochs (0: 80, the original's 30 → 110).
	Epochs int `json:"epochs"`
	// LR is Adam's learning rate (0: 5e-5); LRDecayEvery/Rate/Start as in
	// XEConfig but decay is off unless LRDecayEvery > 0.
	LR           float64 `json:"lr"`
	LRDecayEvery int     `json:"lr_decay_every"`
	LRDecayRate  float64 `json:"lr_decay_rate"`
	LRDecayStart int     `json:"lr_decay_start"`
	// GradClip clamps every gradient value (0: 0.1; negative: none).
	GradClip float64 `json:"grad_clip"`
	// Samples is the number of multinomial samples per image (0: 5).
	Samples int `json:"samples"`
	// MaxLen is the longest sample and greedy baseline in words (0: 20, the original's
	// max_length; the references stay cut at Config.MaxLen).
	MaxLen int `json:"max_len"`
	// WCider and WMatch weight CIDEr-D and the matching score in the reward
	// (0: 1 each; negative: 0). WMatch is ignored without a MatchFunc.
	WCider float64 `json:"w_cider"`
	WMatch float64 `json:"w_match"`
	// CheckpointEvery saves every so many steps besides epoch ends (0: off).
	CheckpointEvery int `json:"checkpoint_every"`
	// Seed fixes the data order, dropout and sampling.
	Seed uint64 `json:"seed"`
}

// Resolved returns c with defaults filled in (negative weights become 0).
func (c SCSTConfig) Resolved() SCSTConfig {
	if c.BatchImages == 0 {
		c.BatchImages = DefaultBatchImages
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultSCSTEpochs
	}
	if c.LR == 0 {
		c.LR = DefaultSCSTLR
	}
	if c.LRDecayRate == 0 {
		c.LRDecayRate = DefaultLRDecayRate
	}
	if c.GradClip == 0 {
		c.GradClip = DefaultGradClip
	}
	if c.Samples == 0 {
		c.Samples = DefaultSCSTSamples
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultSCSTMaxLen
	}
	w := func(v float64) float64 {
		switch {
		case v == 0:
			return DefaultRewardWeight
		case v < 0:
			return 0
		}
		return v
	}
	c.WCider, c.WMatch = w(c.WCider), w(c.WMatch)
	return c
}

// Validate names the first bad field of c (after defaults).
func (c SCSTConfig) Validate() error {
	r := c.Resolved()
	if err := validateSchedule("SCSTConfig", r.schedule(), c.schedule()); err != nil {
		return err
	}
	switch {
	case r.Samples < 1:
		return fmt.Errorf("updown: SCSTConfig.Samples = %d, want ≥ 1", c.Samples)
	case r.MaxLen < 1:
		return fmt.Errorf("updown: SCSTConfig.MaxLen = %d, want ≥ 1", c.MaxLen)
	case math.IsNaN(r.WCider) || math.IsInf(r.WCider, 0):
		return fmt.Errorf("updown: SCSTConfig.WCider = %v, want finite", c.WCider)
	case math.IsNaN(r.WMatch) || math.IsInf(r.WMatch, 0):
		return fmt.Errorf("updown: SCSTConfig.WMatch = %v, want finite", c.WMatch)
	}
	return nil
}

// LRAt returns the learning rate of SCST epoch (0-based).
func (c SCSTConfig) LRAt(epoch int) float64 {
	r := c.Resolved()
	return stepLR(r.LR, r.LRDecayRate, r.LRDecayEvery, r.LRDecayStart, epoch)
}
