package nn

import (
	"fmt"
	"hash"
	"math"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AttentionWeights is SCAN's text-to-image attention weights as one op: for scores s
// (I, K, T, J) of image i's region k against word slot t of caption j,
//
//	y   = LeakyReLU(s, 0.1)
//	ŝ   = y / (√(Σ_t wordMask[t,j]·y² + SqrtTiny) + L2Eps)       (clipped l2 norm over the words)
//	α   = softmax over the regions k with regionMask[i,k] = 1 of λ·ŝ (0 at masked regions)
//
// the same values as MaskedSoftmax(λ·ClippedL2Norm(s, wordMask, {0,1}, 2), regionMask, {2,3}, 1)
// (the reference it is tested against) in one pass forward and one backward instead of some
// thirty element-wise graph ops over the (I, K, T, J) tensor, spread over the CPUs by image.
// wordMask is (T, J), regionMask (I, K); every image needs a valid region.
func AttentionWeights(s, wordMask, regionMask *G.Node, lambda float64) *G.Node {
	sh := s.Shape()
	if len(sh) != 4 || !wordMask.Shape().Eq(tensor.Shape{sh[2], sh[3]}) || !regionMask.Shape().Eq(tensor.Shape{sh[0], sh[1]}) {
		panic(fmt.Sprintf("nn: AttentionWeights: s %v, wordMask %v, regionMask %v", sh, wordMask.Shape(), regionMask.Shape()))
	}
	return must(G.ApplyOp(attnWeightsOp{lambda: lambda}, s, wordMask, regionMask))
}

type attnWeightsOp struct{ lambda float64 }

func (op attnWeightsOp) Arity() int { return 3 }
func (op attnWeightsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t2, t4 := G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 4, Of: a}
	return hm.NewFnType(t4, t2, t2, t4)
}
func (op attnWeightsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op attnWeightsOp) ReturnsPtr() bool      { return false }
func (op attnWeightsOp) CallsExtern() bool     { return false }
func (op attnWeightsOp) OverwritesInput() int  { return -1 }
func (op attnWeightsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "AttnWeights{%v}", op.lambda) }
func (op attnWeightsOp) Hashcode() uint32      { return hashOf(op) }
func (op attnWeightsOp) String() string        { return fmt.Sprintf("AttnWeights{λ=%v}", op.lambda) }
func (op attnWeightsOp) DiffWRT(int) []bool    { return []bool{true, false, false} }

func (op attnWeightsOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		attnForward(op.lambda, in[0].Shape(), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), out.Data().([]float32))
	case tensor.Float64:
		attnForward(op.lambda, in[0].Shape(), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("nn: AttentionWeights: unsupported dtype %v", in[0].Dtype())
	}
	return out, nil
}

func (op attnWeightsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	ds, err := G.ApplyOp(attnWeightsGradOp(op), inputs[0], inputs[1], inputs[2], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{ds, nil, nil}, nil
}

// leaky is LeakyReLU with slope 0.1. For float32 it picks the factor by the sign bit instead of
// a branch: on scores of random sign a mispredicted branch per value made the attention weights'
// forward and backward passes take 91 instead of 47 ms at the paper's size (batch 128). Same
// values: x·1 = x, x·0.1 as before, −0 stays −0.
func leaky[F float](x F) F {
	if unsafe.Sizeof(x) == 4 {
		return x * F(leakySlope[math.Float32bits(float32(x))>>31])
	}
	if x > 0 {
		return x
	}
	return F(0.1) * x
}

// leakyGrad is g times LeakyReLU's derivative at x: g for x > 0, 0.1·g otherwise (x = ±0
// included); for float32 without a branch on the sign.
func leakyGrad[F float](x, g F) F {
	if unsafe.Sizeof(x) == 4 {
		b := math.Float32bits(float32(x))
		i := b >> 31
		if b<<1 == 0 { // ±0: rare, so this branch is predicted
			i = 1
		}
		return g * F(leakySlope[i])
	}
	if x > 0 {
		return g
	}
	return g * F(0.1)
}

// leakySlope is LeakyReLU's factor by sign bit.
var leakySlope = [2]float32{1, 0.1}

// attnNorms computes, for image i, the clipped l2 norms nrm[k·J+j] (and √(q+tiny) in sq).
func attnNorms[F float](K, T, J int, s, wm []F, i int, nrm, sq []F) {
	for k := 0; k < K; k++ {
		q := sq[k*J : (k+1)*J]
		clear(q)
		for t := 0; t < T; t++ {
			row := s[((i*K+k)*T+t)*J : ((i*K+k)*T+t+1)*J]
			w := wm[t*J : (t+1)*J]
			for j, x := range row {
				y := leaky(x)
				q[j] += w[j] * y * y
			}
		}
		for j := range q {
			q[j] = F(math.Sqrt(float64(q[j]) + SqrtTiny))
			nrm[k*J+j] = q[j] + F(L2Eps)
		}
	}
}

func attnForward[F float](lambda float64, sh tensor.Shape, s, wm, rm, out []F) {
	I, K, T, J := sh[0], sh[1], sh[2], sh[3]
	lam := F(lambda)
	parallelRows(I, K*T*J, func(lo, hi int) {
		nrm, sq := make([]F, K*J), make([]F, K*J)
		mx, z := make([]F, T*J), make([]F, T*J)
		for i := lo; i < hi; i++ {
			attnNorms(K, T, J, s, wm, i, nrm, sq)
			// logits (into out), their maximum over valid regions, the softmax.
			for t := range mx {
				mx[t] = F(math.Inf(-1))
			}
			clear(z)
			for k := 0; k < K; k++ {
				valid := rm[i*K+k] != 0
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					for j := 0; j < J; j++ {
						l := lam * leaky(s[o+j]) / nrm[k*J+j]
						out[o+j] = l
						if valid && l > mx[t*J+j] {
							mx[t*J+j] = l
						}
					}
				}
			}
			for k := 0; k < K; k++ {
				valid := rm[i*K+k] != 0
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					for j := 0; j < J; j++ {
						if !valid {
							out[o+j] = 0
							continue
						}
						e := expF(out[o+j] - mx[t*J+j])
						out[o+j] = e
						z[t*J+j] += e
					}
				}
			}
			for k := 0; k < K; k++ {
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					for j := 0; j < J; j++ {
						out[o+j] /= z[t*J+j]
					}
				}
			}
		}
	})
}

