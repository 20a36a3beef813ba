package optim

import (
	"math"
	"testing"
)

// adamRef is a float64 transcription of torch.optim.Adam's update.
func adamRef(p, g []float64, steps int, lr float64) []float64 {
	p = append([]float64(nil), p...)
	m := make([]float64, len(p))
	v := make([]float64, len(p))
	for t := 1; t <= steps; t++ {
		for j := range p {
			gj := g[j] * float64(t) // gradients change per step
			m[j] = 0.9*m[j] + 0.1*gj
			v[j] = 0.999*v[j] + 0.001*gj*gj
			bc1 := 1 - math.Pow(0.9, float64(t))
			bc2 := 1 - math.Pow(0.999, float64(t))
			p[j] -= lr / bc1 * m[j] / (math.Sqrt(v[j])/math.Sqrt(bc2) + 1e-8)
		}
	}
	return p
}

func TestAdamMatchesReference(t *testing.T) {
	p0 := []float64{0.5, -1, 2, 0}
	g0 := []float64{0.1, -0.3, 2, 1e-4}
	a, err := NewAdam(AdamConfig{}, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float32, 4)
	for i, x := range p0 {
		p[i] = float32(x)
	}
	for s := 1; s <= 5; s++ {
		g := make([]float32, 4)
		for i, x := range g0 {
			g[i] = float32(x * float64(s))
		}
		if err := a.Update(1e-2, [][]float32{p}, [][]float32{g}); err != nil {
			t.Fatal(err)
		}
	}
	want := adamRef(p0, g0, 5, 1e-2)
	const tol = 1e-6 // float32 arithmetic vs float64 reference
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > tol {
			t.Errorf("p[%d] = %v, want %v", i, p[i], want[i])
		}
	}
	if a.State.Step != 5 {
		t.Errorf("step = %d, want 5", a.State.Step)
	}
}

func TestAdamRejects(t *testing.T) {
	a, _ := NewAdam(AdamConfig{}, []int{2})
	p := [][]float32{{1, 2}}
	if err := a.Update(0.1, p, [][]float32{{1}}); err == nil {
		t.Error("shape mismatch accepted")
	}
	if err := a.Update(0.1, p, [][]float32{{float32(math.NaN()), 0}}); err == nil {
		t.Error("NaN gradient accepted")
	}
	if p[0][0] != 1 || a.State.Step != 0 {
		t.Error("rejected update changed state")
	}
	if _, err := NewAdam(AdamConfig{Beta1: 1.5}, nil); err == nil {
		t.Error("Beta1 1.5 accepted")
	}
}

func TestClipGlobalNorm(t *testing.T) {
	// Norm of (3, 4, 0) = 5; max 2 → scale 2/(5+1e-6) (torch clip_grad_norm_).
	g := [][]float32{{3}, {4, 0}}
	n := ClipGlobalNorm(g, 2)
	if n != 5 {
		t.Fatalf("norm = %v, want 5", n)
	}
	c := 2 / (5 + 1e-6)
	if math.Abs(float64(g[0][0])-3*c) > 1e-6 || math.Abs(float64(g[1][0])-4*c) > 1e-6 {
		t.Fatalf("clipped = %v", g)
	}
	// Below the threshold nothing changes.
	g2 := [][]float32{{0.3, 0.4}}
	ClipGlobalNorm(g2, 2)
	if g2[0][0] != 0.3 || g2[0][1] != 0.4 {
		t.Fatalf("unclipped changed: %v", g2)
	}
}

func TestClipValue(t *testing.T) {
	g := [][]float32{{0.5, -0.05, -0.2}}
	if n := ClipValue(g, 0.1); n != 2 {
		t.Fatalf("clipped %d, want 2", n)
	}
	if g[0][0] != 0.1 || g[0][1] != -0.05 || g[0][2] != -0.1 {
		t.Fatalf("got %v", g)
	}
}

func TestStepLR(t *testing.T) {
	// SCAN: 2e-4 · 0.1^(epoch // 15).
	s := StepLR{Base: 2e-4, Gamma: 0.1, Every: 15}
	for i, c := range []struct {
		epoch int
		want  float64
	}{{0, 2e-4}, {14, 2e-4}, {15, 2e-5}, {29, 2e-5}, {30, 2e-6}} {
		if got := s.LR(c.epoch); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%d: LR(%d) = %v, want %v", i, c.epoch, got, c.want)
		}
	}
	// self-critical: decay starts after epoch 2, every 3 epochs ×0.8.
	sc := StepLR{Base: 5e-4, Gamma: 0.8, Every: 3, Start: 2}
	if got := sc.LR(5); math.Abs(got-4e-4) > 1e-15 {
		t.Errorf("LR(5) = %v, want 4e-4", got)
	}
	if got := sc.LR(4); got != 5e-4 {
		t.Errorf("LR(4) = %v, want 5e-4", got)
	}
	if err := (StepLR{}).Validate(); err == nil {
		t.Error("zero Base accepted")
	}
}
