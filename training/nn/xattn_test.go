package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xattnMasks are a region mask (I, K) with the last region of every other image masked and a
// word mask (T, J) with a short caption in every third column.
func xattnMasks(g *G.ExprGraph, dt tensor.Dtype, I, K, T, J int) (rm, wm *G.Node) {
	rv, wv := make([]float64, I*K), make([]float64, T*J)
	for i := range I {
		for k := range K {
			if k < K-1 || i%2 == 0 {
				rv[i*K+k] = 1
			}
		}
	}
	for t := range T {
		for j := range J {
			if t == 0 || j%3 != 0 {
				wv[t*J+j] = 1
			}
		}
	}
	mk := func(name string, v []float64, shape ...int) *G.Node {
		var back any = v
		if dt == tensor.Float32 {
			f := make([]float32, len(v))
			for i, x := range v {
				f[i] = float32(x)
			}
			back = f
		}
		return G.NewTensor(g, dt, 2, G.WithShape(shape...), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))))
	}
	return mk("rm", rv, I, K), mk("wm", wv, T, J)
}

func TestGradAttendedCosine(t *testing.T) {
	const I, K, T, J, E = 2, 3, 2, 3, 4
	checkGrad(t, "AttendedCosine", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		v := randParam(g, "v", 31, I*K, E)
		e := randParam(g, "e", 32, T*J, E)
		rm, wm := xattnMasks(g, tensor.Float64, I, K, T, J)
		return weighted(g, AttendedCosine(v, e, rm, wm, I, K, T, J, 9, 1e-8), 33), G.Nodes{v, e}
	})
}

// TestAttendedCosineMatchesOps compares the fused op with the three ops it replaces (values and
// both gradients, float32), at a size whose element-wise work and small products are spread over
// goroutines, with a BLAS that can limit its threads and one that cannot.
func TestAttendedCosineMatchesOps(t *testing.T) {
	const I, K, T, J, E = 5, 36, 3, 40, 64
	run := func(fused bool) (out []float32, grads [][]float32) {
		g := G.NewGraph()
		r := rand.New(rand.NewPCG(7, 8))
		v := NewParam(g, tensor.Float32, "v", r, Uniform(-1, 1), I*K, E)
		e := NewParam(g, tensor.Float32, "e", r, Uniform(-1, 1), T*J, E)
		rm, wm := xattnMasks(g, tensor.Float32, I, K, T, J)
		var y *G.Node
		if fused {
			y = AttendedCosine(v, e, rm, wm, I, K, T, J, 9, 1e-8)
		} else {
			s := MatMulNT(v, e, I, K, T, J)
			y = CosineAttended(AttentionWeights(s, wm, rm, 9), s, v, e, 1e-8)
		}
		return runPasses(t, weighted(g, y, 6), Copy(y), G.Nodes{v, e}, 2) // buffers and gradients are per pass
	}
	compare := func(t *testing.T) {
		o1, g1 := run(true)
		o2, g2 := run(false)
		near := func(what string, a, b []float32) {
			for i := range a {
				if math.Abs(float64(a[i]-b[i])) > 2e-5*max(1, math.Abs(float64(b[i]))) {
					t.Fatalf("%s[%d]: fused %v, ops %v", what, i, a[i], b[i])
				}
			}
		}
		near("R", o1, o2)
		near("∂v", g1[0], g2[0])
		near("∂e", g1[1], g2[1])
	}
	compare(t)
	t.Run("threaded", func(t *testing.T) {
		useThreadedBLAS(t)
		compare(t)
	})
}
