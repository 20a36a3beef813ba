package optim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
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

// TestAdamChunked runs Adam on tensors large enough to be cut into many chunks spread over
// goroutines and checks every value against the same update done serially, bit for bit, and that
// the reported non-finite gradient is the first one in (tensor, index) order.
func TestAdamChunked(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{3*chunkSize + 17, 5, 2 * chunkSize}
	mk := func() [][]float32 {
		out := make([][]float32, len(sizes))
		for i, n := range sizes {
			out[i] = make([]float32, n)
			for j := range out[i] {
				out[i][j] = float32(r.NormFloat64())
			}
		}
		return out
	}
	params, g1, g2 := mk(), mk(), mk()
	a, err := NewAdam(AdamConfig{}, sizes)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]float32, len(params))
	m := make([][]float32, len(params))
	v := make([][]float32, len(params))
	for i, p := range params {
		want[i] = append([]float32(nil), p...)
		m[i], v[i] = make([]float32, len(p)), make([]float32, len(p))
	}
	for step, g := range [][][]float32{g1, g2} {
		if err := a.Update(1e-3, params, g); err != nil {
			t.Fatal(err)
		}
		tt := float64(step + 1)
		bc1, bc2 := 1-math.Pow(0.9, tt), 1-math.Pow(0.999, tt)
		for i := range want {
			for j := range want[i] {
				gj := g[i][j]
				b1, b2 := float32(0.9), float32(0.999)
				m[i][j] = b1*m[i][j] + (1-b1)*gj
				v[i][j] = b2*v[i][j] + (1-b2)*gj*gj
				den := float32(math.Sqrt(float64(v[i][j])))*float32(1/math.Sqrt(bc2)) + 1e-8
				want[i][j] -= float32(1e-3/bc1) * m[i][j] / den
			}
		}
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(params[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("step %d: param %d[%d] = %v, serial update %v", step, i, j, params[i][j], want[i][j])
				}
			}
		}
	}
	g1[2][chunkSize+3] = float32(math.Inf(1))
	g1[0][2*chunkSize+1] = float32(math.NaN())
	before := append([]float32(nil), params[0]...)
	err = a.Update(1e-3, params, g1)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("gradient 0[%d] is NaN", 2*chunkSize+1)) {
		t.Fatalf("non-finite gradients: %v, want the first one (0[%d])", err, 2*chunkSize+1)
	}
	if !slices.Equal(before, params[0]) {
		t.Error("a failed update changed the weights")
	}
}

// TestGlobalNormIndependentOfCPUs checks that the parallel norm is the same
// whatever GOMAXPROCS is, and agrees with a plain float64 sum.
func TestGlobalNormIndependentOfCPUs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var grads [][]float32
	var want float64
	for _, n := range []int{7, chunkSize*3 + 5, 1, chunkSize - 1} {
		g := make([]float32, n)
		for j := range g {
			g[j] = float32(r.NormFloat64())
			want += float64(g[j]) * float64(g[j])
		}
		grads = append(grads, g)
	}
	want = math.Sqrt(want)
	var got []float64
	for _, p := range []int{1, 2, 3, 8} {
		prev := runtime.GOMAXPROCS(p)
		got = append(got, GlobalNorm(grads))
		runtime.GOMAXPROCS(prev)
	}
	for i, g := range got {
		if g != got[0] {
			t.Fatalf("GOMAXPROCS run %d: norm %v, first %v", i, g, got[0])
		}
	}
	if math.Abs(got[0]-want) > 1e-12*want {
		t.Fatalf("norm %v, plain sum %v", got[0], want)
	}
}

// TestClipAndUpdateMatchesSeparateSteps checks that the fused clip-and-update gives bit for bit
// the parameters and moments of ClipGlobalNorm followed by Update, with and without clipping,
// and that a non-finite gradient changes nothing.
func TestClipAndUpdateMatchesSeparateSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	sizes := []int{5, chunkSize + 3, 70}
	mk := func() (params, grads [][]float32) {
		for _, n := range sizes {
			p, g := make([]float32, n), make([]float32, n)
			for j := range p {
				p[j], g[j] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			params, grads = append(params, p), append(grads, g)
		}
		return params, grads
	}
	clone := func(x [][]float32) (out [][]float32) {
		for _, v := range x {
			out = append(out, slices.Clone(v))
		}
		return out
	}
	for _, maxNorm := range []float64{1, 1e9} { // clipped, not clipped
		a1, _ := NewAdam(AdamConfig{}, sizes)
		a2, _ := NewAdam(AdamConfig{}, sizes)
		p1, _ := mk()
		p2 := clone(p1)
		for step := 0; step < 3; step++ {
			_, g := mk()
			g2 := clone(g)
			n1 := ClipGlobalNorm(g, maxNorm)
			if err := a1.Update(1e-3, p1, g); err != nil {
				t.Fatal(err)
			}
			n2, err := a2.ClipAndUpdate(1e-3, maxNorm, p2, g2)
			if err != nil {
				t.Fatal(err)
			}
			if n1 != n2 {
				t.Fatalf("norms %v and %v", n1, n2)
			}
		}
		for i := range p1 {
			if !slices.Equal(p1[i], p2[i]) || !slices.Equal(a1.State.M[i], a2.State.M[i]) || !slices.Equal(a1.State.V[i], a2.State.V[i]) {
				t.Fatalf("max norm %v: parameter %d or its moments differ", maxNorm, i)
			}
		}
	}
	a, _ := NewAdam(AdamConfig{}, sizes)
	p, g := mk()
	before := clone(p)
	g[1][chunkSize+1] = float32(math.Inf(-1))
	if _, err := a.ClipAndUpdate(1e-3, 1, p, g); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), fmt.Sprintf("gradient 1[%d]", chunkSize+1)) {
		t.Fatalf("non-finite gradient: err %v", err)
	}
	for i := range p {
		if !slices.Equal(p[i], before[i]) || a.State.Step != 0 {
			t.Fatal("a non-finite gradient changed the parameters or the step")
		}
	}
}
