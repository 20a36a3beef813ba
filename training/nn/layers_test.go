package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func ids(g *G.ExprGraph, name string, v ...int) *G.Node {
	return G.NewTensor(g, tensor.Int, 1, G.WithShape(len(v)), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))))
}

func TestGradLayers(t *testing.T) {
	// All float64, GradCheckOptions defaults (abs 1e-6 + rel 1e-4).
	r := func(seed uint64) *ParamSet { return NewParamSet(tensor.Float64, rand.New(rand.NewPCG(seed, 3))) }
	checkGrad(t, "Linear", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		l := NewLinear(g, r(1), "lin", 3, 2, Uniform(-1, 1), Uniform(-1, 1))
		x := randParam(g, "x", 2, 4, 3)
		return weighted(g, l.Forward(x), 1), append(l.Params(), x)
	})
	checkGrad(t, "Embedding", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		e := NewEmbedding(g, r(2), "emb", Uniform(-0.1, 0.1), 5, 3, 0)
		y := e.Forward(ids(g, "ids", 1, 0, 4, 1, 2))
		return weighted(g, y, 2), e.Params()
	})
	checkGrad(t, "Gather", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 7, 4, 3)
		// Row 1 picked twice, row 3 never: its gradient must stay zero.
		return weighted(g, Gather(G.Must(G.Tanh(x)), ids(g, "idx", 1, 0, 2, 1)), 8), G.Nodes{x}
	})
	// Two sequences of lengths 3 and 2, padded to T = 3 (time-major mask).
	mask := func(g *G.ExprGraph) *G.Node {
		return constTensor(g, "mask", tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{1, 1, 1, 1, 1, 0})))
	}
	for _, rev := range []bool{false, true} {
		checkGrad(t, "GRU", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			c := NewGRU(g, r(3), "gru", 2, 3)
			x := randParam(g, "x", 4, 6, 2)
			return weighted(g, c.Forward(x, mask(g), 3, 2, rev), 3), append(c.Params(), x)
		})
	}
	checkGrad(t, "BiGRU", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		c := NewBiGRU(g, r(5), "bi", 2, 3)
		x := randParam(g, "x", 6, 6, 2)
		return weighted(g, c.Forward(x, mask(g), 3, 2), 4), append(c.Params(), x)
	})
	checkGrad(t, "LSTMCell", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		c := NewLSTMCell(g, r(7), "lstm", 2, 3)
		x := randParam(g, "x", 8, 2, 2)
		h := randParam(g, "h", 9, 2, 3)
		cc := randParam(g, "c", 10, 2, 3)
		hn, cn := c.Step(x, h, cc)
		h2, _ := c.Step(x, hn, cn)
		return weighted(g, h2, 5), append(c.Params(), x, h, cc)
	})
	checkGrad(t, "AdditiveAttention", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		a := NewAdditiveAttention(g, r(11), "att", 3, 2, 4)
		v := randParam(g, "v", 12, 2, 3, 3)
		h := randParam(g, "h", 13, 2, 2)
		m := constTensor(g, "m", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 1, 0, 1, 1, 1})))
		beta, ctx := a.Forward(v, h, m)
		return must(G.Add(weighted(g, beta, 6), weighted(g, ctx, 7))), append(a.Params(), v, h)
	})
	checkGrad(t, "Dropout", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 14, 3, 4)
		m := constTensor(g, "m", DropoutMask(rand.New(rand.NewPCG(15, 3)), tensor.Float64, 0.5, 3, 4))
		return weighted(g, Dropout(x, m), 8), G.Nodes{x}
	})
}

func TestGRUPaddingIsolation(t *testing.T) {
	// A padded sequence must give the same states at its real steps as the
	// same sequence run unpadded (checks packed-sequence semantics of the
	// backward direction). Tolerance: float64 round-off.
	build := func(steps int, xs []float64, m []float64) []float64 {
		g := G.NewGraph()
		c := NewBiGRU(g, NewParamSet(tensor.Float64, rand.New(rand.NewPCG(1, 1))), "bi", 2, 3)
		x := constTensor(g, "x", tensor.New(tensor.WithShape(steps, 2), tensor.WithBacking(xs)))
		var mask *G.Node
		if m != nil {
			mask = constTensor(g, "m", tensor.New(tensor.WithShape(steps, 1), tensor.WithBacking(m)))
		}
		return runOut(t, g, c.Forward(x, mask, steps, 1))
	}
	short := build(2, []float64{0.1, 0.2, -0.3, 0.4}, nil)
	padded := build(4, []float64{0.1, 0.2, -0.3, 0.4, 9, 9, -9, 9}, []float64{1, 1, 0, 0})
	near(t, "bigru", padded[:6], short, 1e-12)
	for i, v := range padded[6:] {
		if v != 0 {
			t.Errorf("padded output[%d] = %v, want 0", 6+i, v)
		}
	}
}

