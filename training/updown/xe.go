package updown

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/groundcap/groundcap/training/optim"
)

// XEStats are the results of one cross-entropy step.
type XEStats struct {
	// Loss is XE + λ·KL, XE the mean token negative log-likelihood (end
	// tokens included), KL the mean KL(α‖β) over the batch's noun positions
	// (0 without distillation or nouns).
	Loss, XE, KL float64
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
	// Captions, Tokens and Nouns count what the step saw.
	Captions, Tokens, Nouns int
}

// seqBatch is a batch laid out for the teacher-forced graph: n sequences of
// t steps, time-major rows r = step·n + seq.
type seqBatch struct {
	n, t   int
	imgOf  []int
	tokens []int     // (T·N) input token of each step
	target []int     // (T·N) token each step must emit
	w      []float32 // (T·N) loss weight of each step
	tokCnt int
}

// layoutCaptions lays out ground-truth captions (truncated to maxLen): input
// BOS then the words, target the words then the end token.
func layoutCaptions(caps [][]int32, imgOf []int, maxLen int) *seqBatch {
	n := len(caps)
	t := 0
	for _, c := range caps {
		t = max(t, min(len(c), maxLen)+1)
	}
	s := &seqBatch{n: n, t: t, imgOf: imgOf, tokens: make([]int, t*n), target: make([]int, t*n), w: make([]float32, t*n)}
	for c, cp := range caps {
		l := min(len(cp), maxLen)
		for i := 0; i <= l; i++ {
			if i > 0 {
				s.tokens[i*n+c] = int(cp[i-1])
			}
			if i < l {
				s.target[i*n+c] = int(cp[i])
			}
			s.w[i*n+c] = 1
		}
		s.tokCnt += l + 1
	}
	return s
}

// trainInputs are the per-step dropout masks of a training pass.
type stepDrops struct {
	word, out []float32 // (T·N, E), (T·N, rnn) time-major
}

// tfRun are the optional inputs of a teacher-forced run.
type tfRun struct {
	w          []float32  // (T·N) loss weights (1/Σmask for a mean NLL, A·mask/Σmask for SCST)
	drops      *stepDrops // per-step dropout masks (training mode)
	alpha, klw []float32  // distillation inputs (nil: no KL term)
	lambda     float64    // KL weight in the cost
	grad       bool       // run the backward pass
	outputs    bool       // copy out logp and betas
}

// runTF runs the teacher-forced graph on s with features p (padded features
// and image masks; p.drop its feature dropout). It returns the graph, whose
// outputs stay valid until its next run.
func (m *Model) runTF(im *Images, p *prepared, s *seqBatch, o tfRun) (*tfGraph, error) {
	c := m.cfg
	nImg, k := len(im.Feats), p.k
	w, drops, alpha, klw, grad := o.w, o.drops, o.alpha, o.klw, o.grad
	key := tfKey{nImg: nImg, n: s.n, k: k, t: s.t, train: p.drop != nil, grad: grad, kl: alpha != nil, lambda: o.lambda, outputs: o.outputs}
	if alpha == nil {
		key.lambda = 0
	}
	tg, err := m.tfGraph(key)
	if err != nil {
		return nil, err
	}
	regMask := expandRows(p.imgMask, k, s.imgOf)
	binds := []bind{
		{tg.feats, f32(p.feats, nImg*k, c.FeatDim)}, {tg.fcIn, f32(p.fcRaw, nImg, c.FeatDim)},
		{tg.imgIdx, intsT(append([]int(nil), s.imgOf...))}, {tg.regMask, f32(regMask, s.n, k)},
		{tg.tokens, intsT(s.tokens)}, {tg.target, intsT(s.target)}, {tg.w, f32(w, s.t*s.n)},
	}
	if p.drop != nil {
		binds = append(binds,
			bind{tg.attDrop, f32(p.drop.att, nImg*k, c.RNNSize)}, bind{tg.fcDrop, f32(p.drop.fc, nImg, c.RNNSize)},
			bind{tg.wordDrop, f32(drops.word, s.t*s.n, c.InputEncoding)}, bind{tg.outDrop, f32(drops.out, s.t*s.n, c.RNNSize)})
	}
	if alpha != nil {
		binds = append(binds, bind{tg.alpha, f32(alpha, s.t*s.n, k)}, bind{tg.klw, f32(klw, s.t*s.n)})
	}
	if err := run(tg.vm, binds...); err != nil {
		return nil, err
	}
	return tg, nil
}

