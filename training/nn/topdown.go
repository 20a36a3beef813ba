package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TopDownCore runs Up-Down's decoder core (self-critical.pytorch's TopDownCore) over a whole
// teacher-forced sequence as one op. For each step t of the time-major inputs xs (T·N, E) it
// runs the attention LSTM att on [h²_{t−1}, fc, x_t], the additive attention a with query h¹_t
// over the regions v (N, K, Dv) whose projection W_v v + b_v is pv (N, K, A) (region mask
// (N, K), 1 on real regions), and the language LSTM lang on [v̂_t, h¹_t], from zero states. It
// returns the language LSTM's states h² (T·N, H) and the attention weights β (T·N, K), row
// t·N+n for step t of sequence n: the values LSTMCell.Step and
// AdditiveAttention.ForwardProjected give step by step (the reference it is tested against).
//
// One op instead of a graph of about forty ops a step: the attention LSTM's products with fc
// and x_t are one product for all steps, the recurrent products of each LSTM one product a
// step, and backward gets every weight gradient from one product over all steps (T·N rows)
// instead of a small product per step and gate and gorgonia's sums of them. Forward keeps the
// gates and cell states of every step for backward, and of the attention W_h h¹_t, from which
// backward recomputes its N·K·A activations a step (cheaper than keeping them). The attention's
// tanh, over N·K·A values a step, is tanhRational in float32 (within 4e-7 of tanh; tanhDot).
func TopDownCore(att, lang *LSTMCell, a *AdditiveAttention, xs, fc, v, pv, mask *G.Node, steps, batch int) (h, beta *G.Node) {
	sv, spv := v.Shape(), pv.Shape()
	if len(sv) != 3 || len(spv) != 3 {
		panic(fmt.Sprintf("nn: TopDownCore: v %v and pv %v must be (N, K, ·)", sv, spv))
	}
	d := topDownDims{
		steps: steps, batch: batch, k: sv[1], e: xs.Shape()[1], f: fc.Shape()[1], dv: sv[2],
		hid: att.Hidden, a: spv[2],
	}
	H := d.hid
	switch {
	case !xs.Shape().Eq(tensor.Shape{steps * batch, d.e}), !fc.Shape().Eq(tensor.Shape{batch, d.f}),
		sv[0] != batch, !spv.Eq(tensor.Shape{batch, d.k, d.a}), !mask.Shape().Eq(tensor.Shape{batch, d.k}):
		panic(fmt.Sprintf("nn: TopDownCore: xs %v, fc %v, v %v, pv %v, mask %v for %d steps of %d",
			xs.Shape(), fc.Shape(), sv, spv, mask.Shape(), steps, batch))
	case lang.Hidden != H, att.In != H+d.f+d.e, lang.In != d.dv+H, a.H.In != H, a.H.Out != d.a, a.W.In != d.a, a.W.Out != 1:
		panic(fmt.Sprintf("nn: TopDownCore: attention LSTM %d→%d, language LSTM %d→%d, attention %d→%d→%d for H %d, fc %d, x %d, regions %d",
			att.In, att.Hidden, lang.In, lang.Hidden, a.H.In, a.H.Out, a.W.Out, H, d.f, d.e, d.dv))
	}
	in := G.Nodes{xs, fc, v, pv}
	in = append(append(in, att.Params()...), lang.Params()...)
	in = append(in, a.H.W, a.H.B, a.W.W, a.W.B, mask)
	dims := make([]int, len(in))
	for i, n := range in {
		dims[i] = n.Dims()
	}
	op := topDownOp{topDownDims: d, dims: dims, id: opIDs.Add(1), st: &topDownState{}}
	out := must(G.ApplyOp(op, in...)) // (T·N, H+K)
	return Columns(out, 0, H), Columns(out, H, H+d.k)
}

