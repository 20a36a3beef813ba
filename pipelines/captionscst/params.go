// Package captionscst is the self-critical (SCST) stage of the Up-Down captioner: it starts from
// an XE stage's last checkpoint (weights and Adam moments), and per image draws multinomial
// samples against a greedy baseline, with the reward r = w_cider·CIDEr-D(sample; the captions
// stage's train document frequencies) + w_match·S(I, sample), S the matching model's score
// computed in-process (the sampled words POS-tagged with transforms/postag for POS-SCAN's noun
// mask). Val greedy CIDEr-D after every epoch keeps the best model.
//
// # Instances
//
// One package, three stages with their own config sections:
//
//   - caption-scst: from caption-xe (the Up-Down baseline);
//   - caption-scst-scan: from caption-xe-scan, SCAN's score as the matching reward;
//   - caption-scst-posscan: from caption-xe-posscan, POS-SCAN's score as the matching reward.
//
// caption-scst's matching reward defaults to POS-SCAN (the issue's "each + SCST(CIDEr-D +
// matching score)"); matcher: none gives plain CIDEr-D SCST.
//
// # Outputs
//
// best.ckpt, last.ckpt, history.json, metrics.json (Metrics) and curves.png, as caption-xe
// writes them; resume works the same way (a work directory beside the output).
package captionscst

import (
	"fmt"

	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
)

// Stage instance names.
const (
	NameBase    = "caption-scst"
	NameSCAN    = "caption-scst-scan"
	NamePOSSCAN = "caption-scst-posscan"
)

// Names lists the stage instances of this package, in chain order.
func Names() []string { return []string{NameBase, NameSCAN, NamePOSSCAN} }

// From returns the XE stage an instance starts from.
func From(name string) string {
	switch name {
	case NameSCAN:
		return captionxe.NameSCAN
	case NamePOSSCAN:
		return captionxe.NamePOSSCAN
	}
	return captionxe.NameBase
}

// DefaultMatcher returns the matching model of an instance's reward.
func DefaultMatcher(name string) captionxe.Teacher {
	if name == NameSCAN {
		return captionxe.TeacherPlain
	}
	return captionxe.TeacherPOS
}

// Params configure a caption-scst stage instance (config sections caption-scst,
// caption-scst-scan, caption-scst-posscan). Zero values are the documented defaults
// (updown.SCSTConfig's: the original code's).
type Params struct {
	// Init is the starting checkpoint (default "@<XE instance>/last.ckpt": caption-xe for
	// caption-scst, caption-xe-scan for caption-scst-scan, caption-xe-posscan for
	// caption-scst-posscan). The architecture comes from it.
	Init string `yaml:"init" json:"-"`
	// Captions, Vocab, DocFreq and Features as in caption-xe.
	Captions string `yaml:"captions" json:"-"`
	Vocab    string `yaml:"vocab" json:"-"`
	DocFreq  string `yaml:"cider_df" json:"-"`
	Features string `yaml:"features" json:"-"`

	// Matcher is the matching model of the reward: scan (POS-SCAN), scan-plain (SCAN) or none
	// (default scan-plain for caption-scst-scan, scan otherwise).
	Matcher captionxe.Teacher `yaml:"matcher" json:"matcher"`
	// MatcherModel is its checkpoint (default "@<matcher>/model.ckpt").
	MatcherModel string `yaml:"matcher_model" json:"-"`
	// WCider and WMatch weight the reward's terms (default 1 each; 0 switches a term off).
	WCider *float64 `yaml:"w_cider" json:"w_cider"`
	WMatch *float64 `yaml:"w_match" json:"w_match"`

	// Training (updown.SCSTConfig; zero: the defaults documented there).
	BatchImages  int     `yaml:"batch_images" json:"batch_images"`
	Epochs       int     `yaml:"epochs" json:"epochs"`
	LR           float64 `yaml:"lr" json:"lr"`
	LRDecayEvery int     `yaml:"lr_decay_every" json:"lr_decay_every"`
	LRDecayRate  float64 `yaml:"lr_decay_rate" json:"lr_decay_rate"`
	LRDecayStart int     `yaml:"lr_decay_start" json:"lr_decay_start"`
	GradClip     float64 `yaml:"grad_clip" json:"grad_clip"`
	Samples      int     `yaml:"samples" json:"samples"`
	// MaxLen is the longest SCST sample and greedy baseline in words (default 20, the
	// original's max_length; the references stay cut at the captions' max_length).
	MaxLen          int `yaml:"max_len" json:"max_len"`
	CheckpointEvery int `yaml:"checkpoint_every" json:"checkpoint_every"`
	// Seed fixes data order, dropout and sampling (default: the config's seed).
	Seed int64 `yaml:"seed" json:"seed"`

	// TrainSplits are the splits trained on (default train and restval); TrainImages keeps the
	// first so many images by id (default 0: all).
	TrainSplits []string `yaml:"train_splits" json:"train_splits"`
	TrainImages int      `yaml:"train_images" json:"train_images"`
	// ValSplit and ValImages as in caption-xe.
	ValSplit  string `yaml:"val_split" json:"val_split"`
	ValImages int    `yaml:"val_images" json:"val_images"`

	// BLAS is the matrix backend: simd (default), go, openblas, cuda or auto.
	BLAS string `yaml:"blas" json:"-"`
	// FeatureCacheMB bounds the memory holding region features (default 4096).
	FeatureCacheMB int `yaml:"feature_cache_mb" json:"-"`

	failAfterStep int64
}

