// Package align is the alignment stage: for every training caption, the matching model's
// word–region attention α over the caption's noun positions, the positions themselves, and the
// matching score S(image, caption), computed once on Beam and stored as the alignments table the
// captioner distils from (this replaces the original code's online SCAN inference in every
// captioner step).
//
// # Pipeline
//
// Build creates one element per shard number (internal/shard numbering, shared with the captions
// and features tables) and one DoFn call per shard reads that shard's captions and feature
// files side by side (both sorted by image id), so region features never go through a shuffle.
// The model is loaded once per DoFn instance in Setup from the teacher stage's model.ckpt. Images
// are aligned batch_images at a time with all their captions. A shard whose alignments file
// exists already (an earlier attempt wrote it) is skipped, so a rerun after a crash resumes by
// shard and gives the same bytes.
//
// # Outputs
//
//   - alignments/part-SSSSS-of-NNNNN.parquet: alignments.Row (pipelines/artifacts/alignments),
//     sorted by (image_id, caption_idx);
//   - rejects/part-SSSSS-of-NNNNN.parquet: captions whose image has no features.
//
// Counts reconcile per run: captions read (of the selected splits) = aligned + rejected.
package align

import (
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
)

// Defaults of Params.
const (
	DefaultBatchImages = 16
)

// Params configure an align stage (config sections "align" and "align-plain"); DefaultParams
// gives the defaults.
type Params struct {
	// Teacher picks the matching model: scan (POS-SCAN; align's default) or scan-plain
	// (align-plain's).
	Teacher models.Teacher `yaml:"teacher"`
	// Model is the checkpoint ("": the teacher's, "@<teacher>/model.ckpt").
	Model string `yaml:"model" key:"-"`
	// Captions and Features: the captions table and the feature store.
	captionstable.Data `yaml:",inline"`
	// Splits are the caption splits to align (train and restval: the captioner's training data).
	Splits []string `yaml:"splits" check:"at least one split"`
	// BatchImages is the number of images aligned per model call, with all their captions. It
	// enters the key: block shapes can change the last bits of results.
	BatchImages int `yaml:"batch_images" check:"≥ 1"`
	// MaxRejectFraction is the largest fraction of captions that may lack features.
	MaxRejectFraction float64 `yaml:"max_reject_fraction" check:"0..1"`
	// BLAS is the matrix backend.
	BLAS blas.Name `yaml:"blas" key:"-"`
	// Device aligns device-resident: cuda, emulate or cpu; see the scan stage's device. It does
	// not enter the key.
	Device gpu.Kind `yaml:"device" key:"-"`
}

// DefaultParams returns the defaults of the named instance: the teacher of align is POS-SCAN,
// that of align-plain plain SCAN.
func DefaultParams(name string) Params {
	t := models.POSSCAN
	if name == NamePlain {
		t = models.SCAN
	}
	return Params{Teacher: t, Data: captionstable.DefaultData(), Splits: []string{"train", "restval"},
		BatchImages: DefaultBatchImages, BLAS: blas.Default, Device: gpu.KindCPU}
}

// resolve fills in the references that default to the teacher's.
func (p Params) resolve() Params {
	if p.Model == "" {
		p.Model = p.Teacher.Model()
	}
	return p
}

// Validate returns the first bad field: a *config.FieldError naming its key (bounds: the check
// tags).
func (p Params) Validate() error { return config.Prefix("align", p.validate()) }

func (p Params) validate() error {
	if !p.Teacher.Valid(false) {
		return config.Invalid("teacher", p.Teacher, "scan or scan-plain")
	}
	if err := config.Check(p); err != nil {
		return err
	}
	for i, s := range p.Splits {
		if s == "" {
			return config.Invalid(fmt.Sprintf("splits[%d]", i), s, "a split name")
		}
	}
	return nil
}
