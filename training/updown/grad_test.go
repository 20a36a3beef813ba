package updown

import (
	"slices"
	"testing"

	"github.com/groundcap/groundcap/training/optim"
)

// TestGradientsDoNotAccumulate runs the same compiled training graph three
// times on the same batch and weights: the gradients must be identical each
// time (gorgonia's tape machine adds into parameter gradients unless they are
// cleared; a regression test for that).
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
		g, _ := optim.Grads(tg.params)
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
