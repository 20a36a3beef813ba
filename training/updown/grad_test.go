package updown

import (
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestGradientsDoNotAccumulate runs the same compiled training graph three
// times on the same batch and weights: the gradients must be identical each
// time (gorgonia's tape machine adds into the parameters' dual values on every
// run of a reused graph; the training graph reads its gradient nodes instead).
func TestGradientsDoNotAccumulate(t *testing.T) {
	w := newToyWorld(6, 10, 6, 8, true)
	cfg := w.config()
	cfg.Dropout = 0 // no dropout
	m, _ := New(cfg)
	b, _ := w.source(0, 10).Batch([]int{0, 1, 2})
	s := layoutCaptions(b.Captions, b.ImageOf, cfg.MaxLen)
	var prev [][]float32
	for i := 0; i < 3; i++ {
		pt, _ := m.prepareTrain(&b.Images, nil)
		tg, err := m.runTF(&b.Images, pt, s, tfRun{w: s.w, grad: true})
		if err != nil {
			t.Fatal(err)
		}
		g, err := tg.gradients()
		if err != nil {
			t.Fatal(err)
		}
		cp := make([][]float32, len(g))
		for j := range g {
			cp[j] = append([]float32(nil), g[j]...)
		}
		if prev != nil {
			for j := range cp {
				if !slices.Equal(cp[j], prev[j]) {
					t.Errorf("run %d: gradient of %s differs from the previous run", i, m.names[j])
				}
			}
		}
		prev = cp

	}
}

// TestGradientsMatchWholeGraph compares the gradients a training step reads from the gradient
// nodes of a machine compiled from what they need (tfGraph) with the dual values of a machine
// compiled from the whole graph with BindDualValues, on the same graph and inputs (dropout and
// distillation on): bit-identical.
func TestGradientsMatchWholeGraph(t *testing.T) {
	w := newToyWorld(7, 10, 6, 8, true)
	cfg := w.config()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.source(0, 10).Batch([]int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	s := layoutCaptions(b.Captions, b.ImageOf, cfg.MaxLen)
	k := b.maxBoxes()
	drop := m.drawFeatDrop(r, len(b.Feats), k)
	drops := &stepDrops{word: dropMask(r, cfg.Dropout, s.t*s.n*cfg.InputEncoding), out: dropMask(r, cfg.Dropout, s.t*s.n*cfg.RNNSize)}
	alpha, klw, _ := distillInputs(b, s, k, cfg.MaxLen)
	pt, err := m.prepareTrain(&b.Images, drop)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := m.runTF(&b.Images, pt, s, tfRun{w: s.w, drops: drops, alpha: alpha, klw: klw, lambda: 0.3, grad: true})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := tg.gradients()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float32 // copies: the second machine runs on the same nodes
	for _, g := range gs {
		got = append(got, slices.Clone(g))
	}
	params, err := m.ps.Nodes(tg.cost.Graph())
	if err != nil {
		t.Fatal(err)
	}
	// The same graph and inputs (still bound) on a whole-graph machine with dual values.
	vm := G.NewTapeMachine(tg.cost.Graph(), G.BindDualValues(params...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, p := range params {
		gv, err := p.Grad()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[i], gv.Data().([]float32)) {
			t.Errorf("gradient of %s differs from the whole graph's dual value", m.names[i])
		}
	}
}