// WithFailAfter returns p set to stop after n training steps, as a killed run would (tests).
func WithFailAfter(p Params, n int64) Params { p.failAfterStep = n; return p }

func (p Params) withDefaults(name string) Params {
	if p.Init == "" {
		p.Init = "@" + From(name) + "/" + captionxe.LastFile
	}
	if p.Captions == "" {
		p.Captions = captionxe.DefaultCaptions
	}
	if p.Vocab == "" {
		p.Vocab = captionxe.DefaultVocab
	}
	if p.DocFreq == "" {
		p.DocFreq = captionxe.DefaultDocFreq
	}
	if p.Features == "" {
		p.Features = captionxe.DefaultFeatures
	}
	if p.Matcher == "" {
		p.Matcher = DefaultMatcher(name)
	}
	one := func(w *float64) *float64 {
		v := updown.DefaultRewardWeight
		if w != nil {
			v = *w
		}
		return &v
	}
	p.WCider, p.WMatch = one(p.WCider), one(p.WMatch)
	if *p.WMatch == 0 {
		p.Matcher = captionxe.TeacherNone
	}
	if p.Matcher == captionxe.TeacherNone {
		p.MatcherModel = ""
		*p.WMatch = 0
	} else if p.MatcherModel == "" {
		p.MatcherModel = "@" + string(p.Matcher) + "/" + scan.ModelFile
	}
	if len(p.TrainSplits) == 0 {
		p.TrainSplits = []string{"train", "restval"}
	}
	if p.ValSplit == "" {
		p.ValSplit = captionxe.DefaultValSplit
	}
	if p.BLAS == "" {
		p.BLAS = blas.Default
	}
	if p.FeatureCacheMB == 0 {
		p.FeatureCacheMB = captionxe.DefaultFeatureCacheMB
	}
	return p
}

// Resolved returns p with the defaults of the named instance applied.
func (p Params) Resolved(name string) Params { return p.withDefaults(name) }

// SCSTConfig returns the training configuration (p resolved).
func (p Params) SCSTConfig() updown.SCSTConfig {
	neg := func(w float64) float64 { // SCSTConfig: 0 means the default, negative means 0
		if w == 0 {
			return -1
		}
		return w
	}
	return updown.SCSTConfig{BatchImages: p.BatchImages, Epochs: p.Epochs, LR: p.LR, LRDecayEvery: p.LRDecayEvery,
		LRDecayRate: p.LRDecayRate, LRDecayStart: p.LRDecayStart, GradClip: p.GradClip, Samples: p.Samples,
		WCider: neg(*p.WCider), WMatch: neg(*p.WMatch), MaxLen: p.MaxLen, CheckpointEvery: p.CheckpointEvery, Seed: uint64(p.Seed)}
}

// Validate reports the first bad field (after the named instance's defaults), by its key.
func (p Params) Validate(name string) error {
	known := false
	for _, n := range Names() {
		known = known || n == name
	}
	if !known {
		return fmt.Errorf("captionscst: stage name %q (want one of %v)", name, Names())
	}
	p = p.withDefaults(name)
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("captionscst: %s: %s: %v (want %s)", name, key, v, want)
	}
	switch {
	case p.Matcher != captionxe.TeacherNone && p.Matcher != captionxe.TeacherPOS && p.Matcher != captionxe.TeacherPlain:
		return bad("matcher", p.Matcher, "scan, scan-plain or none")
	case *p.WCider < 0:
		return bad("w_cider", *p.WCider, "≥ 0")
	case *p.WMatch < 0:
		return bad("w_match", *p.WMatch, "≥ 0")
	case *p.WCider == 0 && *p.WMatch == 0:
		return bad("w_cider", 0, "> 0 when w_match is 0 or matcher none (the reward would be 0)")
	case p.Seed < 0:
		return bad("seed", p.Seed, "≥ 0")
	case p.TrainImages < 0:
		return bad("train_images", p.TrainImages, "≥ 0")
	case p.ValImages < 0:
		return bad("val_images", p.ValImages, "≥ 0")
	case p.FeatureCacheMB < 0:
		return bad("feature_cache_mb", p.FeatureCacheMB, "≥ 0")
	case !blas.Known(p.BLAS):
		return bad("blas", p.BLAS, blas.KnownNames)
	}
	for i, s := range p.TrainSplits {
		if s == "" || s == p.ValSplit {
			return bad(fmt.Sprintf("train_splits[%d]", i), fmt.Sprintf("%q", s), "a non-empty split other than val_split")
		}
	}
	if err := p.SCSTConfig().Validate(); err != nil {
		return fmt.Errorf("captionscst: %s: %w", name, err)
	}
	return nil
}
