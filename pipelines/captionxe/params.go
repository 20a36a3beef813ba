// Package captionxe is the cross-entropy stage of the Up-Down captioner with attention
// distillation (Zhou et al., CVPR 2020): L = XE + λ·KL(α‖β) over the noun positions of the
// ground-truth captions, α the matching model's word–region attention, β the captioner's
// attention at the step that emits the noun. It trains on the train (and restval) captions,
// scores its greedy captions of the val split after every epoch and keeps the best model: by
// coco-caption's CIDEr-D against the whole val references with their own document frequencies
// (selection: coco-cider, the original's language_eval), or by the SCST reward's CIDEr-D
// (selection: train-df-cider; captioning.Selection).
//
// # Instances
//
// One package, four stages with their own config sections, which differ only in their
// defaults:
//
//   - caption-xe: the Up-Down baseline (teacher none, λ = 0);
//   - caption-xe-scan: distilled from plain SCAN (teacher scan-plain, λ = 0.1);
//   - caption-xe-posscan: distilled from POS-SCAN (teacher scan, λ = 0.1);
//   - caption-xe-gt: supervised with the ground-truth boxes instead of a matching model
//     (teacher gt, λ = 0.1; the original's use_gt_box rows, the paper's "XE + 0.1 NLL(GT)"):
//     α is the attention the Flickr30k Entities boxes of the captions' annotated words give
//     (captioning.GTBoxes, from the captions stage's grounding_refs), by default one-hot on
//     the region of largest overlap above 0.5 (gt_attention: argmax, the paper's rows; softmax
//     is the original code's KL form).
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
// # Run and resume
//
// The run is every captioner's (pipelines/internal/captioning.Run, on pipelines/trainrun): the
// trainer keeps its checkpoints in the run's work directory and resumes from it after a crash;
// the final checkpoints are copied into the output, so a killed and rerun stage ends with the
// same bytes as an uninterrupted one.
package captionxe

import (
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/training/updown"
)

// DefaultGroundingRefs is the grounding references table teacher gt reads.
const DefaultGroundingRefs = "@captions/grounding_refs"

// AlphaMode says where α comes from.
type AlphaMode string

// Alpha modes.
const (
	// AlphaPrecomputed reads α from an alignments table (the align stage).
	AlphaPrecomputed AlphaMode = "precomputed"
	// AlphaOnline runs the teacher model on every training batch.
	AlphaOnline AlphaMode = "online"
)

// UnmarshalText parses precomputed or online; an empty mode stays empty.
func (a *AlphaMode) UnmarshalText(b []byte) error {
	return config.ParseEnum(a, b, "captionxe: unknown alpha", "", AlphaPrecomputed, AlphaOnline)
}

// DefaultTeacher returns the teacher of a stage instance.
func DefaultTeacher(name string) models.Teacher {
	switch name {
	case models.CaptionXESCAN:
		return models.SCAN
	case models.CaptionXEPOSSCAN:
		return models.POSSCAN
	case models.CaptionXEGT:
		return models.GT
	}
	return models.None
}

// DefaultAlignments returns the alignments table of a teacher.
func DefaultAlignments(t models.Teacher) string {
	if t == models.SCAN {
		return "@align-plain/alignments"
	}
	return "@align/alignments"
}

// Params configure a caption-xe stage instance (config sections caption-xe, caption-xe-scan,
// caption-xe-posscan, caption-xe-gt); DefaultParams gives the defaults: the paper's and self-critical.pytorch's.
// The captioner's architecture and its training configuration are embedded (updown.Arch,
// updown.XEConfig). Input references enter the cache key by their content digests, and knobs
// that never change the output do not enter it (key:"-").
type Params struct {
	// Settings are every captioner's inputs, splits, backend and cache.
	captioning.Settings `yaml:",inline"`

	// Teacher is the matching model distilled: scan (POS-SCAN), scan-plain (SCAN), gt (no
	// matching model: the ground-truth boxes) or none (by instance: none for caption-xe,
	// scan-plain for caption-xe-scan, scan for caption-xe-posscan, gt for caption-xe-gt).
	Teacher models.Teacher `yaml:"teacher"`
	// KLWeight is λ (nil: 0.1 with a teacher, the paper's Flickr30k value; 0 disables
	// distillation and makes the teacher none). Stage resolves it into XEConfig.KLWeight.
	KLWeight *float64 `yaml:"kl_weight"`
	// Alpha is where a matching model's α comes from: precomputed or online (empty with
	// teacher gt or none).
	Alpha AlphaMode `yaml:"alpha"`
	// GTAttention is teacher gt's α: argmax (the default, the paper's NLL(GT) rows) or softmax
	// (captioning.GTTarget); empty with every other teacher, and then not in the key.
	GTAttention captioning.GTTarget `yaml:"gt_attention" key:"omitempty"`
	// GroundingRefs is teacher gt's grounding references table ("": DefaultGroundingRefs).
	GroundingRefs string `yaml:"grounding_refs" key:"-"`
	// Alignments is the alignments table of alpha: precomputed ("": "@align/alignments" for
	// teacher scan, "@align-plain/alignments" for scan-plain).
	Alignments string `yaml:"alignments" key:"-"`
	// Matcher is the teacher checkpoint of alpha: online ("": "@<teacher>/model.ckpt").
	Matcher string `yaml:"matcher" key:"-"`

	// Arch is the captioner (512-wide, dropout 0.5, 16 words in training, 20 decoding).
	updown.Arch `yaml:",inline"`
	// XEConfig is the training (batches of 29 images, 30 epochs, lr 5e-4 ×0.8 every 3 epochs,
	// scheduled sampling, gradient values clipped to 0.1, checkpoints at epoch ends) and the seed
	// of the weights, the data order, dropout and scheduled sampling.
	updown.XEConfig `yaml:",inline"`
}

