package scan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/nn"
)

// cosEps is the clamp of the denominator in SCAN's cosine_similarity.
const cosEps = 1e-8

// Dims are the sizes of one all-pairs attention graph: I images of K
// regions, J captions of L words (time-major), embedding width E. T is the
// number of word slots of the attention: the most words of T′ (the nouns for
// POS-SCAN) in a caption; 0 means L (XAttnT2I reads L).
type Dims struct {
	I, K, J, L, E, T int
}

// XAttnT2I is SCAN's text-to-image stacked cross attention for every
// (image i, caption j) pair at once:
//
//	s[i,k,t,j] = v[i,k]·e[t,j]
//	s̄ = clipped_l2norm(s) over the words t in T′ (wordMask)
//	α[i,k,t,j] = softmax_k(λ·s̄) over valid regions (regionMask)
//	R[i,t,j]  = cos(e[t,j], a) with a = Σ_k α v[i,k]
//
// v is (I·K, E) (row i·K+k), e is (L·J, E) (row t·J+j), regionMask (I, K),
// wordMask (L, J). It returns α (I, K, L, J) and R (I, L, J); values at
// masked words are not meaningful.
//
// The attended vectors are never materialised (they would be I·J·L·E
// values): e·a = Σ_k α s and |a|² = αᵀ(V Vᵀ)α with one K×K Gram matrix per
// image, which is the same cosine, computed with one large sgemm for s and
// two fused ops (nn.AttentionWeights, nn.CosineAttended).
func XAttnT2I(v, e, regionMask, wordMask *G.Node, d Dims, lambdaSoftmax float64) (alpha, r *G.Node) {
	if !v.Shape().Eq(tensor.Shape{d.I * d.K, d.E}) || !e.Shape().Eq(tensor.Shape{d.L * d.J, d.E}) {
		panic(fmt.Sprintf("scan: XAttnT2I: v %v, e %v do not match %+v", v.Shape(), e.Shape(), d))
	}
	s := nn.MatMulNT(v, e, d.I, d.K, d.L, d.J)                          // (I·K, L·J) = (I, K, L, J)
	alpha = nn.AttentionWeights(s, wordMask, regionMask, lambdaSoftmax) // softmax_k(λ·clipped_l2norm_t(s))
	r = nn.CosineAttended(alpha, s, v, e, cosEps)                       // (I, L, J)
	return alpha, r
}

// XAttnT2IR is R of XAttnT2I alone, as one op (nn.AttendedCosine): what training needs, where α
// is not an output. The same computations as XAttnT2I.
func XAttnT2IR(v, e, regionMask, wordMask *G.Node, d Dims, lambdaSoftmax float64) *G.Node {
	return nn.AttendedCosine(v, e, regionMask, wordMask, d.I, d.K, d.L, d.J, lambdaSoftmax, cosEps)
}

// ScoreLSE aggregates R (I, L, J) over the words of T′ (wordMask (L, J)):
// S = (1/λ) log Σ_t exp(λ R_t), giving (I, J).
func ScoreLSE(r, wordMask *G.Node, lambda float64) *G.Node {
	dt := r.Dtype()
	x := must(G.Mul(r, nn.Scalar(dt, lambda)))
	lse := nn.MaskedLogSumExp(x, wordMask, []byte{0}, 1) // (I, J)
	return must(G.Mul(lse, nn.Scalar(dt, 1/lambda)))
}

// ScoreAVG is the mean of R (I, L, J) over the words of T′, giving (I, J).
func ScoreAVG(r, wordMask *G.Node) *G.Node {
	return nn.MaskedMean(r, wordMask, []byte{0}, 1)
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(fmt.Errorf("scan: building graph: %w", err))
	}
	return n
}
