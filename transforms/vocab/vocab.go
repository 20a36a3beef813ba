// Package vocab counts words with a Beam combine and builds the captioning vocabulary the way
// self-critical.pytorch's prepro_labels.py does: words counted more than a threshold are kept,
// the others map to UNK, ids are 1-based (0 is the pad / end-of-sentence label).
//
// Unlike prepro_labels.py, whose ids follow Python dict order, the kept words are sorted (byte
// order) so ids are deterministic; UNK, when some word was dropped, takes the last id as there.
package vocab

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.Combiner3[Counts, []string, Counts](&CountFn{})
	register.Combiner3[Counts, Counts, Counts](&SumFn{})
	beam.RegisterType(reflect.TypeOf((*Counts)(nil)).Elem())
}

// UNK is the word rare words map to, as in prepro_labels.py.
const UNK = "UNK"

// Counts holds word counts. It is the accumulator and output of CountFn and SumFn; Beam encodes
// it as a row with a map field.
type Counts struct {
	Words map[string]int64
}

// Add adds n to the count of w.
func (c *Counts) Add(w string, n int64) {
	if c.Words == nil {
		c.Words = map[string]int64{}
	}
	c.Words[w] += n
}

// CountFn is a CombineFn that counts the words of token sequences: []string in, Counts out.
type CountFn struct{}

// CreateAccumulator returns empty counts.
func (CountFn) CreateAccumulator() Counts { return Counts{Words: map[string]int64{}} }

// AddInput counts the words of one sequence.
func (CountFn) AddInput(a Counts, tokens []string) Counts {
	for _, w := range tokens {
		a.Add(w, 1)
	}
	return a
}

// MergeAccumulators sums two counts.
func (CountFn) MergeAccumulators(a, b Counts) Counts { return merge(a, b) }

// ExtractOutput returns the counts.
func (CountFn) ExtractOutput(a Counts) Counts { return a }

// SumFn is a CombineFn that sums Counts (e.g. per-bundle or per-shard partial counts).
type SumFn struct{}

// CreateAccumulator returns empty counts.
func (SumFn) CreateAccumulator() Counts { return Counts{Words: map[string]int64{}} }

// AddInput adds partial counts.
func (SumFn) AddInput(a, in Counts) Counts { return merge(a, in) }

// MergeAccumulators sums two counts.
func (SumFn) MergeAccumulators(a, b Counts) Counts { return merge(a, b) }

// ExtractOutput returns the counts.
func (SumFn) ExtractOutput(a Counts) Counts { return a }

func merge(a, b Counts) Counts {
	if len(a.Words) < len(b.Words) {
		a, b = b, a
	}
	if a.Words == nil {
		a.Words = map[string]int64{}
	}
	for w, n := range b.Words {
		a.Words[w] += n
	}
	return a
}

// Count counts the words of a PCollection<[]string> of token sequences into a singleton
// PCollection<Counts>. It always has one element (empty counts for empty input: Beam Go's global
// combine emits nothing for an empty input, so an empty sequence is added).
func Count(s beam.Scope, tokens beam.PCollection) beam.PCollection {
	s = s.Scope("vocab.Count")
	none := beam.CreateList(s, [][]string{{}})
	return beam.Combine(s, &CountFn{}, beam.Flatten(s, tokens, none))
}

// Sum sums a PCollection<Counts> into a singleton PCollection<Counts>, which always has one
// element (empty counts for empty input).
func Sum(s beam.Scope, counts beam.PCollection) beam.PCollection {
	s = s.Scope("vocab.Sum")
	none := beam.CreateList(s, []Counts{{Words: map[string]int64{}}})
	return beam.Combine(s, &SumFn{}, beam.Flatten(s, counts, none))
}

// Vocab maps words to label ids.
type Vocab struct {
	// IxToWord[i] is the word of id i; IxToWord[0] is "" (pad / end of sentence).
	IxToWord []string
	// Counts are the word counts the vocabulary was built from (every counted word).
	Counts map[string]int64
	// Threshold is the word_count_threshold: words counted at most this often map to UNK.
	Threshold int64
	// UNKID is the id of UNK, 0 when every counted word was kept (no UNK entry).
	UNKID int32

	wordToIx map[string]int32
}