// attnWeightsGradOp returns ∂cost/∂s from s, the masks, α and ∂cost/∂α.
type attnWeightsGradOp attnWeightsOp

func (op attnWeightsGradOp) Arity() int { return 5 }
func (op attnWeightsGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t2, t4 := G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 4, Of: a}
	return hm.NewFnType(t4, t2, t2, t4, t4, t4)
}
func (op attnWeightsGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op attnWeightsGradOp) ReturnsPtr() bool      { return false }
func (op attnWeightsGradOp) CallsExtern() bool     { return false }
func (op attnWeightsGradOp) OverwritesInput() int  { return -1 }
func (op attnWeightsGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "AttnWeightsGrad{%v}", op.lambda) }
func (op attnWeightsGradOp) Hashcode() uint32      { return hashOf(op) }
func (op attnWeightsGradOp) String() string        { return fmt.Sprintf("AttnWeightsGrad{λ=%v}", op.lambda) }

func (op attnWeightsGradOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		attnBackward(op.lambda, in[0].Shape(), data[float32](in[0]), data[float32](in[1]), data[float32](in[3]), data[float32](in[4]), out.Data().([]float32))
	case tensor.Float64:
		attnBackward(op.lambda, in[0].Shape(), data[float64](in[0]), data[float64](in[1]), data[float64](in[3]), data[float64](in[4]), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("nn: AttentionWeights: unsupported dtype %v", in[0].Dtype())
	}
	return out, nil
}

func attnBackward[F float](lambda float64, sh tensor.Shape, s, wm, alpha, dAlpha, ds []F) {
	I, K, T, J := sh[0], sh[1], sh[2], sh[3]
	lam := F(lambda)
	parallelRows(I, K*T*J, func(lo, hi int) {
		nrm, sq := make([]F, K*J), make([]F, K*J)
		dot := make([]F, T*J) // Σ_k α·∂α per (t, j)
		dsy := make([]F, J)   // Σ_t ∂ŝ·y per j, for one k
		for i := lo; i < hi; i++ {
			attnNorms(K, T, J, s, wm, i, nrm, sq)
			clear(dot)
			for k := 0; k < K; k++ {
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					for j := 0; j < J; j++ {
						dot[t*J+j] += alpha[o+j] * dAlpha[o+j]
					}
				}
			}
			for k := 0; k < K; k++ {
				// ∂ŝ = λ·α·(∂α − Σ_k α ∂α), kept in ds for now.
				clear(dsy)
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					for j := 0; j < J; j++ {
						g := lam * alpha[o+j] * (dAlpha[o+j] - dot[t*J+j])
						ds[o+j] = g
						dsy[j] += g * leaky(s[o+j])
					}
				}
				// Through ŝ = y/nrm and nrm = √(Σ wm·y²) + eps, then LeakyReLU.
				for t := 0; t < T; t++ {
					o := ((i*K+k)*T + t) * J
					w := wm[t*J : (t+1)*J]
					for j := 0; j < J; j++ {
						n, q := nrm[k*J+j], sq[k*J+j]
						y := leaky(s[o+j])
						ds[o+j] = leakyGrad(s[o+j], ds[o+j]/n-w[j]*y*dsy[j]/(n*n*q))
					}
				}
			}
		}
	})
}
