// Package evaluate is the evaluation stage of a captioner: it decodes its splits (test, the main
// one, and val by default: the paper reports its ablations on val, its final results on test)
// with greedy or beam search on Beam, shard-parallel, the model loaded once per worker,
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
// submission format. References are, with grounding_reference set, GVD's reference file
// (flickr30k_cleaned_class.json: one box per object word, whole captions; the split's images it
// holds), scored exactly as GVD's script and `groundcap score-grounding --refs` score it;
// otherwise the stage's own, derived from the captions stage's grounding_refs of the split: per
// caption (cut at max_length), the head word of every boxed phrase with a class, at its token
// index, with every box of the phrase's chain.
//
// # Outputs
//
// Per evaluated split <split> (test/, val/):
//
//   - <split>/decodes/part-SSSSS-of-NNNNN.parquet: Decode rows (caption, tokens, β, attended
//     regions), one shard per captions/features shard; a rerun skips the shards that exist;
//   - <split>/results.json: COCO results [{"image_id", "caption"}], by image id;
//   - <split>/grounding_submission.json: GVD's {"results": {"<id>": [{"clss", "idx_in_sent",
//     "bbox"}]}}.
//
// For the stage (their names and records in pipelines/artifacts/evalresults):
//
//   - metrics.json (Metrics: every split's SplitMetrics by split name), report.md (each split's
//     tables and sample captions);
//   - per_image.json (PerImages: each split's PerImage, each image's share of the scores, for
//     bootstrap intervals);
//   - pictures/<image id>.png for the first `pictures` images of the main split by id.
package evaluate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/training/blas"
)

// Defaults of Params.
const (
	DefaultPictures    = 8
	DefaultDecodeBatch = 16
	// None switches an optional input off.
	None = "none"
)

// DefaultSplits are test (the main split) and val.
func DefaultSplits() []string { return []string{"test", "val"} }

// Main returns the main split: the first.
func (p Params) Main() string { return p.Splits[0] }

// Params configure an evaluate instance (config sections evaluate-xe, …); DefaultParams gives
// the defaults.
type Params struct {
	// Model is the captioner checkpoint ("@<captioner>/best.ckpt").
	Model string `yaml:"model" key:"-"`
	// Captions, Features and Vocab are the inputs.
	captionstable.Data `yaml:",inline"`
	Vocab              string `yaml:"vocab" key:"-"`
	// GroundingRefs is the grounding references table ("@captions/grounding_refs"; "none": no
	// grounding evaluation), from which the stage derives its own references (see the package
	// doc) unless GroundingReference is given.
	GroundingRefs string `yaml:"grounding_refs" key:"-"`
	// GroundingReference is GVD's reference file (flickr30k_cleaned_class.json, or groundcap's
	// grounding-reference JSON): when given, F1_all and F1_loc are scored against it exactly as
	// GVD's script and `groundcap score-grounding --refs` do, on the split's images that it
	// holds; "": the own references derived from GroundingRefs.
	GroundingReference string `yaml:"grounding_reference" key:"-"`
	// ClassNames is the grounding class list, one class per line (e.g. "@synth/class_names.txt"
	// or GVD's flickr30k_class_name.txt); "": the classes that occur in the grounding references
	// (a generated word of a class no reference mentions is then not predicted).
	ClassNames string `yaml:"class_names" key:"-"`
	// Images is a directory of the split's images named <image id>.png or .jpg (e.g.
	// "@synth/images"); "": pictures are drawn on a blank canvas of the image's size.
	Images string `yaml:"images" key:"-"`

	// KLTeacher is the matching model whose attention α the captioner's β is compared with on
	// the split's ground-truth captions (teacher-forced, mean KL(α‖β) over their nouns, and the
	// mean token XE): scan (POS-SCAN), scan-plain or none. KLTeacherModel is its checkpoint
	// ("": "@<kl_teacher>/model.ckpt").
	KLTeacher      models.Teacher `yaml:"kl_teacher"`
	KLTeacherModel string         `yaml:"kl_teacher_model" key:"-"`
	// FeatureCacheMB bounds the memory holding region features for the KL pass.
	FeatureCacheMB int `yaml:"feature_cache_mb" key:"-" check:"≥ 0"`

	// Splits are the splits decoded and scored, the main one (the report's first table, the
	// pictures) first: test, then val.
	Splits []string `yaml:"splits" check:"at least one split (the first is the main one)"`
	// BeamSize is the beam width (1: greedy).
	BeamSize int `yaml:"beam_size" check:"≥ 1"`
	// DecodeBatch is the number of images decoded per model call. It enters the key: batch
	// shapes can change the last bits of results.
	DecodeBatch int `yaml:"decode_batch" check:"≥ 1"`
	// Pictures is the number of images drawn with their attended regions (0: none).
	Pictures int `yaml:"pictures" check:"≥ 0; 0: none"`
	// BLAS is the matrix backend.
	BLAS blas.Name `yaml:"blas" key:"-"`
}

// DefaultParams returns the defaults of the named instance: greedy decoding of the test and val
// splits with the captioner's best model, grounding against the captions stage's references, KL to
// POS-SCAN's attention, 8 pictures.
func DefaultParams(name string) Params {
	return Params{Model: "@" + evalresults.CaptionerOf(name) + "/" + models.BestFile, Data: captionstable.DefaultData(),
		Vocab: captioning.DefaultVocab, GroundingRefs: "@captions/grounding_refs",
		KLTeacher: models.POSSCAN, FeatureCacheMB: captioning.DefaultFeatureCacheMB, Splits: DefaultSplits(), BeamSize: 1,
		DecodeBatch: DefaultDecodeBatch, Pictures: DefaultPictures, BLAS: blas.Default}
}

// resolve fills in the teacher's checkpoint.
func (p Params) resolve() Params {
	if p.KLTeacher == models.None {
		p.KLTeacherModel = ""
	} else if p.KLTeacherModel == "" {
		p.KLTeacherModel = p.KLTeacher.Model()
	}
	return p
}

// Grounding reports whether the grounding evaluation is on.
func (p Params) Grounding() bool { return p.GroundingRefs != None || p.GroundingReference != "" }

// GVDReference reports whether grounding is scored against GroundingReference.
func (p Params) GVDReference() bool { return p.GroundingReference != "" }

// validate reports the first bad field: a *config.FieldError by its key (bounds: the check
// tags).
func (p Params) validate() error {
	switch {
	case !p.KLTeacher.Valid(true):
		return config.Invalid("kl_teacher", p.KLTeacher, "scan, scan-plain or none")
	case p.ClassNames != "" && !p.Grounding():
		return config.Invalid("class_names", p.ClassNames, "unset when grounding_refs is none")
	case p.GroundingReference == None:
		return config.Invalid("grounding_reference", p.GroundingReference, "a reference file, or unset (the own references); grounding_refs: none switches grounding off")
	}
	if err := config.Check(p); err != nil {
		return err
	}
	for i, s := range p.Splits {
		if s == "" || slices.Index(p.Splits, s) < i || strings.ContainsAny(s, "/\\") {
			return config.Invalid(fmt.Sprintf("splits[%d]", i), s, "a split name, each once, without a slash")
		}
	}
	return nil
}
