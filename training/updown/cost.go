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

// topDownProducts are the products of nn.TopDownCore over n rows, k regions and t steps, with
// its backward pass when grad: forward, the attention LSTM's products with x (all steps at
// once) and fc (once), then per step its recurrent product with [h², h¹], W_h h¹ and the
// language LSTM's product with [v̂, h¹, h²]; backward, per step the gradients of those three
// products' inputs, then those of x and fc and every weight gradient over all steps at once.
func (c Config) topDownProducts(n, k, t int, grad bool) []blas.Product {
	H, A, E := c.RNNSize, c.AttHid, c.InputEncoding
	steps := float64(t)
	out := []blas.Product{
		{M: t * n, N: 4 * H, K: E, Count: 1},     // x·Wx
		{M: n, N: 4 * H, K: H, Count: 1},         // fc·Wx
		{M: n, N: 4 * H, K: 2 * H, Count: steps}, // [h², h¹]·[Wx; Wh]
		{M: n, N: A, K: H, Count: steps},         // W_h h¹
		{M: n, N: 4 * H, K: 3 * H, Count: steps}, // [v̂, h¹, h²]·[Wx; Wh]
	}
	if !grad {
		return out
	}
	return append(out,
		blas.Product{M: n, N: 3 * H, K: 4 * H, Count: steps}, // ∂[v̂, h¹, h²]
		blas.Product{M: n, N: H, K: A, Count: steps},         // ∂h¹ from the attention
		blas.Product{M: n, N: 2 * H, K: 4 * H, Count: steps}, // ∂[h², h¹]
		blas.Product{M: t * n, N: E, K: 4 * H, Count: 1},     // ∂x
		blas.Product{M: n, N: H, K: 4 * H, Count: 1},         // ∂fc
		blas.Product{M: 2 * H, N: 4 * H, K: t * n, Count: 1}, // ∂[Wx; Wh] of the recurrent inputs
		blas.Product{M: H, N: 4 * H, K: n, Count: 1},         // ∂Wx of fc
		blas.Product{M: E, N: 4 * H, K: t * n, Count: 1},     // ∂Wx of x
		blas.Product{M: 3 * H, N: 4 * H, K: t * n, Count: 1}, // the language LSTM's
		blas.Product{M: H, N: A, K: t * n, Count: 1},         // ∂W_h
	)
}

// teacherForcedProducts are the products of the teacher-forced graph over nImg images of k
// regions and n captions of t steps, with its backward pass when grad: the preparation and the
// logits are graph products, whose gradients are ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C, but for the
// features' (constants: the training machine computes only what the gradients need); the
// decoder core is topDownProducts.
func (c Config) teacherForcedProducts(nImg, n, k, t int, grad bool) []blas.Product {
	prep := c.prepareProducts(nImg, k)
	logits := blas.Product{M: t * n, N: c.VocabSize + 1, K: c.RNNSize, Count: 1}
	out := append(append([]blas.Product(nil), prep...), logits)
	if grad {
		dA := func(p blas.Product) blas.Product { return blas.Product{M: p.M, N: p.K, K: p.N, Count: p.Count} }
		dB := func(p blas.Product) blas.Product { return blas.Product{M: p.K, N: p.N, K: p.M, Count: p.Count} }
		out = append(out, dB(prep[0]), dB(prep[1]), dA(prep[2]), dB(prep[2]), dA(logits), dB(logits))
	}
	return append(out, c.topDownProducts(n, k, t, grad)...)
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