// topDownDims are the sizes of a TopDownCore: steps T, batch N, regions K, widths of x (E), fc
// (F), the regions (Dv), the LSTMs' states (H) and the attention (A).
type topDownDims struct {
	steps, batch, k, e, f, dv, hid, a int
}

// topDownOp is TopDownCore's op. Inputs: xs, fc, v, pv, the attention LSTM's parameters and the
// language LSTM's (LSTMCell.Params order), W_h, b_h, w_α, b_α, the mask (no gradient).
type topDownOp struct {
	topDownDims
	dims []int // the inputs' ranks
	id   int64
	st   *topDownState
}

// topDownState is what forward keeps for backward ([]F each) and the buffers both reuse.
type topDownState struct {
	passGrads
	wrec1 any // (2H, 4H): the attention LSTM's weights of h²_{t−1} (Wx rows 0:H) above its Wh
	wfx1  any // (F+E, 4H): its weights of fc and x (Wx rows H:)
	w2    any // (Dv+2H, 4H): the language LSTM's Wx above its Wh
	whA   any // (H, A): W_h
	rin1  any // (T·N, 2H): [h²_{t−1}, h¹_{t−1}] of each step
	in2   any // (T·N, Dv+2H): [v̂_t, h¹_t, h²_{t−1}] of each step
	g1    any // (T·N, 4H): the attention LSTM's gates i, f, g, o
	g2    any // (T·N, 4H): the language LSTM's
	c1    any // (T·N, H): cell states, and tanh of them
	c2    any
	tc1   any
	tc2   any
	ph    any // (T·N, A): W_h h¹_t + b_h of each step (backward recomputes the tanh from it)
	beta  any // (T·N, K)
	dA1   any // backward: (T·N, 4H) gradients of the gates' pre-activations
	dA2   any
	dPH   any // (T·N, A) gradients of W_h h¹_t
	dZ    any // (T·N·K) gradients of the scores
}

const topDownParams = 36 // both LSTMs' 16 and the attention's 4

func (op topDownOp) Arity() int    { return len(op.dims) }
func (op topDownOp) Type() hm.Type { return fusedType(op) }
func (op topDownOp) types(a hm.TypeVariable) ([]hm.Type, hm.Type) {
	in := make([]hm.Type, len(op.dims))
	for i, d := range op.dims {
		in[i] = tt(d, a)
	}
	return in, G.TensorType{Dims: 2, Of: a}
}
func (op topDownOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.steps * op.batch, op.hid + op.k}, nil
}
func (op topDownOp) ReturnsPtr() bool     { return false }
func (op topDownOp) CallsExtern() bool    { return false }
func (op topDownOp) OverwritesInput() int { return -1 }
func (op topDownOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "TopDown{%v,%d}", op.topDownDims, op.id)
}
func (op topDownOp) Hashcode() uint32     { return hashOf(op) }
func (op topDownOp) String() string       { return fmt.Sprintf("TopDown%+v", op.topDownDims) }
func (op topDownOp) DiffWRT(n int) []bool { return allButLast(n) }
func (op topDownOp) grads() *passGrads    { return &op.st.passGrads }

func (op topDownOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return fusedSymDiff(op, len(inputs)-1, inputs, output, grad) // the mask has none
}

