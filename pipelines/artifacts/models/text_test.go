package models_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// textVocabs builds a captioner vocabulary (count > 5) and a matching one (count ≥ 4) from the
// same counts: "dog" (8) is in both, "cat" (4) only in the matching one, "." (9) is a matching
// token, "zebra" (1) in neither.
func textVocabs() (*vocab.Vocab, *vocab.Matching) {
	c := vocab.Counts{Words: map[string]int64{"a": 20, "dog": 8, "cat": 4, ".": 9, "zebra": 1}}
	return vocab.Build(c, 5), vocab.BuildMatching(c, 4)
}

func TestTextSentence(t *testing.T) {
	cv, mv := textVocabs()
	orig, err := models.NewText(models.TextOriginal, mv, cv)
	if err != nil {
		t.Fatal(err)
	}
	// "a cat dog": cat is UNK for the captioner, so the reward code sees "unk" → <unk>.
	ids := cv.Encode([]string{"a", "cat", "dog"}, nil)
	c, err := orig.Sentence(ids, []bool{false, false, true})
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{vocab.StartID, mv.ID("a"), vocab.UnkID, mv.ID("dog"), mv.ID("."), vocab.EndID}
	if !slices.Equal(c.IDs, want) || !slices.Equal(c.Nouns, []bool{false, false, false, true, false, false}) {
		t.Errorf("original sentence: ids %v nouns %v, want %v and the noun at position 3", c.IDs, c.Nouns, want)
	}
	if orig.Offset() != 1 || orig.VocabSize(cv.Size()+1) != mv.Size() {
		t.Errorf("offset %d, vocab size %d (matching %d)", orig.Offset(), orig.VocabSize(cv.Size()+1), mv.Size())
	}
	capt, err := models.NewText(models.TextCaptioner, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err = capt.Sentence(ids, []bool{false, false, true})
	if err != nil || !slices.Equal(c.IDs, ids) || capt.Offset() != 0 {
		t.Errorf("captioner sentence: %v %v (offset %d), want the labels %v", c.IDs, err, capt.Offset(), ids)
	}
	if _, err := orig.Sentence([]int32{int32(len(cv.IxToWord))}, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("an id outside the captioner's vocabulary: %v", err)
	}
	if _, err := models.NewText("labels", nil, nil); err == nil {
		t.Error("an unknown text mode was accepted")
	}
}

func TestTextCaption(t *testing.T) {
	cv, mv := textVocabs()
	orig, _ := models.NewText(models.TextOriginal, mv, cv)
	capt, _ := models.NewText(models.TextCaptioner, nil, nil)
	r := captionstable.Row{ImageID: 7, CaptionIdx: 1, Labels: []int32{1, 2}, NounMask: []bool{false, true},
		MatchIDs: []int32{1, 4, 5, 6, 2}, MatchNounMask: []bool{false, false, true, false, false}}
	if c, err := orig.Caption(&r); err != nil || !slices.Equal(c.IDs, r.MatchIDs) || !slices.Equal(c.Nouns, r.MatchNounMask) {
		t.Errorf("original: %v %v", c, err)
	}
	if c, err := capt.Caption(&r); err != nil || !slices.Equal(c.IDs, r.Labels) {
		t.Errorf("captioner: %v %v", c, err)
	}
	r.MatchIDs = nil
	if _, err := orig.Caption(&r); err == nil || !strings.Contains(err.Error(), "image 7 caption 1") {
		t.Errorf("a row without match_ids: %v", err)
	}
}

// TestSentenceAlignment: the rows of <start>, "." and <end> are dropped, the others move to
// the words' positions.
func TestSentenceAlignment(t *testing.T) {
	cv, mv := textVocabs()
	orig, _ := models.NewText(models.TextOriginal, mv, cv)
	// A sentence of 2 words encodes as 5 positions; plain SCAN attends at all 5 (2 regions).
	al := tscan.Alignment{Positions: []int32{0, 1, 2, 3, 4}, Regions: 2, Score: 0.5,
		Attention: []float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}}
	got := orig.SentenceAlignment(al, 2)
	if !slices.Equal(got.Positions, []int32{0, 1}) || !slices.Equal(got.Attention, []float32{1, 1, 2, 2}) || got.Score != 0.5 || got.Regions != 2 {
		t.Errorf("got %+v", got)
	}
	capt, _ := models.NewText(models.TextCaptioner, nil, nil)
	if got := capt.SentenceAlignment(al, 5); !slices.Equal(got.Positions, al.Positions) || !slices.Equal(got.Attention, al.Attention) {
		t.Errorf("captioner text changed the alignment: %+v", got)
	}
}

// TestTextStore: a model carries its text input through its checkpoint; a model without one
// reads the captioner's labels.
func TestTextStore(t *testing.T) {
	cv, mv := textVocabs()
	orig, _ := models.NewText(models.TextOriginal, mv, cv)
	cfg := tscan.DefaultConfig()
	cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.WordDim = mv.Size(), 4, 4, 4
	m, err := tscan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := models.TextOf(m); err != nil || got.Mode != models.TextCaptioner {
		t.Fatalf("a model without text meta: %+v %v", got, err)
	}
	if err := orig.Store(m); err != nil {
		t.Fatal(err)
	}
	c, err := m.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := tscan.FromCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := models.TextOf(m2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != models.TextOriginal || !slices.Equal(got.Match.IxToWord, mv.IxToWord) || !slices.Equal(got.Words, cv.IxToWord) {
		t.Errorf("round trip: %+v", got)
	}
	scfg := tscan.DefaultConfig()
	scfg.Vocab, scfg.ImgDim, scfg.Embed, scfg.WordDim = mv.Size()+1, 4, 4, 4
	small, _ := tscan.New(scfg)
	if err := orig.Store(small); err != nil {
		t.Fatal(err)
	}
	if _, err := models.TextOf(small); err == nil || !strings.Contains(err.Error(), "embeds") {
		t.Errorf("a model whose vocabulary size disagrees with its matching vocabulary: %v", err)
	}
}
