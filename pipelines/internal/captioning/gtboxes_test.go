package captioning

import (
	"math"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/eval/grounding"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
)

// Three 10×10 regions (+1-pixel widths): r0 at the origin, r1 overlapping it by 5×5, r2 apart.
var handRegions = []float32{0, 0, 9, 9, 5, 5, 14, 14, 20, 20, 29, 29}

// TestGTAlphaByHand checks both forms against the formula worked by hand: a box identical to r0
// overlaps r0 by 1, r1 by 25/175 = 1/7 and r2 by 0.
func TestGTAlphaByHand(t *testing.T) {
	gt := []grounding.Box{{0, 0, 9, 9}}
	e0, e1, e2 := math.Exp(1/GTTemperature), math.Exp((1.0/7)/GTTemperature), 1.0
	want := []float64{e0 / (e0 + e1 + e2), e1 / (e0 + e1 + e2), e2 / (e0 + e1 + e2)}
	got := GTAlpha(handRegions, gt, GTSoftmax)
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Errorf("softmax α[%d] = %g, want %g (α %v)", i, got[i], want[i], got)
		}
	}
	if got[0] <= got[1] || got[1] <= got[2] {
		t.Errorf("softmax α %v: the identical region must weigh most, the disjoint one least", got)
	}
	if a := GTAlpha(handRegions, gt, GTArgmax); !slices.Equal(a, []float32{1, 0, 0}) {
		t.Errorf("argmax α %v, want one-hot on the identical region", a)
	}
	// Two boxes of the word's chain: a region's overlap is its largest with either, so r1 and
	// r2 tie at 1 and argmax takes the first of them.
	two := []grounding.Box{{20, 20, 29, 29}, {5, 5, 14, 14}}
	if a := GTAlpha(handRegions, two, GTArgmax); !slices.Equal(a, []float32{0, 1, 0}) {
		t.Errorf("argmax α over two boxes %v, want one-hot on r1", a)
	}
	s := GTAlpha(handRegions, two, GTSoftmax)
	w := e1 / (e1 + 2*e0)
	if math.Abs(float64(s[0])-w) > 1e-6 || s[1] != s[2] {
		t.Errorf("softmax α over two boxes %v, want [%g, x, x]", s, w)
	}
	// Argmax supervises only a largest overlap above 0.5: half of r0 overlaps exactly 0.5.
	if a := GTAlpha(handRegions, []grounding.Box{{0, 0, 9, 4}}, GTArgmax); a != nil {
		t.Errorf("argmax α %v for a largest overlap of 0.5, want none", a)
	}
	far := []grounding.Box{{100, 100, 120, 120}}
	if a := GTAlpha(handRegions, far, GTArgmax); a != nil {
		t.Errorf("argmax α %v for a box no region touches, want none", a)
	}
	if a := GTAlpha(handRegions, far, GTSoftmax); !slices.Equal(a, []float32{float32(1.0 / 3), float32(1.0 / 3), float32(1.0 / 3)}) {
		t.Errorf("softmax α %v for a box no region touches, want uniform (the original supervises it)", a)
	}
	if a := GTAlpha(nil, gt, GTSoftmax); a != nil {
		t.Errorf("α over no region %v", a)
	}
}

// TestGTBoxesWords checks which caption positions get α: annotated head words with a class and
// boxes, within the labels, not UNK, the first phrase of a shared head word; none for a caption
// without an annotated word.
func TestGTBoxesWords(t *testing.T) {
	box := func(x1, y1, x2, y2 int32) []captionstable.Box {
		return []captionstable.Box{{X1: x1, Y1: y1, X2: x2, Y2: y2}}
	}
	refs := []captionstable.GroundingRef{
		// Listed out of order: phrase 4 shares phrase 0's head word and must not win.
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 4, HeadIndex: 1, Class: "dog", Boxes: box(20, 20, 29, 29)},
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 0, HeadIndex: 1, Class: "dog", Boxes: box(0, 0, 9, 9)},
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 1, HeadIndex: 3, Class: "man", Boxes: box(5, 5, 14, 14)},
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 2, HeadIndex: 2, Class: "hat", Boxes: box(0, 0, 9, 9)},  // UNK
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 3, HeadIndex: 5, Class: "ball", Boxes: box(0, 0, 9, 9)}, // past the labels
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 5, HeadIndex: 0, Class: "", Boxes: box(0, 0, 9, 9)},     // no class
		{ImageID: 7, CaptionIdx: 0, PhraseIdx: 6, HeadIndex: 0, Class: "cat", NoBox: true},             // no box
		{ImageID: 7, CaptionIdx: 2, PhraseIdx: 0, HeadIndex: 0, Class: "cat", Boxes: box(20, 20, 29, 29)},
		{ImageID: 8, CaptionIdx: 1, PhraseIdx: 0, HeadIndex: 0, Class: "cat", Boxes: box(0, 0, 9, 9)}, // another image
	}
	const unk = 9
	rows := []*captionstable.Row{
		{ImageID: 7, CaptionIdx: 0, Labels: []int32{4, 5, unk, 6, 7}},
		{ImageID: 7, CaptionIdx: 1, Labels: []int32{4, 5, 6}},
		{ImageID: 7, CaptionIdx: 2, Labels: []int32{4, 5}},
	}
	rec := &feat.Record{ImageID: 7, NumBoxes: 3, Boxes: handRegions}
	g, err := NewGTBoxes(refs, GTArgmax, unk)
	if err != nil {
		t.Fatal(err)
	}
	pos, alpha, err := g.Alphas(rec, rows)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pos[0], []int{1, 3}) || !slices.Equal(alpha[0], []float32{1, 0, 0, 0, 1, 0}) {
		t.Errorf("caption 0: positions %v α %v, want [1 3] one-hot on r0 then r1", pos[0], alpha[0])
	}
	if pos[1] != nil || alpha[1] != nil {
		t.Errorf("caption 1 has no annotated word, got positions %v α %v", pos[1], alpha[1])
	}
	if !slices.Equal(pos[2], []int{0}) || !slices.Equal(alpha[2], []float32{0, 0, 1}) {
		t.Errorf("caption 2: positions %v α %v, want [0] one-hot on r2", pos[2], alpha[2])
	}
	if _, err := NewGTBoxes(refs, "uniform", unk); err == nil {
		t.Error("an unknown ground-truth attention form was accepted")
	}
	if _, _, err := g.Alphas(&feat.Record{ImageID: 7, NumBoxes: 4, Boxes: handRegions}, rows); err == nil {
		t.Error("a record with fewer box values than regions was accepted")
	}
}
