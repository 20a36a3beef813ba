package models

import (
	"encoding/json"
	"fmt"

	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// The matching model's text inputs (the text setting of the scan stages).
const (
	// TextOriginal is the original code's input: the matching vocabulary (match_vocab.json,
	// threshold 4, <pad> <start> <end> <unk>), training and retrieval captions whole with their
	// punctuation framed by <start>/<end> (the captions stage's match_ids), and a captioner's
	// sentence (a sampled caption, or a ground-truth caption decoded from the captioner's
	// labels) as the reward code encodes it: <start>, its words lower-cased, ".", <end>.
	TextOriginal = "original"
	// TextCaptioner is the captioner's input: its vocabulary and labels (count > 5, cut at
	// max_length, no extra tokens) for every caption and sentence.
	TextCaptioner = "captioner"
)

// Checkpoint meta keys under which a matching model carries its text input.
const (
	metaText           = "groundcap.scan.text"
	metaMatchVocab     = "groundcap.scan.match_vocab"
	metaCaptionerWords = "groundcap.scan.captioner_words"
)

// Text is how a matching model reads captions. A model's checkpoint carries it (Store, TextOf),
// so the stages that use a trained model (align, scan-eval, the captioners' teachers and the
// SCST reward) read captions as it was trained.
type Text struct {
	// Mode is TextOriginal or TextCaptioner.
	Mode string
	// Match is the matching vocabulary (TextOriginal).
	Match *vocab.Matching
	// Words are the captioner's vocabulary (vocab.Vocab.IxToWord: Words[id] is the word of
	// label id), to decode labels into a sentence (TextOriginal).
	Words []string
}

// NewText returns the text input of mode; match and captioner are needed by TextOriginal.
func NewText(mode string, match *vocab.Matching, captioner *vocab.Vocab) (*Text, error) {
	switch mode {
	case TextCaptioner:
		return &Text{Mode: mode}, nil
	case TextOriginal:
		if match == nil || captioner == nil {
			return nil, fmt.Errorf("models: text %s needs the matching and the captioner's vocabularies", mode)
		}
		return &Text{Mode: mode, Match: match, Words: captioner.IxToWord}, nil
	}
	return nil, fmt.Errorf("models: text %q (want %s or %s)", mode, TextOriginal, TextCaptioner)
}

// VocabSize is the number of word ids the model embeds: the matching vocabulary's ids
// (TextOriginal), or captionerIDs.
func (t *Text) VocabSize(captionerIDs int) int {
	if t.Mode == TextOriginal {
		return t.Match.Size()
	}
	return captionerIDs
}

// Caption returns a captions row's caption as the model reads a training or retrieval caption:
// match_ids and match_noun_mask (TextOriginal) or labels and noun mask (TextCaptioner). It
// fails on a row without them, naming the row.
func (t *Text) Caption(r *captionstable.Row) (tscan.Caption, error) {
	if t.Mode != TextOriginal {
		return ModelCaption(r)
	}
	if len(r.MatchIDs) == 0 {
		return tscan.Caption{}, fmt.Errorf("models: captions row image %d caption %d has no match_ids (a captions table older than the matching text; run the captions stage again)", r.ImageID, r.CaptionIdx)
	}
	if len(r.MatchNounMask) != 0 && len(r.MatchNounMask) != len(r.MatchIDs) {
		return tscan.Caption{}, fmt.Errorf("models: captions row image %d caption %d has %d match ids but %d noun flags", r.ImageID, r.CaptionIdx, len(r.MatchIDs), len(r.MatchNounMask))
	}
	return tscan.Caption{IDs: r.MatchIDs, Nouns: r.MatchNounMask}, nil
}

// Sentence returns a captioner's sentence (label ids, the noun mask of its words) as the model
// reads it: <start>, the words' matching ids, ".", <end> (TextOriginal), or the ids themselves
// (TextCaptioner). Word i of the sentence is at position i + Offset().
func (t *Text) Sentence(ids []int32, nouns []bool) (tscan.Caption, error) {
	if nouns != nil && len(nouns) != len(ids) {
		return tscan.Caption{}, fmt.Errorf("models: sentence of %d ids with %d noun flags", len(ids), len(nouns))
	}
	if t.Mode != TextOriginal {
		return tscan.Caption{IDs: ids, Nouns: nouns}, nil
	}
	words := make([]string, len(ids))
	for i, id := range ids {
		if id < 1 || int(id) >= len(t.Words) {
			return tscan.Caption{}, fmt.Errorf("models: sentence word id %d outside the captioner's vocabulary (1..%d)", id, len(t.Words)-1)
		}
		words[i] = t.Words[id]
	}
	enc, mask := t.Match.EncodeSentence(words, nouns, make([]int32, 0, len(ids)+3))
	return tscan.Caption{IDs: enc, Nouns: mask}, nil
}

// Offset is the position of a sentence's first word in its Sentence encoding.
func (t *Text) Offset() int {
	if t.Mode == TextOriginal {
		return 1
	}
	return 0
}

// SentenceAlignment maps an alignment of a Sentence encoding of n words back to the words'
// positions 0..n−1: the original code's attention rows of positions 1..n; the rows of <start>,
// "." and <end> (plain SCAN attends at every position) are dropped.
func (t *Text) SentenceAlignment(al tscan.Alignment, n int) tscan.Alignment {
	off := t.Offset()
	out := tscan.Alignment{Regions: al.Regions, Score: al.Score}
	for r, p := range al.Positions {
		w := int(p) - off
		if w < 0 || w >= n {
			continue
		}
		out.Positions = append(out.Positions, int32(w))
		out.Attention = append(out.Attention, al.Attention[r*al.Regions:(r+1)*al.Regions]...)
	}
	return out
}

// Store records the text input in m's checkpoint meta.
func (t *Text) Store(m *tscan.Model) error {
	m.SetMeta(metaText, t.Mode)
	if t.Mode != TextOriginal {
		return nil
	}
	mv, err := json.Marshal(t.Match)
	if err != nil {
		return fmt.Errorf("models: matching vocabulary: %w", err)
	}
	w, err := json.Marshal(t.Words)
	if err != nil {
		return fmt.Errorf("models: captioner words: %w", err)
	}
	m.SetMeta(metaMatchVocab, string(mv))
	m.SetMeta(metaCaptionerWords, string(w))
	return nil
}

// TextOf returns the text input a model was trained with, from its checkpoint meta; a model
// without one read the captioner's labels.
func TextOf(m *tscan.Model) (*Text, error) {
	mode, ok := m.Meta(metaText)
	if !ok || mode == TextCaptioner {
		return &Text{Mode: TextCaptioner}, nil
	}
	if mode != TextOriginal {
		return nil, fmt.Errorf("models: model text %q (want %s or %s)", mode, TextOriginal, TextCaptioner)
	}
	t := &Text{Mode: mode, Match: &vocab.Matching{}}
	mv, _ := m.Meta(metaMatchVocab)
	if err := json.Unmarshal([]byte(mv), t.Match); err != nil {
		return nil, fmt.Errorf("models: the model's matching vocabulary: %w", err)
	}
	w, _ := m.Meta(metaCaptionerWords)
	if err := json.Unmarshal([]byte(w), &t.Words); err != nil {
		return nil, fmt.Errorf("models: the model's captioner words: %w", err)
	}
	if len(t.Words) < 2 {
		return nil, fmt.Errorf("models: the model's captioner words: %d entries", len(t.Words))
	}
	if m.Config().Vocab != t.Match.Size() {
		return nil, fmt.Errorf("models: the model embeds %d word ids, its matching vocabulary has %d", m.Config().Vocab, t.Match.Size())
	}
	return t, nil
}

// ModelCaption converts a captions row to the model's caption (labels and noun mask). It fails
// on a row without labels, naming the row.
func ModelCaption(r *captionstable.Row) (tscan.Caption, error) {
	if len(r.Labels) == 0 {
		return tscan.Caption{}, fmt.Errorf("models: captions row image %d caption %d has no labels", r.ImageID, r.CaptionIdx)
	}
	if len(r.NounMask) != 0 && len(r.NounMask) != len(r.Labels) {
		return tscan.Caption{}, fmt.Errorf("models: captions row image %d caption %d has %d labels but %d noun flags", r.ImageID, r.CaptionIdx, len(r.Labels), len(r.NounMask))
	}
	return tscan.Caption{IDs: r.Labels, Nouns: r.NounMask}, nil
}

// Word returns the word of r at position pos of the caption as Caption encodes it: match_tokens
// after <start> (TextOriginal) or tokens; "" for <start>, <end> and positions past the text.
func (t *Text) Word(r *captionstable.Row, pos int) string {
	toks := r.Tokens
	if t.Mode == TextOriginal {
		toks, pos = r.MatchTokens, pos-1
	}
	if pos < 0 || pos >= len(toks) {
		return ""
	}
	return toks[pos]
}
