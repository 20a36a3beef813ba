// Package evaluate is the evaluation stage of a captioner: it decodes a split (the test split by
// default) with greedy or beam search on Beam, shard-parallel, the model loaded once per worker,
// recording the attention β of every generated word; then scores the captions with eval/caption
// (BLEU-1..4, ROUGE-L, CIDEr-D as coco-caption computes them) and their grounding with
// eval/grounding (GVD's F1_all and F1_loc with per-class tables), and draws a few images with
// each noun's attended region.
//
// # Instances
//
// One instance per captioner stage, named evaluate-<captioner without "caption-">:
// evaluate-xe, evaluate-xe-scan, evaluate-xe-posscan, evaluate-scst, evaluate-scst-scan,
// evaluate-scst-posscan; each reads "@<captioner>/best.ckpt" by default.
//
// # Grounding
//
// A generated word is grounded when it names a grounding class (transforms/lemma's rule, the one
// the captions stage used for the references' head words); its prediction is (class, word
// index, the box of the region with the largest β at the step that generated it), as in GVD's
// submission format. References are the captions stage's grounding_refs of the split: per
// caption, the head word of every boxed phrase with a class, at its token index.
//
// # Outputs
//
//   - decodes/part-SSSSS-of-NNNNN.parquet: Decode rows (caption, tokens, β, attended regions),
//     one shard per captions/features shard; a rerun skips the shards that exist;
//   - results.json: COCO results [{"image_id", "caption"}], by image id;
//   - grounding_submission.json: GVD's {"results": {"<id>": [{"clss", "idx_in_sent", "bbox"}]}};
//   - metrics.json (Metrics), report.md (tables and sample captions);
//   - pictures/<image id>.png for the first `pictures` images of the split by id.
package evaluate

import (
	"fmt"
	"strings"

	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
)

// Prefix starts every instance name.
const Prefix = "evaluate-"

// Names lists the stage instances, one per captioner stage, in chain order.
func Names() []string {
	var out []string
	for _, c := range Captioners() {
		out = append(out, NameOf(c))
	}
	return out
}

// Captioners lists the captioner stages.
func Captioners() []string { return append(captionxe.Names(), captionscst.Names()...) }

// NameOf returns the evaluate instance of a captioner stage.
func NameOf(captioner string) string { return Prefix + strings.TrimPrefix(captioner, "caption-") }

// CaptionerOf returns the captioner stage an instance evaluates.
func CaptionerOf(name string) string { return "caption-" + strings.TrimPrefix(name, Prefix) }

// Defaults of Params.
const (
	DefaultSplit       = "test"
	DefaultPictures    = 8
	DefaultDecodeBatch = 16
	// None switches an optional input off.
	None = "none"
)

// Params configure an evaluate instance (config sections evaluate-xe, …). Zero values are the
// documented defaults.
type Params struct {
	// Model is the captioner checkpoint (default "@<captioner>/best.ckpt").
	Model string `yaml:"model" json:"-"`
	// Captions, Vocab and Features are the inputs (defaults "@captions/captions",
	// "@captions/vocab.json", "@features"); the features must have as many shards as the
	// captions table.
	Captions string `yaml:"captions" json:"-"`
	Vocab    string `yaml:"vocab" json:"-"`
	Features string `yaml:"features" json:"-"`
	// GroundingRefs is the grounding references table (default "@captions/grounding_refs";
	// "none": no grounding evaluation).
	GroundingRefs string `yaml:"grounding_refs" json:"-"`
	// ClassNames is the grounding class list, one class per line (e.g. "@synth/class_names.txt"
	// or GVD's flickr30k_class_name.txt). Default "": the classes that occur in the grounding
	// references (a generated word of a class no reference mentions is then not predicted).
	ClassNames string `yaml:"class_names" json:"-"`
	// Images is a directory of the split's images named <image id>.png or .jpg (e.g.
	// "@synth/images"); default "": pictures are drawn on a blank canvas of the image's size.
	Images string `yaml:"images" json:"-"`

	// KLTeacher is the matching model whose attention α the captioner's β is compared with on
	// the split's ground-truth captions (teacher-forced, mean KL(α‖β) over their nouns, and the
	// mean token XE): scan (POS-SCAN, the default), scan-plain or none. KLTeacherModel is its
	// checkpoint (default "@<kl_teacher>/model.ckpt").
	KLTeacher      captionxe.Teacher `yaml:"kl_teacher" json:"kl_teacher"`
	KLTeacherModel string            `yaml:"kl_teacher_model" json:"-"`
	// FeatureCacheMB bounds the memory holding region features for the KL pass (default 4096).
	FeatureCacheMB int `yaml:"feature_cache_mb" json:"-"`

	// Split is the split decoded (default test).
	Split string `yaml:"split" json:"split"`
	// BeamSize is the beam width (default 1: greedy).
	BeamSize int `yaml:"beam_size" json:"beam_size"`
	// DecodeBatch is the number of images decoded per model call (default 16). It enters the
	// key: batch shapes can change the last bits of results.
	DecodeBatch int `yaml:"decode_batch" json:"decode_batch"`
	// Pictures is the number of images drawn with their attended regions (default 8; negative:
	// none).
	Pictures int `yaml:"pictures" json:"pictures"`
	// BLAS is the matrix backend: simd (default), go, openblas, cuda or auto.
	BLAS string `yaml:"blas" json:"-"`
}