func (op topDownOp) Do(in ...G.Value) (G.Value, error) {
	out := tensor.New(tensor.WithShape(op.steps*op.batch, op.hid+op.k), tensor.Of(in[0].Dtype()))
	switch in[0].Dtype() {
	case tensor.Float32:
		topDownForward(op, in, out.Data().([]float32))
	case tensor.Float64:
		topDownForward(op, in, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
	}
	op.st.forward()
	return out, nil
}

func (op topDownOp) backward(in []G.Value) error {
	var err error
	switch in[0].Dtype() {
	case tensor.Float32:
		op.st.grads, err = topDownBackward[float32](op, in)
	case tensor.Float64:
		op.st.grads, err = topDownBackward[float64](op, in)
	default:
		err = fmt.Errorf("nn: %v: unsupported dtype %v", op, in[0].Dtype())
	}
	return err
}

// lstmParams are the data of one LSTMCell's parameters (Params order) in in from first.
type lstmParams[F float] struct{ wx, wh, bx, bh [4][]F }

func lstmData[F float](in []G.Value, first int) lstmParams[F] {
	var p lstmParams[F]
	for g := 0; g < 4; g++ {
		p.wx[g] = data[F](in[first+g])
		p.wh[g] = data[F](in[first+4+g])
		p.bx[g] = data[F](in[first+8+g])
		p.bh[g] = data[F](in[first+12+g])
	}
	return p
}

// packRows copies rows [lo, hi) of the four gates' (·, H) matrices w side by side into dst
// ((hi−lo), 4H).
func packRows[F float](dst []F, w [4][]F, lo, hi, H int) {
	for g := 0; g < 4; g++ {
		for i := lo; i < hi; i++ {
			copy(dst[(i-lo)*4*H+g*H:(i-lo)*4*H+(g+1)*H], w[g][i*H:(i+1)*H])
		}
	}
}

// lstmGates turns the pre-activations a (4H, gates i, f, g, o) into the gates in place and
// writes the cell state c from cprev (nil: zero), tanh(c) and h.
func lstmGates[F float](a, cprev, c, tc, h []F, H int) {
	for j := 0; j < H; j++ {
		i, f, g, o := sigmoid(a[j]), sigmoid(a[H+j]), tanh(a[2*H+j]), sigmoid(a[3*H+j])
		a[j], a[H+j], a[2*H+j], a[3*H+j] = i, f, g, o
		cc := i * g
		if cprev != nil {
			cc = f*cprev[j] + cc
		}
		t := tanh(cc)
		c[j], tc[j], h[j] = cc, t, o*t
	}
}

// lstmGatesBack writes the gradients of the pre-activations into da (4H) given the gates
// (4H), cprev (nil: zero), tanh(c), the gradient dh of h and dc of c from later steps, which
// it replaces by the gradient of cprev.
func lstmGatesBack[F float](da, gates, cprev, tc, dh, dc []F, H int) {
	for j := 0; j < H; j++ {
		i, f, g, o := gates[j], gates[H+j], gates[2*H+j], gates[3*H+j]
		t := tc[j]
		d := dc[j] + dh[j]*o*(1-t*t)
		var cp F
		if cprev != nil {
			cp = cprev[j]
		}
		da[j] = d * g * i * (1 - i)
		da[H+j] = d * cp * f * (1 - f)
		da[2*H+j] = d * i * (1 - g*g)
		da[3*H+j] = dh[j] * t * o * (1 - o)
		dc[j] = d * f
	}
}

func topDownForward[F float](op topDownOp, in []G.Value, out []F) {
	T, N, K, E, Fw, Dv, H, A := op.steps, op.batch, op.k, op.e, op.f, op.dv, op.hid, op.a
	TN, H4, W2 := T*N, 4*H, Dv+2*H
	st := op.st
	xs, fc, v, pv := data[F](in[0]), data[F](in[1]), data[F](in[2]), data[F](in[3])
	l1, l2 := lstmData[F](in, 4), lstmData[F](in, 20)
	bh, wa, ba := data[F](in[37]), data[F](in[38]), data[F](in[39])[0]
	mask := data[F](in[40])

	wrec1, wfx1 := reuse[F](&st.wrec1, 2*H*H4), reuse[F](&st.wfx1, (Fw+E)*H4)
	packRows(wrec1[:H*H4], l1.wx, 0, H, H)
	packRows(wrec1[H*H4:], l1.wh, 0, H, H)
	packRows(wfx1, l1.wx, H, H+Fw+E, H)
	w2 := reuse[F](&st.w2, W2*H4)
	packRows(w2[:(Dv+H)*H4], l2.wx, 0, Dv+H, H)
	packRows(w2[(Dv+H)*H4:], l2.wh, 0, H, H)
	whA := reuse[F](&st.whA, H*A)
	copy(whA, data[F](in[36]))

	rin1, in2 := reuse[F](&st.rin1, TN*2*H), reuse[F](&st.in2, TN*W2)
	g1, g2 := reuse[F](&st.g1, TN*H4), reuse[F](&st.g2, TN*H4)
	c1, c2, tc1, tc2 := reuse[F](&st.c1, TN*H), reuse[F](&st.c2, TN*H), reuse[F](&st.tc1, TN*H), reuse[F](&st.tc2, TN*H)
	beta, phs := reuse[F](&st.beta, TN*K), reuse[F](&st.ph, TN*A)

	// The attention LSTM's pre-activations: x_t·Wx + fc·Wx + (bx + bh) for all steps, then
	// [h²_{t−1}, h¹_{t−1}]·[Wx; Wh] added step by step.
	gemm(false, false, TN, H4, E, 1, xs, E, wfx1[Fw*H4:], H4, 0, g1, H4)
	fw := make([]F, N*H4)
	gemm(false, false, N, H4, Fw, 1, fc, Fw, wfx1, H4, 0, fw, H4)
	b1, b2 := make([]F, H4), make([]F, H4)
	for g := 0; g < 4; g++ {
		for j := 0; j < H; j++ {
			b1[g*H+j] = l1.bx[g][j] + l1.bh[g][j]
			b2[g*H+j] = l2.bx[g][j] + l2.bh[g][j]
		}
	}
	parallelRows(TN, H4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, f := g1[r*H4:(r+1)*H4], fw[(r%N)*H4:(r%N+1)*H4]
			for j := range row {
				row[j] += f[j] + b1[j]
			}
		}
	})
	clear(rin1[:N*2*H])
	// The weights of the products of every step, packed once.
	pRec1, pWhA, pW2 := newOperandB(false, 2*H, H4, wrec1, H4), newOperandB(false, H, A, whA, A), newOperandB(false, W2, H4, w2, H4)
	for t := 0; t < T; t++ {
		o := t * N
		pRec1.gemm(N, 1, rin1[o*2*H:], 2*H, 1, g1[o*H4:], H4)
		parallelRows(N, H4, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				r := o + n
				var cprev []F
				if t > 0 {
					cprev = c1[(r-N)*H : (r-N+1)*H]
				}
				h1 := in2[r*W2+Dv : r*W2+Dv+H]
				lstmGates(g1[r*H4:(r+1)*H4], cprev, c1[r*H:(r+1)*H], tc1[r*H:(r+1)*H], h1, H)
				if t+1 < T {
					copy(rin1[(r+N)*2*H+H:(r+N+1)*2*H], h1)
				}
				if t == 0 {
					clear(in2[r*W2+Dv+H : (r+1)*W2])
				}
			}
		})
		// W_h h¹_t + b_h, then the scores, weights and attended vector of each sequence.
		ph := phs[o*A : (o+N)*A]
		pWhA.gemm(N, 1, in2[o*W2+Dv:], W2, 0, ph, A)
		for n := 0; n < N; n++ {
			for j, b := range bh {
				ph[n*A+j] += b
			}
		}
		parallelRows(N, K*A, func(lo, hi int) {
			z, tk := make([]F, K), make([]F, A)
			for n := lo; n < hi; n++ {
				r := o + n
				p := ph[n*A : (n+1)*A]
				mx, seen := F(0), false
				for k := 0; k < K; k++ {
					pvk := pv[(n*K+k)*A : (n*K+k+1)*A]
					s := tanhDotF(tk, pvk, p, wa) + ba
					z[k] = s
					if mask[n*K+k] != 0 && (!seen || s > mx) {
						mx, seen = s, true
					}
				}
				b := beta[r*K : (r+1)*K]
				var sum F
				for k := range b {
					b[k] = 0
					if mask[n*K+k] != 0 {
						b[k] = expF(z[k] - mx)
						sum += b[k]
					}
				}
				ctx := in2[r*W2 : r*W2+Dv]
				clear(ctx)
				for k := range b {
					b[k] /= sum
					if b[k] != 0 {
						vk := v[(n*K+k)*Dv : (n*K+k+1)*Dv]
						for j := range ctx {
							ctx[j] += b[k] * vk[j]
						}
					}
				}
				copy(out[r*(H+K)+H:(r+1)*(H+K)], b)
			}
		})
		// The language LSTM on [v̂_t, h¹_t] and h²_{t−1}.
		pW2.gemm(N, 1, in2[o*W2:], W2, 0, g2[o*H4:], H4)
		parallelRows(N, H4, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				r := o + n
				a := g2[r*H4 : (r+1)*H4]
				for j := range a {
					a[j] += b2[j]
				}
				var cprev []F
				if t > 0 {
					cprev = c2[(r-N)*H : (r-N+1)*H]
				}
				h2 := out[r*(H+K) : r*(H+K)+H]
				lstmGates(a, cprev, c2[r*H:(r+1)*H], tc2[r*H:(r+1)*H], h2, H)
				if t+1 < T {
					copy(rin1[(r+N)*2*H:(r+N)*2*H+H], h2)
					copy(in2[(r+N)*W2+Dv+H:(r+N+1)*W2], h2)
				}
			}
		})
	}
}

