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
//   - alignments/part-SSSSS-of-NNNNN.parquet: Row, sorted by (image_id, caption_idx);
//   - rejects/part-SSSSS-of-NNNNN.parquet: captions whose image has no features.
//
// Counts reconcile per run: captions read (of the selected splits) = aligned + rejected.
package align

import (
	"fmt"

	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
)

// Defaults of Params.
const (
	DefaultCaptions    = "@captions/captions"
	DefaultFeatures    = "@features"
	DefaultBatchImages = 16
)

// Params configure the align stage (config section "align"). Zero values are the documented
// defaults.
type Params struct {
	// Teacher picks the matching model: scan (default: POS-SCAN) or scan-plain.
	Teacher string `yaml:"teacher" json:"teacher"`
	// Model is the checkpoint (default "@<teacher>/model.ckpt").
	Model string `yaml:"model" json:"-"`
	// Captions is the captions table (default "@captions/captions").
	Captions string `yaml:"captions" json:"-"`
	// Features is the feature store (default "@features"); it must have as many shards as the
	// captions table.
	Features string `yaml:"features" json:"-"`
	// Splits are the caption splits to align (default train and restval: the captioner's
	// training data).
	Splits []string `yaml:"splits" json:"splits"`
	// BatchImages is the number of images aligned per model call, with all their captions
	// (default 16). It enters the key: block shapes can change the last bits of results.
	BatchImages int `yaml:"batch_images" json:"batch_images"`
	// MaxRejectFraction is the largest fraction of captions that may lack features (default 0).
	MaxRejectFraction float64 `yaml:"max_reject_fraction" json:"max_reject_fraction"`
	// BLAS is the matrix backend: simd (default), go, openblas, cuda or auto.
	BLAS string `yaml:"blas" json:"-"`
	// Device aligns device-resident: cuda, emulate or cpu (default); see the scan stage's
	// device. It does not enter the key.
	Device string `yaml:"device" json:"-"`
}

func (p Params) withDefaults() Params {
	if p.Teacher == "" {
		p.Teacher = scan.NamePOS
	}
	if p.Model == "" {
		p.Model = "@" + p.Teacher + "/" + scan.ModelFile
	}
	if p.Captions == "" {
		p.Captions = DefaultCaptions
	}
	if p.Features == "" {
		p.Features = DefaultFeatures
	}
	if len(p.Splits) == 0 {
		p.Splits = []string{"train", "restval"}
	}
	if p.BatchImages == 0 {
		p.BatchImages = DefaultBatchImages
	}
	if p.BLAS == "" {
		p.BLAS = blas.Default
	}
	return p
}

// Resolved returns p with its defaults applied.
func (p Params) Resolved() Params { return p.withDefaults() }

// Validate reports the first bad field (after defaults), by its config key.
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Teacher != scan.NamePOS && p.Teacher != scan.NamePlain:
		return fmt.Errorf("align: teacher: %q (want %s or %s)", p.Teacher, scan.NamePOS, scan.NamePlain)
	case p.BatchImages < 1:
		return fmt.Errorf("align: batch_images: %d (want ≥ 1)", p.BatchImages)
	case p.MaxRejectFraction < 0 || p.MaxRejectFraction > 1:
		return fmt.Errorf("align: max_reject_fraction: %g (want 0..1)", p.MaxRejectFraction)
	case !blas.Known(p.BLAS):
		return fmt.Errorf("align: blas: %q (want %s)", p.BLAS, blas.KnownNames)
	case !gpu.ValidKind(p.Device):
		return fmt.Errorf("align: device: %q (want cpu, cuda or emulate)", p.Device)
	}
	for i, s := range p.Splits {
		if s == "" {
			return fmt.Errorf("align: splits[%d]: empty", i)
		}
	}
	return nil
}
