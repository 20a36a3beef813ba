// Package scanevalresults owns the scan-eval stage's outputs that the report reads: the stage's
// name, its output names, and the records of metrics.json (Metrics) and per_image.json
// (PerImage).
package scanevalresults

import (
	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
)

// Name is the stage name.
const Name = "scan-eval"

// Output names.
const (
	MetricsFile    = "metrics.json"
	TableFile      = "table.md"
	PerImageFile   = "per_image.json"
	SubmissionsDir = "submissions"
)

// ModelResult is one model's row.
type ModelResult struct {
	Stage string `json:"stage"`
	POS   bool   `json:"pos"`
	// Text is the model's text input (models.TextOriginal or models.TextCaptioner).
	Text string `json:"text"`
	// Accuracy is the attention accuracy per split (percent).
	Accuracy map[string]float64 `json:"attention_accuracy"`
	// PerClass is the per-class accuracy (percent) and word count of each split.
	PerClass map[string][]ClassAccuracy `json:"per_class"`
	// Submission names each split's ground-truth-caption submission in GVD's format (five
	// entries per image, one per reference caption; `groundcap score-grounding --attention`
	// scores it).
	Submission map[string]string `json:"submission"`
	Retrieval  models.Retrieval  `json:"retrieval"`
}

// ClassAccuracy is one class's accuracy.
type ClassAccuracy struct {
	Class    string  `json:"class"`
	Accuracy float64 `json:"accuracy"`
	Words    int     `json:"words"`
}

// SplitInfo describes the ground truth of one split.
type SplitInfo struct {
	Images   int `json:"images"`
	Captions int `json:"captions"`
	Words    int `json:"annotated_words"` // annotated object words scored
	Classes  int `json:"classes"`
	// Truncated counts annotated words past the captions' max_length (not scored).
	Truncated int `json:"words_past_max_length"`
}

// Metrics is metrics.json.
type Metrics struct {
	// Reference is the GVD reference file scored against (grounding_reference); absent: the own
	// references derived from grounding_refs.
	Reference      string               `json:"reference,omitempty"`
	Splits         map[string]SplitInfo `json:"splits"`
	RetrievalSplit string               `json:"retrieval_split"`
	RetrievalSize  [2]int               `json:"retrieval_images_captions"`
	// Random is the expected attention accuracy (percent) of a region drawn uniformly at random,
	// per split: per word the fraction of the image's regions that hit, then the class means.
	Random map[string]float64 `json:"random_region_accuracy"`
	Models []ModelResult      `json:"models"`
}

// PerImage is per_image.json: by split, what each image contributes to each model's attention
// accuracy (eval/grounding.AccuracyCounts), from which eval/grounding.AccuracyStatistic
// recomputes the accuracy of any resample of the images (bootstrap intervals).
type PerImage struct {
	Splits map[string]*SplitPerImage `json:"splits"`
}

// SplitPerImage is one split's per-image counts: Models[stage][i] are image ImageIDs[i]'s class
// counts.
type SplitPerImage struct {
	ImageIDs []int64                             `json:"image_ids"`
	Models   map[string][][]grounding.ClassCount `json:"models"`
}

// SubmissionName is the output name of a model's ground-truth-caption submission on a split.
func SubmissionName(stage, split string) string {
	return SubmissionsDir + "/" + stage + "-" + split + ".json"
}
