// Package evalresults owns the evaluate stages' outputs that the report reads: the instances'
// names, the output names, and the records of metrics.json (Metrics), per_image.json
// (PerImages) and results.json (Result).
package evalresults

import (
	"strings"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
)

// Prefix starts every instance name.
const Prefix = "evaluate-"

// Names lists the stage instances, one per captioner stage, in chain order.
func Names() []string {
	var out []string
	for _, c := range models.Captioners() {
		out = append(out, NameOf(c))
	}
	return out
}

// NameOf returns the evaluate instance of a captioner stage.
func NameOf(captioner string) string { return Prefix + strings.TrimPrefix(captioner, "caption-") }

// CaptionerOf returns the captioner stage an instance evaluates.
func CaptionerOf(name string) string { return "caption-" + strings.TrimPrefix(name, Prefix) }

// Output names inside the stage's directory.
const (
	ResultsFile    = "results.json"
	SubmissionFile = "grounding_submission.json"
	MetricsFile    = "metrics.json"
	ReportFile     = "report.md"
	PicturesDir    = "pictures"
	PerImageFile   = "per_image.json"
)

// ResultsOf returns a split's results.json inside the output.
func ResultsOf(split string) string { return split + "/" + ResultsFile }

// SubmissionOf returns a split's grounding_submission.json inside the output.
func SubmissionOf(split string) string { return split + "/" + SubmissionFile }

// GroundingMetrics are the grounding results.
type GroundingMetrics struct {
	All F1Scores `json:"f1_all"`
	Loc F1Scores `json:"f1_loc"`
	// Reference is the GVD reference file scored against (grounding_reference); absent: the
	// own references derived from grounding_refs.
	Reference string `json:"reference,omitempty"`
	// ClassSource is where the class list came from ("class_names", "grounding_refs" or
	// "grounding_reference") and Classes its length.
	ClassSource string `json:"class_source"`
	Classes     int    `json:"classes"`
	// GroundedWords counts the generated words that name a class (the submission's entries).
	GroundedWords int `json:"grounded_words"`
	// RefImages counts the split's images with grounding references; RefWordsPastMaxLength the
	// annotated head words beyond the captions' truncation (not scored; own references only).
	RefImages             int `json:"ref_images"`
	RefWordsPastMaxLength int `json:"ref_words_past_max_length"`
}

// AttentionMetrics are teacher-forced scores on the split's ground-truth captions.
type AttentionMetrics struct {
	// Teacher is the matching model; KL the mean KL(α‖β) over the captions' nouns (within the
	// captioner's max_len), Nouns their number.
	Teacher models.Teacher `json:"teacher"`
	KL      float64        `json:"kl"`
	Nouns   int            `json:"nouns"`
	// XE is the mean token cross-entropy (end tokens included) of the captions, Tokens their
	// number.
	XE     float64 `json:"xe"`
	Tokens int     `json:"tokens"`
}

// Metrics is metrics.json: the scores of every evaluated split.
type Metrics struct {
	Stage     string `json:"stage"`
	Captioner string `json:"captioner"`
	Model     string `json:"model"`
	BeamSize  int    `json:"beam_size"`
	// Splits are the evaluated splits, the main one first; Scores their scores by split name.
	Splits []string                 `json:"splits"`
	Scores map[string]*SplitMetrics `json:"scores"`
}

// Main returns the main split's scores.
func (m *Metrics) Main() *SplitMetrics { return m.Split(m.Splits[0]) }

// Split returns a split's scores (nil when not evaluated).
func (m *Metrics) Split(s string) *SplitMetrics { return m.Scores[s] }

// SplitMetrics are one split's scores. Scores are fractions (coco-caption's and GVD's scale);
// report.md shows them ×100.
type SplitMetrics struct {
	Stage     string `json:"stage"`
	Captioner string `json:"captioner"`
	Model     string `json:"model"`
	// TrainedBy is the stage whose training wrote the model's weights (the checkpoint's
	// provenance). It differs from Captioner when a self-critical stage kept the model it
	// started from (carry_best: no SCST epoch beat it on val), whose scores it then repeats.
	TrainedBy string `json:"trained_by,omitempty"`
	Split     string `json:"split"`
	BeamSize  int    `json:"beam_size"`
	// Images decoded; MeanLength the mean caption length in words; Unended the captions stopped
	// at the maximum length; Vocabulary the distinct words generated.
	Images     int     `json:"images"`
	MeanLength float64 `json:"mean_length"`
	Unended    int     `json:"unended"`
	Vocabulary int     `json:"vocabulary"`
	// Attention compares the captioner's attention with a matching model's on the split's
	// ground-truth captions (absent with kl_teacher none).
	Attention *AttentionMetrics `json:"attention,omitempty"`
	// Caption holds BLEU-1..4, ROUGE-L and CIDEr-D of the corpus.
	Caption   CaptionScores     `json:"caption"`
	Grounding *GroundingMetrics `json:"grounding,omitempty"`
	// Pictures lists the drawn pictures (output names; the main split's).
	Pictures []string `json:"pictures"`
}

// PerImages is per_image.json: each evaluated split's PerImage by split name.
type PerImages struct {
	Splits map[string]*PerImage `json:"splits"`
}

// PerImage is what each decoded image of a split contributes to the corpus scores, from
// which a bootstrap replicate (eval/bootstrap) recomputes them exactly: BLEU's sufficient
// statistics (caption.BleuStatistic), ROUGE-L and CIDEr-D (means over images), and GVD's
// per-class F1 decisions of each mode (grounding.F1Statistic; an image without grounding
// references contributes none). Every list is indexed like ImageIDs (ascending).
type PerImage struct {
	ImageIDs []int64                  `json:"image_ids"`
	Bleu     []caption.BleuStats      `json:"bleu"`
	RougeL   []float64                `json:"rouge_l"`
	CIDEr    []float64                `json:"cider_d"`
	F1All    [][]grounding.ClassCount `json:"f1_all,omitempty"`
	F1Loc    [][]grounding.ClassCount `json:"f1_loc,omitempty"`
	// KLSum and Nouns are each image's sum of KL(α‖β) over its ground-truth captions' nouns and
	// their number (the attention KL is Σ KLSum / Σ Nouns; absent without kl_teacher).
	KLSum []float64 `json:"kl_sum,omitempty"`
	Nouns []int     `json:"nouns,omitempty"`
}

// Result is one line of the COCO results file.
type Result struct {
	ImageID int64  `json:"image_id"`
	Caption string `json:"caption"`
}

// CaptionScores are the corpus caption metrics (fractions, as coco-caption prints them).
type CaptionScores struct {
	Bleu1  float64 `json:"Bleu_1"`
	Bleu2  float64 `json:"Bleu_2"`
	Bleu3  float64 `json:"Bleu_3"`
	Bleu4  float64 `json:"Bleu_4"`
	RougeL float64 `json:"ROUGE_L"`
	CIDEr  float64 `json:"CIDEr"`
}

// F1Scores are one F1 mode's results (fractions).
type F1Scores struct {
	Precision float64                `json:"precision"`
	Recall    float64                `json:"recall"`
	F1        float64                `json:"f1"`
	Classes   int                    `json:"classes"`
	PerClass  []grounding.ClassScore `json:"per_class"`
}