// Build builds the vocabulary of words counted more than threshold times.
func Build(c Counts, threshold int64) *Vocab {
	v := &Vocab{IxToWord: []string{""}, Counts: c.Words, Threshold: threshold}
	if v.Counts == nil {
		v.Counts = map[string]int64{}
	}
	var kept []string
	rare := false
	for w, n := range v.Counts {
		if n > threshold {
			kept = append(kept, w)
		} else {
			rare = true
		}
	}
	sort.Strings(kept)
	v.IxToWord = append(v.IxToWord, kept...)
	if rare {
		v.IxToWord = append(v.IxToWord, UNK)
		v.UNKID = int32(len(v.IxToWord) - 1)
	}
	v.index()
	return v
}

func (v *Vocab) index() {
	v.wordToIx = make(map[string]int32, len(v.IxToWord))
	for i, w := range v.IxToWord[1:] {
		v.wordToIx[w] = int32(i + 1)
	}
}

// Size returns the number of words (ids 1..Size), UNK included.
func (v *Vocab) Size() int { return len(v.IxToWord) - 1 }

// ID returns the id of w: its own id when kept, else UNKID (0 when there is no UNK entry and w
// was never counted).
func (v *Vocab) ID(w string) int32 {
	if id, ok := v.wordToIx[w]; ok && (w != UNK || v.UNKID != 0) {
		return id
	}
	return v.UNKID
}

// Known reports whether w has its own id (it is not mapped to UNK).
func (v *Vocab) Known(w string) bool {
	id, ok := v.wordToIx[w]
	return ok && id != v.UNKID
}

// Encode returns the ids of tokens, appended to dst[:0].
func (v *Vocab) Encode(tokens []string, dst []int32) []int32 {
	dst = dst[:0]
	for _, w := range tokens {
		dst = append(dst, v.ID(w))
	}
	return dst
}

// Word returns the word of id (UNK's id gives "UNK"; 0 or an id out of range gives "").
func (v *Vocab) Word(id int32) string {
	if id <= 0 || int(id) >= len(v.IxToWord) {
		return ""
	}
	return v.IxToWord[id]
}

// fileJSON is the layout of vocab.json.
type fileJSON struct {
	IxToWord  map[string]string `json:"ix_to_word"` // "1".."N", as prepro_labels.py writes it
	VocabSize int               `json:"vocab_size"`
	UNK       string            `json:"unk"`
	UNKID     int32             `json:"unk_id"` // 0: no UNK entry
	Pad       int32             `json:"pad"`    // 0: pad and end of sentence
	Threshold int64             `json:"word_count_threshold"`
	Counts    map[string]int64  `json:"counts"`
}

// MarshalJSON writes vocab.json: ix_to_word (1-based string keys as in prepro_labels.py),
// vocab_size, unk, unk_id, pad (0), word_count_threshold and counts. The output is deterministic.
func (v *Vocab) MarshalJSON() ([]byte, error) {
	f := fileJSON{IxToWord: map[string]string{}, VocabSize: v.Size(), UNK: UNK, UNKID: v.UNKID, Threshold: v.Threshold, Counts: v.Counts}
	for i, w := range v.IxToWord[1:] {
		f.IxToWord[strconv.Itoa(i+1)] = w
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads vocab.json.
func (v *Vocab) UnmarshalJSON(data []byte) error {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("vocab: %w", err)
	}
	if len(f.IxToWord) != f.VocabSize {
		return fmt.Errorf("vocab: ix_to_word has %d entries, vocab_size says %d", len(f.IxToWord), f.VocabSize)
	}
	words := make([]string, f.VocabSize+1)
	for k, w := range f.IxToWord {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 || i > f.VocabSize || words[i] != "" {
			return fmt.Errorf("vocab: bad ix_to_word key %q", k)
		}
		if w == "" {
			return fmt.Errorf("vocab: ix_to_word[%s] is empty", k)
		}
		words[i] = w
	}
	*v = Vocab{IxToWord: words, Counts: f.Counts, Threshold: f.Threshold, UNKID: f.UNKID}
	if v.UNKID != 0 && v.Word(v.UNKID) != UNK {
		return fmt.Errorf("vocab: unk_id %d names %q, not %s", v.UNKID, v.Word(v.UNKID), UNK)
	}
	v.index()
	return nil
}