// DefaultParams returns the defaults of the named instance.
func DefaultParams(name string) Params {
	return Params{Settings: captioning.DefaultSettings(), Teacher: DefaultTeacher(name), Alpha: AlphaPrecomputed,
		Arch: updown.DefaultArch(), XEConfig: updown.DefaultXEConfig()}
}

// resolve settles what depends on other keys: λ on the teacher (and the teacher on λ = 0), and
// the teacher's α source. It fails on a λ > 0 given without a teacher.
func (p Params) resolve() (Params, error) {
	if p.KLWeight == nil {
		w := 0.0
		if p.Teacher != models.None {
			w = updown.DefaultKLWeightFlick
		}
		p.KLWeight = &w
	} else if *p.KLWeight > 0 && p.Teacher == models.None {
		return p, config.Invalid("kl_weight", *p.KLWeight, "0 with teacher none (name a teacher: scan, scan-plain or gt)")
	}
	if p.Teacher != models.GT && p.GTAttention != "" {
		return p, config.Invalid("gt_attention", p.GTAttention, "unset unless teacher is gt")
	}
	w := *p.KLWeight
	p.KLWeight = &w
	if w == 0 {
		p.Teacher = models.None
	}
	p.XEConfig.KLWeight = w
	if p.Teacher != models.GT {
		p.GTAttention, p.GroundingRefs = "", ""
	}
	switch {
	case p.Teacher == models.None:
		p.Alpha, p.Alignments, p.Matcher = "", "", ""
	case p.Teacher == models.GT:
		p.Alpha, p.Alignments, p.Matcher = "", "", ""
		if p.GTAttention == "" {
			p.GTAttention = captioning.GTArgmax
		}
		if p.GroundingRefs == "" {
			p.GroundingRefs = DefaultGroundingRefs
		}
	case p.Alpha == AlphaPrecomputed:
		if p.Alignments == "" {
			p.Alignments = DefaultAlignments(p.Teacher)
		}
		p.Matcher = ""
	case p.Alpha == AlphaOnline:
		if p.Matcher == "" {
			p.Matcher = p.Teacher.Model()
		}
		p.Alignments = ""
	}
	return p, nil
}

// validate reports the first bad field of resolved parameters: a *config.FieldError by its key
// (bounds: the check tags of Settings, Arch and XEConfig).
func (p Params) validate() error {
	switch {
	case !p.Teacher.Valid(true) && p.Teacher != models.GT:
		return config.Invalid("teacher", p.Teacher, "scan, scan-plain, gt or none")
	case p.Teacher.Valid(false) && p.Alpha != AlphaPrecomputed && p.Alpha != AlphaOnline:
		return config.Invalid("alpha", p.Alpha, "precomputed or online")
	case p.Teacher == models.GT && p.GTAttention != captioning.GTArgmax && p.GTAttention != captioning.GTSoftmax:
		return config.Invalid("gt_attention", p.GTAttention, "argmax or softmax")
	}
	return config.Check(p)
}

// ModelConfig returns the captioner for a vocabulary of vocabSize words and features of dim
// values: the architecture, the data's sizes and the training seed.
func (p Params) ModelConfig(vocabSize, dim int) updown.Config {
	return updown.Config{VocabSize: vocabSize, FeatDim: dim, Arch: p.Arch, Seed: p.XEConfig.Seed}
}
