package captionstable

import (
	"slices"
	"testing"

	"github.com/groundcap/groundcap/eval/grounding"
)

// TestGroundingCaption checks the scored words of a caption: head words at their token index
// with every box of their chain (0-based pixels as float64), a repeated head index kept once, a
// head word past the tokens left out and counted.
func TestGroundingCaption(t *testing.T) {
	r := &Row{ImageID: 1, Tokens: []string{"a", "dog", "on", "grass"}}
	refs := []GroundingRef{
		{PhraseIdx: 0, HeadIndex: 1, Class: "dog", Boxes: []Box{{X1: 1, Y1: 2, X2: 3, Y2: 4}, {X1: 5, Y1: 6, X2: 7, Y2: 8}}},
		{PhraseIdx: 1, HeadIndex: 1, Class: "animal", Boxes: []Box{{X1: 9, Y1: 9, X2: 9, Y2: 9}}},
		{PhraseIdx: 2, HeadIndex: 4, Class: "grass", Boxes: []Box{{X1: 0, Y1: 0, X2: 1, Y2: 1}}},
		{PhraseIdx: 3, HeadIndex: 3, Class: "grass", Boxes: []Box{{X1: 0, Y1: 0, X2: 1, Y2: 1}}},
	}
	c, truncated := GroundingCaption(r, refs)
	if truncated != 1 {
		t.Errorf("truncated %d, want 1 (head index 4 of 4 tokens)", truncated)
	}
	want := []grounding.Word{
		{Class: "dog", Index: 1, Boxes: []grounding.Box{{1, 2, 3, 4}, {5, 6, 7, 8}}},
		{Class: "grass", Index: 3, Boxes: []grounding.Box{{0, 0, 1, 1}}},
	}
	if !slices.EqualFunc(c.Words, want, func(a, b grounding.Word) bool {
		return a.Class == b.Class && a.Index == b.Index && slices.Equal(a.Boxes, b.Boxes)
	}) || !slices.Equal(c.Tokens, r.Tokens) {
		t.Errorf("got %+v, want words %+v and the row's tokens", c, want)
	}
	for i, g := range []GroundingRef{{Class: "", Boxes: refs[0].Boxes}, {Class: "dog", NotVisual: true, Boxes: refs[0].Boxes},
		{Class: "dog", NoBox: true, Boxes: refs[0].Boxes}, {Class: "dog"}} {
		if g.Scored() {
			t.Errorf("%d: %+v scored, want not", i, g)
		}
	}
	if !refs[0].Scored() {
		t.Errorf("%+v not scored", refs[0])
	}
}
