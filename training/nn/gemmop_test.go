package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/blas"
)

// TestGradGemm checks every transpose combination of the product op against finite differences,
// with a 3-D output shape and a 1-D operand (the op reads its inputs' data whatever their shape).
func TestGradGemm(t *testing.T) {
	const m, n, k = 3, 4, 5
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			checkGrad(t, "Gemm", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
				ar, ac := m, k
				if tA {
					ar, ac = k, m
				}
				a := randParam(g, "a", 1, ar, ac)
				b := NewParam(g, tensor.Float64, "b", rand.New(rand.NewPCG(2, 2)), Uniform(-1, 1), k*n)
				c := gemmNode(tA, tB, m, n, k, tensor.Shape{m, 2, 2}, a, b)
				return weighted(g, G.Must(G.Tanh(c)), 3), G.Nodes{a, b}
			})
		}
	}
}

// TestMatMulNTValues compares a·bᵀ with a direct sum, float32, in a 4-D shape.
func TestMatMulNTValues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const n, m, e = 6, 10, 7
	av, bv := make([]float32, n*e), make([]float32, m*e)
	for i := range av {
		av[i] = r.Float32() - 0.5
	}
	for i := range bv {
		bv[i] = r.Float32() - 0.5
	}
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float32, G.WithShape(n, e), G.WithName("a"), G.WithValue(tensor.New(tensor.WithShape(n, e), tensor.WithBacking(av))))
	b := G.NewMatrix(g, tensor.Float32, G.WithShape(m, e), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(m, e), tensor.WithBacking(bv))))
	c := MatMulNT(a, b, 2, 3, 5, 2)
	vm := NewMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if !c.Shape().Eq(tensor.Shape{2, 3, 5, 2}) {
		t.Fatalf("shape %v", c.Shape())
	}
	got := c.Value().Data().([]float32)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			var want float64
			for x := 0; x < e; x++ {
				want += float64(av[i*e+x]) * float64(bv[j*e+x])
			}
			if d := math.Abs(float64(got[i*m+j]) - want); d > 1e-6 {
				t.Fatalf("c[%d,%d] = %v, want %v", i, j, got[i*m+j], want)
			}
		}
	}
}

// TestNeededPrunesUnusedGradients checks that a machine compiled from Needed skips the gradient
// of a product's data input, which gorgonia's symbolic differentiation creates anyway.
func TestNeededPrunesUnusedGradients(t *testing.T) {
	products := func(prune bool) int64 {
		counter := blas.NewCounter(gonum.Implementation{})
		blas.Install(blas.Backend{Name: "count", Impl: counter})
		defer blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
		g := G.NewGraph()
		x := G.NewMatrix(g, tensor.Float32, G.WithShape(8, 6), G.WithName("x"), G.WithInit(G.Ones()))
		w := NewParam(g, tensor.Float32, "w", rand.New(rand.NewPCG(1, 1)), Uniform(-1, 1), 6, 4)
		cost := G.Must(G.Sum(G.Must(G.Mul(x, w))))
		grads, err := G.Grad(cost, w)
		if err != nil {
			t.Fatal(err)
		}
		gg := g
		if prune {
			gg = Needed(g, append(G.Nodes{cost}, grads...)...)
		}
		vm := NewMachine(gg, w)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if grads[0].Value() == nil {
			t.Fatal("no gradient computed")
		}
		return counter.Flops()
	}
	all, needed := products(false), products(true)
	// Forward 8·4·6 and dW 6·4·8 multiply-adds; the whole graph also computes dx (8·6·4).
	if want := int64(2 * 2 * 8 * 6 * 4); needed != want {
		t.Errorf("pruned graph: %d flops, want %d (forward and dW)", needed, want)
	}
	if all <= needed {
		t.Errorf("whole graph: %d flops, pruned %d: expected the unneeded dx product in the whole graph", all, needed)
	}
}

// TestAddRowsMatchesBroadcastAdd checks that AddRows gives bit for bit the values and gradients
// of the expand-and-add graph it replaces (float32, large enough to run on several goroutines).
func TestAddRowsMatchesBroadcastAdd(t *testing.T) {
	const rows, cols = 300, 170
	run := func(fused bool) (out []float32, grads [][]float32) {
		g := G.NewGraph()
		x := NewParam(g, tensor.Float32, "x", rand.New(rand.NewPCG(1, 2)), Uniform(-1, 1), rows, cols)
		b := NewParam(g, tensor.Float32, "b", rand.New(rand.NewPCG(3, 4)), Uniform(-1, 1), cols)
		var y *G.Node
		if fused {
			y = AddRows(x, b)
		} else {
			y = bcastAdd(x, b, []byte{0})
		}
		return runPasses(t, weighted(g, G.Must(G.Tanh(y)), 5), Copy(y), G.Nodes{x, b}, 1)
	}
	o1, g1 := run(true)
	o2, g2 := run(false)
	for i := range o1 {
		if o1[i] != o2[i] {
			t.Fatalf("output[%d]: %v vs %v", i, o1[i], o2[i])
		}
	}
	for k := range g1 {
		for i := range g1[k] {
			if g1[k][i] != g2[k][i] {
				t.Fatalf("gradient %d[%d]: %v vs %v", k, i, g1[k][i], g2[k][i])
			}
		}
	}
}
