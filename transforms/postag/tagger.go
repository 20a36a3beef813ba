// Package postag tags caption tokens with Penn Treebank part-of-speech tags, using prose's
// averaged-perceptron model (github.com/jdkato/prose/v2), and provides TagFn, the Beam DoFn that
// tags captions.
//
// # Algorithm
//
// The Tagger applies the model exactly as NLTK's PerceptronTagger.tag does (the tagger the original
// POS-SCAN code calls through nltk.pos_tag; prose's model is a port of the same Honnibal
// averaged-perceptron tagger): the tokens are tagged as given, one tag per token, never
// re-tokenised; a token found in the model's tag dictionary gets its tag; otherwise the 14 context
// features (suffixes, first letter, previous two tags, the surrounding normalised words) are
// scored and the highest-scoring class wins, ties broken by the larger class name as NLTK's
// max(classes, key=(score, label)) does. Normalisation: a word with an inner hyphen is !HYPHEN, a
// four-digit number !YEAR, a word starting with a digit !DIGITS, others lower-cased. Unlike
// prose's own Document API there are no special cases for emoticons, URLs or "-", and ties are
// broken deterministically (prose iterates a map).
//
// # Model
//
// The model (about 200k feature weights) is decoded from prose's embedded assets once per process
// (Load); Taggers share it read-only and are safe for concurrent use.
package postag

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// Model is the averaged-perceptron tagging model: a tag dictionary for frequent unambiguous words
// and per-feature class weights.
type Model struct {
	classes []string                      // sorted ascending
	tagdict map[string]string             // word -> tag
	weights map[string]map[string]float64 // feature -> class -> weight
	classIx map[string]int
	// wv holds the weights of each feature as (class index, weight) pairs, for fast scoring.
	wv map[string][]classWeight
}

type classWeight struct {
	class  int32
	weight float64
}

var (
	loadOnce sync.Once
	shared   *Model
	loadErr  error
)

// Load returns the process-wide model decoded from prose's embedded assets; the first call decodes
// it (about a second), later calls return the same read-only value.
func Load() (*Model, error) {
	loadOnce.Do(func() { shared, loadErr = decodeModel() })
	return shared, loadErr
}

func decodeModel() (*Model, error) {
	m := &Model{}
	for _, a := range []struct {
		name string
		dst  any
	}{
		{"model/AveragedPerceptron/classes.gob", &m.classes},
		{"model/AveragedPerceptron/tags.gob", &m.tagdict},
		{"model/AveragedPerceptron/weights.gob", &m.weights},
	} {
		data, err := prose.Asset(a.name)
		if err != nil {
			return nil, fmt.Errorf("postag: prose asset %s: %w", a.name, err)
		}
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(a.dst); err != nil {
			return nil, fmt.Errorf("postag: decode prose asset %s: %w", a.name, err)
		}
	}
	sort.Strings(m.classes)
	m.classIx = make(map[string]int, len(m.classes))
	for i, c := range m.classes {
		m.classIx[c] = i
	}
	m.wv = make(map[string][]classWeight, len(m.weights))
	for feat, ws := range m.weights {
		cw := make([]classWeight, 0, len(ws))
		for c, w := range ws {
			ix, ok := m.classIx[c]
			if !ok {
				return nil, fmt.Errorf("postag: prose model: feature %q weighs unknown class %q", feat, c)
			}
			cw = append(cw, classWeight{int32(ix), w})
		}
		// Summation order fixed by class index: the scores are the same on every run.
		sort.Slice(cw, func(i, j int) bool { return cw[i].class < cw[j].class })
		m.wv[feat] = cw
	}
	return m, nil
}

// Classes returns the tags the model can predict, sorted.
func (m *Model) Classes() []string { return append([]string(nil), m.classes...) }

// Tagger tags token sequences with a Model. Its methods are safe for concurrent use when each
// goroutine uses its own Tagger; a Tagger reuses buffers between calls.
type Tagger struct {
	m      *Model
	scores []float64
	ctx    []string
	key    []byte
}

