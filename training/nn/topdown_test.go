package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/blas"
)

// topDownCase is a TopDownCore's sizes: T steps of N sequences, K regions of width Dv (the
// last sequence's image has only K−1 of them), x of width E, fc of width F, state H,
// attention A.
type topDownCase struct{ T, N, K, E, F, Dv, H, A int }

// topDownGraph builds on g the decoder core of case c on random inputs and returns the cost
// (fixed random weights of h and β), h and β, and the nodes to differentiate: the layers'
// parameters (W_v's included: pv is W_v v + b_v), xs, fc and v. fused picks TopDownCore or
// the per-step graph of LSTMCell.Step and AdditiveAttention.ForwardProjected it replaces.
func topDownGraph(g *G.ExprGraph, dt tensor.Dtype, c topDownCase, fused bool) (cost, h, beta *G.Node, wrt G.Nodes) {
	ps := NewParamSet(dt, rand.New(rand.NewPCG(21, 5)))
	att := NewLSTMCell(g, ps, "att", c.H+c.F+c.E, c.H)
	lang := NewLSTMCell(g, ps, "lang", c.Dv+c.H, c.H)
	a := NewAdditiveAttention(g, ps, "a", c.Dv, c.H, c.A)
	r := rand.New(rand.NewPCG(22, 5))
	in := func(name string, shape ...int) *G.Node { return NewParam(g, dt, name, r, Uniform(-1, 1), shape...) }
	xs, fc, v := in("xs", c.T*c.N, c.E), in("fc", c.N, c.F), in("v", c.N, c.K, c.Dv)
	m := make([]float64, c.N*c.K)
	for i := range m {
		if i != len(m)-1 {
			m[i] = 1
		}
	}
	mask := G.NewTensor(g, dt, 2, G.WithShape(c.N, c.K), G.WithName("mask"), G.WithValue(FromFloat64(dt, m, c.N, c.K)))
	pv := a.ProjectRegions(v)
	if fused {
		h, beta = TopDownCore(att, lang, a, xs, fc, v, pv, mask, c.T, c.N)
	} else {
		x3 := Reshape(xs, c.T, c.N, c.E)
		zero := func(name string) *G.Node {
			return G.NewMatrix(g, dt, G.WithShape(c.N, c.H), G.WithName(name), G.WithInit(G.Zeroes()))
		}
		h1, c1, h2, c2 := zero("h1"), zero("c1"), zero("h2"), zero("c2")
		hs, bs := make(G.Nodes, c.T), make(G.Nodes, c.T)
		for t := 0; t < c.T; t++ {
			xt := must(G.Slice(x3, G.S(t)))
			h1, c1 = att.Step(must(G.Concat(1, h2, fc, xt)), h1, c1)
			var ctx *G.Node
			bs[t], ctx = a.ForwardProjected(v, pv, h1, mask)
			h2, c2 = lang.Step(must(G.Concat(1, ctx, h1)), h2, c2)
			hs[t] = h2
		}
		h, beta = must(G.Concat(0, hs...)), must(G.Concat(0, bs...))
	}
	cost = must(G.Add(weighted(g, h, 31), weighted(g, beta, 32)))
	wrt = append(append(append(att.Params(), lang.Params()...), a.Params()...), xs, fc, v)
	return cost, h, beta, wrt
}

// TestTopDownCoreMatchesSteps runs TopDownCore and the per-step graph it replaces on the same
// weights and inputs, float32, and compares h, β and every gradient; each graph runs twice (the
// fused state is per pass). The second size spreads the element-wise work over goroutines.
// Both run on gonum's BLAS and on the simd backend (whose weights the fused op packs once a
// pass: blas.Packer).
func TestTopDownCoreMatchesSteps(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	for _, name := range []string{blas.Go, blas.SIMD} {
		be, err := blas.Select(name)
		if err != nil {
			t.Fatal(err)
		}
		blas.Install(be)
		topDownCoreMatchesSteps(t)
	}
	blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
}

