package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CosineAttended is SCAN's R = cos(e, a) between each word slot's embedding e[t·J+j] and its
// attended image vector a = Σ_k α[i,k,t,j]·v[i·K+k], for every image i, without building a
// (I·T·J, E) tensor of attended vectors:
//
//	e·a  = Σ_k α·s                       (s[i,k,t,j] = v[i·K+k]·e[t·J+j], the attention scores)
//	|a|² = αᵀ G_i α,  G_i = V_i V_iᵀ     (a K×K Gram matrix per image)
//	R    = e·a / max(√(Σe² + SqrtTiny) · √(max(|a|², 0) + SqrtTiny), eps)
//
// alpha and s are (I, K, T, J), v (I·K, E), e (T·J, E); R is (I, T, J). It computes what the
// graph of Hadamard products, sums, batched K×K products, square roots and the clamp did (the
// reference it is tested against), image by image on all CPUs, with the small products called
// directly.
func CosineAttended(alpha, s, v, e *G.Node, eps float64) *G.Node {
	sh := alpha.Shape()
	if len(sh) != 4 || !s.Shape().Eq(sh) || !v.Shape().Eq(tensor.Shape{sh[0] * sh[1], e.Shape()[1]}) || e.Shape()[0] != sh[2]*sh[3] {
		panic(fmt.Sprintf("nn: CosineAttended: alpha %v, s %v, v %v, e %v", sh, s.Shape(), v.Shape(), e.Shape()))
	}
	op := cosAttnOp{eps: eps, id: opIDs.Add(1), st: &cosState{}}
	return must(G.ApplyOp(op, alpha, s, v, e))
}

type cosAttnOp struct {
	eps float64
	id  int64
	st  *cosState
}

// cosState is what the forward pass keeps for backward: |e| per word slot (w1), the Gram
// matrices (g) and G·α (ga), []F each.
type cosState struct {
	passGrads
	w1, g, ga any
}

func (op cosAttnOp) Arity() int    { return 4 }
func (op cosAttnOp) Type() hm.Type { return fusedType(op) }
func (op cosAttnOp) types(a hm.TypeVariable) ([]hm.Type, hm.Type) {
	t2, t3, t4 := G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 3, Of: a}, G.TensorType{Dims: 4, Of: a}
	return []hm.Type{t4, t4, t2, t2}, t3
}
func (op cosAttnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[0], s[2], s[3]}, nil
}
func (op cosAttnOp) ReturnsPtr() bool      { return false }
func (op cosAttnOp) CallsExtern() bool     { return false }
func (op cosAttnOp) OverwritesInput() int  { return -1 }
func (op cosAttnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "CosAttended{%v,%d}", op.eps, op.id) }
func (op cosAttnOp) Hashcode() uint32      { return hashOf(op) }
func (op cosAttnOp) String() string        { return fmt.Sprintf("CosAttended{eps=%v}", op.eps) }
func (op cosAttnOp) DiffWRT(int) []bool    { return []bool{true, true, true, true} }

func (op cosAttnOp) Do(in ...G.Value) (G.Value, error) {
	sh := in[0].Shape()
	out := tensor.New(tensor.WithShape(sh[0], sh[2], sh[3]), tensor.Of(in[0].Dtype()))
	var err error
	switch in[0].Dtype() {
	case tensor.Float32:
		err = cosAttn[float32](op.eps, in, out.Data().([]float32), nil, nil, op.st)
	case tensor.Float64:
		err = cosAttn[float64](op.eps, in, out.Data().([]float64), nil, nil, op.st)
	default:
		err = fmt.Errorf("nn: CosineAttended: unsupported dtype %v", in[0].Dtype())
	}
	op.st.forward()
	return out, err
}

func (op cosAttnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return fusedSymDiff(op, 4, inputs, output, grad)
}

func (op cosAttnOp) grads() *passGrads { return &op.st.passGrads }

func (op cosAttnOp) backward(in []G.Value) error {
	grads := make([]*tensor.Dense, 4)
	var err error
	switch in[0].Dtype() {
	case tensor.Float32:
		err = cosAttn(op.eps, in[:4], nil, data[float32](in[5]), grads, op.st)
	case tensor.Float64:
		err = cosAttn(op.eps, in[:4], nil, data[float64](in[5]), grads, op.st)
	default:
		err = fmt.Errorf("nn: CosineAttended: unsupported dtype %v", in[0].Dtype())
	}
	op.st.grads = grads
	return err
}

