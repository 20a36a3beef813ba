package captionscst

import (
	"fmt"
	"slices"
	"sync"

	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
	"github.com/groundcap/groundcap/transforms/postag"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// Matcher scores sampled captions with a matching model: S(I, c) for the image of a source
// index. Sampled word ids are the captions vocabulary's; their words are POS-tagged as the
// captions stage tags references (transforms/postag) to give POS-SCAN its noun mask (NN*, not
// UNK), and the sentence is encoded through the model's text input (models.Text.Sentence: with
// the original's, <start>, the words' matching ids, ".", <end>, as its reward code does). An
// empty caption scores 0. Score errors are kept and reported by Err, since updown.MatchFunc
// cannot return one.
type Matcher struct {
	Model  *tscan.Model
	Source *captioning.Source
	// Words[i] is the word of id i+1.
	Words []string

	text   *models.Text
	tagger *postag.Tagger
	mu     sync.Mutex
	err    error
	words  []string
	tags   []string
}

// NewMatcher loads the POS tagger and returns a matcher.
func NewMatcher(m *tscan.Model, src *captioning.Source, words []string) (*Matcher, error) {
	tm, err := postag.Load()
	if err != nil {
		return nil, fmt.Errorf("captionscst: POS tagger: %w", err)
	}
	text, err := models.TextOf(m)
	if err != nil {
		return nil, fmt.Errorf("captionscst: %w", err)
	}
	if text.Mode == models.TextOriginal && !slices.Equal(text.Words[1:], words) {
		return nil, fmt.Errorf("captionscst: the matching model was trained beside another captioner vocabulary (%d words) than this one (%d)", len(text.Words)-1, len(words))
	}
	return &Matcher{Model: m, Source: src, Words: words, text: text, tagger: postag.New(tm)}, nil
}

// Caption converts sampled word ids into the matching model's caption with its noun mask.
func (m *Matcher) Caption(ids []int32) (tscan.Caption, error) {
	m.words = m.words[:0]
	for _, id := range ids {
		if id < 1 || int(id) > len(m.Words) {
			return tscan.Caption{}, fmt.Errorf("captionscst: sampled word id %d outside the vocabulary (1..%d)", id, len(m.Words))
		}
		m.words = append(m.words, m.Words[id-1])
	}
	m.tags = m.tagger.Tag(m.words, m.tags)
	nouns := make([]bool, len(ids))
	for i, t := range m.tags {
		nouns[i] = postag.IsNoun(t) && m.words[i] != vocab.UNK
	}
	return m.text.Sentence(append([]int32(nil), ids...), nouns)
}

// Scores returns S(image, c) for each caption of tokens.
func (m *Matcher) Scores(imageIdx int, tokens [][]int32) ([]float32, error) {
	rec, err := m.Source.Record(imageIdx)
	if err != nil {
		return nil, err
	}
	b := tscan.Batch{Feats: [][]float32{rec.Features}}
	var at []int
	for j, t := range tokens {
		if len(t) == 0 {
			continue
		}
		c, err := m.Caption(t)
		if err != nil {
			return nil, err
		}
		b.Captions = append(b.Captions, c)
		at = append(at, j)
	}
	out := make([]float32, len(tokens))
	if len(at) == 0 {
		return out, nil
	}
	s, err := m.Model.Forward(b)
	if err != nil {
		return nil, fmt.Errorf("captionscst: matching score of image %d: %w", rec.ImageID, err)
	}
	for k, j := range at {
		out[j] = s[k]
	}
	return out, nil
}

// Func returns the updown.MatchFunc; after a failed step, Err says why.
func (m *Matcher) Func() updown.MatchFunc {
	return func(imageIdx int, tokens [][]int32) []float32 {
		m.mu.Lock()
		defer m.mu.Unlock()
		s, err := m.Scores(imageIdx, tokens)
		if err != nil {
			if m.err == nil {
				m.err = err
			}
			return nil
		}
		return s
	}
}

// Err returns the first scoring error.
func (m *Matcher) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}