func topDownCoreMatchesSteps(t *testing.T) {
	for _, c := range []topDownCase{
		{T: 4, N: 3, K: 5, E: 6, F: 7, Dv: 5, H: 8, A: 6},
		{T: 3, N: 20, K: 12, E: 40, F: 48, Dv: 48, H: 256, A: 96},
	} {
		run := func(fused bool) (h, beta []float32, grads [][]float32) {
			g := G.NewGraph()
			cost, hn, bn, wrt := topDownGraph(g, tensor.Float32, c, fused)
			both := must(G.Concat(1, hn, bn))
			out, grads := runPasses(t, cost, Copy(both), wrt, 2)
			w := c.H + c.K
			for r := 0; r < c.T*c.N; r++ {
				h = append(h, out[r*w:r*w+c.H]...)
				beta = append(beta, out[r*w+c.H:(r+1)*w]...)
			}
			return h, beta, grads
		}
		h1, b1, g1 := run(true)
		h2, b2, g2 := run(false)
		near := func(what string, a, b []float32, tol, floor float64) {
			t.Helper()
			if len(a) != len(b) {
				t.Fatalf("%+v: %s: %d values, reference %d", c, what, len(a), len(b))
			}
			scale := 0.0
			for _, x := range b {
				scale = max(scale, math.Abs(float64(x)))
			}
			for i := range a {
				if d := math.Abs(float64(a[i] - b[i])); d > tol*max(scale, floor) || math.IsNaN(d) {
					t.Fatalf("%+v: %s[%d]: fused %v, per-step graph %v (scale %v)", c, what, i, a[i], b[i], scale)
				}
			}
		}
		near("h", h1, h2, 1e-5, 1e-3)
		near("beta", b1, b2, 1e-5, 1e-3)
		// The last sequence's missing region gets no weight.
		for r := c.N - 1; r < c.T*c.N; r += c.N {
			if b1[(r+1)*c.K-1] != 0 {
				t.Fatalf("%+v: masked region of row %d has weight %v", c, r, b1[(r+1)*c.K-1])
			}
		}
		if len(g1) != len(g2) {
			t.Fatalf("%d gradients, reference %d", len(g1), len(g2))
		}
		for i := range g1 {
			// b_α's gradient is zero but for rounding (softmax ignores a shift): the floor.
			near(fmt.Sprintf("gradient %d", i), g1[i], g2[i], 1e-4, 1e-2)
		}
	}
}

// TestGradTopDownCore checks TopDownCore's gradients (inputs and every parameter) against
// central differences, float64.
func TestGradTopDownCore(t *testing.T) {
	checkGrad(t, "TopDownCore", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		cost, _, _, wrt := topDownGraph(g, tensor.Float64, topDownCase{T: 3, N: 2, K: 3, E: 2, F: 3, Dv: 2, H: 3, A: 4}, true)
		return cost, wrt
	})
}

// nllGraph is −Σ_r w[r]·logp[r, target[r]] of logits x (R, V): WeightedNLL, or LogSoftmax, a
// gather of the targets and a weighted sum.
func nllGraph(g *G.ExprGraph, x *G.Node, target []int, w []float64, fused bool) *G.Node {
	R, V := x.Shape()[0], x.Shape()[1]
	dt := x.Dtype()
	wn := G.NewTensor(g, dt, 1, G.WithShape(R), G.WithName("w"), G.WithValue(FromFloat64(dt, w, R)))
	if fused {
		return WeightedNLL(x, ids(g, "target", target...), wn)
	}
	pick := make([]int, R)
	for r, id := range target {
		pick[r] = r*V + id
	}
	flat := Reshape(LogSoftmax(x, 1), R*V, 1)
	picked := Reshape(Gather(flat, ids(g, "pick", pick...)), R)
	return must(G.Neg(must(G.Sum(must(G.HadamardProd(picked, wn))))))
}

// TestWeightedNLLMatchesGraph compares WeightedNLL with the graph it replaces, float32 (rows
// of weight 0 included, large enough to spread over goroutines), value and gradient.
func TestWeightedNLLMatchesGraph(t *testing.T) {
	const R, V = 40, 700
	r := rand.New(rand.NewPCG(3, 3))
	target, w := make([]int, R), make([]float64, R)
	for i := range target {
		target[i] = r.IntN(V)
		if i%7 != 3 {
			w[i] = r.Float64()
		}
	}
	run := func(fused bool) (float32, []float32) {
		g := G.NewGraph()
		x := NewParam(g, tensor.Float32, "x", rand.New(rand.NewPCG(4, 4)), Uniform(-8, 8), R, V)
		cost := nllGraph(g, x, target, w, fused)
		_, grads := runPasses(t, cost, x, G.Nodes{x}, 2)
		v, err := scalarValue(cost.Value())
		if err != nil {
			t.Fatal(err)
		}
		return float32(v), grads[0]
	}
	v1, g1 := run(true)
	v2, g2 := run(false)
	if math.Abs(float64(v1-v2)) > 1e-5*math.Abs(float64(v2)) {
		t.Fatalf("loss %v, graph %v", v1, v2)
	}
	scale := 0.0
	for _, x := range g2 {
		scale = max(scale, math.Abs(float64(x)))
	}
	for i := range g1 {
		if d := math.Abs(float64(g1[i] - g2[i])); d > 1e-4*scale {
			t.Fatalf("gradient[%d] %v, graph %v", i, g1[i], g2[i])
		}
		if w[i/V] == 0 && g1[i] != 0 {
			t.Fatalf("gradient[%d] of a row of weight 0 is %v", i, g1[i])
		}
	}
}

// TestGradWeightedNLLAndColumns checks WeightedNLL's and Columns's gradients against central
// differences, float64.
func TestGradWeightedNLLAndColumns(t *testing.T) {
	checkGrad(t, "WeightedNLL", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 5, 4, 6)
		return nllGraph(g, x, []int{5, 0, 2, 2}, []float64{0.5, 0, 1.5, -0.25}, true), G.Nodes{x}
	})
	checkGrad(t, "Columns", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 6, 3, 5)
		y := G.Must(G.Tanh(x))
		return must(G.Add(weighted(g, Columns(y, 1, 4), 1), weighted(g, Columns(y, 0, 2), 2))), G.Nodes{x}
	})
}
