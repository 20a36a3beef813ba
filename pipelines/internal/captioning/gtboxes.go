package captioning

import (
	"fmt"
	"math"
	"slices"

	"github.com/groundcap/groundcap/eval/grounding"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
)

// GTTarget is the form of the ground-truth attention of the original's use_gt_box rows
// (scripts/prepro_labels.py, misc/loss_wrapper.py).
type GTTarget string

// Ground-truth attention forms.
const (
	// GTArgmax is the paper's "NLL(GT)" rows (--att_sup_crit NLL): α is one-hot on the region
	// of largest overlap with the word's box, for words whose largest overlap exceeds 0.5; other
	// words are not supervised. KL towards a one-hot α is the NLL −log β of that region.
	GTArgmax GTTarget = "argmax"
	// GTSoftmax is the original code's KL form (--att_sup_crit KL, not in the paper's tables):
	// α = softmax_k(overlap_k / GTTemperature) over the image's regions, for every annotated word.
	GTSoftmax GTTarget = "softmax"
)

// UnmarshalText parses argmax or softmax; an empty form stays empty.
func (g *GTTarget) UnmarshalText(b []byte) error {
	return config.ParseEnum(g, b, "captioning: unknown ground-truth attention", "", GTArgmax, GTSoftmax)
}

// GTTemperature divides the overlaps before the softmax of GTSoftmax (the original's
// softmax(box_inds / 0.5)).
const GTTemperature = 0.5

// GTThreshold is the overlap a region must exceed to be GTArgmax's target (the original's
// values > 0.5).
const GTThreshold = 0.5

// GTBoxes gives α from the ground-truth boxes of the captions' annotated words (the original's
// use_gt_box rows) instead of a matching model. The annotated words of a caption are the head
// words of its boxed phrases that have a grounding class (the captions stage's grounding_refs,
// as the evaluate stages derive their own references), at their token index, within the row's
// labels (the captions' max_length) and not UNK; where two phrases share a head word the first
// phrase's boxes count. A word's boxes are every box of its phrase's chain; the overlap of a
// region with the word is its largest Overlap with one of them. Captions without an annotated
// word get no supervised position and so contribute no KL.
type GTBoxes struct {
	target GTTarget
	unk    int32
	words  map[capKey][]gtWord
}

type capKey struct {
	image   int64
	caption int32
}

type gtWord struct {
	pos   int
	boxes []grounding.Box
}

// NewGTBoxes indexes the grounding references. unk is the vocabulary id of UNK (0: none), whose
// positions are never supervised.
func NewGTBoxes(refs []captionstable.GroundingRef, target GTTarget, unk int32) (*GTBoxes, error) {
	if target != GTArgmax && target != GTSoftmax {
		return nil, fmt.Errorf("captioning: ground-truth attention %q (want argmax or softmax)", target)
	}
	sorted := make([]*captionstable.GroundingRef, 0, len(refs))
	for i := range refs {
		r := &refs[i]
		if r.Class == "" || r.NotVisual || r.NoBox || len(r.Boxes) == 0 || r.HeadIndex < 0 {
			continue
		}
		sorted = append(sorted, r)
	}
	slices.SortFunc(sorted, func(a, b *captionstable.GroundingRef) int { return a.Compare(b) })
	g := &GTBoxes{target: target, unk: unk, words: map[capKey][]gtWord{}}
	for _, r := range sorted {
		k := capKey{r.ImageID, r.CaptionIdx}
		if slices.ContainsFunc(g.words[k], func(w gtWord) bool { return w.pos == int(r.HeadIndex) }) {
			continue
		}
		w := gtWord{pos: int(r.HeadIndex)}
		for _, b := range r.Boxes {
			w.boxes = append(w.boxes, grounding.Box{float64(b.X1), float64(b.Y1), float64(b.X2), float64(b.Y2)})
		}
		g.words[k] = append(g.words[k], w)
	}
	for _, ws := range g.words {
		slices.SortFunc(ws, func(a, b gtWord) int { return a.pos - b.pos })
	}
	return g, nil
}

// Alphas implements AlphaSource: per caption row, the positions of its supervised annotated
// words and their α over the image's regions.
func (g *GTBoxes) Alphas(rec *feat.Record, rows []*captionstable.Row) ([][]int, [][]float32, error) {
	if len(rec.Boxes) < 4*rec.NumBoxes {
		return nil, nil, fmt.Errorf("captioning: image %d: %d box values for %d regions", rec.ImageID, len(rec.Boxes), rec.NumBoxes)
	}
	regions := rec.Boxes[:4*rec.NumBoxes]
	pos := make([][]int, len(rows))
	alpha := make([][]float32, len(rows))
	for c, r := range rows {
		for _, w := range g.words[capKey{r.ImageID, r.CaptionIdx}] {
			if w.pos >= len(r.Labels) || r.Labels[w.pos] == g.unk && g.unk != 0 {
				continue // past max_length (never emitted in training), or UNK
			}
			a := GTAlpha(regions, w.boxes, g.target)
			if a == nil {
				continue
			}
			pos[c] = append(pos[c], w.pos)
			alpha[c] = append(alpha[c], a...)
		}
	}
	return pos, alpha, nil
}

// GTAlpha returns the ground-truth attention over the regions of boxes (x1 y1 x2 y2 per region)
// for a word whose boxes are gts: with GTSoftmax softmax_k(o_k / GTTemperature), o_k the
// largest Overlap of region k with one of gts; with GTArgmax one-hot on the first region of
// largest o_k, or nil when that o_k does not exceed GTThreshold.
func GTAlpha(boxes []float32, gts []grounding.Box, target GTTarget) []float32 {
	k := len(boxes) / 4
	if k == 0 {
		return nil
	}
	o := make([]float64, k)
	best := 0
	for i := range k {
		r := grounding.Box{float64(boxes[4*i]), float64(boxes[4*i+1]), float64(boxes[4*i+2]), float64(boxes[4*i+3])}
		for j, gt := range gts {
			if v := float64(grounding.Overlap(r, gt)); j == 0 || v > o[i] {
				o[i] = v
			}
		}
		if o[i] > o[best] {
			best = i
		}
	}
	out := make([]float32, k)
	if target == GTArgmax {
		if !(o[best] > GTThreshold) {
			return nil
		}
		out[best] = 1
		return out
	}
	var sum float64
	top := o[best]
	for i, v := range o {
		o[i] = math.Exp((v - top) / GTTemperature)
		sum += o[i]
	}
	for i, e := range o {
		out[i] = float32(e / sum)
	}
	return out
}
