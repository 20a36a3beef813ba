// Package captionxe is the cross-entropy stage of the Up-Down captioner with attention
// distillation (Zhou et al., CVPR 2020): L = XE + λ·KL(α‖β) over the noun positions of the
// ground-truth captions, α the matching model's word–region attention, β the captioner's
// attention at the step that emits the noun. It trains on the train (and restval) captions,
// validates greedy CIDEr-D on the val split after every epoch and keeps the best model.
//
// # Instances
//
// One package, three stages with their own config sections, which differ only in their
// defaults:
//
//   - caption-xe: the Up-Down baseline (teacher none, λ = 0);
//   - caption-xe-scan: distilled from plain SCAN (teacher scan-plain, λ = 0.1);
//   - caption-xe-posscan: distilled from POS-SCAN (teacher scan, λ = 0.1).
//
// The teacher names the matching-model stage (scan is POS-SCAN, scan-plain is SCAN, as in the
// align stage). α comes either from a precomputed alignments table (alpha: precomputed, the
// default: "@align/alignments" for teacher scan, "@align-plain/alignments" for scan-plain) or is
// computed online from the teacher's model.ckpt in every step (alpha: online; what the original
// code does, and what the benchmarks compare against).
//
// # Outputs
//
//   - best.ckpt: the state after the epoch with the best val CIDEr-D (training/checkpoint);
//   - last.ckpt: the final training state (weights and Adam moments: caption-scst starts from it);
//   - history.json: updown.History (loss per step, val CIDEr-D per epoch, best epoch);
//   - metrics.json: Metrics (data sizes, configuration, best and final scores);
//   - curves.png: training loss per step and val CIDEr-D per epoch.
//
// # Resume
//
// The trainer keeps its checkpoints in a work directory beside the output (<key>.work for a
// local root; the system temporary directory for other stores) and resumes from it after a
// crash; the final checkpoints are copied into the output, so a killed and rerun stage ends
// with the same bytes as an uninterrupted one.
package captionxe

import (
	"fmt"

	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
)

// Stage instance names.
const (
	NameBase    = "caption-xe"
	NameSCAN    = "caption-xe-scan"
	NamePOSSCAN = "caption-xe-posscan"
)

// Names lists the stage instances of this package, in chain order.
func Names() []string { return []string{NameBase, NameSCAN, NamePOSSCAN} }

// Teacher names the matching model whose attention is distilled: a matching-model stage, or none.
type Teacher string

// Teachers.
const (
	TeacherNone  Teacher = "none"
	TeacherPOS   Teacher = scan.NamePOS   // POS-SCAN (stage scan)
	TeacherPlain Teacher = scan.NamePlain // SCAN (stage scan-plain)
)

// AlphaMode says where α comes from.
type AlphaMode string

// Alpha modes.
const (
	// AlphaPrecomputed reads α from an alignments table (the align stage).
	AlphaPrecomputed AlphaMode = "precomputed"
	// AlphaOnline runs the teacher model on every training batch.
	AlphaOnline AlphaMode = "online"
)

// Default input references.
const (
	DefaultCaptions = "@captions/captions"
	DefaultVocab    = "@captions/vocab.json"
	DefaultDocFreq  = "@captions/cider_df.json"
	DefaultFeatures = "@features"
	// DefaultValSplit is the split validated after every epoch.
	DefaultValSplit = "val"
	// DefaultFeatureCacheMB bounds the memory of cached region features.
	DefaultFeatureCacheMB = 4096
)

// DefaultTeacher returns the teacher of a stage instance.
func DefaultTeacher(name string) Teacher {
	switch name {
	case NameSCAN:
		return TeacherPlain
	case NamePOSSCAN:
		return TeacherPOS
	}
	return TeacherNone
}

// DefaultAlignments returns the alignments table of a teacher.
func DefaultAlignments(t Teacher) string {
	if t == TeacherPlain {
		return "@align-plain/alignments"
	}
	return "@align/alignments"
}

