package updown

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/training/optim"
)

// MatchFunc returns the matching model's score S(I, c) of the image with
// source index imageIdx (Batch.Index) for each caption c of tokens (word ids,
// end token removed). It must return len(tokens) scores.
type MatchFunc func(imageIdx int, tokens [][]int32) []float32

// Rewarder computes SCST rewards r = WCider·CIDEr-D + WMatch·S.
type Rewarder struct {
	// Scorer computes CIDEr-D with the training document frequencies; its
	// vocabulary must give id 0 to the end word of its table and id w to
	// word w of the captioner (see EndToken).
	Scorer *caption.Scorer
	// Match is the matching score (nil: WMatch is treated as 0).
	Match MatchFunc
	// WCider and WMatch weight the two terms.
	WCider, WMatch float64
}

// SCSTStats are the results of one self-critical step.
type SCSTStats struct {
	// Loss is −Σ A·log p·mask / Σ mask.
	Loss float64
	// SampleReward and GreedyReward are the mean rewards of the samples and
	// of the greedy baselines; the CIDEr and Match fields their parts.
	SampleReward, GreedyReward float64
	SampleCIDEr, GreedyCIDEr   float64
	SampleMatch, GreedyMatch   float64
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
	// Images and Samples count what the step saw; Tokens the masked tokens.
	Images, Samples, Tokens int
}

// scoredSeq returns a caption's tokens as the scorer sees them: the words,
// then the end token if the sequence ended before maxLen (self-critical's
// array_to_str of a zero-padded label row).
func scoredSeq(words []int32, ended bool) []int32 {
	out := append([]int32(nil), words...)
	if ended {
		out = append(out, EndToken)
	}
	return out
}

