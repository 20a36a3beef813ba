package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// attnMasks are the masks of an (I=3, K=4, T=3, J=2) attention: image 1 has 2 valid regions, image
// 2 three; caption 1 has two word slots.
func attnMasks(dt tensor.Dtype) (wm, rm *tensor.Dense) {
	w := []float64{1, 1, 1, 1, 1, 0}
	r := []float64{1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}
	if dt == tensor.Float32 {
		w32, r32 := make([]float32, len(w)), make([]float32, len(r))
		for i := range w {
			w32[i] = float32(w[i])
		}
		for i := range r {
			r32[i] = float32(r[i])
		}
		return tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(w32)), tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(r32))
	}
	return tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(w)), tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(r))
}

func TestGradAttentionWeights(t *testing.T) {
	checkGrad(t, "AttentionWeights", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		s := randParam(g, "s", 11, 3, 4, 3, 2)
		wm, rm := attnMasks(tensor.Float64)
		a := AttentionWeights(s, constTensor(g, "wm", wm), constTensor(g, "rm", rm), 9)
		return weighted(g, a, 12), G.Nodes{s}
	})
}

// TestAttentionWeightsMatchesGraph compares the op with the graph of element-wise ops it
// replaces, values and gradients, in float32 (scores spread like SCAN's, negative ones too), at
// the masks above and at a size whose work is spread over goroutines.
func TestAttentionWeightsMatchesGraph(t *testing.T) {
	wm, rm := attnMasks(tensor.Float32)
	attnMatchesGraph(t, 3, 4, 3, 2, wm, rm)
	const I, K, T, J = 4, 36, 4, 30
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	r := rand.New(rand.NewPCG(8, 8))
	w, m := make([]float32, T*J), make([]float32, I*K)
	for i := range w {
		w[i] = float32(min(1, r.IntN(4))) // about a quarter masked
	}
	for j := 0; j < J; j++ {
		w[j] = 1 // every caption has a word in T′ (the model guarantees it)
	}
	for i := range m {
		m[i] = float32(min(1, i%K/3)) // the first three regions of each image masked
	}
	attnMatchesGraph(t, I, K, T, J, tensor.New(tensor.WithShape(T, J), tensor.WithBacking(w)), tensor.New(tensor.WithShape(I, K), tensor.WithBacking(m)))
}

func attnMatchesGraph(t *testing.T, I, K, T, J int, wmT, rmT *tensor.Dense) {
	run := func(fused bool) (out, grad []float32) {
		return attnRun(t, fused, I, K, T, J, wmT, rmT)
	}
	o1, g1 := run(true)
	o2, g2 := run(false)
	for i := range o1 {
		if math.Abs(float64(o1[i]-o2[i])) > 1e-5 { // float32: e/Σe here, exp(x − logΣe) there
			t.Fatalf("%d×%d×%d×%d: α[%d]: op %v, graph %v", I, K, T, J, i, o1[i], o2[i])
		}
	}
	for i := range g1 {
		// float32 rounding through a softmax with λ = 9; exactness is checked in float64 by
		// TestGradAttentionWeights.
		if math.Abs(float64(g1[i]-g2[i])) > 1e-5*max(1, math.Abs(float64(g2[i]))) {
			t.Fatalf("%d×%d×%d×%d: ∂s[%d]: op %v, graph %v", I, K, T, J, i, g1[i], g2[i])
		}
	}
	checkAttnWeights(t, I, K, T, J, o1, rmT.Data().([]float32))
}

func attnRun(t *testing.T, fused bool, I, K, T, J int, wmT, rmT *tensor.Dense) (out, grad []float32) {
	{
		g := G.NewGraph()
		r := rand.New(rand.NewPCG(5, 5))
		s := NewParam(g, tensor.Float32, "s", r, Uniform(-1, 1), I, K, T, J)
		wm := G.NewTensor(g, tensor.Float32, 2, G.WithShape(T, J), G.WithName("wm"), G.WithValue(wmT.Clone()))
		rm := G.NewTensor(g, tensor.Float32, 2, G.WithShape(I, K), G.WithName("rm"), G.WithValue(rmT.Clone()))
		var a *G.Node
		if fused {
			a = AttentionWeights(s, wm, rm, 9)
		} else {
			sn := ClippedL2Norm(s, wm, []byte{0, 1}, 2)
			a = MaskedSoftmax(must(G.Mul(sn, Scalar(tensor.Float32, 9))), rm, []byte{2, 3}, 1)
		}
		w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(a.Shape()...), G.WithName("w"),
			G.WithValue(Uniform(-1, 1)(rand.New(rand.NewPCG(2, 2)), tensor.Float32, a.Shape()...)))
		cost := must(G.Sum(must(G.HadamardProd(a, w))))
		if _, err := G.Grad(cost, s); err != nil {
			t.Fatal(err)
		}
		vm := NewMachine(g, s)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gs, err := s.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), a.Value().Data().([]float32)...), append([]float32(nil), gs.Data().([]float32)...)
	}
}