// Params configure a caption-xe stage instance (config sections caption-xe, caption-xe-scan,
// caption-xe-posscan). Zero values are the documented defaults: the paper's and
// self-critical.pytorch's (updown's Default… constants). yaml tags are config keys; json tags
// enter the cache key (input references enter it by content digest; knobs that never change the
// output are left out).
type Params struct {
	// Captions, Vocab, DocFreq and Features are the inputs (defaults "@captions/captions",
	// "@captions/vocab.json", "@captions/cider_df.json", "@features").
	Captions string `yaml:"captions" json:"-"`
	Vocab    string `yaml:"vocab" json:"-"`
	DocFreq  string `yaml:"cider_df" json:"-"`
	Features string `yaml:"features" json:"-"`

	// Teacher is the matching model distilled: scan (POS-SCAN), scan-plain (SCAN) or none
	// (default by instance: none for caption-xe, scan-plain for caption-xe-scan, scan for
	// caption-xe-posscan).
	Teacher Teacher `yaml:"teacher" json:"teacher"`
	// KLWeight is λ (default 0.1 with a teacher, the paper's Flickr30k value; 0 disables
	// distillation and makes the teacher none).
	KLWeight *float64 `yaml:"kl_weight" json:"kl_weight"`
	// Alpha is where α comes from: precomputed (default) or online.
	Alpha AlphaMode `yaml:"alpha" json:"alpha"`
	// Alignments is the alignments table of alpha: precomputed (default "@align/alignments" for
	// teacher scan, "@align-plain/alignments" for scan-plain).
	Alignments string `yaml:"alignments" json:"-"`
	// Matcher is the teacher checkpoint of alpha: online (default "@<teacher>/model.ckpt").
	Matcher string `yaml:"matcher" json:"-"`

	// Model architecture (updown.Config; zero: the paper's).
	InputEncoding int     `yaml:"input_encoding" json:"input_encoding"`
	RNNSize       int     `yaml:"rnn_size" json:"rnn_size"`
	AttHid        int     `yaml:"att_hid" json:"att_hid"`
	Dropout       float64 `yaml:"dropout" json:"dropout"`
	MaxLen        int     `yaml:"max_len" json:"max_len"`
	DecodeMaxLen  int     `yaml:"decode_max_len" json:"decode_max_len"`

	// Training (updown.XEConfig; zero: the defaults documented there).
	BatchImages     int     `yaml:"batch_images" json:"batch_images"`
	Epochs          int     `yaml:"epochs" json:"epochs"`
	LR              float64 `yaml:"lr" json:"lr"`
	LRDecayEvery    int     `yaml:"lr_decay_every" json:"lr_decay_every"`
	LRDecayRate     float64 `yaml:"lr_decay_rate" json:"lr_decay_rate"`
	LRDecayStart    int     `yaml:"lr_decay_start" json:"lr_decay_start"`
	GradClip        float64 `yaml:"grad_clip" json:"grad_clip"`
	SSStart         int     `yaml:"ss_start" json:"ss_start"`
	SSEvery         int     `yaml:"ss_every" json:"ss_every"`
	SSIncrease      float64 `yaml:"ss_increase" json:"ss_increase"`
	SSMax           float64 `yaml:"ss_max" json:"ss_max"`
	CheckpointEvery int     `yaml:"checkpoint_every" json:"checkpoint_every"`
	// Seed initialises the weights and fixes data order, dropout and scheduled sampling (default:
	// the config's seed).
	Seed int64 `yaml:"seed" json:"seed"`

	// TrainSplits are the caption splits trained on (default train and restval).
	TrainSplits []string `yaml:"train_splits" json:"train_splits"`
	// ValSplit is the split validated after every epoch (default val); ValImages keeps its first
	// so many images by id (default 0: all).
	ValSplit  string `yaml:"val_split" json:"val_split"`
	ValImages int    `yaml:"val_images" json:"val_images"`

	// BLAS is the matrix backend: simd (default), go, openblas, cuda or auto.
	BLAS string `yaml:"blas" json:"-"`
	// FeatureCacheMB bounds the memory holding region features (default 4096).
	FeatureCacheMB int `yaml:"feature_cache_mb" json:"-"`

	// failAfterStep (tests only) cancels training once this many steps are done, as a kill
	// would stop it; 0: never.
	failAfterStep int64
}

// WithFailAfter returns p set to stop after n training steps, as a killed run would (tests).
func WithFailAfter(p Params, n int64) Params { p.failAfterStep = n; return p }

