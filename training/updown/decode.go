package updown

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/groundcap/groundcap/training/nn"
	"gorgonia.org/tensor"
)

// Caption is one decoded caption.
type Caption struct {
	// Tokens are the generated word ids, without the end token.
	Tokens []int32
	// LogProbs[i] is log p(Tokens[i]) under the model.
	LogProbs []float32
	// Beta[i] is the attention over the image's regions (NumBoxes values)
	// at the step that generated Tokens[i].
	Beta [][]float32
	// Ended says whether the model emitted the end token (false: stopped at
	// the maximum length); LogProb is the sequence's total log-probability,
	// the end token's included.
	Ended   bool
	LogProb float64
}

// featDrop are the dropout masks of the feature embeddings of a batch.
type featDrop struct {
	att, fc []float32 // (nImg·K, rnn), (nImg, rnn)
}

func (m *Model) drawFeatDrop(r *rand.Rand, nImg, k int) *featDrop {
	p, rnn := m.cfg.Dropout, m.cfg.RNNSize
	return &featDrop{att: dropMask(r, p, nImg*k*rnn), fc: dropMask(r, p, nImg*rnn)}
}

// dropMask draws n inverted-dropout multipliers with nn.DropoutMask.
func dropMask(r *rand.Rand, p float64, n int) []float32 {
	return nn.DropoutMask(r, tensor.Float32, p, n).Data().([]float32)
}

// prepared are a batch's embedded features, expanded to decoding rows.
type prepared struct {
	k            int
	rows         int
	v, pv, fc    []float32 // (rows, K, rnn), (rows, K, A), (rows, rnn)
	mask         []float32 // (rows, K)
	rowImg       []int
	numBoxes     []int
	feats, fcRaw []float32 // padded inputs (nImg·K, D), (nImg, D), kept for the training graph
	imgMask      []float32 // (nImg, K)
	drop         *featDrop
}

// prepare embeds im's features (dropout masks drop; nil: evaluation) and
// expands them to rows, row r showing image rowImg[r].
func (m *Model) prepare(im *Images, drop *featDrop, rowImg []int) (*prepared, error) {
	c := m.cfg
	nImg, k := len(im.Feats), im.maxBoxes()
	feats, fcRaw, mask := im.padded(c.FeatDim, k)
	pg, err := m.prepGraph(prepKey{nImg: nImg, k: k, train: drop != nil})
	if err != nil {
		return nil, err
	}
	binds := []bind{{pg.feats, f32(feats, nImg*k, c.FeatDim)}, {pg.fcIn, f32(fcRaw, nImg, c.FeatDim)}}
	if drop != nil {
		binds = append(binds, bind{pg.attDrop, f32(drop.att, nImg*k, c.RNNSize)}, bind{pg.fcDrop, f32(drop.fc, nImg, c.RNNSize)})
	}
	if err := run(pg.vm, binds...); err != nil {
		return nil, err
	}
	p := &prepared{k: k, rows: len(rowImg), rowImg: rowImg, numBoxes: im.NumBoxes, feats: feats, fcRaw: fcRaw, imgMask: mask, drop: drop}
	p.v = expandRows(pg.vOut.f32(), k*c.RNNSize, rowImg)
	p.pv = expandRows(pg.pvOut.f32(), k*c.AttHid, rowImg)
	p.fc = expandRows(pg.fcOut.f32(), c.RNNSize, rowImg)
	p.mask = expandRows(mask, k, rowImg)
	return p, nil
}

// expandRows copies row rowImg[r] of src (rows of width w) to row r.
func expandRows(src []float32, w int, rowImg []int) []float32 {
	out := make([]float32, len(rowImg)*w)
	for r, i := range rowImg {
		copy(out[r*w:(r+1)*w], src[i*w:(i+1)*w])
	}
	return out
}

// decoder runs single steps over the rows of a prepared batch.
type decoder struct {
	m              *Model
	p              *prepared
	train          bool
	h1, c1, h2, c2 []float32 // (rows, rnn)
	vT, pvT, fcT   *tensor.Dense
	maskT          *tensor.Dense
}

