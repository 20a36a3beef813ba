package grounding

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// tol bounds float comparisons of values derived by hand (exact fractions).
const tol = 1e-12

func TestIoU(t *testing.T) {
	cases := []struct {
		p, g Box
		want float32
	}{
		{Box{0, 0, 9, 9}, Box{0, 0, 9, 9}, 1},           // 0 identical
		{Box{0, 0, 9, 9}, Box{5, 0, 14, 9}, 50.0 / 150}, // 1 +1 px widths: inter 5×10, union 150
		{Box{0, 0, 9, 9}, Box{20, 20, 29, 29}, 0},       // 2 disjoint
		{Box{3, 3, 3, 3}, Box{0, 0, 9, 9}, -1},          // 3 predicted box of 1×1 px: masked to −1
		{Box{0, 0, 9, 9}, Box{3, 3, 3, 3}, 0},           // 4 GT box of 1×1 px: masked to 0
		{Box{0, 0, 9, 9}, Box{10, 0, 19, 9}, 0},         // 5 touching edges: iw = 0
	}
	for i, c := range cases {
		if got := IoU(c.p, c.g); got != c.want {
			t.Errorf("%d: IoU(%v, %v) = %v, want %v", i, c.p, c.g, got, c.want)
		}
	}
	// Strictness: IoU exactly 0.5 is not a hit (inter 5×10 = 50, union 100).
	if hit(Box{20, 20, 24, 29}, []Box{{20, 20, 29, 29}}) {
		t.Error("IoU 0.5 counted as a hit")
	}
	// Several GT boxes: the best one counts.
	if !hit(Box{0, 0, 9, 9}, []Box{{50, 50, 60, 60}, {0, 0, 9, 9}}) {
		t.Error("hit on the second GT box missed")
	}
	// Overlap is the same quantity without the masks of 1×1-pixel boxes.
	for i, c := range cases {
		want := c.want
		switch i {
		case 3, 4:
			want = 1.0 / 100 // one pixel inside a 10×10 box
		}
		if got := Overlap(c.p, c.g); got != want {
			t.Errorf("%d: Overlap(%v, %v) = %v, want %v", i, c.p, c.g, got, want)
		}
	}
}

var (
	g1 = Box{0, 0, 9, 9}
	g2 = Box{20, 20, 29, 29}
	g3 = Box{50, 50, 59, 59}
)

// handRefs is the hand-made reference of TestF1 and TestAttentionAccuracy.
func handRefs() *References {
	return &References{Images: []ImageRef{
		{ImageID: 1, Captions: []Caption{
			{Tokens: strings.Fields("a man with a dog and dogs"), Words: []Word{{"man", 1, []Box{g1}}, {"dog", 4, []Box{g2}}}},
			{Tokens: strings.Fields("a woman near dogs and a tree"), Words: []Word{{"woman", 1, []Box{g1}}, {"tree", 6, []Box{g3}}}},
		}},
		{ImageID: 2, Captions: []Caption{
			{Tokens: strings.Fields("a man and boy"), Words: []Word{{"man", 1, []Box{g1}}, {"boy", 3, []Box{g2}}}},
		}},
	}}
}