func (p Params) withDefaults(name string) Params {
	if p.Model == "" {
		p.Model = "@" + CaptionerOf(name) + "/" + captionxe.BestFile
	}
	if p.Captions == "" {
		p.Captions = captionxe.DefaultCaptions
	}
	if p.Vocab == "" {
		p.Vocab = captionxe.DefaultVocab
	}
	if p.Features == "" {
		p.Features = captionxe.DefaultFeatures
	}
	if p.GroundingRefs == "" {
		p.GroundingRefs = "@captions/grounding_refs"
	}
	if p.KLTeacher == "" {
		p.KLTeacher = captionxe.TeacherPOS
	}
	if p.KLTeacher == captionxe.TeacherNone {
		p.KLTeacherModel = ""
	} else if p.KLTeacherModel == "" {
		p.KLTeacherModel = "@" + string(p.KLTeacher) + "/" + scan.ModelFile
	}
	if p.FeatureCacheMB == 0 {
		p.FeatureCacheMB = captionxe.DefaultFeatureCacheMB
	}
	if p.Split == "" {
		p.Split = DefaultSplit
	}
	if p.BeamSize == 0 {
		p.BeamSize = 1
	}
	if p.DecodeBatch == 0 {
		p.DecodeBatch = DefaultDecodeBatch
	}
	if p.Pictures == 0 {
		p.Pictures = DefaultPictures
	}
	if p.Pictures < 0 {
		p.Pictures = -1
	}
	if p.BLAS == "" {
		p.BLAS = blas.Default
	}
	return p
}

// Resolved returns p with the defaults of the named instance applied.
func (p Params) Resolved(name string) Params { return p.withDefaults(name) }

// Grounding reports whether the grounding evaluation is on.
func (p Params) Grounding() bool { return p.GroundingRefs != None }

// Validate reports the first bad field (after defaults), by its key.
func (p Params) Validate(name string) error {
	known := false
	for _, n := range Names() {
		known = known || n == name
	}
	if !known {
		return fmt.Errorf("evaluate: stage name %q (want one of %v)", name, Names())
	}
	p = p.withDefaults(name)
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("evaluate: %s: %s: %v (want %s)", name, key, v, want)
	}
	switch {
	case p.KLTeacher != captionxe.TeacherNone && p.KLTeacher != captionxe.TeacherPOS && p.KLTeacher != captionxe.TeacherPlain:
		return bad("kl_teacher", p.KLTeacher, "scan, scan-plain or none")
	case p.FeatureCacheMB < 0:
		return bad("feature_cache_mb", p.FeatureCacheMB, "≥ 0")
	case p.BeamSize < 1:
		return bad("beam_size", p.BeamSize, "≥ 1")
	case p.DecodeBatch < 1:
		return bad("decode_batch", p.DecodeBatch, "≥ 1")
	case p.ClassNames != "" && !p.Grounding():
		return bad("class_names", p.ClassNames, "unset when grounding_refs is none")
	case !blas.Known(p.BLAS):
		return bad("blas", p.BLAS, blas.KnownNames)
	}
	return nil
}
