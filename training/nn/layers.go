package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is y = x·W + b with W (In, Out) and b (Out).
type Linear struct {
	W, B    *G.Node
	In, Out int
}

// NewLinear creates a Linear layer; weights from wInit, bias from bInit.
func NewLinear(g *G.ExprGraph, ps *ParamSet, name string, in, out int, wInit, bInit Init) *Linear {
	return &Linear{
		W:  ps.Node(g, name+".w", wInit, in, out),
		B:  ps.Node(g, name+".b", bInit, out),
		In: in, Out: out,
	}
}

// Params returns the learnable nodes.
func (l *Linear) Params() G.Nodes { return G.Nodes{l.W, l.B} }

// Forward maps x (N, In) to (N, Out).
func (l *Linear) Forward(x *G.Node) *G.Node {
	y := must(G.Mul(x, l.W)) // (N, Out)
	return AddRows(y, l.B)   // + b broadcast over rows
}

// GRU is one layer of PyTorch's GRU (gates r, z, n):
//
//	r = σ(x·Wir + bir + h·Whr + bhr)
//	z = σ(x·Wiz + biz + h·Whz + bhz)
//	n = tanh(x·Win + bin + r ⊙ (h·Whn + bhn))
//	h' = (1 − z) ⊙ n + z ⊙ h
//
// initialised like PyTorch: every weight and bias U(−1/√H, 1/√H).
type GRU struct {
	Wir, Wiz, Win, Whr, Whz, Whn *G.Node
	Bir, Biz, Bin, Bhr, Bhz, Bhn *G.Node
	In, Hidden                   int
}

// NewGRU creates a GRU layer with input width in and hidden width hidden.
func NewGRU(g *G.ExprGraph, ps *ParamSet, name string, in, hidden int) *GRU {
	k := 1 / math.Sqrt(float64(hidden))
	u := Uniform(-k, k)
	p := func(s string, shape ...int) *G.Node { return ps.Node(g, name+"."+s, u, shape...) }
	return &GRU{
		Wir: p("wir", in, hidden), Wiz: p("wiz", in, hidden), Win: p("win", in, hidden),
		Whr: p("whr", hidden, hidden), Whz: p("whz", hidden, hidden), Whn: p("whn", hidden, hidden),
		Bir: p("bir", hidden), Biz: p("biz", hidden), Bin: p("bin", hidden),
		Bhr: p("bhr", hidden), Bhz: p("bhz", hidden), Bhn: p("bhn", hidden),
		In: in, Hidden: hidden,
	}
}

// Params returns the learnable nodes in a fixed order.
func (c *GRU) Params() G.Nodes {
	return G.Nodes{c.Wir, c.Wiz, c.Win, c.Whr, c.Whz, c.Whn, c.Bir, c.Biz, c.Bin, c.Bhr, c.Bhz, c.Bhn}
}

func addRow(x, b *G.Node) *G.Node { return AddRows(x, b) }

// Forward runs the GRU over a time-major sequence x of shape (T·B, In)
// (row t·B+b is step t of sequence b) from a zero state and returns the
// hidden states (T·B, Hidden) in the same layout. mask (T, B), 1 on real
// tokens and 0 on padding after them, zeroes the state at padded steps; with
// reverse the sequence runs from T−1 to 0, so each sequence's backward pass
// starts from a zero state at its last real token, as with PyTorch's packed
// sequences. mask may be nil when no sequence is padded.
func (c *GRU) Forward(x, mask *G.Node, steps, batch int, reverse bool) *G.Node {
	mask = c.checkInput(x, mask, steps, batch)
	// The whole GRU is one op (see gruSeqOp; its tests hold the same GRU as per-step ops).
	op := gruSeqOp{gruDir: c.dir(steps, batch, reverse), id: opIDs.Add(1)}
	return must(G.ApplyOp(op, append(append(G.Nodes{x}, c.gruParams()...), mask)...))
}

// checkInput panics unless x is (steps·batch, In) and mask (steps, batch) or nil, and returns
// the mask, all ones when nil.
func (c *GRU) checkInput(x, mask *G.Node, steps, batch int) *G.Node {
	if !x.Shape().Eq(tensor.Shape{steps * batch, c.In}) {
		panic(fmt.Sprintf("nn: GRU.Forward: x has shape %v, want (steps·batch, In) = (%d, %d)", x.Shape(), steps*batch, c.In))
	}
	if mask == nil {
		return G.NewMatrix(x.Graph(), x.Dtype(), G.WithShape(steps, batch), G.WithName(fmt.Sprintf("%s.ones", c.Wir.Name())), G.WithInit(G.Ones()))
	}
	if !mask.Shape().Eq(tensor.Shape{steps, batch}) {
		panic(fmt.Sprintf("nn: GRU.Forward: mask shape %v, want (%d, %d)", mask.Shape(), steps, batch))
	}
	return mask
}