// distillInputs lays out α for the teacher-forced graph: row t·N+c holds the
// attention of caption c's noun at position t (padded with zeros to k
// regions), klw its weight 1/#nouns. It returns nil slices when the batch has
// no noun within the training length.
func distillInputs(b *Batch, s *seqBatch, k, maxLen int) (alpha, klw []float32, nouns int) {
	alpha = make([]float32, s.t*s.n*k)
	klw = make([]float32, s.t*s.n)
	for c, pos := range b.NounPos {
		kb := b.NumBoxes[b.ImageOf[c]]
		for j, p := range pos {
			if p >= maxLen {
				continue // truncated away
			}
			r := p*s.n + c
			copy(alpha[r*k:r*k+kb], b.Alpha[c][j*kb:(j+1)*kb])
			klw[r] = 1
			nouns++
		}
	}
	if nouns == 0 {
		return nil, nil, 0
	}
	for r := range klw {
		klw[r] /= float32(nouns)
	}
	return alpha, klw, nouns
}

func scaled(w []float32, f float64) []float32 {
	out := make([]float32, len(w))
	for i, x := range w {
		out[i] = float32(float64(x) * f)
	}
	return out
}

// Loss evaluates the teacher-forced XE and, when the batch carries
// alignments, KL(α‖β) in evaluation mode (no dropout, no update).
func (m *Model) Loss(b *Batch) (XEStats, error) {
	distill := b.Alpha != nil
	if err := b.check(m.cfg, distill); err != nil {
		return XEStats{}, err
	}
	s := layoutCaptions(b.Captions, b.ImageOf, m.cfg.MaxLen)
	p, err := m.prepareTrain(&b.Images, nil)
	if err != nil {
		return XEStats{}, err
	}
	st := XEStats{Captions: s.n, Tokens: s.tokCnt}
	var alpha, klw []float32
	if distill {
		alpha, klw, st.Nouns = distillInputs(b, s, p.k, m.cfg.MaxLen)
	}
	tg, err := m.runTF(&b.Images, p, s, tfRun{w: scaled(s.w, 1/float64(s.tokCnt)), alpha: alpha, klw: klw})
	if err != nil {
		return XEStats{}, err
	}
	st.XE = tg.xeOut.scalar()
	if alpha != nil {
		st.KL = tg.klOut.scalar()
	}
	st.Loss = st.XE
	return st, nil
}

// prepareTrain pads the features of a training batch without running the
// preparation graph (the training graph embeds them itself).
func (m *Model) prepareTrain(im *Images, drop *featDrop) (*prepared, error) {
	if err := im.check(m.cfg); err != nil {
		return nil, err
	}
	k := im.maxBoxes()
	feats, fcRaw, mask := im.padded(m.cfg.FeatDim, k)
	return &prepared{k: k, numBoxes: im.NumBoxes, feats: feats, fcRaw: fcRaw, imgMask: mask, drop: drop}, nil
}

// Optimizer is the trainers' optimiser: Adam with per-value gradient
// clipping.
type Optimizer struct {
	// Adam holds the moments (checkpointed).
	Adam *optim.Adam
	// Clip bounds every gradient value to [−Clip, Clip] (≤ 0: no clipping).
	Clip float64
}

// NewOptimizer returns Adam (PyTorch defaults) with zero moments for m.
func NewOptimizer(m *Model, clip float64) (*Optimizer, error) {
	sizes := make([]int, 0, len(m.names))
	for _, p := range m.Params() {
		sizes = append(sizes, len(p))
	}
	a, err := optim.NewAdam(optim.AdamConfig{}, sizes)
	if err != nil {
		return nil, err
	}
	return &Optimizer{Adam: a, Clip: clip}, nil
}

