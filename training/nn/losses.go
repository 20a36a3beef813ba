package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// KLClamp is SCAN/POS-SCAN's lower clamp on both distributions in the
// attention-distillation KL.
const KLClamp = 1e-8

// identity returns an n×n identity constant of dtype dt.
func identity(g *G.ExprGraph, dt tensor.Dtype, n int) *G.Node {
	vals := make([]float64, n*n)
	for i := 0; i < n; i++ {
		vals[i*n+i] = 1
	}
	return G.NewTensor(g, dt, 2, G.WithShape(n, n), G.WithName(fmt.Sprintf("eye%d", n)), G.WithValue(FromFloat64(dt, vals, n, n)))
}

// HingeTriplet is VSE++/SCAN's ContrastiveLoss on a square score matrix
// scores (B, B) with scores[i, j] = S(image i, caption j) and matching pairs
// on the diagonal:
//
//	cost_s[i,j]  = [margin − S[i,i] + S[i,j]]₊   (caption negatives of image i)
//	cost_im[i,j] = [margin − S[j,j] + S[i,j]]₊   (image negatives of caption j)
//
// with the diagonal zeroed; maxViolation keeps only the hardest negative of
// each row of cost_s and each column of cost_im. The result is the sum.
func HingeTriplet(scores *G.Node, margin float64, maxViolation bool) *G.Node {
	s := scores.Shape()
	if len(s) != 2 || s[0] != s[1] {
		panic(fmt.Sprintf("nn: HingeTriplet: scores shape %v is not square", s))
	}
	dt := scores.Dtype()
	eye := identity(scores.Graph(), dt, s[0])
	offDiag := must(G.Sub(Scalar(dt, 1), eye))
	diag := ReduceSum(must(G.HadamardProd(scores, eye)), 1) // (B): S[i,i]
	mS := must(G.Add(scores, Scalar(dt, margin)))
	costS := must(G.Rectify(bcastSub(mS, diag, []byte{1})))  // − S[i,i] per row
	costIm := must(G.Rectify(bcastSub(mS, diag, []byte{0}))) // − S[j,j] per column
	costS = must(G.HadamardProd(costS, offDiag))
	costIm = must(G.HadamardProd(costIm, offDiag))
	if maxViolation {
		costS = ReduceMax(costS, 1)
		costIm = ReduceMax(costIm, 0)
	}
	return must(G.Add(must(G.Sum(costS)), must(G.Sum(costIm))))
}

// MaskedCrossEntropy is self-critical's LanguageModelCriterion:
// −Σ_n mask[n] · logp[n, target[n]] / Σ mask, with logp (N, V)
// log-probabilities, target (N, V) one-hot and mask (N).
func MaskedCrossEntropy(logp, target, mask *G.Node) *G.Node {
	picked := ReduceSum(must(G.HadamardProd(logp, target)), 1) // (N)
	num := must(G.Sum(must(G.HadamardProd(picked, mask))))
	return must(G.Neg(must(G.HadamardDiv(num, must(G.Sum(mask))))))
}

// MaskedKL is the attention-distillation term
// (1/Σ mask) Σ_n mask[n] Σ_k α[n,k] (log α[n,k] − log β[n,k]) with α
// (teacher, N×K) and β (student, N×K) both clamped ≥ KLClamp, mask (N).
func MaskedKL(alpha, beta, mask *G.Node) *G.Node {
	a := Clamp(alpha, KLClamp)
	b := Clamp(beta, KLClamp)
	d := must(G.Sub(must(G.Log(a)), must(G.Log(b))))
	per := ReduceSum(must(G.HadamardProd(a, d)), 1) // (N)
	num := must(G.Sum(must(G.HadamardProd(per, mask))))
	return must(G.HadamardDiv(num, must(G.Sum(mask))))
}

// SCSTLoss is the self-critical policy-gradient loss
// −Σ_{n,t} A[n] · logp[n,t] · mask[n,t] / Σ mask, with logp (N, T) the
// log-probabilities of the sampled tokens, adv (N) the advantages
// r(sample) − r(greedy) and mask (N, T) covering tokens up to and including
// the first end token.
func SCSTLoss(logp, adv, mask *G.Node) *G.Node {
	w := bcastMul(must(G.HadamardProd(logp, mask)), adv, []byte{1}) // (N, T)
	return must(G.Neg(must(G.HadamardDiv(must(G.Sum(w)), must(G.Sum(mask))))))
}