func (p Params) withDefaults(name string) Params {
	if p.Captions == "" {
		p.Captions = DefaultCaptions
	}
	if p.Vocab == "" {
		p.Vocab = DefaultVocab
	}
	if p.DocFreq == "" {
		p.DocFreq = DefaultDocFreq
	}
	if p.Features == "" {
		p.Features = DefaultFeatures
	}
	if p.Teacher == "" {
		p.Teacher = DefaultTeacher(name)
	}
	if p.KLWeight == nil {
		w := 0.0
		if p.Teacher != TeacherNone {
			w = updown.DefaultKLWeightFlick
		}
		p.KLWeight = &w
	} else {
		w := *p.KLWeight
		p.KLWeight = &w
	}
	if *p.KLWeight == 0 {
		p.Teacher = TeacherNone
	}
	if p.Teacher == TeacherNone {
		p.Alpha, p.Alignments, p.Matcher = "", "", ""
	} else {
		if p.Alpha == "" {
			p.Alpha = AlphaPrecomputed
		}
		switch p.Alpha {
		case AlphaPrecomputed:
			if p.Alignments == "" {
				p.Alignments = DefaultAlignments(p.Teacher)
			}
			p.Matcher = ""
		case AlphaOnline:
			if p.Matcher == "" {
				p.Matcher = "@" + string(p.Teacher) + "/" + scan.ModelFile
			}
			p.Alignments = ""
		}
	}
	if len(p.TrainSplits) == 0 {
		p.TrainSplits = []string{"train", "restval"}
	}
	if p.ValSplit == "" {
		p.ValSplit = DefaultValSplit
	}
	if p.BLAS == "" {
		p.BLAS = blas.Default
	}
	if p.FeatureCacheMB == 0 {
		p.FeatureCacheMB = DefaultFeatureCacheMB
	}
	return p
}

// Resolved returns p with the defaults of the named instance applied.
func (p Params) Resolved(name string) Params { return p.withDefaults(name) }

// ModelConfig returns the captioner architecture for a vocabulary of vocabSize words and
// features of dim values (zero fields stay zero: updown resolves them).
func (p Params) ModelConfig(vocabSize, dim int) updown.Config {
	return updown.Config{VocabSize: vocabSize, FeatDim: dim, InputEncoding: p.InputEncoding, RNNSize: p.RNNSize,
		AttHid: p.AttHid, Dropout: p.Dropout, MaxLen: p.MaxLen, DecodeMaxLen: p.DecodeMaxLen, Seed: uint64(p.Seed)}
}

// XEConfig returns the training configuration.
func (p Params) XEConfig() updown.XEConfig {
	return updown.XEConfig{BatchImages: p.BatchImages, Epochs: p.Epochs, LR: p.LR, LRDecayEvery: p.LRDecayEvery,
		LRDecayRate: p.LRDecayRate, LRDecayStart: p.LRDecayStart, GradClip: p.GradClip, SSStart: p.SSStart,
		SSEvery: p.SSEvery, SSIncrease: p.SSIncrease, SSMax: p.SSMax, KLWeight: *p.KLWeight,
		CheckpointEvery: p.CheckpointEvery, Seed: uint64(p.Seed)}
}

// IsInstance reports whether name is one of the package's stage instances.
func IsInstance(name string) bool {
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}

// Validate reports the first bad field (after the named instance's defaults), by its key.
func (p Params) Validate(name string) error {
	if !IsInstance(name) {
		return fmt.Errorf("captionxe: stage name %q (want one of %v)", name, Names())
	}
	if t := p.Teacher; p.KLWeight != nil && *p.KLWeight > 0 && (t == TeacherNone || t == "" && DefaultTeacher(name) == TeacherNone) {
		return fmt.Errorf("captionxe: %s: kl_weight: %g with teacher none (name a teacher: scan or scan-plain)", name, *p.KLWeight)
	}
	p = p.withDefaults(name)
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("captionxe: %s: %s: %v (want %s)", name, key, v, want)
	}
	switch {
	case p.Teacher != TeacherNone && p.Teacher != TeacherPOS && p.Teacher != TeacherPlain:
		return bad("teacher", p.Teacher, "scan, scan-plain or none")
	case *p.KLWeight < 0:
		return bad("kl_weight", *p.KLWeight, "≥ 0")
	case p.Teacher != TeacherNone && p.Alpha != AlphaPrecomputed && p.Alpha != AlphaOnline:
		return bad("alpha", p.Alpha, "precomputed or online")
	case p.Seed < 0:
		return bad("seed", p.Seed, "≥ 0")
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
	// Architecture and training values: updown's own checks, named by their config keys there.
	mc := p.ModelConfig(1, 1)
	if err := mc.Validate(); err != nil {
		return fmt.Errorf("captionxe: %s: %w", name, err)
	}
	if err := p.XEConfig().Validate(); err != nil {
		return fmt.Errorf("captionxe: %s: %w", name, err)
	}
	return nil
}
