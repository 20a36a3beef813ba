package caption

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// MaxScorerVocab is the largest vocabulary a [Scorer] accepts: token ids are packed 16 bits each,
// four to a 64-bit n-gram key.
const MaxScorerVocab = 1 << 16

// ErrToken marks a token id outside the scorer's vocabulary.
var ErrToken = errors.New("caption: token id out of range")

// Scorer computes CIDEr-D rewards for self-critical training (self-critical.pytorch's CiderD with a
// precomputed document-frequency table): w(g) = tf(g)·(ln N − ln max(1, df(g))) with N the number of
// images of the table, clipped cosine similarity per order, Gaussian length penalty (σ = 6) on the
// number of bigrams, ×10, mean over orders and references. Sequences are scored exactly as given:
// pass tokens up to and including the end token, as self-critical does ([TrimAtEnd]).
//
// A Scorer is immutable and safe for concurrent use.
type Scorer struct {
	vocab   map[string]int32
	words   []string
	refLen  float64
	index   [maxN]*idTable  // packed n-gram key → position in weight
	weight  [maxN][]float64 // ln N − ln max(1, df)
	Skipped int             // n-grams of the table dropped because a word is not in the vocabulary
}

// NewScorer builds a scorer from a document-frequency table and a vocabulary (vocab[id] = word, the
// ids the candidates use). A nil vocab takes the table's words in sorted order. N-grams of the table
// with a word outside vocab can never match and are dropped (counted in Skipped).
func NewScorer(df *DocFreq, vocab []string) (*Scorer, error) {
	if err := df.Validate(); err != nil {
		return nil, err
	}
	if vocab == nil {
		for g := range df.NGrams {
			if !strings.Contains(g, " ") {
				vocab = append(vocab, g)
			}
		}
		sort.Strings(vocab)
	}
	if len(vocab) > MaxScorerVocab {
		return nil, fmt.Errorf("caption: NewScorer: vocabulary of %d words, at most %d supported", len(vocab), MaxScorerVocab)
	}
	s := &Scorer{vocab: make(map[string]int32, len(vocab)), words: vocab, refLen: math.Log(float64(df.NumImages))}
	for i, w := range vocab {
		if _, dup := s.vocab[w]; dup {
			return nil, fmt.Errorf("caption: NewScorer: word %q appears twice in the vocabulary (id %d)", w, i)
		}
		s.vocab[w] = int32(i)
	}
	var count [maxN]int
	for g := range df.NGrams {
		count[strings.Count(g, " ")]++
	}
	for n := range maxN {
		s.index[n] = newIDTable(count[n])
		s.weight[n] = make([]float64, 0, count[n])
	}
	// Sorted insertion keeps the table layout independent of map order.
	grams := make([]string, 0, len(df.NGrams))
	for g := range df.NGrams {
		grams = append(grams, g)
	}
	sort.Strings(grams)
next:
	for _, g := range grams {
		parts := strings.Split(g, " ")
		var key uint64
		for k, p := range parts {
			id, ok := s.vocab[p]
			if !ok {
				s.Skipped++
				continue next
			}
			key |= uint64(id) << (16 * k)
		}
		n := len(parts) - 1
		pos := s.index[n].intern(key)
		if int(pos) == len(s.weight[n]) {
			s.weight[n] = append(s.weight[n], s.refLen-math.Log(math.Max(1, float64(df.NGrams[g]))))
		}
	}
	return s, nil
}

// VocabSize returns the number of words of the scorer's vocabulary.
func (s *Scorer) VocabSize() int { return len(s.words) }

// ID returns the id of word in the scorer's vocabulary.
func (s *Scorer) ID(word string) (int32, bool) {
	id, ok := s.vocab[word]
	return id, ok
}

// TrimAtEnd returns seq up to and including the first end token (all of seq if none), the part of a
// sampled sequence that self-critical.pytorch scores.
func TrimAtEnd(seq []int32, end int32) []int32 {
	for i, t := range seq {
		if t == end {
			return seq[:i+1]
		}
	}
	return seq
}

// tfidf is a sentence's CIDEr-D vector: per order, sorted distinct n-gram keys and their weights.
type tfidf struct {
	keys   [maxN][]uint64
	w      [maxN][]float64
	norm   [maxN]float64
	length float64
}

// Refs are one image's references, prepared once for scoring many candidates.
type Refs struct {
	vecs []tfidf
}

// scratch is per-call working space.
type scratch struct {
	keys []uint64
	v    tfidf
}

// vector computes the tf-idf vector of seq (ids < MaxScorerVocab, checked by the caller) into v,
// reusing v's slices.
func (s *Scorer) vector(seq []int32, v *tfidf, sc *scratch) {
	for n := range maxN {
		keys := sc.keys[:0]
		for i := 0; i+n < len(seq); i++ {
			var key uint64
			for k := 0; k <= n; k++ {
				key |= uint64(seq[i+k]) << (16 * k)
			}
			keys = append(keys, key)
		}
		sortKeys(keys)
		v.keys[n] = v.keys[n][:0]
		v.w[n] = v.w[n][:0]
		var norm float64
		for i := 0; i < len(keys); {
			j := i + 1
			for j < len(keys) && keys[j] == keys[i] {
				j++
			}
			wt := s.refLen
			if pos, ok := s.index[n].lookup(keys[i]); ok {
				wt = s.weight[n][pos]
			}
			x := float64(j-i) * wt
			v.keys[n] = append(v.keys[n], keys[i])
			v.w[n] = append(v.w[n], x)
			norm += x * x
			i = j
		}
		v.norm[n] = math.Sqrt(norm)
		sc.keys = keys
	}
	v.length = float64(max(0, len(seq)-1))
}

