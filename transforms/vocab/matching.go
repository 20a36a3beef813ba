package vocab

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The matching model's special tokens and their ids, as SCAN's vocab.py adds them before any word.
const (
	Pad   = "<pad>"
	Start = "<start>"
	End   = "<end>"
	Unk   = "<unk>"

	PadID   int32 = 0
	StartID int32 = 1
	EndID   int32 = 2
	UnkID   int32 = 3
)

// Period is the token the original reward code appends to a sampled caption before <end>
// (misc/SCAN/ground_reward.py), so that it looks like a training caption.
const Period = "."

// DefaultMatchingThreshold is SCAN's min_word_cnt: words counted at least this often are kept.
const DefaultMatchingThreshold = 4

// Matching is the vocabulary of the matching model (SCAN / POS-SCAN) as the original defines it
// (SCAN's vocab.py): <pad> 0, <start> 1, <end> 2, <unk> 3, then every word counted at least
// Threshold times. It differs from the captioner's [Vocab] in its threshold (≥ 4 against > 5),
// its special tokens, and in that its words come from the full captions with punctuation.
//
// vocab.py keeps the words in Counter order (first occurrence); here they are sorted (byte
// order) so ids are deterministic.
type Matching struct {
	// IxToWord[i] is the word of id i (ids 0..3 the special tokens).
	IxToWord []string
	// Counts are the word counts the vocabulary was built from (every counted word).
	Counts map[string]int64
	// Threshold: words counted fewer times map to <unk>.
	Threshold int64

	wordToIx map[string]int32
}

// BuildMatching builds the matching vocabulary of the words counted at least threshold times.
func BuildMatching(c Counts, threshold int64) *Matching {
	m := &Matching{IxToWord: []string{Pad, Start, End, Unk}, Counts: c.Words, Threshold: threshold}
	if m.Counts == nil {
		m.Counts = map[string]int64{}
	}
	var kept []string
	for w, n := range m.Counts {
		if n >= threshold && !special(w) {
			kept = append(kept, w)
		}
	}
	sort.Strings(kept)
	m.IxToWord = append(m.IxToWord, kept...)
	m.index()
	return m
}

func special(w string) bool { return w == Pad || w == Start || w == End || w == Unk }

func (m *Matching) index() {
	m.wordToIx = make(map[string]int32, len(m.IxToWord))
	for i, w := range m.IxToWord {
		m.wordToIx[w] = int32(i)
	}
}

// Size returns the number of ids (special tokens included): the model's embedding rows.
func (m *Matching) Size() int { return len(m.IxToWord) }

// ID returns the id of w, <unk>'s for a word without its own (vocab.py's __call__).
func (m *Matching) ID(w string) int32 {
	if id, ok := m.wordToIx[w]; ok {
		return id
	}
	return UnkID
}

// Known reports whether w has its own id (a word, not a special token).
func (m *Matching) Known(w string) bool {
	id, ok := m.wordToIx[w]
	return ok && id > UnkID
}

// Word returns the word of id ("" outside the vocabulary).
func (m *Matching) Word(id int32) string {
	if id < 0 || int(id) >= len(m.IxToWord) {
		return ""
	}
	return m.IxToWord[id]
}

// EncodeCaption encodes a training caption as SCAN's data loader does: <start>, the ids of its
// tokens, <end> (appended to dst[:0]). nouns, when not nil, is the tokens' noun mask; the
// returned mask marks the same words and is false at <start> and <end> (the original's tag mask
// with its PAD tags).
func (m *Matching) EncodeCaption(tokens []string, nouns []bool, dst []int32) ([]int32, []bool) {
	return m.encode(tokens, nouns, false, dst)
}

// EncodeSentence encodes a captioner's sentence (a sampled caption, or a ground-truth caption
// decoded from the captioner's labels) as the original reward code does: <start>, the ids of its
// words lower-cased (the captioner's UNK becomes "unk", then <unk>), ".", <end>. nouns, when not nil, is the words' noun mask; the returned mask is false at
// <start>, "." and <end>.
func (m *Matching) EncodeSentence(words []string, nouns []bool, dst []int32) ([]int32, []bool) {
	return m.encode(words, nouns, true, dst)
}

func (m *Matching) encode(words []string, nouns []bool, period bool, dst []int32) ([]int32, []bool) {
	if nouns != nil && len(nouns) != len(words) {
		panic(fmt.Sprintf("vocab: %d noun flags for %d words", len(nouns), len(words)))
	}
	dst = append(dst[:0], StartID)
	for _, w := range words {
		if period {
			w = strings.ToLower(w)
		}
		dst = append(dst, m.ID(w))
	}
	if period {
		dst = append(dst, m.ID(Period))
	}
	dst = append(dst, EndID)
	var mask []bool
	if nouns != nil {
		mask = make([]bool, len(dst))
		copy(mask[1:], nouns)
	}
	return dst, mask
}

// matchingJSON is the layout of match_vocab.json: SCAN's serialize_vocab layout (word2idx,
// idx2word with string keys, idx) plus the threshold and the counts.
type matchingJSON struct {
	Word2Idx  map[string]int32  `json:"word2idx"`
	Idx2Word  map[string]string `json:"idx2word"`
	Idx       int               `json:"idx"`
	Threshold int64             `json:"min_word_cnt"`
	Counts    map[string]int64  `json:"counts"`
}

// MarshalJSON writes match_vocab.json (deterministic: encoding/json sorts map keys).
func (m *Matching) MarshalJSON() ([]byte, error) {
	f := matchingJSON{Word2Idx: make(map[string]int32, len(m.IxToWord)), Idx2Word: make(map[string]string, len(m.IxToWord)),
		Idx: len(m.IxToWord), Threshold: m.Threshold, Counts: m.Counts}
	for i, w := range m.IxToWord {
		f.Word2Idx[w] = int32(i)
		f.Idx2Word[fmt.Sprint(i)] = w
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads match_vocab.json, checking that ids are 0..idx−1 and the special tokens
// hold their ids.
func (m *Matching) UnmarshalJSON(data []byte) error {
	var f matchingJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("vocab: matching vocabulary: %w", err)
	}
	if len(f.Word2Idx) != f.Idx {
		return fmt.Errorf("vocab: matching vocabulary: word2idx has %d entries, idx says %d", len(f.Word2Idx), f.Idx)
	}
	words := make([]string, f.Idx)
	for w, i := range f.Word2Idx {
		if i < 0 || int(i) >= f.Idx || words[i] != "" || w == "" {
			return fmt.Errorf("vocab: matching vocabulary: bad word2idx entry %q: %d", w, i)
		}
		words[i] = w
	}
	for id, w := range []string{Pad, Start, End, Unk} {
		if f.Idx <= id || words[id] != w {
			return fmt.Errorf("vocab: matching vocabulary: id %d is not %s", id, w)
		}
	}
	*m = Matching{IxToWord: words, Counts: f.Counts, Threshold: f.Threshold}
	m.index()
	return nil
}