// dir is the fused op's description of this GRU over steps × batch.
func (c *GRU) dir(steps, batch int, reverse bool) gruDir {
	return gruDir{steps: steps, batch: batch, in: c.In, hidden: c.Hidden, reverse: reverse, st: &gruState{}}
}

// gruParams are the weights and biases in the fused op's order.
func (c *GRU) gruParams() G.Nodes {
	return G.Nodes{c.Wir, c.Wiz, c.Win, c.Bir, c.Biz, c.Bin, c.Whr, c.Whz, c.Whn, c.Bhr, c.Bhz, c.Bhn}
}

// BiGRU is a bidirectional GRU whose output is the mean of the two
// directions, as SCAN's EncoderText does ((fwd + bwd)/2).
type BiGRU struct {
	Fwd, Bwd *GRU
}

// NewBiGRU creates both directions (forward first, so initialisation is
// deterministic for a seed).
func NewBiGRU(g *G.ExprGraph, ps *ParamSet, name string, in, hidden int) *BiGRU {
	return &BiGRU{Fwd: NewGRU(g, ps, name+".fwd", in, hidden), Bwd: NewGRU(g, ps, name+".bwd", in, hidden)}
}

// Params returns the learnable nodes (forward direction first).
func (b *BiGRU) Params() G.Nodes { return append(b.Fwd.Params(), b.Bwd.Params()...) }

// Forward returns (fwd + bwd)/2 of shape (T·B, Hidden); see GRU.Forward for
// the layout and mask.
func (b *BiGRU) Forward(x, mask *G.Node, steps, batch int) *G.Node {
	mask = b.Fwd.checkInput(x, mask, steps, batch)
	if b.Bwd.In != b.Fwd.In || b.Bwd.Hidden != b.Fwd.Hidden {
		panic(fmt.Sprintf("nn: BiGRU: directions of sizes %d→%d and %d→%d", b.Fwd.In, b.Fwd.Hidden, b.Bwd.In, b.Bwd.Hidden))
	}
	// Both directions and their mean are one op (biGRUOp).
	op := biGRUOp{fwd: b.Fwd.dir(steps, batch, false), bwd: b.Bwd.dir(steps, batch, true), id: opIDs.Add(1), st: &passGrads{}}
	in := append(append(append(G.Nodes{x}, b.Fwd.gruParams()...), b.Bwd.gruParams()...), mask)
	return must(G.ApplyOp(op, in...))
}

// LSTMCell is PyTorch's LSTMCell:
//
//	i = σ(x·Wii + bii + h·Whi + bhi)   f = σ(… f …)   g = tanh(… g …)   o = σ(… o …)
//	c' = f ⊙ c + i ⊙ g ;  h' = o ⊙ tanh(c')
//
// initialised U(−1/√H, 1/√H).
type LSTMCell struct {
	Wx, Wh     [4]*G.Node // gates i, f, g, o
	Bx, Bh     [4]*G.Node
	In, Hidden int
}

// NewLSTMCell creates an LSTM cell.
func NewLSTMCell(g *G.ExprGraph, ps *ParamSet, name string, in, hidden int) *LSTMCell {
	k := 1 / math.Sqrt(float64(hidden))
	u := Uniform(-k, k)
	c := &LSTMCell{In: in, Hidden: hidden}
	gates := []string{"i", "f", "g", "o"}
	for i, s := range gates {
		c.Wx[i] = ps.Node(g, name+".wx"+s, u, in, hidden)
		c.Wh[i] = ps.Node(g, name+".wh"+s, u, hidden, hidden)
	}
	for i, s := range gates {
		c.Bx[i] = ps.Node(g, name+".bx"+s, u, hidden)
		c.Bh[i] = ps.Node(g, name+".bh"+s, u, hidden)
	}
	return c
}

// Params returns the learnable nodes in a fixed order.
func (c *LSTMCell) Params() G.Nodes {
	var p G.Nodes
	p = append(p, c.Wx[:]...)
	p = append(p, c.Wh[:]...)
	p = append(p, c.Bx[:]...)
	return append(p, c.Bh[:]...)
}

