package updown

import (
	"fmt"
)

// Images are the region features of a batch of images.
type Images struct {
	// Feats[i] holds image i's NumBoxes[i] regions, row-major K×FeatDim.
	Feats [][]float32
	// NumBoxes[i] is image i's number of regions (adaptive counts allowed).
	NumBoxes []int
}

// Batch is one training batch: images, their ground-truth captions and the
// matching model's alignments of the captions' nouns.
type Batch struct {
	Images
	// Index[i] is the source's index of image i (passed to a MatchFunc);
	// filled by the trainers from the indices they asked for.
	Index []int
	// Captions are word ids (1..VocabSize, no end token); longer captions
	// are truncated to Config.MaxLen.
	Captions [][]int32
	// ImageOf[c] is the batch image of caption c.
	ImageOf []int
	// NounPos[c] are the 0-based positions in caption c of its nouns (the
	// set W of the distillation term); may be nil when not distilling.
	NounPos [][]int
	// Alpha[c] is the matching model's attention for caption c's nouns,
	// len(NounPos[c]) × NumBoxes[ImageOf[c]] row-major; nil when not
	// distilling.
	Alpha [][]float32
}

// Source gives the trainers random access to a data set of images with
// their captions (and alignments for distillation).
type Source interface {
	// Len returns the number of images.
	Len() int
	// Batch loads the images with the given indices, in that order, with all
	// their captions.
	Batch(images []int) (*Batch, error)
}

// check validates the images against the model config.
func (im *Images) check(cfg Config) error {
	if len(im.Feats) == 0 {
		return fmt.Errorf("updown: batch has no images")
	}
	if len(im.NumBoxes) != len(im.Feats) {
		return fmt.Errorf("updown: batch has %d feature blocks but %d box counts", len(im.Feats), len(im.NumBoxes))
	}
	for i, f := range im.Feats {
		k := im.NumBoxes[i]
		if k <= 0 {
			return fmt.Errorf("updown: image %d has %d boxes, want > 0", i, k)
		}
		if len(f) != k*cfg.FeatDim {
			return fmt.Errorf("updown: image %d has %d feature values, want %d boxes × %d", i, len(f), k, cfg.FeatDim)
		}
	}
	return nil
}

// check validates the batch; distill says whether NounPos/Alpha are needed.
func (b *Batch) check(cfg Config, distill bool) error {
	if err := b.Images.check(cfg); err != nil {
		return err
	}
	if len(b.Captions) == 0 {
		return fmt.Errorf("updown: batch has no captions")
	}
	if len(b.ImageOf) != len(b.Captions) {
		return fmt.Errorf("updown: batch has %d captions but %d ImageOf entries", len(b.Captions), len(b.ImageOf))
	}
	for c, cap := range b.Captions {
		if im := b.ImageOf[c]; im < 0 || im >= len(b.Feats) {
			return fmt.Errorf("updown: caption %d belongs to image %d, batch has %d", c, im, len(b.Feats))
		}
		if len(cap) == 0 {
			return fmt.Errorf("updown: caption %d is empty", c)
		}
		for p, w := range cap {
			if w <= 0 || int(w) > cfg.VocabSize {
				return fmt.Errorf("updown: caption %d token %d is %d, want a word id in [1, %d]", c, p, w, cfg.VocabSize)
			}
		}
	}
	if !distill {
		return nil
	}
	if len(b.NounPos) != len(b.Captions) || len(b.Alpha) != len(b.Captions) {
		return fmt.Errorf("updown: distillation needs NounPos and Alpha per caption: %d captions, %d NounPos, %d Alpha", len(b.Captions), len(b.NounPos), len(b.Alpha))
	}
	for c, pos := range b.NounPos {
		k := b.NumBoxes[b.ImageOf[c]]
		if len(b.Alpha[c]) != len(pos)*k {
			return fmt.Errorf("updown: caption %d: Alpha has %d values, want %d nouns × %d boxes", c, len(b.Alpha[c]), len(pos), k)
		}
		for j, p := range pos {
			if p < 0 || p >= len(b.Captions[c]) {
				return fmt.Errorf("updown: caption %d noun %d at position %d outside the caption (length %d)", c, j, p, len(b.Captions[c]))
			}
		}
	}
	return nil
}

// maxBoxes returns the largest box count of the images.
func (im *Images) maxBoxes() int {
	k := 0
	for _, n := range im.NumBoxes {
		k = max(k, n)
	}
	return k
}

// padded returns the features padded to kpad regions, (nImg·kpad, D)
// row-major, the mean feature of each image's real regions (nImg, D) and the
// region mask (nImg, kpad).
func (im *Images) padded(d, kpad int) (feats, fc, mask []float32) {
	n := len(im.Feats)
	feats = make([]float32, n*kpad*d)
	fc = make([]float32, n*d)
	mask = make([]float32, n*kpad)
	for i, f := range im.Feats {
		k := im.NumBoxes[i]
		copy(feats[i*kpad*d:], f)
		sum := make([]float64, d)
		for r := 0; r < k; r++ {
			for j, x := range f[r*d : (r+1)*d] {
				sum[j] += float64(x)
			}
			mask[i*kpad+r] = 1
		}
		for j := range sum {
			fc[i*d+j] = float32(sum[j] / float64(k))
		}
	}
	return feats, fc, mask
}