// cosAttn computes R into r and keeps |e|, the Gram matrices and G·α in st; with dr non-nil it
// computes the four gradients into grads instead (r is then the forward output, unused), with
// what the forward pass kept in st.
func cosAttn[F float](eps float64, in []G.Value, r []F, dr []F, grads []*tensor.Dense, st *cosState) error {
	sh := in[0].Shape()
	I, K, T, J := sh[0], sh[1], sh[2], sh[3]
	TJ := T * J
	E := in[3].Shape()[1]
	alpha, s, v, e := data[F](in[0]), data[F](in[1]), data[F](in[2]), data[F](in[3])
	w1, _ := st.w1.([]F)
	if dr == nil || len(w1) != TJ {
		w1 = make([]F, TJ)
		parallelRows(TJ, E, func(from, to int) {
			for tj := from; tj < to; tj++ {
				var q F
				for _, x := range e[tj*E : (tj+1)*E] {
					q += x * x
				}
				w1[tj] = F(math.Sqrt(float64(q) + SqrtTiny))
			}
		})
	}
	var dAlpha, ds, dv, de []F
	if dr != nil {
		dt := in[0].Dtype()
		for i, shape := range []tensor.Shape{sh, sh, in[2].Shape(), in[3].Shape()} {
			grads[i] = tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(dt))
		}
		dAlpha, ds, dv, de = grads[0].Data().([]F), grads[1].Data().([]F), grads[2].Data().([]F), grads[3].Data().([]F)
	}
	lo := F(eps)
	// The small products of each image (eachSmall), then the element-wise work, both spread
	// over the CPUs.
	g, _ := st.g.([]F)
	ga, _ := st.ga.([]F)
	if dr == nil || len(g) != I*K*K || len(ga) != I*K*TJ {
		g, ga = make([]F, I*K*K), make([]F, I*K*TJ)
		eachSmall(I, func(from, to int) {
			for i := from; i < to; i++ {
				vi := v[i*K*E : (i+1)*K*E]
				gi := g[i*K*K : (i+1)*K*K]
				gemm(false, true, K, K, E, 1, vi, E, vi, E, 0, gi, K)                                              // G = V Vᵀ
				gemm(false, false, K, TJ, K, 1, gi, K, alpha[i*K*TJ:(i+1)*K*TJ], TJ, 0, ga[i*K*TJ:(i+1)*K*TJ], TJ) // G·α
			}
		})
	}
	if dr == nil {
		st.w1, st.g, st.ga = w1, g, ga
	} else {
		st.w1, st.g, st.ga = nil, nil, nil // this pass's; the next forward computes its own
	}
	var scaled []F
	if dr != nil {
		scaled = make([]F, I*K*TJ)
	}
	// ∂|e| per image, summed over images in order afterwards: the result must not depend on
	// how the images were split between goroutines.
	var dw1Img []F
	if dr != nil {
		dw1Img = make([]F, I*TJ)
	}
	parallelRows(I, K*TJ, func(from, to int) {
		w12, aa, dw12, daa := make([]F, TJ), make([]F, TJ), make([]F, TJ), make([]F, TJ)
		for i := from; i < to; i++ {
			a := alpha[i*K*TJ : (i+1)*K*TJ]
			si := s[i*K*TJ : (i+1)*K*TJ]
			gai := ga[i*K*TJ : (i+1)*K*TJ]
			var dw1 []F
			if dr != nil {
				dw1 = dw1Img[i*TJ : (i+1)*TJ]
			}
			clear(w12)
			clear(aa)
			for k := 0; k < K; k++ { // rows in order: contiguous runs of TJ
				ak, sk, gk := a[k*TJ:(k+1)*TJ], si[k*TJ:(k+1)*TJ], gai[k*TJ:(k+1)*TJ]
				for tj, x := range ak {
					w12[tj] += x * sk[tj]
					aa[tj] += x * gk[tj]
				}
			}
			for tj := 0; tj < TJ; tj++ {
				w2 := F(math.Sqrt(float64(max(aa[tj], 0)) + SqrtTiny))
				x := w1[tj] * w2
				den := max(x, lo)
				if dr == nil {
					r[i*TJ+tj] = w12[tj] / den
					continue
				}
				d := dr[i*TJ+tj]
				dw12[tj], daa[tj] = d/den, 0
				if x > lo { // the clamp passes the gradient above eps only
					dden := -d * w12[tj] / (den * den)
					dw1[tj] += dden * w2
					if aa[tj] > 0 {
						daa[tj] = dden * w1[tj] / (2 * w2)
					}
				}
			}
			if dr == nil {
				continue
			}
			for k := 0; k < K; k++ {
				o := i*K*TJ + k*TJ
				ak, sk, gk := a[k*TJ:(k+1)*TJ], si[k*TJ:(k+1)*TJ], gai[k*TJ:(k+1)*TJ]
				da, dsk, sc := dAlpha[o:o+TJ], ds[o:o+TJ], scaled[o:o+TJ]
				for tj, x := range ak {
					da[tj] = dw12[tj]*sk[tj] + 2*daa[tj]*gk[tj]
					dsk[tj] = dw12[tj] * x
					sc[tj] = x * daa[tj]
				}
			}
		}
	})
	if dr != nil {
		// ∂G = Σ_tj ∂aa·α αᵀ (symmetric), ∂V = (∂G + ∂Gᵀ)·V = 2 ∂G·V.
		eachSmall(I, func(from, to int) {
			dg := make([]F, K*K)
			for i := from; i < to; i++ {
				a := alpha[i*K*TJ : (i+1)*K*TJ]
				gemm(false, true, K, K, TJ, 1, scaled[i*K*TJ:(i+1)*K*TJ], TJ, a, TJ, 0, dg, K)
				gemm(false, false, K, E, K, 2, dg, K, v[i*K*E:(i+1)*K*E], E, 0, dv[i*K*E:(i+1)*K*E], E)
			}
		})
	}
	if dr != nil {
		parallelRows(TJ, E, func(from, to int) {
			for tj := from; tj < to; tj++ {
				var d F
				for i := 0; i < I; i++ {
					d += dw1Img[i*TJ+tj]
				}
				f := d / w1[tj]
				for c, x := range e[tj*E : (tj+1)*E] {
					de[tj*E+c] = f * x
				}
			}
		})
	}
	return nil
}