func (m *Model) newDecoder(p *prepared, train bool) *decoder {
	c := m.cfg
	n := p.rows
	z := func() []float32 { return make([]float32, n*c.RNNSize) }
	return &decoder{m: m, p: p, train: train, h1: z(), c1: z(), h2: z(), c2: z(),
		vT: f32(p.v, n, p.k, c.RNNSize), pvT: f32(p.pv, n, p.k, c.AttHid), fcT: f32(p.fc, n, c.RNNSize), maskT: f32(p.mask, n, p.k)}
}

// step feeds tokens (one per row) and returns copies of the log-probs
// (rows, V+1) and β (rows, K), advancing the state. wordDrop (rows, E) and
// outDrop (rows, rnn) are used in training mode.
func (d *decoder) step(tok []int, wordDrop, outDrop []float32) (logp, beta []float32, err error) {
	c := d.m.cfg
	n := d.p.rows
	sg, err := d.m.stepGraph(stepKey{n: n, k: d.p.k, train: d.train})
	if err != nil {
		return nil, nil, err
	}
	binds := []bind{{sg.tok, intsT(tok)}, {sg.v, d.vT}, {sg.pv, d.pvT}, {sg.fc, d.fcT}, {sg.mask, d.maskT},
		{sg.in.h1, f32(d.h1, n, c.RNNSize)}, {sg.in.c1, f32(d.c1, n, c.RNNSize)},
		{sg.in.h2, f32(d.h2, n, c.RNNSize)}, {sg.in.c2, f32(d.c2, n, c.RNNSize)}}
	if d.train {
		binds = append(binds, bind{sg.wordDrop, f32(wordDrop, n, c.InputEncoding)}, bind{sg.outDrop, f32(outDrop, n, c.RNNSize)})
	}
	if err := run(sg.vm, binds...); err != nil {
		return nil, nil, err
	}
	d.h1 = append(d.h1[:0:0], sg.stateOut[0].f32()...)
	d.c1 = append(d.c1[:0:0], sg.stateOut[1].f32()...)
	d.h2 = append(d.h2[:0:0], sg.stateOut[2].f32()...)
	d.c2 = append(d.c2[:0:0], sg.stateOut[3].f32()...)
	logp = append([]float32(nil), sg.logpOut.f32()...)
	beta = append([]float32(nil), sg.betaOut.f32()...)
	for _, x := range logp {
		if math.IsNaN(float64(x)) {
			return nil, nil, fmt.Errorf("updown: decoding produced NaN log-probabilities")
		}
	}
	return logp, beta, nil
}

// reorder makes row r continue from row from[r] (beam search).
func (d *decoder) reorder(from []int) {
	w := d.m.cfg.RNNSize
	d.h1 = expandRows(d.h1, w, from)
	d.c1 = expandRows(d.c1, w, from)
	d.h2 = expandRows(d.h2, w, from)
	d.c2 = expandRows(d.c2, w, from)
}

func seqRange(n, per int) []int {
	out := make([]int, n*per)
	for i := range out {
		out[i] = i / per
	}
	return out
}

// Greedy decodes one caption per image by taking the most probable word at
// each step, for up to Config.DecodeMaxLen words (evaluation mode).
func (m *Model) Greedy(im *Images) ([]Caption, error) {
	return m.greedy(im, m.cfg.DecodeMaxLen)
}

