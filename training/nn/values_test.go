package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func runOut(t *testing.T, g *G.ExprGraph, n *G.Node) []float64 {
	t.Helper()
	var v G.Value
	G.Read(n, &v)
	m := NewMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	switch d := v.Data().(type) {
	case []float64:
		return d
	case float64:
		return []float64{d}
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case float32:
		return []float64{float64(d)}
	}
	t.Fatalf("unexpected value %T", v.Data())
	return nil
}

func near(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol) {
			t.Errorf("%s[%d] = %.9g, want %.9g (tol %g)", name, i, got[i], want[i], tol)
		}
	}
}

func TestLogSumExpStableAndMasked(t *testing.T) {
	// Expected values by hand: log(e^1000 + e^1000) = 1000 + ln 2;
	// masked row {1, ·, 3} → log(e + e^3); float32 tolerance 1e-3 at 1000.
	g := G.NewGraph()
	x := constTensor(g, "x", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1000, 1000, -5000, 1, 50, 3})))
	m := constTensor(g, "m", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 1, 0, 1, 0, 1})))
	y := MaskedLogSumExp(x, m, nil, 1)
	near(t, "lse", runOut(t, g, y), []float64{1000 + math.Ln2, math.Log(math.E + math.Exp(3))}, 1e-9)
}

func TestMaskedSoftmaxBroadcastMask(t *testing.T) {
	// x (2,2,3), mask (2,3) broadcast along axis 1, softmax over axis 2.
	// Expected: softmax over unmasked entries, exactly 0 at masked ones.
	g := G.NewGraph()
	xs := []float64{0, 1, 2, 3, 4, 5, 1, 1, 1, -1, 0, 1}
	x := constTensor(g, "x", tensor.New(tensor.WithShape(2, 2, 3), tensor.WithBacking(append([]float64(nil), xs...))))
	m := constTensor(g, "m", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 0, 1, 1, 1, 1})))
	p := MaskedSoftmax(x, m, []byte{1}, 2)
	e := math.Exp
	s0 := e(0) + e(2)
	s1 := e(3) + e(5)
	s3 := e(-1) + e(0) + e(1)
	want := []float64{1 / s0, 0, e(2) / s0, e(3) / s1, 0, e(5) / s1, 1.0 / 3, 1.0 / 3, 1.0 / 3, e(-1) / s3, 1 / s3, e(1) / s3}
	near(t, "softmax", runOut(t, g, p), want, 1e-12)
}

func TestGradMaskedSoftmaxBroadcast(t *testing.T) {
	checkGrad(t, "MaskedSoftmax/bcast", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 3, 2, 2, 3)
		m := constTensor(g, "m", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 0, 1, 1, 1, 1})))
		return weighted(g, MaskedSoftmax(x, m, []byte{1}, 2), 5), G.Nodes{x}
	})
	checkGrad(t, "MaskedL2Norm/bcast", func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := randParam(g, "x", 4, 2, 2, 3)
		m := constTensor(g, "m", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 0, 1, 0, 1, 1})))
		return weighted(g, MaskedL2Norm(x, m, []byte{1}, 2), 6), G.Nodes{x}
	})
}

func TestL2NormUnit(t *testing.T) {
	// (3,4) row → (0.6, 0.8) up to SCAN's eps 1e-8 in the denominator.
	g := G.NewGraph()
	x := constTensor(g, "x", tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{3, 4})))
	near(t, "l2", runOut(t, g, L2Norm(x, 1)), []float64{3 / (5 + 1e-8), 4 / (5 + 1e-8)}, 1e-15)
}

func TestL2NormZeroRowFiniteGradient(t *testing.T) {
	// A zero row (padded word) must give output 0 and a finite gradient.
	bad, maxDiff, err := GradCheck(func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		x := constTensor(g, "x", tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{0, 0, 0.3, -0.2})))
		return weighted(g, L2Norm(x, 1), 1), G.Nodes{x}
	}, GradCheckOptions{Step: 1e-9, AbsTol: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(maxDiff) {
		t.Fatal("NaN gradient at a zero row")
	}
	// At exactly 0 the function is not differentiable (x/‖x‖); only check the non-zero row.
	for _, b := range bad {
		if b.Index >= 2 {
			t.Errorf("%s[%d]: analytic %v numeric %v", b.Node, b.Index, b.Analytic, b.Numeric)
		}
		if math.IsNaN(b.Analytic) || math.IsInf(b.Analytic, 0) {
			t.Errorf("non-finite analytic gradient at %d", b.Index)
		}
	}
}
