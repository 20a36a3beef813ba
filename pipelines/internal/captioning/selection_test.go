package captioning

import (
	"math"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/training/updown"
)

// handWorld is a val split of two images, the captioner's vocabulary and train document
// frequencies in which "a dog runs on the grass" is in every training image (idf 0) while "man",
// "rides" and "bike" are in one of ten; in the val references the dog and the man are each in
// one image of two.
type handWorld struct {
	words []string
	val   *Split
	sc    *caption.Scorer
	// id maps words to the captioner's ids.
	id func(string) []int32
}

func newHandWorld(t *testing.T) *handWorld {
	t.Helper()
	w := &handWorld{words: []string{"a", "dog", "runs", "on", "the", "grass", "man", "rides", "bike", "cat", "street", "UNK"}}
	id := func(s string) []int32 {
		var out []int32
		for _, f := range strings.Fields(s) {
			k := -1
			for i, v := range w.words {
				if v == f {
					k = i
				}
			}
			if k < 0 {
				t.Fatalf("word %q not in the vocabulary", f)
			}
			out = append(out, int32(k+1))
		}
		return out
	}
	row := func(img int64, c int32, raw, tokens string) *captionstable.Row {
		return &captionstable.Row{ImageID: img, Split: "val", CaptionIdx: c, Raw: raw, Tokens: strings.Fields(tokens), Labels: id(tokens)}
	}
	// Labels are the first 4 tokens (max_length 4); the raw captions go on.
	w.val = &Split{Images: []int64{7, 9}, Rows: [][]*captionstable.Row{
		{row(7, 0, "A dog runs on the grass.", "a dog runs on"), row(7, 1, "The dog runs on grass in the street.", "the dog runs on")},
		{row(9, 0, "A man rides a bike on the street.", "a man rides a"), row(9, 1, "The man rides the bike.", "the man rides the")},
	}}
	var train [][][]string
	for i := range 10 {
		refs := [][]string{{"a", "dog", "runs", "on", "the", "grass", captionstable.EOS}}
		if i == 0 {
			refs = append(refs, []string{"a", "man", "rides", "a", "bike", captionstable.EOS})
		}
		train = append(train, refs)
	}
	df, err := caption.BuildDocFreq(train)
	if err != nil {
		t.Fatal(err)
	}
	if w.sc, err = caption.NewScorer(df, updown.ScorerVocab(captionstable.EOS, w.words)); err != nil {
		t.Fatal(err)
	}
	w.id = id
	return w
}

// TestSelectionDocumentFrequencies scores two sets of greedy val captions that the two
// selections rank in opposite orders: coco-cider must equal coco-caption's CIDEr-D of the whole
// val references (eval/caption.Score on the raw captions: the val references' own document
// frequencies), train-df-cider the SCST reward's CIDEr-D on labels cut at max_len.
func TestSelectionDocumentFrequencies(t *testing.T) {
	w := newHandWorld(t)
	cap := func(s string) updown.Caption { return updown.Caption{Tokens: w.id(s), Ended: true} }
	// A describes image 7 well (dog, grass: worthless under the train frequencies), B image 9.
	sets := map[string][]updown.Caption{
		"A": {cap("a dog runs on the grass"), cap("a cat")},
		"B": {cap("a cat"), cap("the man rides")},
	}
	score := func(sel Selection, set string, maxLen int) float64 {
		t.Helper()
		s, err := NewSelector(sel, w.val, w.words, w.sc)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Score(sets[set], maxLen)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for set, caps := range sets {
		refs := map[int64][]string{}
		for i, id := range w.val.Images {
			for _, r := range w.val.Rows[i] {
				refs[id] = append(refs[id], r.Raw)
			}
		}
		preds := map[int64]string{}
		for i, id := range w.val.Images {
			var ws []string
			for _, k := range caps[i].Tokens {
				ws = append(ws, w.words[k-1])
			}
			preds[id] = strings.Join(ws, " ")
		}
		res, err := caption.Score(refs, preds, caption.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := score(SelectCOCO, set, 4); math.Abs(got-res.Corpus.CIDErD) > 1e-12 {
			t.Errorf("%s: coco-cider %g, coco-caption's CIDEr-D %g", set, got, res.Corpus.CIDErD)
		}
		// coco-cider reads the whole references: max_len does not enter.
		if a, b := score(SelectCOCO, set, 4), score(SelectCOCO, set, 2); a != b {
			t.Errorf("%s: coco-cider depends on max_len: %g (4) vs %g (2)", set, a, b)
		}
	}
	cocoA, cocoB := score(SelectCOCO, "A", 4), score(SelectCOCO, "B", 4)
	trainA, trainB := score(SelectTrainDF, "A", 4), score(SelectTrainDF, "B", 4)
	t.Logf("coco A %g B %g; train A %g B %g", cocoA, cocoB, trainA, trainB)
	if !(cocoA > cocoB) || !(trainB > trainA) {
		t.Errorf("coco-cider A %g, B %g (want A > B); train-df-cider A %g, B %g (want B > A)", cocoA, cocoB, trainA, trainB)
	}
	// train-df-cider cuts the references at max_len.
	if a, b := score(SelectTrainDF, "B", 4), score(SelectTrainDF, "B", 2); a == b {
		t.Errorf("train-df-cider does not depend on max_len: %g", a)
	}
}
