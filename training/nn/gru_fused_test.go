package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/blas"
)

// TestGRUFusedMatchesNodes runs the fused recurrence and the per-step reference graph on the same
// weights, inputs and mask (sequences of lengths 5, 3, 1, …), both directions and the
// bidirectional op, float32, and compares outputs and every gradient; each graph runs twice (the
// fused state is per pass). The second size is large enough for the element-wise work to run on
// several goroutines. Each runs with a BLAS that cannot limit its threads (the directions of the
// bidirectional op one after another) and with one that can (side by side, threadedBLAS).
func TestGRUFusedMatchesNodes(t *testing.T) {
	for _, threaded := range []bool{false, true} {
		if threaded {
			useThreadedBLAS(t)
		}
		for _, size := range []struct{ batch, hidden int }{{3, 6}, {40, 420}} {
			for _, dir := range []string{"forward", "reverse", "bi"} {
				gruFusedMatchesNodes(t, size.batch, size.hidden, dir)
			}
		}
	}
}

// fakeThreaded is gonum's BLAS with Threads (training/blas's Threaded) that only runs fn: the
// fused ops then take their side-by-side paths.
type fakeThreaded struct {
	gonum.Implementation
	calls *atomic.Int64
}

func (f fakeThreaded) Threads(n int, fn func()) bool {
	f.calls.Add(1)
	fn()
	return true
}

// useThreadedBLAS installs fakeThreaded for the rest of the test and checks at its end that a
// fused op used it.
func useThreadedBLAS(t *testing.T) {
	var calls atomic.Int64
	blas.Install(blas.Backend{Name: "threaded", Impl: fakeThreaded{calls: &calls}})
	if runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	t.Cleanup(func() {
		blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
		if calls.Load() == 0 {
			t.Errorf("no fused op limited the BLAS's threads")
		}
	})
}

func gruFusedMatchesNodes(t *testing.T, batch, hidden int, dir string) {
	const steps, in = 5, 4
	if batch*hidden >= parallelMin && runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	lengths := make([]int, batch)
	for b := range lengths {
		lengths[b] = []int{5, 3, 1}[b%3]
	}
	run := func(fused bool) (out []float32, grads [][]float32) {
		g := G.NewGraph()
		ps := NewParamSet(tensor.Float32, rand.New(rand.NewPCG(4, 2)))
		bi := NewBiGRU(g, ps, "gru", in, hidden)
		r := rand.New(rand.NewPCG(9, 9))
		x := NewParam(g, tensor.Float32, "x", r, Uniform(-1, 1), steps*batch, in)
		m := make([]float32, steps*batch)
		for b, l := range lengths {
			for s := 0; s < l; s++ {
				m[s*batch+b] = 1
			}
		}
		mask := G.NewTensor(g, tensor.Float32, 2, G.WithShape(steps, batch), G.WithName("mask"),
			G.WithValue(tensor.New(tensor.WithShape(steps, batch), tensor.WithBacking(m))))
		var y *G.Node
		wrt := bi.Fwd.Params()
		switch {
		case dir == "bi" && fused:
			y, wrt = bi.Forward(x, mask, steps, batch), bi.Params()
		case dir == "bi":
			f := bi.Fwd.forwardNodes(x, mask, steps, batch, false)
			b := bi.Bwd.forwardNodes(x, mask, steps, batch, true)
			y, wrt = must(G.Mul(must(G.Add(f, b)), Scalar(tensor.Float32, 0.5))), bi.Params()
		case fused:
			y = bi.Fwd.Forward(x, mask, steps, batch, dir == "reverse")
		default:
			y = bi.Fwd.forwardNodes(x, mask, steps, batch, dir == "reverse")
		}
		return runPasses(t, weighted(g, y, 1), Copy(y), append(wrt, x), 2)
	}
	o1, g1 := run(true)
	o2, g2 := run(false)
	near := func(what string, a, b []float32) {
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*max(1, math.Abs(float64(b[i]))) {
				t.Fatalf("B %d H %d %s: %s[%d]: fused %v, per-step graph %v", batch, hidden, dir, what, i, a[i], b[i])
			}
		}
	}
	near("output", o1, o2)
	if len(g1) != len(g2) {
		t.Fatalf("%d gradients, reference %d", len(g1), len(g2))
	}
	for i := range g1 {
		near(fmt.Sprintf("gradient %d", i), g1[i], g2[i])
	}
	// Padded steps output zeros (one direction).
	if dir == "bi" {
		return
	}
	for b, l := range lengths {
		for s := l; s < steps; s++ {
			for j := 0; j < hidden; j++ {
				if o1[(s*batch+b)*hidden+j] != 0 {
					t.Fatalf("%s: padded step %d of sequence %d is not zero", dir, s, b)
				}
			}
		}
	}
}

// forwardNodes is Forward built from per-step graph ops (the reference of gruSeqOp's tests).
func (c *GRU) forwardNodes(x, mask *G.Node, steps, batch int, reverse bool) *G.Node {
	if x.Shape()[0] != steps*batch {
		panic(fmt.Sprintf("nn: GRU.Forward: x has %d rows, want steps·batch = %d", x.Shape()[0], steps*batch))
	}
	dt := x.Dtype()
	h3 := tensor.Shape{steps, batch, c.Hidden}
	// Input projections of all steps at once: (T·B, H) → (T, B, H).
	xr := must(G.Reshape(addRow(must(G.Mul(x, c.Wir)), c.Bir), h3))
	xz := must(G.Reshape(addRow(must(G.Mul(x, c.Wiz)), c.Biz), h3))
	xn := must(G.Reshape(addRow(must(G.Mul(x, c.Win)), c.Bin), h3))
	if mask != nil && !mask.Shape().Eq(tensor.Shape{steps, batch}) {
		panic(fmt.Sprintf("nn: GRU.Forward: mask shape %v, want (%d, %d)", mask.Shape(), steps, batch))
	}
	h := G.NewMatrix(x.Graph(), dt, G.WithShape(batch, c.Hidden), G.WithName(fmt.Sprintf("%s.h0", c.Wir.Name())), G.WithInit(G.Zeroes()))
	out := make(G.Nodes, steps)
	for i := 0; i < steps; i++ {
		t := i
		if reverse {
			t = steps - 1 - i
		}
		st := G.S(t)
		r := must(G.Sigmoid(must(G.Add(must(G.Slice(xr, st)), addRow(must(G.Mul(h, c.Whr)), c.Bhr)))))
		z := must(G.Sigmoid(must(G.Add(must(G.Slice(xz, st)), addRow(must(G.Mul(h, c.Whz)), c.Bhz)))))
		hn := addRow(must(G.Mul(h, c.Whn)), c.Bhn)
		n := must(G.Tanh(must(G.Add(must(G.Slice(xn, st)), must(G.HadamardProd(r, hn))))))
		// h' = n + z ⊙ (h − n)
		hNew := must(G.Add(n, must(G.HadamardProd(z, must(G.Sub(h, n))))))
		if mask != nil {
			mt := must(G.Slice(mask, st)) // (B)
			hNew = bcastMul(hNew, mt, []byte{1})
		}
		h = hNew
		out[t] = h
	}
	return must(G.Concat(0, out...)) // (T·B, H)
}