func TestEmbeddingPadAndRange(t *testing.T) {
	g := G.NewGraph()
	e := NewEmbedding(g, NewParamSet(tensor.Float32, rand.New(rand.NewPCG(1, 1))), "emb", Uniform(-0.1, 0.1), 4, 2, 0)
	y := e.Forward(ids(g, "ids", 0, 3))
	out := runOut(t, g, y)
	if out[0] != 0 || out[1] != 0 || out[2] == 0 {
		t.Fatalf("embedding out = %v, want zero pad row and non-zero row 3", out)
	}
	g2 := G.NewGraph()
	e2 := NewEmbedding(g2, NewParamSet(tensor.Float32, rand.New(rand.NewPCG(1, 1))), "emb", Uniform(-0.1, 0.1), 4, 2, 0)
	e2.Forward(ids(g2, "ids", 7))
	m := NewMachine(g2)
	defer m.Close()
	if err := m.RunAll(); err == nil {
		t.Fatal("id 7 in a vocabulary of 4: want error")
	}
}

func TestGradLosses(t *testing.T) {
	f64 := tensor.Float64
	for _, mv := range []bool{false, true} {
		checkGrad(t, "HingeTriplet", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			s := randParam(g, "s", 20, 4, 4)
			return HingeTriplet(s, 0.2, mv), G.Nodes{s}
		})
	}
	checkGrad(t, "MaskedCrossEntropy", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 21, 3, 4)
		tg := constTensor(g, "tg", FromFloat64(f64, []float64{0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0}, 3, 4))
		m := constTensor(g, "m", FromFloat64(f64, []float64{1, 1, 0}, 3))
		return MaskedCrossEntropy(LogSoftmax(x, 1), tg, m), G.Nodes{x}
	})
	checkGrad(t, "MaskedKL", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 22, 3, 4)
		a := constTensor(g, "a", FromFloat64(f64, []float64{0.5, 0.5, 0, 0, 0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0}, 3, 4))
		m := constTensor(g, "m", FromFloat64(f64, []float64{1, 1, 0}, 3))
		return MaskedKL(a, Softmax(x, 1), m), G.Nodes{x}
	})
	checkGrad(t, "SCSTLoss", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 23, 2, 3)
		adv := randParam(g, "adv", 24, 2)
		m := constTensor(g, "m", FromFloat64(f64, []float64{1, 1, 0, 1, 0, 0}, 2, 3))
		return SCSTLoss(x, adv, m), G.Nodes{x, adv}
	})
}

func TestHingeTripletValue(t *testing.T) {
	// Hand-computed: S = [[0.9, 0.8], [0.1, 0.5]], margin 0.2.
	// cost_s row 0: [0.2−0.9+0.8]₊ = 0.1; row 1: [0.2−0.5+0.1]₊ = 0.
	// cost_im col 0: [0.2−0.9+0.1]₊ = 0; col 1: [0.2−0.5+0.8]₊ = 0.5. Sum = 0.6.
	g := G.NewGraph()
	s := constTensor(g, "s", FromFloat64(tensor.Float64, []float64{0.9, 0.8, 0.1, 0.5}, 2, 2))
	near(t, "hinge", runOut(t, g, HingeTriplet(s, 0.2, true)), []float64{0.6}, 1e-12)
}

func TestMaskedKLValue(t *testing.T) {
	// α = (0.5, 0.5, 0), β = (0.25, 0.75, 0): KL = 0.5 ln 2 + 0.5 ln(2/3) +
	// 1e-8·(ln 1e-8 − ln 1e-8) (both clamped) = 0.5 ln(4/3); one masked row ignored.
	g := G.NewGraph()
	a := constTensor(g, "a", FromFloat64(tensor.Float64, []float64{0.5, 0.5, 0, 1, 0, 0}, 2, 3))
	b := constTensor(g, "b", FromFloat64(tensor.Float64, []float64{0.25, 0.75, 0, 0, 1, 0}, 2, 3))
	m := constTensor(g, "m", FromFloat64(tensor.Float64, []float64{1, 0}, 2))
	near(t, "kl", runOut(t, g, MaskedKL(a, b, m)), []float64{0.5 * math.Log(4.0/3)}, 1e-12)
}