// sortKeys sorts short key lists by insertion, longer ones with sort.Slice.
func sortKeys(k []uint64) {
	if len(k) > 32 {
		sort.Slice(k, func(i, j int) bool { return k[i] < k[j] })
		return
	}
	for i := 1; i < len(k); i++ {
		x := k[i]
		j := i - 1
		for j >= 0 && k[j] > x {
			k[j+1] = k[j]
			j--
		}
		k[j+1] = x
	}
}

// PrepareRefs computes the vectors of one image's references (token ids, each up to and including
// its end token when scoring as self-critical does).
func (s *Scorer) PrepareRefs(refs [][]int32) (*Refs, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("caption: PrepareRefs: no references")
	}
	for i, ref := range refs {
		if err := s.checkIDs(ref); err != nil {
			return nil, fmt.Errorf("caption: PrepareRefs: reference %d: %w", i, err)
		}
	}
	return s.prepare(refs), nil
}

func (s *Scorer) prepare(refs [][]int32) *Refs {
	r := &Refs{vecs: make([]tfidf, len(refs))}
	var sc scratch
	for i, ref := range refs {
		s.vector(ref, &r.vecs[i], &sc)
	}
	return r
}

// Score returns the CIDEr-D of one candidate against prepared references.
func (s *Scorer) Score(cand []int32, refs *Refs) (float64, error) {
	if err := s.checkIDs(cand); err != nil {
		return 0, fmt.Errorf("caption: Score: %w", err)
	}
	var sc scratch
	return s.score(cand, refs, &sc), nil
}

func (s *Scorer) score(cand []int32, refs *Refs, sc *scratch) float64 {
	s.vector(cand, &sc.v, sc)
	h := &sc.v
	var score [maxN]float64
	for ri := range refs.vecs {
		r := &refs.vecs[ri]
		delta := h.length - r.length
		pen := math.Pow(math.E, -(delta*delta)/(2*ciderSigma*ciderSigma))
		for n := range maxN {
			hk, rk := h.keys[n], r.keys[n]
			var val float64
			for i, j := 0, 0; i < len(hk) && j < len(rk); {
				switch {
				case hk[i] < rk[j]:
					i++
				case hk[i] > rk[j]:
					j++
				default:
					y := r.w[n][j]
					val += math.Min(h.w[n][i], y) * y
					i++
					j++
				}
			}
			if h.norm[n] != 0 && r.norm[n] != 0 {
				val /= h.norm[n] * r.norm[n]
			}
			score[n] += val * pen
		}
	}
	avg := (score[0] + score[1] + score[2] + score[3]) / maxN
	avg /= float64(len(refs.vecs))
	return avg * 10
}

// ScoreBatch scores cands[i] against refs[i] into dst (grown to len(cands)) using workers goroutines
// (≤ 0: one). The result does not depend on workers.
func (s *Scorer) ScoreBatch(dst []float64, cands [][]int32, refs []*Refs, workers int) ([]float64, error) {
	if len(refs) != len(cands) {
		return dst, fmt.Errorf("caption: ScoreBatch: %d candidates but %d reference sets", len(cands), len(refs))
	}
	if cap(dst) < len(cands) {
		dst = make([]float64, len(cands))
	}
	dst = dst[:len(cands)]
	for i, c := range cands {
		if err := s.checkIDs(c); err != nil {
			return dst, fmt.Errorf("caption: ScoreBatch: candidate %d: %w", i, err)
		}
		if refs[i] == nil {
			return dst, fmt.Errorf("caption: ScoreBatch: candidate %d has nil references", i)
		}
	}
	parallel(len(cands), workers, func(lo, hi int) {
		var sc scratch
		for i := lo; i < hi; i++ {
			dst[i] = s.score(cands[i], refs[i], &sc)
		}
	})
	return dst, nil
}

// checkIDs checks that every id of seq is in the vocabulary.
func (s *Scorer) checkIDs(seq []int32) error {
	for i, t := range seq {
		if t < 0 || int(t) >= len(s.words) {
			return fmt.Errorf("%w: token %d is %d (vocabulary of %d)", ErrToken, i, t, len(s.words))
		}
	}
	return nil
}

// ScoreWords scores word candidates against word references (cands[i] against refs[i]) with the
// scorer's vocabulary. Words outside the vocabulary get temporary ids for this call: they match
// themselves and have document frequency 0, as an unseen n-gram would in the reference code.
func (s *Scorer) ScoreWords(cands [][]string, refs [][][]string) ([]float64, error) {
	if len(refs) != len(cands) {
		return nil, fmt.Errorf("caption: ScoreWords: %d candidates but %d reference sets", len(cands), len(refs))
	}
	extra := map[string]int32{}
	ids := func(ws []string) ([]int32, error) {
		out := make([]int32, len(ws))
		for i, w := range ws {
			id, ok := s.vocab[w]
			if !ok {
				if id, ok = extra[w]; !ok {
					id = int32(len(s.words) + len(extra))
					if int(id) >= MaxScorerVocab {
						return nil, fmt.Errorf("caption: ScoreWords: more than %d distinct words", MaxScorerVocab)
					}
					extra[w] = id
				}
			}
			out[i] = id
		}
		return out, nil
	}
	out := make([]float64, len(cands))
	var sc scratch
	for i := range cands {
		rs := make([][]int32, len(refs[i]))
		for j, r := range refs[i] {
			var err error
			if rs[j], err = ids(r); err != nil {
				return nil, err
			}
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("caption: ScoreWords: image %d has no references", i)
		}
		c, err := ids(cands[i])
		if err != nil {
			return nil, err
		}
		out[i] = s.score(c, s.prepare(rs), &sc)
	}
	return out, nil
}
