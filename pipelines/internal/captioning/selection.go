package captioning

import (
	"fmt"
	"strings"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/training/updown"
)

// Selection is the val score that picks a captioner stage's best.ckpt after every epoch (and
// that an SCST epoch must beat when the XE model's score is carried in).
type Selection string

// Selections.
const (
	// SelectCOCO is coco-caption's CIDEr-D of the greedy val captions (eval/caption.Score, what
	// `groundcap score` and the evaluate stages compute, equal to pycocoevalcap): the val
	// images' whole references PTB-tokenised, document frequencies of those references (the
	// corpus). The original's eval_utils.language_eval selects by it.
	SelectCOCO Selection = "coco-cider"
	// SelectTrainDF is the SCST reward's CIDEr-D of the greedy val captions: the captions
	// stage's train document frequencies (cider_df), references the captions' labels cut at
	// the model's max_len.
	SelectTrainDF Selection = "train-df-cider"
)

// UnmarshalText parses coco-cider or train-df-cider.
func (s *Selection) UnmarshalText(b []byte) error {
	return config.ParseEnum(s, b, "captioning: unknown selection", SelectCOCO, SelectTrainDF)
}

// Valid reports whether s is a known selection.
func (s Selection) Valid() bool { return s == SelectCOCO || s == SelectTrainDF }

// Validate reports a selection Valid does not accept (one set in code rather than parsed) as a
// *config.FieldError of the selection key.
func (s Selection) Validate() error {
	return config.CheckEnum("selection", s, SelectCOCO, SelectTrainDF)
}

// Selector scores a captioner's greedy captions of one split by a Selection.
type Selector struct {
	sel   Selection
	split *Split
	words []string
	// scorer is the train document frequencies' CIDEr-D (SelectTrainDF).
	scorer *caption.Scorer
	// refs are the split's references PTB-tokenised, by image id (SelectCOCO).
	refs map[int64][]string
	// trainRefs are the prepared label references of SelectTrainDF, for trainMaxLen.
	trainRefs   []*caption.Refs
	trainMaxLen int
}

// NewSelector returns the selector of sel over split; words are the captioner's vocabulary
// (words[id-1] is the word of id) and sc the train document frequencies' scorer (needed by
// SelectTrainDF only).
func NewSelector(sel Selection, split *Split, words []string, sc *caption.Scorer) (*Selector, error) {
	s := &Selector{sel: sel, split: split, words: words, scorer: sc}
	switch sel {
	case SelectCOCO:
		s.refs = make(map[int64][]string, len(split.Images))
		for i, id := range split.Images {
			rs := make([]string, len(split.Rows[i]))
			for j, r := range split.Rows[i] {
				rs[j] = caption.TokenizeString(r.Reference())
			}
			s.refs[id] = rs
		}
	case SelectTrainDF:
		if sc == nil {
			return nil, fmt.Errorf("captioning: selection %s needs the train document frequencies' scorer", sel)
		}
	default:
		return nil, fmt.Errorf("captioning: unknown selection %q (want %s or %s)", sel, SelectCOCO, SelectTrainDF)
	}
	return s, nil
}

// Score returns the score of caps, caps[i] the greedy caption of the split's image i; maxLen is
// the model's training caption length (SelectTrainDF cuts the references at it).
func (s *Selector) Score(caps []updown.Caption, maxLen int) (float64, error) {
	if len(caps) != len(s.split.Images) {
		return 0, fmt.Errorf("captioning: %d captions for %d images", len(caps), len(s.split.Images))
	}
	if len(caps) == 0 {
		return 0, fmt.Errorf("captioning: selection over no images")
	}
	if s.sel == SelectTrainDF {
		return s.trainDF(caps, maxLen)
	}
	preds := make(map[int64]string, len(caps))
	for i, c := range caps {
		text := make([]string, len(c.Tokens))
		for k, id := range c.Tokens {
			if id < 1 || int(id) > len(s.words) {
				return 0, fmt.Errorf("captioning: image %d: word id %d outside the vocabulary", s.split.Images[i], id)
			}
			text[k] = s.words[id-1]
		}
		preds[s.split.Images[i]] = caption.TokenizeString(strings.Join(text, " "))
	}
	res, err := caption.Score(s.refs, preds, caption.Options{PreTokenized: true})
	if err != nil {
		return 0, fmt.Errorf("captioning: val selection: %w", err)
	}
	return res.Corpus.CIDErD, nil
}

// trainDF scores as the SCST reward does: labels cut at maxLen as references (with the end token
// when shorter), the caption with the end token when it ended.
func (s *Selector) trainDF(caps []updown.Caption, maxLen int) (float64, error) {
	if s.trainRefs == nil || s.trainMaxLen != maxLen {
		s.trainRefs = make([]*caption.Refs, len(s.split.Images))
		for i, rows := range s.split.Rows {
			seqs := make([][]int32, len(rows))
			for j, r := range rows {
				l := min(len(r.Labels), maxLen)
				seqs[j] = withEnd(r.Labels[:l], l < maxLen)
			}
			r, err := s.scorer.PrepareRefs(seqs)
			if err != nil {
				return 0, fmt.Errorf("captioning: references of image %d: %w", s.split.Images[i], err)
			}
			s.trainRefs[i] = r
		}
		s.trainMaxLen = maxLen
	}
	cands := make([][]int32, len(caps))
	for i, c := range caps {
		cands[i] = withEnd(c.Tokens, c.Ended)
	}
	scores, err := s.scorer.ScoreBatch(nil, cands, s.trainRefs, 1)
	if err != nil {
		return 0, fmt.Errorf("captioning: val selection: %w", err)
	}
	var sum float64
	for _, v := range scores {
		sum += v
	}
	return sum / float64(len(scores)), nil
}

// withEnd returns a copy of ids with updown.EndToken appended when end is set.
func withEnd(ids []int32, end bool) []int32 {
	out := append(make([]int32, 0, len(ids)+1), ids...)
	if end {
		out = append(out, updown.EndToken)
	}
	return out
}

// Validate decodes src (the selector's split) greedily in batches of batch images and scores
// the captions.
func (s *Selector) Validate(m *updown.Model, src *Source, batch int) (float64, error) {
	n := src.Len()
	caps := make([]updown.Caption, 0, n)
	for lo := 0; lo < n; lo += batch {
		var im updown.Images
		for i := lo; i < min(lo+batch, n); i++ {
			rec, err := src.Record(i)
			if err != nil {
				return 0, err
			}
			im.Feats = append(im.Feats, rec.Features)
			im.NumBoxes = append(im.NumBoxes, rec.NumBoxes)
		}
		cs, err := m.Greedy(&im)
		if err != nil {
			return 0, fmt.Errorf("captioning: val images %d..%d: %w", lo, lo+len(im.Feats)-1, err)
		}
		caps = append(caps, cs...)
	}
	return s.Score(caps, m.Config().MaxLen)
}