func checkAttnWeights(t *testing.T, I, K, T, J int, o1, rm []float32) {
	// Masked regions get exactly 0; each (image, slot, caption) sums to 1 over its regions.
	for i := 0; i < I; i++ {
		for tj := 0; tj < T*J; tj++ {
			var sum float32
			for k := 0; k < K; k++ {
				a := o1[(i*K+k)*T*J+tj]
				if rm[i*K+k] == 0 && a != 0 {
					t.Fatalf("%d×%d×%d×%d: masked region %d of image %d has weight %v", I, K, T, J, k, i, a)
				}
				sum += a
			}
			if math.Abs(float64(sum-1)) > 1e-5 {
				t.Errorf("%d×%d×%d×%d: image %d slot·caption %d: weights sum to %v", I, K, T, J, i, tj, sum)
			}
		}
	}
}

// TestL2NormRowsMatchesGraph compares the row l2 norm op with the graph of ops it replaces
// (values and gradients, float32, a size that takes the parallel path, a zero row included).
func TestL2NormRowsMatchesGraph(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	const rows, cols = 300, 70
	run := func(fused bool) (out, grad []float32) {
		g := G.NewGraph()
		x := NewParam(g, tensor.Float32, "x", rand.New(rand.NewPCG(3, 3)), Uniform(-1, 1), rows, cols)
		clear(x.Value().Data().([]float32)[5*cols : 6*cols])
		var y *G.Node
		if fused {
			y = L2Norm(x, 1)
		} else {
			y = l2NormGraph(x, 1)
		}
		yc := Copy(y)
		w := G.NewTensor(g, tensor.Float32, 2, G.WithShape(rows, cols), G.WithName("w"),
			G.WithValue(Uniform(-1, 1)(rand.New(rand.NewPCG(4, 4)), tensor.Float32, rows, cols)))
		cost := must(G.Sum(must(G.HadamardProd(y, w))))
		if _, err := G.Grad(cost, x); err != nil {
			t.Fatal(err)
		}
		vm := NewMachine(g, x)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gx, err := x.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), yc.Value().Data().([]float32)...), append([]float32(nil), gx.Data().([]float32)...)
	}
	o1, g1 := run(true)
	o2, g2 := run(false)
	for i := range o1 {
		if math.Abs(float64(o1[i]-o2[i])) > 1e-6 || math.Abs(float64(g1[i]-g2[i])) > 1e-5*max(1, math.Abs(float64(g2[i]))) {
			t.Fatalf("[%d]: op %v / ∂ %v, graph %v / ∂ %v", i, o1[i], g1[i], o2[i], g2[i])
		}
	}
}

// TestLeakyBranchFree checks the float32 LeakyReLU and its gradient, which pick the slope by the
// sign bit, against the branching definitions: the same bits for both signs of zero, infinities,
// subnormals and random values.
func TestLeakyBranchFree(t *testing.T) {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32}
	r := rand.New(rand.NewPCG(2, 3))
	for range 100000 {
		xs = append(xs, float32(r.NormFloat64()*10))
	}
	for _, x := range xs {
		want := x
		if !(x > 0) {
			want = float32(0.1) * x
		}
		if got := leaky(x); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("leaky(%v) = %v, want %v", x, got, want)
		}
		g := float32(r.NormFloat64())
		wantG := g
		if x <= 0 {
			wantG = g * float32(0.1)
		}
		if got := leakyGrad(x, g); math.Float32bits(got) != math.Float32bits(wantG) {
			t.Fatalf("leakyGrad(%v, %v) = %v, want %v", x, g, got, wantG)
		}
	}
}
