package updown

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/nn"
)

// tinyConfig is a model small enough for finite differences.
func tinyConfig() Config {
	return Config{VocabSize: 5, FeatDim: 3, Arch: arch(4, 3, 3, 6, 6), Seed: 7}
}

func f64(r *rand.Rand, lo, hi float64, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func let(t *testing.T, n *G.Node, v interface{}) {
	t.Helper()
	if err := G.Let(n, v); err != nil {
		t.Fatalf("let %s: %v", n.Name(), err)
	}
}

// TestGradTeacherForced checks the gradient of the whole training cost
// (prepare, expansion to captions, both LSTMs, additive attention with a
// region mask, dropout, logits, picked log-probs with signed weights as in
// SCST, and the KL term) against central finite differences in float64, with
// nn.GradCheck's default tolerances (abs 1e-6 + rel 1e-4).
func TestGradTeacherForced(t *testing.T) {
	cfg := tinyConfig()
	m, err := newModel(cfg, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	c := m.cfg
	key := tfKey{nImg: 2, n: 3, k: 3, t: 3, train: true, grad: true, kl: true, lambda: 0.7}
	r := rand.New(rand.NewPCG(1, 2))
	feats := f64(r, -1, 1, 6, c.FeatDim)
	fcIn := f64(r, -1, 1, 2, c.FeatDim)
	drop := func(shape ...int) *tensor.Dense {
		d := f64(r, 0, 1, shape...)
		for i, x := range d.Data().([]float64) {
			d.Data().([]float64)[i] = map[bool]float64{true: 2, false: 0}[x > 0.3]
		}
		return d
	}
	attDrop, fcDrop, wordDrop, outDrop := drop(6, c.RNNSize), drop(2, c.RNNSize), drop(9, c.InputEncoding), drop(9, c.RNNSize)
	// image 1 has 2 of 3 regions; captions 0,1 → image 0, caption 2 → image 1.
	regMask := tensor.New(tensor.WithShape(3, 3), tensor.WithBacking([]float64{1, 1, 1, 1, 1, 1, 1, 1, 0}))
	alpha := tensor.New(tensor.WithShape(9, 3), tensor.WithBacking([]float64{
		0.2, 0.5, 0.3, 0, 0, 0, 0.6, 0.4, 0,
		0, 0, 0, 0.1, 0.1, 0.8, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0.3, 0.7, 0}))
	klw := tensor.New(tensor.WithShape(9), tensor.WithBacking([]float64{0.25, 0, 0.25, 0, 0.25, 0, 0, 0, 0.25}))
	w := tensor.New(tensor.WithShape(9), tensor.WithBacking([]float64{0.3, -0.2, 0.1, 0.3, -0.2, 0.1, 0, -0.2, 0.1}))
	tokens := []int{0, 0, 0, 2, 1, 5, 3, 4, 1}
	target := []int{2, 1, 5, 3, 4, 1, 0, 2, 0}
	build := func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		l := newLayers(g, m.ps, c)
		x := buildTF(g, l, c, key, tensor.Float64)
		let(t, x.feats, feats)
		let(t, x.fcIn, fcIn)
		let(t, x.imgIdx, intsT([]int{0, 0, 1}))
		let(t, x.regMask, regMask)
		let(t, x.tokens, intsT(tokens))
		let(t, x.target, intsT(target))
		let(t, x.w, w)
		let(t, x.attDrop, attDrop)
		let(t, x.fcDrop, fcDrop)
		let(t, x.wordDrop, wordDrop)
		let(t, x.outDrop, outDrop)
		let(t, x.alpha, alpha)
		let(t, x.klw, klw)
		ps, err := m.ps.Nodes(g)
		if err != nil {
			t.Fatal(err)
		}
		return x.cost, ps
	}
	bad, maxDiff, err := nn.GradCheck(build, nn.GradCheckOptions{MaxPerParam: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bad {
		if i < 10 {
			t.Errorf("%s[%d]: analytic %.8g numeric %.8g", b.Node, b.Index, b.Analytic, b.Numeric)
		}
	}
	t.Logf("max |analytic − numeric| = %.3g", maxDiff)
}

// TestKLRowsMatchesNN compares klRows (weighted by the noun mask / count) with
// nn.MaskedKL on the same inputs (both implement ALGORITHMS.md's clamped KL;
// float64, tolerance 1e-12), and checks its gradient.
func TestKLRowsMatchesNN(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a := f64(r, 0, 1, 4, 5)
	b := f64(r, 0, 1, 4, 5)
	for _, d := range []*tensor.Dense{a, b} {
		v := d.Data().([]float64)
		for i := 0; i < 4; i++ {
			s := 0.0
			for _, x := range v[i*5 : i*5+5] {
				s += x
			}
			for j := range v[i*5 : i*5+5] {
				v[i*5+j] /= s
			}
		}
	}
	a.Data().([]float64)[3] = 0 // exercise the clamp
	mask := []float64{1, 0, 1, 1}
	g := G.NewGraph()
	an := G.NewTensor(g, tensor.Float64, 2, G.WithShape(4, 5), G.WithName("a"), G.WithValue(a))
	bn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(4, 5), G.WithName("b"), G.WithValue(b))
	mn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(4), G.WithName("m"), G.WithValue(tensor.New(tensor.WithShape(4), tensor.WithBacking(mask))))
	wn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(4), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(4), tensor.WithBacking([]float64{1.0 / 3, 0, 1.0 / 3, 1.0 / 3}))))
	ours := readOut(must(G.Sum(must(G.HadamardProd(klRows(an, bn), wn)))))
	ref := readOut(nn.MaskedKL(an, bn, mn))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(ours.scalar() - ref.scalar()); d > 1e-12 {
		t.Fatalf("klRows %.15g vs nn.MaskedKL %.15g", ours.scalar(), ref.scalar())
	}
	bad, _, err := nn.GradCheck(func(g *G.ExprGraph) (*G.Node, G.Nodes) {
		bp := G.NewTensor(g, tensor.Float64, 2, G.WithShape(4, 5), G.WithName("b"), G.WithValue(b))
		ac := G.NewTensor(g, tensor.Float64, 2, G.WithShape(4, 5), G.WithName("a"), G.WithValue(a))
		return must(G.Sum(klRows(ac, bp))), G.Nodes{bp}
	}, nn.GradCheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("KL gradient mismatches: %+v", bad)
	}
}