func topDownBackward[F float](op topDownOp, in []G.Value) ([]*tensor.Dense, error) {
	T, N, K, E, Fw, Dv, H, A := op.steps, op.batch, op.k, op.e, op.f, op.dv, op.hid, op.a
	TN, H4, W2 := T*N, 4*H, Dv+2*H
	st := op.st
	if _, ok := st.g1.([]F); !ok {
		return nil, fmt.Errorf("nn: %v: backward before forward", op)
	}
	xs, fc, v := data[F](in[0]), data[F](in[1]), data[F](in[2])
	wa := data[F](in[38])
	mask := data[F](in[40])
	dOut := data[F](in[len(in)-1])
	wrec1, wfx1, w2, whA := st.wrec1.([]F), st.wfx1.([]F), st.w2.([]F), st.whA.([]F)
	rin1, in2, g1, g2 := st.rin1.([]F), st.in2.([]F), st.g1.([]F), st.g2.([]F)
	c1, c2, tc1, tc2 := st.c1.([]F), st.c2.([]F), st.tc1.([]F), st.tc2.([]F)
	phs, beta := st.ph.([]F), st.beta.([]F)
	pv := data[F](in[3])
	dwaRows := make([]F, N*A) // w_α's gradient, sequence by sequence (summed in order at the end)
	dA1, dA2 := reuse[F](&st.dA1, TN*H4), reuse[F](&st.dA2, TN*H4)
	dPH, dZ := reuse[F](&st.dPH, TN*A), reuse[F](&st.dZ, TN*K)

	dt := in[0].Dtype()
	newT := func(shape tensor.Shape) (*tensor.Dense, []F) {
		d := tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(dt))
		return d, d.Data().([]F)
	}
	grads := make([]*tensor.Dense, len(in)-3) // every input but the mask (output and its gradient follow)
	dvT, dV := newT(in[2].Shape())
	dpvT, dPV := newT(in[3].Shape())
	grads[2], grads[3] = dvT, dpvT

	dh1n, dc1 := make([]F, N*H), make([]F, N*H) // gradients of h¹_t and c¹_t from later steps
	dh2n, dc2 := make([]F, N*H), make([]F, N*H)
	dh1 := make([]F, N*H)
	dIn2, dRin1 := make([]F, N*W2), make([]F, N*2*H)
	pW2T, pWhAT, pRec1T := newOperandB(true, H4, W2, w2, H4), newOperandB(true, A, H, whA, A), newOperandB(true, H4, 2*H, wrec1, H4)
	for t := T - 1; t >= 0; t-- {
		o := t * N
		// The language LSTM.
		parallelRows(N, H4, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				r := o + n
				dh := dh2n[n*H : (n+1)*H]
				for j, d := range dOut[r*(H+K) : r*(H+K)+H] {
					dh[j] += d
				}
				var cprev []F
				if t > 0 {
					cprev = c2[(r-N)*H : (r-N+1)*H]
				}
				lstmGatesBack(dA2[r*H4:(r+1)*H4], g2[r*H4:(r+1)*H4], cprev, tc2[r*H:(r+1)*H], dh, dc2[n*H:(n+1)*H], H)
			}
		})
		pW2T.gemm(N, 1, dA2[o*H4:], H4, 0, dIn2, W2)
		// The attention: v̂ = Σ_k β_k v_k, β = softmax(z) over the regions, z_k = w_α·tanh(…) + b_α.
		parallelRows(N, K*A, func(lo, hi int) {
			db, tk := make([]F, K), make([]F, A)
			for n := lo; n < hi; n++ {
				r := o + n
				dwr := dwaRows[n*A : (n+1)*A]
				dctx := dIn2[n*W2 : n*W2+Dv]
				b := beta[r*K : (r+1)*K]
				var s F
				for k := range db {
					d := dOut[r*(H+K)+H+k]
					if b[k] != 0 {
						vk := v[(n*K+k)*Dv : (n*K+k+1)*Dv]
						dvk := dV[(n*K+k)*Dv : (n*K+k+1)*Dv]
						for j, c := range dctx {
							d += c * vk[j]
							dvk[j] += b[k] * c
						}
					}
					db[k] = d
					s += b[k] * d
				}
				dp := dPH[r*A : (r+1)*A]
				clear(dp)
				for k := range db {
					dz := b[k] * (db[k] - s)
					if mask[n*K+k] == 0 {
						dz = 0
					}
					dZ[r*K+k] = dz
					if dz == 0 {
						continue
					}
					// tanh(W_v v_k + W_h h¹ + b_h) again, as forward computed it.
					tanhDotF(tk, pv[(n*K+k)*A:(n*K+k+1)*A], phs[r*A:(r+1)*A], wa)
					dpk := dPV[(n*K+k)*A : (n*K+k+1)*A]
					for j, x := range tk {
						dwr[j] += dz * x
						da := dz * wa[j] * (1 - x*x)
						dpk[j] += da
						dp[j] += da
					}
				}
			}
		})
		for n := 0; n < N; n++ {
			for j := 0; j < H; j++ {
				dh1[n*H+j] = dIn2[n*W2+Dv+j] + dh1n[n*H+j]
			}
			copy(dh2n[n*H:(n+1)*H], dIn2[n*W2+Dv+H:(n+1)*W2])
		}
		pWhAT.gemm(N, 1, dPH[o*A:], A, 1, dh1, H)
		// The attention LSTM.
		parallelRows(N, H4, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				r := o + n
				var cprev []F
				if t > 0 {
					cprev = c1[(r-N)*H : (r-N+1)*H]
				}
				lstmGatesBack(dA1[r*H4:(r+1)*H4], g1[r*H4:(r+1)*H4], cprev, tc1[r*H:(r+1)*H], dh1[n*H:(n+1)*H], dc1[n*H:(n+1)*H], H)
			}
		})
		pRec1T.gemm(N, 1, dA1[o*H4:], H4, 0, dRin1, 2*H)
		for n := 0; n < N; n++ {
			for j := 0; j < H; j++ {
				dh2n[n*H+j] += dRin1[n*2*H+j]
			}
			copy(dh1n[n*H:(n+1)*H], dRin1[n*2*H+H:(n+1)*2*H])
		}
	}

	// The inputs: xs and fc through the attention LSTM's input weights (fc's gradient summed
	// over the steps first).
	dxsT, dxs := newT(in[0].Shape())
	gemm(false, true, TN, E, H4, 1, dA1, H4, wfx1[Fw*H4:], H4, 0, dxs, E)
	sumA1 := make([]F, N*H4)
	parallelRows(N, H4, func(lo, hi int) {
		for t := 0; t < T; t++ {
			for i := lo * H4; i < hi*H4; i++ {
				sumA1[i] += dA1[t*N*H4+i]
			}
		}
	})
	dfcT, dfc := newT(in[1].Shape())
	gemm(false, true, N, Fw, H4, 1, sumA1, H4, wfx1, H4, 0, dfc, Fw)
	grads[0], grads[1] = dxsT, dfcT

	// The weights: one product over all steps each.
	dWrec1, dWfx1, dW2 := make([]F, 2*H*H4), make([]F, (Fw+E)*H4), make([]F, W2*H4)
	gemm(true, false, 2*H, H4, TN, 1, rin1, 2*H, dA1, H4, 0, dWrec1, H4)
	gemm(true, false, Fw, H4, N, 1, fc, Fw, sumA1, H4, 0, dWfx1, H4)
	gemm(true, false, E, H4, TN, 1, xs, E, dA1, H4, 0, dWfx1[Fw*H4:], H4)
	gemm(true, false, W2, H4, TN, 1, in2, W2, dA2, H4, 0, dW2, H4)
	db1, db2 := make([]F, H4), make([]F, H4)
	columnSums(db1, dA1, TN, H4, parallelRows)
	columnSums(db2, dA2, TN, H4, parallelRows)
	unpack := func(first int, parts ...[]F) { // the four gates' (rows, H) gradients of in[first:first+4]
		for g := 0; g < 4; g++ {
			gT, gd := newT(in[first+g].Shape())
			o := 0
			for _, p := range parts {
				for i := 0; i < len(p)/H4; i++ {
					copy(gd[o*H:(o+1)*H], p[i*H4+g*H:i*H4+(g+1)*H])
					o++
				}
			}
			grads[first+g] = gT
		}
	}
	for l, w := range [2]struct {
		wx, wh [][]F
		db     []F
	}{
		{[][]F{dWrec1[:H*H4], dWfx1}, [][]F{dWrec1[H*H4:]}, db1},
		{[][]F{dW2[:(Dv+H)*H4]}, [][]F{dW2[(Dv+H)*H4:]}, db2},
	} {
		first := 4 + 16*l
		unpack(first, w.wx...)
		unpack(first+4, w.wh...)
		unpack(first+8, w.db)
		unpack(first+12, w.db)
	}

	// The attention's weights: W_h from h¹ (columns Dv:Dv+H of in2), w_α and b_α from the
	// scores' gradients.
	dwhT, dwh := newT(in[36].Shape())
	gemm(true, false, H, A, TN, 1, in2[Dv:], W2, dPH, A, 0, dwh, A)
	dbhT, dbh := newT(in[37].Shape())
	columnSums(dbh, dPH, TN, A, parallelRows)
	dwaT, dwa := newT(in[38].Shape())
	for n := 0; n < N; n++ {
		for j, x := range dwaRows[n*A : (n+1)*A] {
			dwa[j] += x
		}
	}
	dbaT, dba := newT(in[39].Shape())
	for _, dz := range dZ {
		dba[0] += dz
	}
	grads[36], grads[37], grads[38], grads[39] = dwhT, dbhT, dwaT, dbaT
	return grads, nil
}

// tanhDotF is tanhDot for float32 and its formula with math.Tanh for float64.
func tanhDotF[F float](t, a, b, w []F) F {
	if t32, ok := any(t).([]float32); ok {
		return F(tanhDot(t32, any(a).([]float32), any(b).([]float32), any(w).([]float32)))
	}
	var s F
	for j := range t {
		x := tanhFast(a[j] + b[j])
		t[j] = x
		s += x * w[j]
	}
	return s
}