// New returns a Tagger over m.
func New(m *Model) *Tagger {
	return &Tagger{m: m, scores: make([]float64, len(m.classes))}
}

const (
	start1, start2 = "-START-", "-START2-"
	end1, end2     = "-END-", "-END2-"
)

// Tag returns one Penn Treebank tag per token, appended to dst[:0].
func (t *Tagger) Tag(tokens []string, dst []string) []string {
	dst = dst[:0]
	ctx := append(t.ctx[:0], start1, start2)
	for _, w := range tokens {
		ctx = append(ctx, normalize(w))
	}
	ctx = append(ctx, end1, end2)
	t.ctx = ctx
	p1, p2 := start1, start2
	for i, w := range tokens {
		tag, ok := t.m.tagdict[w]
		if !ok {
			tag = t.predict(i+2, w, ctx, p1, p2)
		}
		dst = append(dst, tag)
		p2, p1 = p1, tag
	}
	return dst
}

// predict scores the features of word w at context position i (NLTK's _get_features).
func (t *Tagger) predict(i int, w string, ctx []string, p1, p2 string) string {
	for k := range t.scores {
		t.scores[k] = 0
	}
	t.add("bias")
	t.add("i suffix", lastRunes(w, 3))
	t.add("i pref1", firstRune(w))
	t.add("i-1 tag", p1)
	t.add("i-2 tag", p2)
	t.add("i tag+i-2 tag", p1, p2)
	t.add("i word", ctx[i])
	t.add("i-1 tag+i word", p1, ctx[i])
	t.add("i-1 word", ctx[i-1])
	t.add("i-1 suffix", lastRunes(ctx[i-1], 3))
	t.add("i-2 word", ctx[i-2])
	t.add("i+1 word", ctx[i+1])
	t.add("i+1 suffix", lastRunes(ctx[i+1], 3))
	t.add("i+2 word", ctx[i+2])
	best := 0
	for k := 1; k < len(t.scores); k++ {
		// Classes are sorted ascending: >= picks the larger label on ties, as NLTK does.
		if t.scores[k] >= t.scores[best] {
			best = k
		}
	}
	return t.m.classes[best]
}

// add scores the feature named by the space-joined parts (each feature occurs once per token, so
// its value is 1).
func (t *Tagger) add(parts ...string) {
	k := t.key[:0]
	for i, p := range parts {
		if i > 0 {
			k = append(k, ' ')
		}
		k = append(k, p...)
	}
	t.key = k
	for _, cw := range t.m.wv[string(k)] { // no allocation: map lookup by string(bytes)
		t.scores[cw.class] += cw.weight
	}
}

// normalize is NLTK's PerceptronTagger.normalize.
func normalize(w string) string {
	switch {
	case strings.Contains(w, "-") && !strings.HasPrefix(w, "-"):
		return "!HYPHEN"
	case utf8.RuneCountInString(w) == 4 && isDigits(w):
		return "!YEAR"
	case w != "" && isDigitRune(firstRune(w)):
		return "!DIGITS"
	}
	return strings.ToLower(w)
}

// isDigits reports whether w is non-empty and all digits (Python's str.isdigit, for the decimal
// digits that occur in captions).
func isDigits(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

func isDigitRune(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && unicode.IsDigit(r)
}

// firstRune returns the first character of w ("" for "").
func firstRune(w string) string {
	if w == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(w)
	return w[:n]
}

// lastRunes returns the last n characters of w (Python's w[-n:]).
func lastRunes(w string, n int) string {
	i := len(w)
	for c := 0; c < n && i > 0; c++ {
		_, sz := utf8.DecodeLastRuneInString(w[:i])
		i -= sz
	}
	return w[i:]
}

// IsNoun reports whether tag is a noun tag: NN, NNS, NNP or NNPS.
func IsNoun(tag string) bool {
	switch tag {
	case "NN", "NNS", "NNP", "NNPS":
		return true
	}
	return false
}