func (m *Model) greedy(im *Images, maxLen int) ([]Caption, error) {
	if err := im.check(m.cfg); err != nil {
		return nil, err
	}
	n := len(im.Feats)
	p, err := m.prepare(im, nil, seqRange(n, 1))
	if err != nil {
		return nil, err
	}
	d := m.newDecoder(p, false)
	v1 := m.cfg.VocabSize + 1
	out := make([]Caption, n)
	done := make([]bool, n)
	tok := make([]int, n)
	for t := 0; t < maxLen; t++ {
		logp, beta, err := d.step(tok, nil, nil)
		if err != nil {
			return nil, err
		}
		left := 0
		for r := 0; r < n; r++ {
			if done[r] {
				continue
			}
			row := logp[r*v1 : (r+1)*v1]
			best := argmax(row)
			out[r].LogProb += float64(row[best])
			if int32(best) == EndToken {
				out[r].Ended, done[r] = true, true
				continue
			}
			out[r].Tokens = append(out[r].Tokens, int32(best))
			out[r].LogProbs = append(out[r].LogProbs, row[best])
			out[r].Beta = append(out[r].Beta, append([]float32(nil), beta[r*p.k:r*p.k+im.NumBoxes[r]]...))
			tok[r] = best
			left++
		}
		if left == 0 {
			break
		}
	}
	return out, nil
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// sampleRow draws an index from the distribution exp(logp).
func sampleRow(r *rand.Rand, logp []float32) int {
	u := r.Float64()
	var acc float64
	for i, l := range logp {
		acc += math.Exp(float64(l))
		if u < acc {
			return i
		}
	}
	// Rounding left u above the total: take the most probable word.
	return argmax(logp)
}

// Beam decodes one caption per image with beam search of width k (k ≤ 1:
// greedy) for up to Config.DecodeMaxLen words, returning the finished beam of
// highest total log-probability (no length normalisation, as
// self-critical.pytorch's default).
func (m *Model) Beam(im *Images, k int) ([]Caption, error) {
	if k <= 1 {
		return m.Greedy(im)
	}
	if err := im.check(m.cfg); err != nil {
		return nil, err
	}
	nImg := len(im.Feats)
	rows := nImg * k
	p, err := m.prepare(im, nil, seqRange(nImg, k))
	if err != nil {
		return nil, err
	}
	d := m.newDecoder(p, false)
	v1 := m.cfg.VocabSize + 1
	maxLen := m.cfg.DecodeMaxLen
	type hyp struct {
		tokens []int32
		lps    []float32
		betas  [][]float32
		score  float64
	}
	live := make([][]hyp, nImg) // per image, up to k live hypotheses (row i·k+j)
	best := make([]*Caption, nImg)
	for i := range live {
		live[i] = []hyp{{}}
	}
	tok := make([]int, rows)
	type cand struct {
		from, word int
		score      float64
	}
	for t := 0; t < maxLen; t++ {
		logp, beta, err := d.step(tok, nil, nil)
		if err != nil {
			return nil, err
		}
		from := make([]int, rows)
		anyLive := false
		for i := 0; i < nImg; i++ {
			var cands []cand
			for j, h := range live[i] {
				row := logp[(i*k+j)*v1 : (i*k+j+1)*v1]
				for w, l := range row {
					cands = append(cands, cand{j, w, h.score + float64(l)})
				}
			}
			// Stable order: score, then beam, then word, so ties are deterministic.
			sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
			var next []hyp
			for _, cd := range cands {
				if len(next) == k {
					break
				}
				if best[i] != nil && cd.score <= best[i].LogProb {
					break // scores only fall from here: nothing can beat the best finished beam
				}
				h := live[i][cd.from]
				if int32(cd.word) == EndToken || t == maxLen-1 {
					c := &Caption{Tokens: h.tokens, LogProbs: h.lps, Beta: h.betas, Ended: int32(cd.word) == EndToken, LogProb: cd.score}
					if !c.Ended {
						r := i*k + cd.from
						c.Tokens = append(append([]int32(nil), h.tokens...), int32(cd.word))
						c.LogProbs = append(append([]float32(nil), h.lps...), logp[r*v1+cd.word])
						c.Beta = append(append([][]float32(nil), h.betas...), append([]float32(nil), beta[r*p.k:r*p.k+im.NumBoxes[i]]...))
					}
					if best[i] == nil || c.LogProb > best[i].LogProb {
						best[i] = c
					}
					continue
				}
				r := i*k + cd.from
				nh := hyp{
					tokens: append(append([]int32(nil), h.tokens...), int32(cd.word)),
					lps:    append(append([]float32(nil), h.lps...), logp[r*v1+cd.word]),
					betas:  append(append([][]float32(nil), h.betas...), append([]float32(nil), beta[r*p.k:r*p.k+im.NumBoxes[i]]...)),
					score:  cd.score,
				}
				from[i*k+len(next)] = r
				tok[i*k+len(next)] = cd.word
				next = append(next, nh)
			}
			for j := len(next); j < k; j++ {
				from[i*k+j] = i * k // idle rows: any state of the image
				tok[i*k+j] = 0
			}
			live[i] = next
			if len(next) > 0 {
				anyLive = true
			}
		}
		if !anyLive {
			break
		}
		d.reorder(from)
	}
	out := make([]Caption, nImg)
	for i, b := range best {
		out[i] = *b
	}
	return out, nil
}