// TestStepGraphMatchesTeacherForced checks that the one-step decoding graph
// and the unrolled training graph compute the same log-probabilities and
// attention for the same tokens (float32; tolerance 1e-5, float rounding of
// differently ordered but identical operations).
func TestStepGraphMatchesTeacherForced(t *testing.T) {
	cfg := tinyConfig()
	cfg.Dropout = 0 // no dropout
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	im := randomImages(r, cfg.FeatDim, []int{3, 2})
	b := &Batch{Images: *im, Captions: [][]int32{{2, 1, 5}, {3}, {4, 4}}, ImageOf: []int{0, 1, 1}}
	s := layoutCaptions(b.Captions, b.ImageOf, cfg.MaxLen)
	pt, err := m.prepareTrain(&b.Images, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := m.runTF(&b.Images, pt, s, tfRun{w: s.w, outputs: true})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), tg.logpOut.f32()...)
	wantBeta := append([]float32(nil), tg.betasOut.f32()...)
	p, err := m.prepare(&b.Images, nil, s.imgOf)
	if err != nil {
		t.Fatal(err)
	}
	d := m.newDecoder(p, false)
	v1 := cfg.VocabSize + 1
	for step := 0; step < s.t; step++ {
		logp, beta, err := d.step(s.tokens[step*s.n:(step+1)*s.n], nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range logp {
			if y := want[step*s.n*v1+i]; math.Abs(float64(x-y)) > 1e-5 {
				t.Fatalf("step %d logp[%d] = %v, teacher-forced %v", step, i, x, y)
			}
		}
		for i, x := range beta {
			if y := wantBeta[step*s.n*p.k+i]; math.Abs(float64(x-y)) > 1e-5 {
				t.Fatalf("step %d beta[%d] = %v, teacher-forced %v", step, i, x, y)
			}
		}
	}
	// Region 2 of image 1 is padding: its attention must be exactly 0.
	if wantBeta[1*p.k+2] != 0 {
		t.Fatalf("padded region got attention %v", wantBeta[1*p.k+2])
	}
}

