package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// bigNeg is added to masked logits before a max so that masked positions
// never win it; exp of it underflows to exactly 0 in float32 and float64.
const bigNeg = 1e9

// L2Eps is SCAN's epsilon added to the norm in l2norm (X / (‖X‖ + eps)).
const L2Eps = 1e-8

// SqrtTiny is added under every square root of a sum of squares so that an
// all-zero vector (a padded word) has a finite gradient (gorgonia's Sqrt
// gradient is 1/(2√x), infinite at 0). It is far below float32 resolution
// of any non-degenerate sum, so values are unchanged.
const SqrtTiny = 1e-30

// SafeSqrt returns √(x + SqrtTiny).
func SafeSqrt(x *G.Node) *G.Node {
	return must(G.Sqrt(must(G.Add(x, Scalar(x.Dtype(), SqrtTiny)))))
}

// bcastMul multiplies x by small (a mask or reduced tensor) broadcast along
// pattern, the axes of x that small lacks (nil: same shape).
func bcastMul(x, small *G.Node, pattern []byte) *G.Node {
	return must(G.HadamardProd(x, BroadcastTo(small, pattern, x.Shape())))
}

func bcastDiv(x, small *G.Node, pattern []byte) *G.Node {
	return must(G.HadamardDiv(x, BroadcastTo(small, pattern, x.Shape())))
}

func bcastSub(x, small *G.Node, pattern []byte) *G.Node {
	return must(G.Sub(x, BroadcastTo(small, pattern, x.Shape())))
}

func bcastAdd(x, small *G.Node, pattern []byte) *G.Node {
	return must(G.Add(x, BroadcastTo(small, pattern, x.Shape())))
}

// keepAxis is the broadcast pattern that expands a tensor reduced along axis
// back to the unreduced shape.
func keepAxis(axis int) []byte { return []byte{byte(axis)} }

// L2Norm divides x by its l2 norm along axis, as SCAN's l2norm:
// x / (sqrt(Σ x²) + L2Eps). Shape is preserved.
func L2Norm(x *G.Node, axis int) *G.Node {
	if x.Dims() == 2 && axis == 1 {
		return must(G.ApplyOp(l2NormRowsOp{}, x)) // the common case as one op
	}
	return l2NormGraph(x, axis)
}

// l2NormGraph is L2Norm built from graph ops (any axis; the reference of l2NormRowsOp's tests).
func l2NormGraph(x *G.Node, axis int) *G.Node {
	dt := x.Dtype()
	n := ReduceSum(must(G.Square(x)), axis)
	n = must(G.Add(SafeSqrt(n), Scalar(dt, L2Eps)))
	return bcastDiv(x, n, keepAxis(axis))
}

// MaskedL2Norm is L2Norm where only positions with mask 1 enter the norm.
// mask is broadcast against x along the axes in pattern (nil: same shape).
// Masked positions are divided too; callers ignore them.
func MaskedL2Norm(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	dt := x.Dtype()
	sq := bcastMul(must(G.Square(x)), mask, pattern)
	n := ReduceSum(sq, axis)
	n = must(G.Add(SafeSqrt(n), Scalar(dt, L2Eps)))
	return bcastDiv(x, n, keepAxis(axis))
}

// LeakyReLU is max(x, 0) + alpha·min(x, 0).
func LeakyReLU(x *G.Node, alpha float64) *G.Node {
	return must(G.LeakyRelu(x, alpha))
}

// ClippedL2Norm is SCAN's clipped_l2norm: LeakyReLU(0.1) then l2 norm along
// axis over the positions where mask is 1 (mask nil: all positions).
func ClippedL2Norm(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	y := LeakyReLU(x, 0.1)
	if mask == nil {
		return L2Norm(y, axis)
	}
	return MaskedL2Norm(y, mask, pattern, axis)
}

// Clamp returns max(x, lo) with torch.clamp's gradient (1 above lo, 0 below).
func Clamp(x *G.Node, lo float64) *G.Node {
	dt := x.Dtype()
	return must(G.Add(must(G.Rectify(must(G.Sub(x, Scalar(dt, lo))))), Scalar(dt, lo)))
}

// maskLogits returns x + (mask−1)·bigNeg (x itself for a nil mask).
func maskLogits(x, mask *G.Node, pattern []byte) *G.Node {
	if mask == nil {
		return x
	}
	dt := x.Dtype()
	pen := must(G.Mul(must(G.Sub(mask, Scalar(dt, 1))), Scalar(dt, bigNeg)))
	return bcastAdd(x, pen, pattern)
}

// LogSumExp returns log Σ exp(x) along axis, stabilised by the maximum
// (gorgonia's own LogSumExp is wrong in v0.9.18). The axis is removed.
func LogSumExp(x *G.Node, axis int) *G.Node {
	return MaskedLogSumExp(x, nil, nil, axis)
}

// MaskedLogSumExp returns log Σ_{mask=1} exp(x) along axis; mask (nil: all
// positions) is broadcast against x along pattern. Each reduced slice needs
// at least one unmasked position. The axis is removed.
func MaskedLogSumExp(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	xm := maskLogits(x, mask, pattern)
	mx := ReduceMax(xm, axis)
	e := must(G.Exp(bcastSub(xm, mx, keepAxis(axis))))
	if mask != nil {
		e = bcastMul(e, mask, pattern)
	}
	return must(G.Add(must(G.Log(ReduceSum(e, axis))), mx))
}

// MaskedLogSoftmax returns x − logΣ_{mask=1} exp(x) along axis (mask nil:
// plain log-softmax). Values at masked positions are meaningless.
func MaskedLogSoftmax(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	xm := maskLogits(x, mask, pattern)
	lse := MaskedLogSumExp(x, mask, pattern, axis)
	return bcastSub(xm, lse, keepAxis(axis))
}

// MaskedSoftmax returns softmax of x along axis over positions with mask 1;
// masked positions get exactly 0. Built as Exp(LogSoftmax) (gorgonia
// collapses SoftMax and LogSoftMax of one node).
func MaskedSoftmax(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	p := must(G.Exp(MaskedLogSoftmax(x, mask, pattern, axis)))
	if mask != nil {
		p = bcastMul(p, mask, pattern)
	}
	return p
}

// Softmax is MaskedSoftmax without a mask.
func Softmax(x *G.Node, axis int) *G.Node { return MaskedSoftmax(x, nil, nil, axis) }

// LogSoftmax is MaskedLogSoftmax without a mask.
func LogSoftmax(x *G.Node, axis int) *G.Node { return MaskedLogSoftmax(x, nil, nil, axis) }

// MaskedMean returns Σ_{mask=1} x / Σ mask along axis (mask same shape as x
// or broadcast along pattern). The axis is removed.
func MaskedMean(x, mask *G.Node, pattern []byte, axis int) *G.Node {
	num := ReduceSum(bcastMul(x, mask, pattern), axis)
	var den *G.Node
	if len(pattern) == 0 {
		den = ReduceSum(mask, axis)
	} else {
		// the mask lacks the axes in pattern; find axis's index in the mask.
		ma := axis
		for _, p := range pattern {
			if int(p) < axis {
				ma--
			} else if int(p) == axis {
				panic(fmt.Sprintf("nn: MaskedMean: mask is broadcast along the reduced axis %d", axis))
			}
		}
		den = ReduceSum(mask, ma)
		var rest []byte
		for _, p := range pattern {
			if int(p) > axis {
				rest = append(rest, p-1)
			} else {
				rest = append(rest, p)
			}
		}
		return bcastDiv(num, den, rest)
	}
	return must(G.HadamardDiv(num, den))
}
