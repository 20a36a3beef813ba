package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// cosAttnGraph is the graph of element-wise ops and batched products that CosineAttended replaces.
func cosAttnGraph(alpha, s, v, e *G.Node, eps float64) *G.Node {
	sh := alpha.Shape()
	I, K, T, J := sh[0], sh[1], sh[2], sh[3]
	E := e.Shape()[1]
	w12 := must(G.Sum(must(G.HadamardProd(alpha, s)), 1))
	vi := ReshapeCopy(v, I, K, E)
	gram := must(G.BatchedMatMul(vi, vi, false, true))
	a3 := ReshapeCopy(alpha, I, K, T*J)
	ga := must(G.BatchedMatMul(gram, a3))
	aa := must(G.Sum(must(G.HadamardProd(a3, ga)), 1))
	w2 := Reshape(SafeSqrt(must(G.Rectify(aa))), I, T, J)
	w1 := Reshape(SafeSqrt(must(G.Sum(must(G.Square(e)), 1))), T, J)
	den := Clamp(must(G.HadamardProd(w2, BroadcastTo(w1, []byte{0}, w2.Shape()))), eps)
	return must(G.HadamardDiv(w12, den))
}

func TestGradCosineAttended(t *testing.T) {
	checkGrad(t, "CosineAttended", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		alpha := randParam(g, "alpha", 21, 2, 3, 2, 3)
		s := randParam(g, "s", 22, 2, 3, 2, 3)
		v := randParam(g, "v", 23, 6, 4)
		e := randParam(g, "e", 24, 6, 4)
		return weighted(g, CosineAttended(alpha, s, v, e, 1e-8), 25), G.Nodes{alpha, s, v, e}
	})
}

// TestCosineAttendedMatchesGraph compares values and all four gradients with the op graph, in
// float32, small and at a size whose images are spread over goroutines; each graph runs twice.
func TestCosineAttendedMatchesGraph(t *testing.T) {
	cosAttnMatches(t, 2, 3, 2, 3, 4)
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	cosAttnMatches(t, 4, 36, 3, 40, 64)
	// With a BLAS that can run products single-threaded, the images' small products are spread
	// over goroutines (eachSmall).
	t.Run("threaded", func(t *testing.T) {
		useThreadedBLAS(t)
		cosAttnMatches(t, 5, 36, 3, 40, 64)
	})
}

// TestCosineAttendedDeterministic: the same bits whatever the number of CPUs the images are
// spread over (results must not depend on the machine).
func TestCosineAttendedDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cosAttnDeterministic(t)
	t.Run("threaded", func(t *testing.T) {
		useThreadedBLAS(t)
		cosAttnDeterministic(t)
	})
}

func cosAttnDeterministic(t *testing.T) {
	var ref [][]float32
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		o, g := cosAttnRun(t, true, 5, 36, 3, 40, 64)
		got := append([][]float32{o}, g...)
		if ref == nil {
			ref = got
			continue
		}
		for n := range ref {
			for i := range ref[n] {
				if math.Float32bits(ref[n][i]) != math.Float32bits(got[n][i]) {
					t.Fatalf("GOMAXPROCS %d: output %d[%d] = %v, with 1 CPU %v", procs, n, i, got[n][i], ref[n][i])
				}
			}
		}
	}
}

func cosAttnMatches(t *testing.T, I, K, T, J, E int) {
	run := func(fused bool) (out []float32, grads [][]float32) { return cosAttnRun(t, fused, I, K, T, J, E) }
	o1, g1 := run(true)
	o2, g2 := run(false)
	near := func(what string, a, b []float32) {
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-5*max(1, math.Abs(float64(b[i]))) {
				t.Fatalf("%d×%d×%d×%d E %d: %s[%d]: op %v, graph %v", I, K, T, J, E, what, i, a[i], b[i])
			}
		}
	}
	near("R", o1, o2)
	for i, name := range []string{"∂alpha", "∂s", "∂v", "∂e"} {
		near(name, g1[i], g2[i])
	}
}

func cosAttnRun(t *testing.T, fused bool, I, K, T, J, E int) (out []float32, grads [][]float32) {
	g := G.NewGraph()
	r := rand.New(rand.NewPCG(3, 4))
	p := func(name string, shape ...int) *G.Node {
		return NewParam(g, tensor.Float32, name, r, Uniform(-1, 1), shape...)
	}
	alpha, s, v, e := p("alpha", I, K, T, J), p("s", I, K, T, J), p("v", I*K, E), p("e", T*J, E)
	var y *G.Node
	if fused {
		y = CosineAttended(alpha, s, v, e, 1e-8)
	} else {
		y = cosAttnGraph(alpha, s, v, e, 1e-8)
	}
	// Two passes: the op hands its gradients from one gradient op to the others per pass.
	return runPasses(t, weighted(g, y, 6), Copy(y), G.Nodes{alpha, s, v, e}, 2)
}