func TestF1(t *testing.T) {
	sub := Submission{
		1:  {{Classes: []string{"man", "dog", "cat", "tree"}, Boxes: []Box{g1, {20, 20, 24, 29}, {0, 0, 1, 1}, g3}}},
		99: {{Classes: []string{"man"}, Boxes: []Box{g1}}}, // not in the references: ignored
	}
	// Hand derivation. Classes of predicted images' captions: man, dog, woman, tree (4); boy is only
	// in image 2, which has no prediction.
	// Precision, caption 1: man hit; dog IoU 0.5 → miss; cat hallucinated (all: 0); tree not in the
	// caption (all: 0). Caption 2: man not annotated (all: 0); dog skipped ("dogs" is an unannotated
	// token whose lemma is dog); cat (all: 0); tree hit.
	//   all: man [1 0] .5, dog [0] 0, cat [0 0] 0, tree [0 1] .5 → P = 1/4
	//   loc: man [1] 1, dog [0] 0, tree [1] 1 → P = 2/4
	// Recall: man hit (img 1), man miss (img 2 not predicted), dog miss, woman not predicted (all: 0),
	// tree hit, boy miss (img 2).
	//   all: man .5, dog 0, woman 0, tree 1, boy 0 → R = 1.5/4
	//   loc: man .5, dog 0, tree 1, boy 0 → R = 1.5/4
	cases := []struct {
		mode     Mode
		p, r, f1 float64
	}{
		{ModeAll, 0.25, 0.375, 2 * 0.25 * 0.375 / 0.625}, // 0
		{ModeLoc, 0.5, 0.375, 2 * 0.5 * 0.375 / 0.875},   // 1
	}
	for i, c := range cases {
		res, err := F1(handRefs(), sub, c.mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !scalar.EqualWithinAbs(res.Precision, c.p, tol) || !scalar.EqualWithinAbs(res.Recall, c.r, tol) || !scalar.EqualWithinAbs(res.F1, c.f1, tol) {
			t.Errorf("%d %v: got P %v R %v F1 %v, want %v %v %v", i, c.mode, res.Precision, res.Recall, res.F1, c.p, c.r, c.f1)
		}
		if res.NumClasses != 4 || res.NumPredicted != 1 || res.NumImages != 2 {
			t.Errorf("%d: classes %d predicted %d images %d, want 4 1 2", i, res.NumClasses, res.NumPredicted, res.NumImages)
		}
		if len(res.IgnoredPredictions) != 1 || res.IgnoredPredictions[0] != 99 {
			t.Errorf("%d: ignored %v, want [99]", i, res.IgnoredPredictions)
		}
		if len(res.PerClass) != 4 || res.PerClass[0].Class != "man" || res.PerClass[0].NumRecall != 2 {
			t.Errorf("%d: per-class %+v", i, res.PerClass)
		}
	}
}

// TestF1FirstOccurrence: precision uses the first GT occurrence of a class and recall the first
// predicted box of a class.
func TestF1FirstOccurrence(t *testing.T) {
	refs := &References{Images: []ImageRef{{ImageID: 5, Captions: []Caption{
		{Tokens: strings.Fields("a man and a man"), Words: []Word{{"man", 4, []Box{g2}}, {"man", 1, []Box{g1}}}},
	}}}}
	// Predicted man boxes: g2 then g1. Precision: both compared with the first occurrence (index 1, g1):
	// [0 1] → .5. Recall: both GT words compared with the first predicted box (g2): index 4 hit, index 1
	// miss → .5. One class: P = R = F1 = .5.
	sub := Submission{5: {{Classes: []string{"man", "man"}, Boxes: []Box{g2, g1}}}}
	res, err := F1(refs, sub, ModeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Precision != 0.5 || res.Recall != 0.5 || res.F1 != 0.5 {
		t.Errorf("got P %v R %v F1 %v, want .5 .5 .5", res.Precision, res.Recall, res.F1)
	}
	// P + R = 0 gives F1 = 0 (the reference prints nan).
	res, err = F1(refs, Submission{5: {{Classes: []string{"man"}, Boxes: []Box{g3}}}}, ModeAll, nil)
	if err != nil || res.F1 != 0 || res.Precision != 0 {
		t.Errorf("all misses: got %+v, %v", res, err)
	}
}

func TestF1Errors(t *testing.T) {
	refs := handRefs()
	if _, err := F1(refs, Submission{1: {}}, ModeAll, nil); !errors.Is(err, ErrInput) {
		t.Errorf("empty entry list: got %v", err)
	}
	// GVD's grd_eval asserts one entry per image; a second is an error, not ignored.
	two := []Prediction{{Classes: []string{"man"}, Boxes: []Box{g1}}, {Classes: []string{"dog"}, Boxes: []Box{g3}}}
	if _, err := F1(refs, Submission{1: two}, ModeAll, nil); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "image 1 has 2 entries") {
		t.Errorf("two entries for one image: got %v", err)
	}
	if _, err := F1(refs, Submission{1: {{Classes: []string{"man"}}}}, ModeAll, nil); !errors.Is(err, ErrInput) {
		t.Errorf("box count mismatch: got %v", err)
	}
	if _, err := F1(refs, Submission{}, ModeAll, nil); !errors.Is(err, ErrInput) {
		t.Errorf("no predicted image: got %v", err)
	}
	if _, err := F1(refs, Submission{}, Mode(7), nil); err == nil {
		t.Error("invalid mode accepted")
	}
	bad := []*References{
		{Images: []ImageRef{{ImageID: 1}, {ImageID: 1}}},                                                                                          // 0 duplicate image
		{Images: []ImageRef{{ImageID: 1, Captions: []Caption{{Tokens: []string{"a"}, Words: []Word{{"a", 3, []Box{g1}}}}}}}},                      // 1 index out of range
		{Images: []ImageRef{{ImageID: 1, Captions: []Caption{{Tokens: []string{"a"}, Words: []Word{{"a", 0, []Box{g1}}, {"b", 0, []Box{g1}}}}}}}}, // 2 index twice
		{Images: []ImageRef{{ImageID: 1, Captions: []Caption{{Tokens: []string{"a"}, Words: []Word{{"a", 0, nil}}}}}}},                            // 3 no box
		{Images: []ImageRef{{ImageID: 1, Captions: []Caption{{Tokens: []string{"a"}, Words: []Word{{"", 0, []Box{g1}}}}}}}},                       // 4 no class
	}
	for i, r := range bad {
		if err := r.Validate(); !errors.Is(err, ErrInput) {
			t.Errorf("%d: got %v, want ErrInput", i, err)
		}
	}
	if m, err := ParseMode("loc"); err != nil || m != ModeLoc || m.String() != "loc" {
		t.Errorf("ParseMode(loc) = %v, %v", m, err)
	}
	if _, err := ParseMode("both"); err == nil {
		t.Error("ParseMode accepted both")
	}
}

func TestAttentionAccuracy(t *testing.T) {
	sub := Submission{1: {
		{Classes: []string{"man", "dog"}, IdxInSent: []int{1, 4}, Boxes: []Box{g1, g3}}, // man hit, dog miss
		{Classes: []string{"tree"}, IdxInSent: []int{6}, Boxes: []Box{g3}},              // tree hit; woman not grounded
	}}
	// Per class: man [1, 0 (image 2 has no prediction)] .5, dog 0, woman 0, tree 1, boy 0 → 1.5/5.
	res, err := AttentionAccuracy(handRefs(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if !scalar.EqualWithinAbs(res.Accuracy, 0.3, tol) {
		t.Errorf("accuracy %v, want 0.3", res.Accuracy)
	}
	if len(res.PerClass) != 5 || res.PerClass[0].Class != "man" || res.PerClass[0].Recall != 0.5 {
		t.Errorf("per-class %+v", res.PerClass)
	}
	if _, err := AttentionAccuracy(handRefs(), Submission{1: sub[1][:1]}); !errors.Is(err, ErrInput) {
		t.Errorf("one entry for two captions: got %v", err)
	}
	if _, err := AttentionAccuracy(handRefs(), Submission{1: {{Classes: []string{"man"}, Boxes: []Box{g1}}, {}}}); !errors.Is(err, ErrInput) {
		t.Errorf("no idx_in_sent: got %v", err)
	}
}

func TestNounLemmatizer(t *testing.T) {
	// Expected lemmas are the dictionary singulars (as CoreNLP gives for nouns).
	cases := map[string]string{
		"men": "man", "women": "woman", "children": "child", "people": "people", "feet": "foot",
		"teeth": "tooth", "mice": "mouse", "geese": "goose", "policemen": "policeman",
		"policewomen": "policewoman", "specimen": "specimen", "knives": "knife", "leaves": "leaf",
		"babies": "baby", "movies": "movie", "tomatoes": "tomato", "shoes": "shoe", "canoes": "canoe",
		"glasses": "glass", "brushes": "brush", "boxes": "box", "benches": "bench",
		"mustaches": "mustache", "buzzes": "buzz", "dogs": "dog", "Dogs": "dog", "dress": "dress",
		"bus": "bus", "buses": "bus", "cactus": "cactus", "tennis": "tennis", "sheep": "sheep",
		"dog": "dog", "was": "was", "gloves": "glove", "houses": "house", "skis": "ski", "cat": "cat",
	}
	var l NounLemmatizer
	for in, want := range cases {
		if got := l.Lemma(in); got != want {
			t.Errorf("Lemma(%q) = %q, want %q", in, got, want)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// duplicated returns refs and sub with image id's entries copied under newID (an image counted
// twice, as a bootstrap replicate weighs it).
func duplicated(refs *References, sub Submission, id, newID int64) (*References, Submission) {
	out := &References{Images: append([]ImageRef(nil), refs.Images...)}
	for _, img := range refs.Images {
		if img.ImageID == id {
			img.ImageID = newID
			out.Images = append(out.Images, img)
		}
	}
	s2 := Submission{}
	for k, v := range sub {
		s2[k] = v
	}
	if p, ok := sub[id]; ok {
		s2[newID] = p
	}
	return out, s2
}

func TestF1StatisticResamples(t *testing.T) {
	refs := handRefs()
	sub := Submission{
		1: {{Classes: []string{"man", "dog", "cat", "tree"}, Boxes: []Box{g1, {20, 20, 24, 29}, {0, 0, 1, 1}, g3}}},
		2: {{Classes: []string{"boy"}, Boxes: []Box{g1}}},
	}
	for _, mode := range []Mode{ModeAll, ModeLoc} {
		full, err := F1(refs, sub, mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := F1Counts(refs, sub, mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := NewF1Statistic(c.PerImage)
		if p, r, f := st.PRF([]float64{1, 1}); p != full.Precision || r != full.Recall || f != full.F1 {
			t.Errorf("%s: weights 1 give P %v R %v F1 %v, F1() %v %v %v", mode, p, r, f, full.Precision, full.Recall, full.F1)
		}
		// Weights (1, 2): image 2 counted twice equals scoring a copy of it under another id.
		r2, s2 := duplicated(refs, sub, 2, 3)
		dup, err := F1(r2, s2, mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, r, f := st.PRF([]float64{1, 2}); !scalar.EqualWithinAbs(p, dup.Precision, tol) || !scalar.EqualWithinAbs(r, dup.Recall, tol) || !scalar.EqualWithinAbs(f, dup.F1, tol) {
			t.Errorf("%s: weights (1, 2) give %v %v %v, with a copy %v %v %v", mode, p, r, f, dup.Precision, dup.Recall, dup.F1)
		}
		// Weights (0, 1): image 1 left out; image 2 alone.
		alone, err := F1(&References{Images: refs.Images[1:]}, Submission{2: sub[2]}, mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f := st.Value([]float64{0, 1}); !scalar.EqualWithinAbs(f, alone.F1, tol) {
			t.Errorf("%s: weights (0, 1): F1 %v, image 2 alone %v", mode, f, alone.F1)
		}
	}
}

func TestAccuracyStatisticResamples(t *testing.T) {
	refs := handRefs()
	sub := Submission{
		1: {{Classes: []string{"man", "dog"}, IdxInSent: []int{1, 4}, Boxes: []Box{g1, g1}}, {Classes: []string{"tree"}, IdxInSent: []int{6}, Boxes: []Box{g3}}},
		2: {{Classes: []string{"boy"}, IdxInSent: []int{3}, Boxes: []Box{g2}}},
	}
	full, err := AttentionAccuracy(refs, sub)
	if err != nil {
		t.Fatal(err)
	}
	c, err := AccuracyCounts(refs, sub)
	if err != nil {
		t.Fatal(err)
	}
	st := AccuracyStatistic(c.PerImage)
	if got := st.Value([]float64{1, 1}); got != full.Accuracy {
		t.Errorf("weights 1: %v, AttentionAccuracy %v", got, full.Accuracy)
	}
	r2, s2 := duplicated(refs, sub, 1, 5)
	dup, err := AttentionAccuracy(r2, s2)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Value([]float64{2, 1}); !scalar.EqualWithinAbs(got, dup.Accuracy, tol) {
		t.Errorf("weights (2, 1): %v, with a copy %v", got, dup.Accuracy)
	}
}
