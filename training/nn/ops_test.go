package nn

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randParam returns a float64 learnable node of the given shape with
// U(−1, 1) values from a fixed seed.
func randParam(g *G.ExprGraph, name string, seed uint64, shape ...int) *G.Node {
	r := rand.New(rand.NewPCG(seed, 7))
	return NewParam(g, tensor.Float64, name, r, Uniform(-1, 1), shape...)
}

// weighted reduces y to a scalar with fixed random weights so that every
// output element's gradient is exercised.
func weighted(g *G.ExprGraph, y *G.Node, seed uint64) *G.Node {
	r := rand.New(rand.NewPCG(seed, 99))
	w := G.NewTensor(g, y.Dtype(), y.Dims(), G.WithShape(y.Shape()...), G.WithName("wts"),
		G.WithValue(Uniform(-1, 1)(r, y.Dtype(), y.Shape()...)))
	return must(G.Sum(must(G.HadamardProd(y, w))))
}

// runPasses differentiates cost with respect to wrt, runs the graph passes times (fused ops keep
// state per pass) and returns read's values and the gradients of wrt, float32. Read outputs
// through a Copy: the tape machine may reuse an op's memory in backward.
func runPasses(t *testing.T, cost, read *G.Node, wrt G.Nodes, passes int) (out []float32, grads [][]float32) {
	t.Helper()
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := NewMachine(cost.Graph(), wrt...)
	defer vm.Close()
	for pass := 0; pass < passes; pass++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	out = append(out, read.Value().Data().([]float32)...)
	for _, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
	}
	return out, grads
}

func constTensor(g *G.ExprGraph, name string, t *tensor.Dense) *G.Node {
	return G.NewTensor(g, tensor.Float64, t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
}

func checkGrad(t *testing.T, name string, build func(g *G.ExprGraph) (*G.Node, G.Nodes)) {
	t.Helper()
	bad, maxDiff, err := GradCheck(build, GradCheckOptions{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i, b := range bad {
		if i > 5 {
			break
		}
		t.Errorf("%s: %s[%d] analytic %.8g numeric %.8g", name, b.Node, b.Index, b.Analytic, b.Numeric)
	}
	t.Logf("%s: max |analytic-numeric| = %.3g", name, maxDiff)
}

// mask23 is a 2×3 mask with at least one 1 per row and per column.
func mask23() *tensor.Dense {
	return tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 0, 1, 1, 1, 0}))
}

func TestGradOps(t *testing.T) {
	// Tolerances: GradCheckOptions defaults (float64, h = 1e-6).
	cases := []struct {
		name string
		f    func(g *G.ExprGraph, x *G.Node) *G.Node
	}{
		{"L2Norm/axis1", func(g *G.ExprGraph, x *G.Node) *G.Node { return L2Norm(x, 1) }},
		{"L2Norm/axis0", func(g *G.ExprGraph, x *G.Node) *G.Node { return L2Norm(x, 0) }},
		{"LeakyReLU", func(g *G.ExprGraph, x *G.Node) *G.Node { return LeakyReLU(x, 0.1) }},
		{"ClippedL2Norm/masked", func(g *G.ExprGraph, x *G.Node) *G.Node {
			return ClippedL2Norm(x, constTensor(g, "m", mask23()), nil, 1)
		}},
		{"Clamp", func(g *G.ExprGraph, x *G.Node) *G.Node { return Clamp(x, 0.05) }},
		{"LogSumExp/axis1", func(g *G.ExprGraph, x *G.Node) *G.Node { return LogSumExp(x, 1) }},
		{"LogSumExp/axis0", func(g *G.ExprGraph, x *G.Node) *G.Node { return LogSumExp(x, 0) }},
		{"MaskedLogSumExp", func(g *G.ExprGraph, x *G.Node) *G.Node {
			return MaskedLogSumExp(x, constTensor(g, "m", mask23()), nil, 1)
		}},
		{"MaskedSoftmax/axis1", func(g *G.ExprGraph, x *G.Node) *G.Node {
			return MaskedSoftmax(x, constTensor(g, "m", mask23()), nil, 1)
		}},
		{"MaskedSoftmax/axis0", func(g *G.ExprGraph, x *G.Node) *G.Node {
			return MaskedSoftmax(x, constTensor(g, "m", mask23()), nil, 0)
		}},
		{"MaskedLogSoftmax", func(g *G.ExprGraph, x *G.Node) *G.Node {
			m := constTensor(g, "m", mask23())
			return bcastMul(MaskedLogSoftmax(x, m, nil, 1), m, nil)
		}},
		{"MaskedMean", func(g *G.ExprGraph, x *G.Node) *G.Node {
			return MaskedMean(x, constTensor(g, "m", mask23()), nil, 1)
		}},
	}
	for i, c := range cases {
		checkGrad(t, c.name, func(g *G.ExprGraph) (*G.Node, G.Nodes) {
			x := randParam(g, "x", uint64(i+1), 2, 3)
			return weighted(g, c.f(g, x), uint64(i)), G.Nodes{x}
		})
	}
}
