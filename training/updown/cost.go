package updown

import (
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/nn"
)

// The cost model of the captioner: the matrix products its calls issue, from the sizes of a
// batch. Run-time estimates (pipelines/plan) price them with blas.Rates; the tests count the
// products real calls issue (blas.Counter) against these lists, so a change of the model's
// products must change them too.

// prepareProducts are the products of embedding nImg images of k regions: the regions'
// embedding, the mean feature's and the attention's projection of the regions.
func (c Config) prepareProducts(nImg, k int) []blas.Product {
	H, A, D := c.RNNSize, c.AttHid, c.FeatDim
	return []blas.Product{
		{M: nImg * k, N: H, K: D, Count: 1}, // att_embed
		{M: nImg, N: H, K: D, Count: 1},     // fc_embed
		{M: nImg * k, N: A, K: H, Count: 1}, // W_v v
	}
}

// coreProducts are the products of one TopDownCore step over n rows and k regions, without the
// logits.
func (c Config) coreProducts(n, k int) []blas.Product {
	H, A, E := c.RNNSize, c.AttHid, c.InputEncoding
	return []blas.Product{
		{M: n, N: H, K: 2*H + E, Count: 4},    // attention LSTM, input
		{M: n, N: H, K: H, Count: 4},          // attention LSTM, state
		{M: n, N: A, K: H, Count: 1},          // W_h h¹
		{M: n * k, N: 1, K: A, Count: 1},      // w_α tanh(…)
		{M: 1, N: H, K: k, Count: float64(n)}, // context β·v, one per row
		{M: n, N: H, K: 2 * H, Count: 4},      // language LSTM, input
		{M: n, N: H, K: H, Count: 4},          // language LSTM, state
	}
}

// DecodeProducts returns the products of decoding nImg images of k regions with perImage rows
// each (1: greedy; the beam width; the samples of SCST) for steps steps: the preparation, then
// one step graph per step with the logits of every row.
func (c Config) DecodeProducts(nImg, perImage, k, steps int) []blas.Product {
	n := nImg * perImage
	out := c.prepareProducts(nImg, k)
	step := append(c.coreProducts(n, k), blas.Product{M: n, N: c.VocabSize + 1, K: c.RNNSize, Count: 1})
	return append(out, blas.Scale(step, float64(steps))...)
}

// teacherForcedProducts are the products of the teacher-forced graph over nImg images of k
// regions and n captions of t steps, with its backward pass when grad: gorgonia's product
// gradients compute both inputs' gradients, ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C.
func (c Config) teacherForcedProducts(nImg, n, k, t int, grad bool) []blas.Product {
	fwd := c.prepareProducts(nImg, k)
	fwd = append(fwd, blas.Scale(c.coreProducts(n, k), float64(t))...)
	fwd = append(fwd, blas.Product{M: t * n, N: c.VocabSize + 1, K: c.RNNSize, Count: 1}) // logits
	if !grad {
		return fwd
	}
	out := fwd
	for _, p := range fwd {
		out = append(out, blas.Product{M: p.M, N: p.K, K: p.N, Count: p.Count}, blas.Product{M: p.K, N: p.N, K: p.M, Count: p.Count})
	}
	return out
}

// XEStepProducts returns the products of one XEStep without scheduled sampling: nImg images of
// k regions, n captions padded to t steps (the longest caption, truncated to MaxLen, + 1).
func (c Config) XEStepProducts(nImg, n, k, t int) []blas.Product {
	return c.teacherForcedProducts(nImg, n, k, t, true)
}

// LossProducts returns the products of Loss on the same sizes (forward only).
func (c Config) LossProducts(nImg, n, k, t int) []blas.Product {
	return c.teacherForcedProducts(nImg, n, k, t, false)
}

// SCSTStepProducts returns the captioner's products of one SCSTStep over nImg images of k
// regions with samples samples per image, when the greedy baseline runs greedySteps steps and
// the sampling sampleSteps (each at most MaxLen): the greedy decoding, the sampling and the
// teacher-forced pass over the samples with its backward. The rewards' products (the matching
// model's score) are the caller's.
func (c Config) SCSTStepProducts(nImg, samples, k, greedySteps, sampleSteps int) []blas.Product {
	out := c.DecodeProducts(nImg, 1, k, greedySteps)
	out = append(out, c.DecodeProducts(nImg, samples, k, sampleSteps)...)
	return append(out, c.teacherForcedProducts(nImg, nImg*samples, k, sampleSteps, true)...)
}

// Element-wise work, in units of nn.ElementwiseRate's pass, fitted to the least CPU time of
// XEStep (train) and Loss (forward) less that of their products (simd backend, this project's
// 2-core machine, rnn 128 and 256, 80 and 40 captions of 16 steps; docs/BENCHMARKS.md, "Run
// plan"): per value of the additive attention's (N, K, A) tensor of a step, per LSTM hidden
// value of a step and per logit.
const (
	trainValuesPerAttention = 2.4
	trainValuesPerHidden    = 8
	trainValuesPerLogit     = 1
	fwdValuesPerAttention   = 1.1
	fwdValuesPerHidden      = 3.6
	fwdValuesPerLogit       = 0.45
)

// stepValues is the element-wise work of steps steps over n rows and k regions.
func (c Config) stepValues(n, k, steps int, train bool) float64 {
	att, hid, logit := float64(fwdValuesPerAttention), float64(fwdValuesPerHidden), float64(fwdValuesPerLogit)
	if train {
		att, hid, logit = trainValuesPerAttention, trainValuesPerHidden, trainValuesPerLogit
	}
	rows := float64(steps) * float64(n)
	return rows * (att*float64(k*c.AttHid) + hid*float64(c.RNNSize) + logit*float64(c.VocabSize+1))
}

// XEStepWork returns the cost of one XEStep without scheduled sampling (see XEStepProducts).
func (c Config) XEStepWork(nImg, n, k, t int) nn.Work {
	return nn.Work{Products: c.XEStepProducts(nImg, n, k, t), Values: c.stepValues(n, k, t, true)}
}

// LossWork returns the cost of Loss (see LossProducts).
func (c Config) LossWork(nImg, n, k, t int) nn.Work {
	return nn.Work{Products: c.LossProducts(nImg, n, k, t), Values: c.stepValues(n, k, t, false)}
}

// DecodeWork returns the cost of decoding (see DecodeProducts).
func (c Config) DecodeWork(nImg, perImage, k, steps int) nn.Work {
	return nn.Work{Products: c.DecodeProducts(nImg, perImage, k, steps), Values: c.stepValues(nImg*perImage, k, steps, false)}
}

// SCSTStepWork returns the captioner's cost of one SCSTStep (see SCSTStepProducts).
func (c Config) SCSTStepWork(nImg, samples, k, greedySteps, sampleSteps int) nn.Work {
	return nn.Work{Products: c.SCSTStepProducts(nImg, samples, k, greedySteps, sampleSteps),
		Values: c.stepValues(nImg, k, greedySteps, false) + c.stepValues(nImg*samples, k, sampleSteps, false) + c.stepValues(nImg*samples, k, sampleSteps, true)}
}
