package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AttendedCosine is the cosine R (I, T, J) of SCAN's text-to-image cross attention as one op
// for training, where α is not an output: the scores s = v·eᵀ (MatMulNT into (I, K, T, J)),
// α = AttentionWeights(s, wordMask, regionMask, λ) and R = CosineAttended(α, s, v, e, eps),
// the same computations as those three ops (the reference it is tested against). As one op, s
// and α stay in buffers reused from pass to pass instead of fresh tensors, the two gradients of
// s are summed in one parallel pass, and the score product's gradients are accumulated into the
// cosine's by the products themselves (β = 1) instead of by gorgonia's single-threaded adds.
// v is (I·K, E), e (T·J, E), regionMask (I, K), wordMask (T, J).
func AttendedCosine(v, e, regionMask, wordMask *G.Node, I, K, T, J int, lambda, eps float64) *G.Node {
	E := v.Shape()[1]
	if !v.Shape().Eq(tensor.Shape{I * K, E}) || !e.Shape().Eq(tensor.Shape{T * J, E}) ||
		!regionMask.Shape().Eq(tensor.Shape{I, K}) || !wordMask.Shape().Eq(tensor.Shape{T, J}) {
		panic(fmt.Sprintf("nn: AttendedCosine: v %v, e %v, regionMask %v, wordMask %v for I %d K %d T %d J %d",
			v.Shape(), e.Shape(), regionMask.Shape(), wordMask.Shape(), I, K, T, J))
	}
	op := xattnOp{sh: [4]int{I, K, T, J}, lambda: lambda, eps: eps, id: opIDs.Add(1), st: &xattnState{}}
	return must(G.ApplyOp(op, v, e, regionMask, wordMask))
}

type xattnOp struct {
	sh          [4]int // I, K, T, J
	lambda, eps float64
	id          int64
	st          *xattnState
}

// xattnState holds s and α ([]F) from the forward pass for backward, the cosine's state, and
// the gradients of a pass.
type xattnState struct {
	passGrads
	s, alpha, ds any
	cos          cosState
}

func (op xattnOp) Arity() int    { return 4 }
func (op xattnOp) Type() hm.Type { return fusedType(op) }
func (op xattnOp) types(a hm.TypeVariable) ([]hm.Type, hm.Type) {
	t2, t3 := G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 3, Of: a}
	return []hm.Type{t2, t2, t2, t2}, t3
}
func (op xattnOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.sh[0], op.sh[2], op.sh[3]}, nil
}
func (op xattnOp) ReturnsPtr() bool     { return false }
func (op xattnOp) CallsExtern() bool    { return false }
func (op xattnOp) OverwritesInput() int { return -1 }
func (op xattnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "AttendedCosine{%v,%v,%v,%d}", op.sh, op.lambda, op.eps, op.id)
}
func (op xattnOp) Hashcode() uint32 { return hashOf(op) }
func (op xattnOp) String() string {
	return fmt.Sprintf("AttendedCosine{%v,λ=%v,eps=%v}", op.sh, op.lambda, op.eps)
}
func (op xattnOp) DiffWRT(int) []bool { return []bool{true, true, false, false} }

func (op xattnOp) Do(in ...G.Value) (G.Value, error) {
	I, _, T, J := op.sh[0], op.sh[1], op.sh[2], op.sh[3]
	out := tensor.New(tensor.WithShape(I, T, J), tensor.Of(in[0].Dtype()))
	var err error
	switch in[0].Dtype() {
	case tensor.Float32:
		err = xattnForward(op, in, out.Data().([]float32))
	case tensor.Float64:
		err = xattnForward(op, in, out.Data().([]float64))
	default:
		err = fmt.Errorf("nn: AttendedCosine: unsupported dtype %v", in[0].Dtype())
	}
	op.st.forward()
	return out, err
}

// cosInputs are CosineAttended's inputs (α, s, v, e) from the op's buffers and inputs, without
// copying.
func (op xattnOp) cosInputs(alpha, s any, in []G.Value) []G.Value {
	sh := tensor.Shape{op.sh[0], op.sh[1], op.sh[2], op.sh[3]}
	return []G.Value{newDense(sh, alpha), newDense(sh, s), in[0], in[1]}
}

func xattnForward[F float](op xattnOp, in []G.Value, r []F) error {
	I, K, T, J := op.sh[0], op.sh[1], op.sh[2], op.sh[3]
	E := in[0].Shape()[1]
	v, e, rm, wm := data[F](in[0]), data[F](in[1]), data[F](in[2]), data[F](in[3])
	n := I * K * T * J
	s, alpha := reuse[F](&op.st.s, n), reuse[F](&op.st.alpha, n)
	gemm(false, true, I*K, T*J, E, 1, v, E, e, E, 0, s, T*J)
	sh := tensor.Shape{I, K, T, J}
	attnForward(op.lambda, sh, s, wm, rm, alpha)
	return cosAttn(op.eps, op.cosInputs(alpha, s, in), r, nil, nil, &op.st.cos)
}

func (op xattnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return fusedSymDiff(op, 2, inputs, output, grad) // v and e; the masks have none
}

func (op xattnOp) grads() *passGrads { return &op.st.passGrads }

func (op xattnOp) backward(in []G.Value) error {
	switch in[0].Dtype() {
	case tensor.Float32:
		return xattnBackward(op, in[:4], data[float32](in[5]))
	case tensor.Float64:
		return xattnBackward(op, in[:4], data[float64](in[5]))
	}
	return fmt.Errorf("nn: AttendedCosine: unsupported dtype %v", in[0].Dtype())
}

func xattnBackward[F float](op xattnOp, in []G.Value, dr []F) error {
	I, K, T, J := op.sh[0], op.sh[1], op.sh[2], op.sh[3]
	E := in[0].Shape()[1]
	st := op.st
	s, ok1 := st.s.([]F)
	alpha, ok2 := st.alpha.([]F)
	if !ok1 || !ok2 || len(s) != I*K*T*J {
		return fmt.Errorf("nn: %v: backward before forward", op)
	}
	v, e, wm := data[F](in[0]), data[F](in[1]), data[F](in[3])
	// The cosine's gradients: ∂α, ∂s (through e·a), ∂v (through |a|), ∂e (through |e|).
	cg := make([]*tensor.Dense, 4)
	if err := cosAttn(op.eps, op.cosInputs(alpha, s, in), nil, dr, cg, &st.cos); err != nil {
		return err
	}
	dAlpha, ds, dv, de := cg[0].Data().([]F), cg[1].Data().([]F), cg[2].Data().([]F), cg[3].Data().([]F)
	// ∂s through α, added to the cosine's ∂s.
	dsa := reuse[F](&st.ds, len(s))
	attnBackward(op.lambda, tensor.Shape{I, K, T, J}, s, wm, alpha, dAlpha, dsa)
	TJ := T * J
	parallelRows(I*K, TJ, func(lo, hi int) {
		for i := lo * TJ; i < hi*TJ; i++ {
			ds[i] += dsa[i]
		}
	})
	// s = v·eᵀ: ∂v += ∂s·e, ∂e += ∂sᵀ·v.
	gemm(false, false, I*K, E, TJ, 1, ds, TJ, e, E, 1, dv, E)
	gemm(true, false, TJ, E, I*K, 1, ds, TJ, v, E, 1, de, E)
	st.grads = []*tensor.Dense{cg[2], cg[3]}
	return nil
}