// Step maps x (B, In), h and c (B, Hidden) to the next h and c.
func (c *LSTMCell) Step(x, h, cell *G.Node) (hNext, cNext *G.Node) {
	var pre [4]*G.Node
	for i := range pre {
		pre[i] = must(G.Add(addRow(must(G.Mul(x, c.Wx[i])), c.Bx[i]), addRow(must(G.Mul(h, c.Wh[i])), c.Bh[i])))
	}
	ig := must(G.Sigmoid(pre[0]))
	fg := must(G.Sigmoid(pre[1]))
	gg := must(G.Tanh(pre[2]))
	og := must(G.Sigmoid(pre[3]))
	cNext = must(G.Add(must(G.HadamardProd(fg, cell)), must(G.HadamardProd(ig, gg))))
	hNext = must(G.HadamardProd(og, must(G.Tanh(cNext))))
	return hNext, cNext
}

// AdditiveAttention is Up-Down's attention over regions:
// z_k = w_αᵀ tanh(W_v v_k + W_h h), β = softmax_k z over unmasked regions,
// v̂ = Σ_k β_k v_k.
type AdditiveAttention struct {
	V, H *Linear // W_v (Dv→A), W_h (Dh→A)
	W    *Linear // w_α (A→1)
}

// NewAdditiveAttention creates the attention with region width dv, query
// width dh and hidden width a; weights Xavier, biases zero.
func NewAdditiveAttention(g *G.ExprGraph, ps *ParamSet, name string, dv, dh, a int) *AdditiveAttention {
	return &AdditiveAttention{
		V: NewLinear(g, ps, name+".v", dv, a, Xavier(dv, a), Zeros),
		H: NewLinear(g, ps, name+".h", dh, a, Xavier(dh, a), Zeros),
		W: NewLinear(g, ps, name+".w", a, 1, Xavier(a, 1), Zeros),
	}
}

// Params returns the learnable nodes.
func (a *AdditiveAttention) Params() G.Nodes {
	return append(append(a.V.Params(), a.H.Params()...), a.W.Params()...)
}

// Forward takes regions v (B, K, Dv), query h (B, Dh) and a region mask
// (B, K) (nil: all regions) and returns β (B, K) and v̂ (B, Dv). The
// projection of v can be cached by the caller across steps with ProjectRegions
// and ForwardProjected.
func (a *AdditiveAttention) Forward(v, h, mask *G.Node) (beta, ctx *G.Node) {
	return a.ForwardProjected(v, a.ProjectRegions(v), h, mask)
}

// ProjectRegions returns W_v v of shape (B, K, A).
func (a *AdditiveAttention) ProjectRegions(v *G.Node) *G.Node {
	s := v.Shape()
	b, k, dv := s[0], s[1], s[2]
	pv := a.V.Forward(ReshapeCopy(v, b*k, dv)) // (B·K, A)
	return Reshape(pv, b, k, a.V.Out)          // (B, K, A)
}

// ForwardProjected is Forward with W_v v precomputed (pv, (B, K, A)).
func (a *AdditiveAttention) ForwardProjected(v, pv, h, mask *G.Node) (beta, ctx *G.Node) {
	s := v.Shape()
	b, k, dv := s[0], s[1], s[2]
	ph := a.H.Forward(h)                           // (B, A)
	t := must(G.Tanh(bcastAdd(pv, ph, []byte{1}))) // (B, K, A)
	z := a.W.Forward(Reshape(t, b*k, a.V.Out))     // (B·K, 1)
	z = Reshape(z, b, k)                           // (B, K)
	beta = MaskedSoftmax(z, mask, nil, 1)          // (B, K)
	b3 := Reshape(beta, b, 1, k)                   // (B, 1, K)
	c := must(G.BatchedMatMul(b3, v))              // (B, 1, Dv)
	return beta, Reshape(c, b, dv)
}

// DropoutMask draws an inverted-dropout mask of the given shape from r: each
// entry is 0 with probability p, else 1/(1−p). Feeding masks from an
// explicit, checkpointed RNG keeps dropout deterministic for a seed.
func DropoutMask(r *rand.Rand, dt tensor.Dtype, p float64, shape ...int) *tensor.Dense {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("nn: DropoutMask: p = %v outside [0, 1)", p))
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	keep := 1 / (1 - p)
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			if r.Float64() >= p {
				d[i] = float32(keep)
			}
		}
	case []float64:
		for i := range d {
			if r.Float64() >= p {
				d[i] = keep
			}
		}
	}
	return t
}

// Dropout multiplies x by mask (same shape, from DropoutMask; all ones at
// evaluation time).
func Dropout(x, mask *G.Node) *G.Node { return must(G.HadamardProd(x, mask)) }
