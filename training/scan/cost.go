package scan

import (
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/nn"
)

// The cost model of the matching model: the matrix products its CPU paths issue, per call, from
// the sizes of a batch. Run-time estimates (pipelines/plan) price them with blas.Rates; the
// tests count the products a real call issues (blas.Counter) against these lists, so a change
// of the model's products must change them too.

// ForwardProducts returns the products of Forward (and Align) on a batch of sizes d: the image
// FC, both GRU directions (input projections and recurrences), the scores s = v·eᵀ and, per
// image, the Gram matrix V·Vᵀ and its product with α.
func (c Config) ForwardProducts(d Dims) []blas.Product {
	E, W, D := c.Embed, c.WordDim, c.ImgDim
	return []blas.Product{
		{M: d.I * d.K, N: E, K: D, Count: 1},                // image FC
		{M: d.L * d.J, N: 3 * E, K: W, Count: 2},            // GRU input projections
		{M: d.J, N: 3 * E, K: E, Count: 2 * float64(d.L)},   // GRU recurrences
		{M: d.I * d.K, N: d.T * d.J, K: E, Count: 1},        // s = v·eᵀ
		{M: d.K, N: d.K, K: E, Count: float64(d.I)},         // G = V·Vᵀ
		{M: d.K, N: d.T * d.J, K: d.K, Count: float64(d.I)}, // G·α
	}
}

// TrainStepProducts returns the products of one TrainStep on a batch of sizes d (I = J):
// Forward's and those of the backward pass (the image features' gradient is not computed).
func (c Config) TrainStepProducts(d Dims) []blas.Product {
	E, W, D := c.Embed, c.WordDim, c.ImgDim
	return append(c.ForwardProducts(d),
		blas.Product{M: d.K, N: d.K, K: d.T * d.J, Count: float64(d.I)}, // ∂G of the cosine
		blas.Product{M: d.K, N: E, K: d.K, Count: float64(d.I)},         // ∂v through G
		blas.Product{M: d.I * d.K, N: E, K: d.T * d.J, Count: 1},        // ∂v = ∂s·e
		blas.Product{M: d.T * d.J, N: E, K: d.I * d.K, Count: 1},        // ∂e = ∂sᵀ·v
		blas.Product{M: d.J, N: E, K: 3 * E, Count: 2 * float64(d.L)},   // GRU ∂h recurrences
		blas.Product{M: d.L * d.J, N: W, K: 3 * E, Count: 2},            // GRU ∂x
		blas.Product{M: W, N: 3 * E, K: d.L * d.J, Count: 2},            // GRU ∂W_i
		blas.Product{M: E, N: 3 * E, K: d.L * d.J, Count: 2},            // GRU ∂W_h
		blas.Product{M: D, N: E, K: d.I * d.K, Count: 1},                // image FC ∂W
	)
}

// ScoresProducts returns the products of Scores over images × captions on the CPU: Forward on
// every block of opts.Images images × opts.Captions captions (defaults 8 and 128), each block
// encoding its images and captions again; d gives the regions K, the padded length L and the
// attended slots T.
func (c Config) ScoresProducts(images, captions int, d Dims, opts ScoreOptions) []blas.Product {
	bi, bj := opts.Images, opts.Captions
	if bi <= 0 {
		bi = cpuScoreImages
	}
	if bj <= 0 {
		bj = cpuScoreCaptions
	}
	var out []blas.Product
	// Full blocks, then the partial last row and column of blocks.
	for _, b := range []struct{ i, j, n int }{
		{bi, bj, (images / bi) * (captions / bj)},
		{images % bi, bj, captions / bj},
		{bi, captions % bj, images / bi},
		{images % bi, captions % bj, 1},
	} {
		if b.i == 0 || b.j == 0 || b.n == 0 {
			continue
		}
		bd := d
		bd.I, bd.J = b.i, b.j
		out = append(out, blas.Scale(c.ForwardProducts(bd), float64(b.n))...)
	}
	return out
}

// Element-wise work per call, in units of nn.ElementwiseRate's pass, fitted to the least CPU
// time of TrainStep and Forward less that of their products (simd backend, this project's 2-core
// machine, batch 64 at embed 128 and batch 32 at embed 256; docs/BENCHMARKS.md, "Run plan"): per
// value of the (I, K, T, J) attention tensors, per GRU gate value (L·J·E) and per weight (Adam).
const (
	trainValuesPerAttention = 1.6
	trainValuesPerGRU       = 3.3
	trainValuesPerWeight    = 2.2
	fwdValuesPerAttention   = 2
	fwdValuesPerGRU         = 2.6
)

// NumWeights returns the number of trained weights.
func (c Config) NumWeights() int {
	E, W := c.Embed, c.WordDim
	return c.ImgDim*E + E + c.Vocab*W + 2*(3*W*E+3*E*E+6*E)
}

// TrainStepWork returns the cost of one TrainStep on a batch of sizes d.
func (c Config) TrainStepWork(d Dims) nn.Work {
	return nn.Work{Products: c.TrainStepProducts(d),
		Values: trainValuesPerAttention*float64(d.I*d.K*d.T*d.J) + trainValuesPerGRU*float64(d.L*d.J*c.Embed) + trainValuesPerWeight*float64(c.NumWeights())}
}

// ForwardWork returns the cost of Forward (or Align) on a batch of sizes d.
func (c Config) ForwardWork(d Dims) nn.Work {
	return nn.Work{Products: c.ForwardProducts(d),
		Values: fwdValuesPerAttention*float64(d.I*d.K*d.T*d.J) + fwdValuesPerGRU*float64(d.L*d.J*c.Embed)}
}

// ScoresWork returns the cost of Scores over images × captions on the CPU (see ScoresProducts).
func (c Config) ScoresWork(images, captions int, d Dims, opts ScoreOptions) nn.Work {
	w := nn.Work{Products: c.ScoresProducts(images, captions, d, opts)}
	bj := opts.Captions
	if bj <= 0 {
		bj = cpuScoreCaptions
	}
	bi := opts.Images
	if bi <= 0 {
		bi = cpuScoreImages
	}
	// Every pair once in the attention; every caption encoded once per block row of images.
	rows := float64((images + bi - 1) / bi)
	w.Values = fwdValuesPerAttention*float64(images)*float64(d.K*d.T)*float64(captions) + fwdValuesPerGRU*rows*float64(d.L*captions*c.Embed)
	return w
}
