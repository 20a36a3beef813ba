// Package grounding computes GVD's grounding metrics on Flickr30k Entities exactly as
// facebookresearch/grounded-video-description's eval_grd_flickr30k_entities.py does: F1_all and
// F1_loc of object words in generated captions ([F1]) and the localisation ("attention") accuracy on
// ground-truth captions ([AttentionAccuracy]). References come from the captions stage (a
// [References] value, JSON via [ReadReferences]) or straight from a Flickr30k Entities folder
// ([ReadEntities]); predictions are GVD submission files ([ReadSubmission]).
//
// Lemmas replace CoreNLP's by [NounLemmatizer], a rule-based English noun lemmatiser; its doc
// comment says where results could differ.
package grounding

import (
	"errors"
	"fmt"
	"sort"
)

// Box is an axis-aligned box x1, y1, x2, y2 in pixels, inclusive (width = x2 − x1 + 1).
type Box [4]float64

// Word is one annotated object word of a ground-truth caption.
type Word struct {
	Class string // grounding class (a single word of the class list)
	Index int    // position of the word in the caption's tokens
	Boxes []Box  // ground-truth boxes; a hit is IoU > 0.5 with any of them
}

// Caption is one ground-truth caption with its annotated words.
type Caption struct {
	Tokens []string
	Words  []Word
}

// ImageRef is the grounding reference of one image: its ground-truth captions (5 in Flickr30k).
type ImageRef struct {
	ImageID  int64
	Captions []Caption
}

// References are the grounding references of a split, in a fixed image order.
type References struct {
	Images []ImageRef
}

// Prediction is one grounded caption of a submission: per object word, its class, its index in the
// sentence and the predicted box.
type Prediction struct {
	Classes   []string
	IdxInSent []int
	Boxes     []Box
}

// Submission maps image ids to predictions: one per image for generated captions ([F1]), one per
// ground-truth caption for [AttentionAccuracy].
type Submission map[int64][]Prediction

// ErrInput marks malformed references or submissions. Test with errors.Is.
var ErrInput = errors.New("grounding: bad input")

// Validate checks the references: unique image ids, word indices inside the caption and unique
// within it, at least one box per word.
func (r *References) Validate() error {
	seen := make(map[int64]bool, len(r.Images))
	for i, img := range r.Images {
		if seen[img.ImageID] {
			return fmt.Errorf("%w: reference image %d appears twice", ErrInput, img.ImageID)
		}
		seen[img.ImageID] = true
		for c, cap := range img.Captions {
			idx := map[int]bool{}
			for w, word := range cap.Words {
				where := fmt.Sprintf("image %d (#%d) caption %d word %d", img.ImageID, i, c, w)
				if word.Index < 0 || word.Index >= len(cap.Tokens) {
					return fmt.Errorf("%w: %s: index %d outside the caption's %d tokens", ErrInput, where, word.Index, len(cap.Tokens))
				}
				if idx[word.Index] {
					return fmt.Errorf("%w: %s: index %d annotated twice", ErrInput, where, word.Index)
				}
				idx[word.Index] = true
				if len(word.Boxes) == 0 {
					return fmt.Errorf("%w: %s: no ground-truth box", ErrInput, where)
				}
				if word.Class == "" {
					return fmt.Errorf("%w: %s: empty class", ErrInput, where)
				}
			}
		}
	}
	return nil
}

// validate checks that the lists of p have equal lengths.
func (p Prediction) validate(img int64, k int) error {
	if len(p.Classes) != len(p.Boxes) || (p.IdxInSent != nil && len(p.IdxInSent) != len(p.Classes)) {
		return fmt.Errorf("%w: submission image %d entry %d: %d classes, %d idx_in_sent, %d boxes", ErrInput, img, k, len(p.Classes), len(p.IdxInSent), len(p.Boxes))
	}
	return nil
}

// iouThresh is GVD's hit threshold: a hit is IoU strictly greater.
const iouThresh = 0.5

// IoU is bbox_overlaps_batch of GVD for one predicted and one ground-truth box, in float32 as the
// reference computes it (torch.Tensor): widths and heights are x2 − x1 + 1; a ground-truth box of
// width and height 1 gives 0 and a predicted box of width and height 1 gives −1 (the reference's
// masks), otherwise Overlap.
func IoU(pred, gt Box) float32 {
	gw, gh := float32(float32(gt[2])-float32(gt[0]))+1, float32(float32(gt[3])-float32(gt[1]))+1
	pw, ph := float32(float32(pred[2])-float32(pred[0]))+1, float32(float32(pred[3])-float32(pred[1]))+1
	if pw == 1 && ph == 1 {
		return -1
	}
	if gw == 1 && gh == 1 {
		return 0
	}
	return Overlap(pred, gt)
}

// Overlap is bbox_overlaps of Faster R-CNN (the original's misc/bbox_transform.py) for two boxes,
// in float32 as it computes it: the intersection over the union with +1-pixel widths and
// heights (w = x2 − x1 + 1), without IoU's masks for boxes of width and height 1. The original
// computes the ground-truth attention of its use_gt_box rows with it.
func Overlap(a, b Box) float32 {
	p := [4]float32{float32(a[0]), float32(a[1]), float32(a[2]), float32(a[3])}
	g := [4]float32{float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])}
	gw, gh := float32(g[2]-g[0])+1, float32(g[3]-g[1])+1
	pw, ph := float32(p[2]-p[0])+1, float32(p[3]-p[1])+1
	gArea, pArea := float32(gw*gh), float32(pw*ph)
	iw := float32(min(p[2], g[2])-max(p[0], g[0])) + 1
	if iw < 0 {
		iw = 0
	}
	ih := float32(min(p[3], g[3])-max(p[1], g[1])) + 1
	if ih < 0 {
		ih = 0
	}
	inter := float32(iw * ih)
	ua := float32(float32(pArea+gArea) - inter)
	return float32(inter / ua)
}

// hit reports whether the maximal IoU of pred with the ground-truth boxes exceeds 0.5.
func hit(pred Box, gts []Box) bool {
	best := float32(-2)
	for _, g := range gts {
		if v := IoU(pred, g); v > best {
			best = v
		}
	}
	return best > iouThresh
}

// ClassScore is one class's row of the per-class table.
type ClassScore struct {
	Class     string
	Precision float64 // mean of the class's precision hits (0 when it has none)
	Recall    float64
	NumPrec   int // number of precision decisions
	NumRecall int
}

// sortedClasses returns the keys of m in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mean(h []bool) float64 {
	if len(h) == 0 {
		return 0
	}
	n := 0
	for _, x := range h {
		if x {
			n++
		}
	}
	return float64(n) / float64(len(h))
}