// apply clips the graph's gradients and applies one Adam step. It returns
// the gradients' global norm before clipping (for the training logs).
func (o *Optimizer) apply(m *Model, tg *tfGraph, lr float64) (float64, error) {
	grads, err := tg.gradients()
	if err != nil {
		return 0, err
	}
	norm := optim.GlobalNorm(grads)
	if o.Clip > 0 {
		optim.ClipValue(grads, o.Clip)
	}
	if err := o.Adam.Update(lr, m.Params(), grads); err != nil {
		return norm, fmt.Errorf("updown: %w", err)
	}
	return norm, nil
}

// XEStep runs one training step on b: teacher-forced XE (+ λ·KL(α‖β) when
// lambda > 0; the batch must then carry NounPos and Alpha), with scheduled
// sampling probability ss (each input word after the first is, with
// probability ss, sampled from the model's previous output instead of the
// ground truth), dropout from r, and an update by opt with learning rate lr.
func (m *Model) XEStep(b *Batch, lr, lambda, ss float64, r *rand.Rand, opt *Optimizer) (XEStats, error) {
	c := m.cfg
	distill := lambda > 0
	if err := b.check(c, distill); err != nil {
		return XEStats{}, err
	}
	s := layoutCaptions(b.Captions, b.ImageOf, c.MaxLen)
	var drop *featDrop
	var drops *stepDrops
	k := b.maxBoxes()
	if c.Dropout > 0 {
		drop = m.drawFeatDrop(r, len(b.Feats), k)
		drops = &stepDrops{word: dropMask(r, c.Dropout, s.t*s.n*c.InputEncoding), out: dropMask(r, c.Dropout, s.t*s.n*c.RNNSize)}
	}
	if ss > 0 {
		if err := m.scheduledSampling(b, s, drop, drops, ss, r); err != nil {
			return XEStats{}, err
		}
	}
	p, err := m.prepareTrain(&b.Images, drop)
	if err != nil {
		return XEStats{}, err
	}
	st := XEStats{Captions: s.n, Tokens: s.tokCnt}
	var alpha, klw []float32
	if distill {
		alpha, klw, st.Nouns = distillInputs(b, s, k, c.MaxLen)
	}
	tg, err := m.runTF(&b.Images, p, s, tfRun{w: scaled(s.w, 1/float64(s.tokCnt)), drops: drops, alpha: alpha, klw: klw, lambda: lambda, grad: true})
	if err != nil {
		return XEStats{}, err
	}
	st.XE = tg.xeOut.scalar()
	st.Loss = st.XE
	if alpha != nil {
		st.KL = tg.klOut.scalar()
		st.Loss += lambda * st.KL
	}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, fmt.Errorf("updown: XE step: loss is %v: %w", st.Loss, optim.ErrNonFinite)
	}
	if st.GradNorm, err = opt.apply(m, tg, lr); err != nil {
		return st, err
	}
	return st, nil
}

// scheduledSampling replaces, step by step, the input word of each caption
// with probability ss by a word sampled from the model's output at the
// previous step (self-critical.pytorch's scheduled sampling, steps ≥ 1),
// running the decoder with the same dropout masks the training pass uses so
// the samples come from the distribution that pass computes.
func (m *Model) scheduledSampling(b *Batch, s *seqBatch, drop *featDrop, drops *stepDrops, ss float64, r *rand.Rand) error {
	c := m.cfg
	p, err := m.prepare(&b.Images, drop, s.imgOf)
	if err != nil {
		return err
	}
	d := m.newDecoder(p, drop != nil)
	n, v1 := s.n, c.VocabSize+1
	tok := make([]int, n)
	for t := 0; t+1 < s.t; t++ {
		copy(tok, s.tokens[t*n:(t+1)*n])
		var wd, od []float32
		if drops != nil {
			wd = drops.word[t*n*c.InputEncoding : (t+1)*n*c.InputEncoding]
			od = drops.out[t*n*c.RNNSize : (t+1)*n*c.RNNSize]
		}
		logp, _, err := d.step(tok, wd, od)
		if err != nil {
			return err
		}
		for row := 0; row < n; row++ {
			if r.Float64() < ss {
				s.tokens[(t+1)*n+row] = sampleRow(r, logp[row*v1:(row+1)*v1])
			}
		}
	}
	return nil
}