// refsOf prepares each image's references: its captions truncated to
// maxLen, with the end token when shorter.
func refsOf(b *Batch, sc *caption.Scorer, maxLen int) ([]*caption.Refs, error) {
	per := make([][][]int32, len(b.Feats))
	for c, cp := range b.Captions {
		l := min(len(cp), maxLen)
		i := b.ImageOf[c]
		per[i] = append(per[i], scoredSeq(cp[:l], l < maxLen))
	}
	out := make([]*caption.Refs, len(per))
	for i, rs := range per {
		if len(rs) == 0 {
			return nil, fmt.Errorf("updown: image %d of the batch has no reference caption", i)
		}
		r, err := sc.PrepareRefs(rs)
		if err != nil {
			return nil, fmt.Errorf("updown: references of image %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

// sampled are multinomial samples with the dropout masks that produced them.
type sampled struct {
	rows   int
	steps  int
	tokens [][]int32   // per row, up to and including the first end token
	logps  [][]float32 // log p of each token when it was drawn
	ended  []bool
	drops  *stepDrops
}

// sample draws per image `per` sequences of up to maxLen words in training
// mode (dropout from r; p must be prepared with training masks).
func (m *Model) sample(p *prepared, r *rand.Rand, maxLen int) (*sampled, error) {
	c := m.cfg
	rows := p.rows
	d := m.newDecoder(p, p.drop != nil)
	v1 := c.VocabSize + 1
	s := &sampled{rows: rows, tokens: make([][]int32, rows), logps: make([][]float32, rows), ended: make([]bool, rows), drops: &stepDrops{}}
	tok := make([]int, rows)
	for t := 0; t < maxLen; t++ {
		var wd, od []float32
		if p.drop != nil {
			wd = dropMask(r, c.Dropout, rows*c.InputEncoding)
			od = dropMask(r, c.Dropout, rows*c.RNNSize)
			s.drops.word = append(s.drops.word, wd...)
			s.drops.out = append(s.drops.out, od...)
		}
		logp, _, err := d.step(tok, wd, od)
		if err != nil {
			return nil, err
		}
		s.steps++
		left := 0
		for row := 0; row < rows; row++ {
			if s.ended[row] {
				tok[row] = 0
				continue
			}
			w := sampleRow(r, logp[row*v1:(row+1)*v1])
			s.tokens[row] = append(s.tokens[row], int32(w))
			s.logps[row] = append(s.logps[row], logp[row*v1+w])
			tok[row] = w
			if int32(w) == EndToken {
				s.ended[row] = true
			} else {
				left++
			}
		}
		if left == 0 {
			break
		}
	}
	if p.drop == nil {
		s.drops = nil
	}
	return s, nil
}

// SCSTStep runs one self-critical step on b: for each image a greedy
// baseline (evaluation mode) and `samples` multinomial samples (training
// mode), both of up to maxLen words (≤ 0: Config.DecodeMaxLen; references
// stay cut at Config.MaxLen), rewards from rw, advantage A = r(sample) − r(greedy) broadcast over
// each sample's tokens up to and including its end token, loss
// −Σ A·log p·mask / Σ mask, and an update by opt with learning rate lr.
func (m *Model) SCSTStep(b *Batch, lr float64, samples, maxLen int, rw *Rewarder, r *rand.Rand, opt *Optimizer) (SCSTStats, error) {
	c := m.cfg
	if maxLen <= 0 {
		maxLen = c.DecodeMaxLen
	}
	if err := b.check(c, false); err != nil {
		return SCSTStats{}, err
	}
	if rw == nil || rw.Scorer == nil {
		return SCSTStats{}, fmt.Errorf("updown: SCST needs a CIDEr-D scorer")
	}
	if samples < 1 {
		return SCSTStats{}, fmt.Errorf("updown: SCST samples = %d, want ≥ 1", samples)
	}
	refs, err := refsOf(b, rw.Scorer, c.MaxLen)
	if err != nil {
		return SCSTStats{}, err
	}
	nImg := len(b.Feats)
	greedy, err := m.greedy(&b.Images, maxLen)
	if err != nil {
		return SCSTStats{}, err
	}
	rowImg := seqRange(nImg, samples)
	var drop *featDrop
	if c.Dropout > 0 {
		drop = m.drawFeatDrop(r, nImg, b.maxBoxes())
	}
	p, err := m.prepare(&b.Images, drop, rowImg)
	if err != nil {
		return SCSTStats{}, err
	}
	smp, err := m.sample(p, r, maxLen)
	if err != nil {
		return SCSTStats{}, err
	}
	rows := smp.rows

	// Rewards: samples first, then the greedy baselines.
	cands := make([][]int32, 0, rows+nImg)
	candRefs := make([]*caption.Refs, 0, rows+nImg)
	for row, t := range smp.tokens {
		cands = append(cands, t)
		candRefs = append(candRefs, refs[rowImg[row]])
	}
	for i, g := range greedy {
		cands = append(cands, scoredSeq(g.Tokens, g.Ended))
		candRefs = append(candRefs, refs[i])
	}
	cider, err := rw.Scorer.ScoreBatch(nil, cands, candRefs, 1)
	if err != nil {
		return SCSTStats{}, fmt.Errorf("updown: SCST reward: %w", err)
	}
	match := make([]float64, len(cands))
	wMatch := rw.WMatch
	if rw.Match == nil {
		wMatch = 0
	} else {
		for i := 0; i < nImg; i++ {
			seqs := make([][]int32, 0, samples+1)
			for j := 0; j < samples; j++ {
				seqs = append(seqs, wordsOnly(smp.tokens[i*samples+j]))
			}
			seqs = append(seqs, greedy[i].Tokens)
			idx := i
			if b.Index != nil {
				idx = b.Index[i]
			}
			sc := rw.Match(idx, seqs)
			if len(sc) != len(seqs) {
				return SCSTStats{}, fmt.Errorf("updown: MatchFunc returned %d scores for %d captions of image %d", len(sc), len(seqs), idx)
			}
			for j := 0; j < samples; j++ {
				match[i*samples+j] = float64(sc[j])
			}
			match[rows+i] = float64(sc[samples])
		}
	}
	reward := make([]float64, len(cands))
	for i := range cands {
		reward[i] = rw.WCider*cider[i] + wMatch*match[i]
		if math.IsNaN(reward[i]) || math.IsInf(reward[i], 0) {
			return SCSTStats{}, fmt.Errorf("updown: SCST reward of candidate %d is %v: %w", i, reward[i], optim.ErrNonFinite)
		}
	}

	// Policy gradient through the teacher-forced graph over the samples,
	// with the dropout masks they were drawn with.
	s := &seqBatch{n: rows, t: smp.steps, imgOf: rowImg}
	s.tokens = make([]int, s.t*s.n)
	s.target = make([]int, s.t*s.n)
	s.w = make([]float32, s.t*s.n)
	adv := make([]float64, rows)
	for row, toks := range smp.tokens {
		adv[row] = reward[row] - reward[rows+rowImg[row]]
		for t, w := range toks {
			s.target[t*s.n+row] = int(w)
			if t+1 < s.t {
				s.tokens[(t+1)*s.n+row] = int(w)
			}
			s.w[t*s.n+row] = 1
		}
		s.tokCnt += len(toks)
	}
	w := make([]float32, len(s.w))
	for i, x := range s.w {
		w[i] = float32(float64(x) * adv[i%s.n] / float64(s.tokCnt))
	}
	pt, err := m.prepareTrain(&b.Images, drop)
	if err != nil {
		return SCSTStats{}, err
	}
	tg, err := m.runTF(&b.Images, pt, s, tfRun{w: w, drops: smp.drops, grad: true})
	if err != nil {
		return SCSTStats{}, err
	}
	st := SCSTStats{Loss: tg.xeOut.scalar(), Images: nImg, Samples: rows, Tokens: s.tokCnt}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, fmt.Errorf("updown: SCST step: loss is %v: %w", st.Loss, optim.ErrNonFinite)
	}
	if st.GradNorm, err = opt.apply(m, tg, lr); err != nil {
		return st, err
	}
	for i := range cands {
		if i < rows {
			st.SampleReward += reward[i] / float64(rows)
			st.SampleCIDEr += cider[i] / float64(rows)
			st.SampleMatch += match[i] / float64(rows)
		} else {
			st.GreedyReward += reward[i] / float64(nImg)
			st.GreedyCIDEr += cider[i] / float64(nImg)
			st.GreedyMatch += match[i] / float64(nImg)
		}
	}
	return st, nil
}

// wordsOnly drops a trailing end token.
func wordsOnly(seq []int32) []int32 {
	if n := len(seq); n > 0 && seq[n-1] == EndToken {
		return seq[:n-1]
	}
	return seq
}
