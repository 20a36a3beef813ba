package updown

import (
	"fmt"

	"github.com/groundcap/groundcap/eval/caption"
)

// GreedyCIDEr decodes every image of src greedily (batchImages at a time)
// and returns the mean CIDEr-D of the decodes against each image's captions
// under sc (sequences as SCST scores them: words, then the end token when
// the caption ended). It is a quick validation score for ValidateFunc; the
// evaluate stage's coco-caption metrics come from eval/caption.Score.
func GreedyCIDEr(m *Model, src Source, sc *caption.Scorer, batchImages int) (float64, error) {
	n := src.Len()
	if n == 0 {
		return 0, fmt.Errorf("updown: GreedyCIDEr: the source has no images")
	}
	if batchImages <= 0 {
		batchImages = DefaultBatchImages
	}
	var sum float64
	for lo := 0; lo < n; lo += batchImages {
		idx := make([]int, 0, batchImages)
		for i := lo; i < min(lo+batchImages, n); i++ {
			idx = append(idx, i)
		}
		b, err := src.Batch(idx)
		if err != nil {
			return 0, fmt.Errorf("updown: GreedyCIDEr: images %d..%d: %w", lo, lo+len(idx)-1, err)
		}
		if err := b.check(m.cfg, false); err != nil {
			return 0, fmt.Errorf("updown: GreedyCIDEr: images %d..%d: %w", lo, lo+len(idx)-1, err)
		}
		refs, err := refsOf(b, sc, m.cfg.MaxLen)
		if err != nil {
			return 0, err
		}
		caps, err := m.Greedy(&b.Images)
		if err != nil {
			return 0, err
		}
		cands := make([][]int32, len(caps))
		for i, c := range caps {
			cands[i] = scoredSeq(c.Tokens, c.Ended)
		}
		scores, err := sc.ScoreBatch(nil, cands, refs, 1)
		if err != nil {
			return 0, fmt.Errorf("updown: GreedyCIDEr: %w", err)
		}
		for _, s := range scores {
			sum += s
		}
	}
	return sum / float64(n), nil
}

// ScorerVocab returns the vocabulary a caption.Scorer needs for this
// package's token ids: end (the end word of the DocFreq table) at id 0, then
// words[0] at id 1, and so on (words[i] is the word of id i+1).
func ScorerVocab(end string, words []string) []string {
	return append([]string{end}, words...)
}