func randomImages(r *rand.Rand, d int, boxes []int) *Images {
	im := &Images{NumBoxes: boxes}
	for _, k := range boxes {
		f := make([]float32, k*d)
		for i := range f {
			f[i] = float32(r.Float64())
		}
		im.Feats = append(im.Feats, f)
	}
	return im
}

func TestConfigValidateNamesField(t *testing.T) {
	valid := Config{VocabSize: 3, FeatDim: 2, Arch: DefaultArch()}
	for _, tc := range []struct {
		c    func(*Config)
		want string
	}{
		{func(c *Config) { c.VocabSize = 0 }, "vocabulary"},
		{func(c *Config) { c.FeatDim = 0 }, "feature dimension"},
		{func(c *Config) { c.RNNSize = -1 }, "rnn_size: -1"},
		{func(c *Config) { c.RNNSize = 0 }, "rnn_size: 0"},
		{func(c *Config) { c.Dropout = 1 }, "dropout: 1"},
	} {
		c := valid
		tc.c(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c, err, tc.want)
		}
	}
	if err := valid.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	r := DefaultArch()
	if r.RNNSize != 512 || r.InputEncoding != 512 || r.AttHid != 512 || r.Dropout != 0.5 || r.MaxLen != 16 || r.DecodeMaxLen != 20 {
		t.Errorf("defaults = %+v, want the paper's 512/512/512, 0.5, 16, 20", r)
	}
	if err := xeConfig(func(c *XEConfig) { c.GradClip = math.NaN() }).Validate(); err == nil || !strings.Contains(err.Error(), "grad_clip") {
		t.Errorf("XEConfig NaN GradClip: %v", err)
	}
	if err := scstConfig(func(c *SCSTConfig) { c.Samples = -2 }).Validate(); err == nil || !strings.Contains(err.Error(), "samples") {
		t.Errorf("SCSTConfig Samples: %v", err)
	}
	// The fields both configs share are checked by one helper (Schedule.Validate), by their keys.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{xeConfig(func(c *XEConfig) { c.LR = -1 }).Validate(), "lr: -1"},
		{scstConfig(func(c *SCSTConfig) { c.LR = -1 }).Validate(), "lr: -1"},
		{xeConfig(func(c *XEConfig) { c.CheckpointEvery = -3 }).Validate(), "checkpoint_every: -3"},
		{scstConfig(func(c *SCSTConfig) { c.BatchImages = -2 }).Validate(), "batch_images: -2"},
		{scstConfig(func(c *SCSTConfig) { c.BatchImages = 0 }).Validate(), "batch_images: 0"},
		{scstConfig(func(c *SCSTConfig) { c.LRDecayStart = -1 }).Validate(), "lr_decay_start: -1"},
		{xeConfig(func(c *XEConfig) { c.Epochs = -1 }).Validate(), "epochs: -1"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want an error with %q", tc.err, tc.want)
		}
	}
	x := DefaultXEConfig()
	// lr ×0.8 every 3 epochs; ss +0.05 every 5 epochs capped at 0.25 (self-critical's schedule).
	if got, want := x.LRAt(7), 5e-4*0.8*0.8; math.Abs(got-want) > 1e-15 {
		t.Errorf("LRAt(7) = %v, want %v", got, want)
	}
	if got := x.SSProbAt(11); math.Abs(got-0.1) > 1e-15 {
		t.Errorf("SSProbAt(11) = %v, want 0.1", got)
	}
	if got := x.SSProbAt(100); got != 0.25 {
		t.Errorf("SSProbAt(100) = %v, want 0.25", got)
	}
}
