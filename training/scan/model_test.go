package scan

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
)

// toyWorld makes n images whose features encode a "concept" id, and
// captions naming it: word ids 2+concept are nouns, 1 is a filler verb.
func toyWorld(n, regions, dim int, seed uint64) Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	var b Batch
	for i := 0; i < n; i++ {
		f := make([]float32, regions*dim)
		for k := range f {
			f[k] = float32(r.NormFloat64()) * 0.1
		}
		// region 0 carries the concept signal
		f[i%dim] += 2
		b.Feats = append(b.Feats, f)
		ids := []int32{1, int32(2 + i), 1}
		if i%2 == 1 {
			ids = append(ids, 1) // different lengths
		}
		nouns := make([]bool, len(ids))
		nouns[1] = true
		b.Captions = append(b.Captions, Caption{IDs: ids, Nouns: nouns})
	}
	return b
}

func toyConfig() Config {
	return testConfig(func(c *Config) {
		c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.LR, c.Epochs, c.Seed = 12, 8, 16, 8, 1e-2, 3, 7
	})
}

// toyModel is a fresh model of toyConfig: plain SCAN or POS-SCAN.
func toyModel(t *testing.T, plain bool) *Model {
	t.Helper()
	cfg := toyConfig()
	cfg.PlainSCAN = plain
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// trainPass runs m's training graph once on b (no update) and returns it.
func trainPass(t *testing.T, m *Model, b Batch) *graph {
	t.Helper()
	p, err := m.prepare(b)
	if err != nil {
		t.Fatal(err)
	}
	gr, err := m.run(p, true)
	if err != nil {
		t.Fatal(err)
	}
	return gr
}

func TestConfigValidateAndParse(t *testing.T) {
	if err := (DefaultConfig()).check(); err == nil {
		t.Error("zero Vocab accepted")
	}
	if _, err := ParseConfig([]byte(`{"vocab": 5, "bogus": 1}`)); err == nil {
		t.Error("unknown key accepted")
	}
	c, err := ParseConfig([]byte(`{"vocab": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	r := c
	if r.Embed != 1024 || r.WordDim != 300 || r.LambdaSoftmax != 9 || r.LambdaLSE != 6 || r.Margin != 0.2 || r.GradClip != 2 || r.LR != 2e-4 || r.LRUpdate != 15 || r.Agg != AggLSE {
		t.Errorf("defaults: %+v", r)
	}
	if err := testConfig(func(c *Config) { c.Vocab, c.Agg = 5, "max" }).check(); err == nil {
		t.Error("unknown Agg accepted")
	}
}

func TestOverfitToyBatch(t *testing.T) {
	// After training on 6 pairs, the loss falls markedly and each image
	// scores its own caption above every other caption (R@1 = 100%).
	for _, plain := range []bool{false, true} {
		m := toyModel(t, plain)
		b := toyWorld(6, 3, 8, 1)
		first, err := m.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		var last StepResult
		for i := 0; i < 60; i++ {
			if last, err = m.TrainStep(b); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("plain=%v: loss %.4g → %.4g", plain, first.Loss, last.Loss)
		if !(last.Loss < 0.25*first.Loss) {
			t.Errorf("plain=%v: loss %v → %v, want a drop below 25%%", plain, first.Loss, last.Loss)
		}
		s, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		n := len(b.Captions)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if j != i && !(s[i*n+i] > s[i*n+j]) {
					t.Errorf("plain=%v: S(%d,%d)=%v not above S(%d,%d)=%v", plain, i, i, s[i*n+i], i, j, s[i*n+j])
				}
			}
		}
	}
}

func TestAlignMatchesForward(t *testing.T) {
	m, err := New(toyConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := toyWorld(3, 4, 8, 2)
	s, err := m.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	al, err := m.Align(b, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for j, a := range al {
		if a.Score != s[j*3+j] {
			t.Errorf("caption %d: Align score %v, Forward %v", j, a.Score, s[j*3+j])
		}
		if len(a.Positions) != 1 || a.Positions[0] != 1 || a.Regions != 4 || len(a.Attention) != 4 {
			t.Fatalf("caption %d: alignment %+v, want the single noun at position 1 over 4 regions", j, a)
		}
		sum := float32(0)
		for _, x := range a.Attention {
			sum += x
		}
		if sum < 0.999 || sum > 1.001 { // float32 softmax
			t.Errorf("caption %d: attention sums to %v", j, sum)
		}
	}
	// A single pair alone gives the same score as inside the batch
	// (float32 tolerance: different graph shapes pad differently).
	one, err := m.Align(Batch{Feats: b.Feats[1:2], Captions: b.Captions[1:2]}, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if d := one[0].Score - al[1].Score; d > 1e-5 || d < -1e-5 {
		t.Errorf("single-pair score %v vs batched %v", one[0].Score, al[1].Score)
	}
}

type sliceSource struct {
	batches []Batch
	pos     int
}

func (s *sliceSource) Start(epoch int, skip int64) error {
	s.pos = int(skip)
	return nil
}
func (s *sliceSource) Next(context.Context) (Batch, error) {
	if s.pos >= len(s.batches) {
		return Batch{}, io.EOF
	}
	s.pos++
	return s.batches[s.pos-1], nil
}

func TestResumeIsBitIdentical(t *testing.T) {
	// N steps straight vs N/2, checkpoint, fresh model from the file, N/2.
	src := &sliceSource{batches: []Batch{toyWorld(4, 3, 8, 1), toyWorld(4, 3, 8, 2), toyWorld(4, 3, 8, 3)}}
	cfg := toyConfig()
	cfg.Epochs = 2 // 6 steps
	straight, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Train(context.Background(), straight, src, TrainOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scan.ckpt")
	half, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// stop mid-epoch 0 after 2 steps... then mid-epoch 1: 4 steps in total
	if err := Train(context.Background(), half, src, TrainOptions{MaxSteps: 4, CheckpointPath: path}, nil); err != nil {
		t.Fatal(err)
	}
	resumed, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Step() != 4 || resumed.Epoch() != 1 || resumed.DataPos() != 1 {
		t.Fatalf("resumed at step %d epoch %d pos %d, want 4, 1, 1", resumed.Step(), resumed.Epoch(), resumed.DataPos())
	}
	if err := Train(context.Background(), resumed, src, TrainOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if resumed.Step() != straight.Step() {
		t.Fatalf("steps %d vs %d", resumed.Step(), straight.Step())
	}
	for _, name := range straight.ParamNames() {
		a, b := straight.Param(name), resumed.Param(name)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: straight %v, resumed %v", name, i, a[i], b[i])
			}
		}
	}
}

// TestPrepareSlots checks the word slots of the attention: the nouns of each caption (all its
// words when it has none, or with PlainSCAN), padded to the batch's most, the padding masked.
func TestPrepareSlots(t *testing.T) {
	b := Batch{
		Feats: [][]float32{make([]float32, 2*4), make([]float32, 4), make([]float32, 4)},
		Captions: []Caption{
			{IDs: []int32{1, 2, 3, 4, 5}, Nouns: []bool{false, true, false, false, true}},
			{IDs: []int32{1, 2, 3}, Nouns: []bool{false, false, false}},
			{IDs: []int32{6, 7}, Nouns: []bool{true, false}},
		},
	}
	for _, c := range []struct {
		plain     bool
		t         int
		positions [][]int
	}{
		{false, 3, [][]int{{1, 4}, {0, 1, 2}, {0}}},
		{true, 5, [][]int{{0, 1, 2, 3, 4}, {0, 1, 2}, {0, 1}}},
	} {
		m, err := New(testConfig(func(cf *Config) {
			cf.Vocab, cf.ImgDim, cf.Embed, cf.WordDim, cf.Seed, cf.PlainSCAN, cf.LenBucket = 10, 4, 4, 3, 1, c.plain, 1
		}))
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.prepare(b)
		if err != nil {
			t.Fatal(err)
		}
		d := p.d
		if d.T != c.t || d.L != 5 || d.J != 3 {
			t.Fatalf("plain %v: dims %+v, want T %d, L 5, J 3", c.plain, d, c.t)
		}
		slots := p.slots.Ints()
		mask := p.wordM.Data().([]float32)
		for j, pos := range c.positions {
			for s := 0; s < d.T; s++ {
				wantRow, wantMask := j, float32(0) // padding: word 0 of the caption, masked
				if s < len(pos) {
					wantRow, wantMask = pos[s]*d.J+j, 1
				}
				if slots[s*d.J+j] != wantRow || mask[s*d.J+j] != wantMask {
					t.Errorf("plain %v: caption %d slot %d: row %d mask %v, want %d %v", c.plain, j, s, slots[s*d.J+j], mask[s*d.J+j], wantRow, wantMask)
				}
			}
		}
		al, err := m.Align(b, []int{0, 1, 2})
		if err != nil {
			t.Fatal(err)
		}
		for j, a := range al {
			if len(a.Positions) != len(c.positions[j]) || len(a.Attention) != len(a.Positions)*a.Regions {
				t.Fatalf("plain %v: caption %d: positions %v, %d attention values, want positions %v", c.plain, j, a.Positions, len(a.Attention), c.positions[j])
			}
			for s, p := range a.Positions {
				if int(p) != c.positions[j][s] {
					t.Errorf("plain %v: caption %d: positions %v, want %v", c.plain, j, a.Positions, c.positions[j])
				}
				var sum float32
				for _, x := range a.Attention[s*a.Regions : (s+1)*a.Regions] {
					sum += x
				}
				if sum < 0.999 || sum > 1.001 {
					t.Errorf("plain %v: caption %d position %d: attention sums to %v over its %d regions", c.plain, j, p, sum, a.Regions)
				}
			}
		}
	}
}

// TestTrainStepGradientsMatchWholeGraph checks the gradients a training step applies, read from
// a machine compiled from only the part of the graph they need and without dual values, against
// the parameters' dual values of a machine compiled from the whole graph (gorgonia's own way),
// bit for bit, for POS-SCAN and plain SCAN.
func TestTrainStepGradientsMatchWholeGraph(t *testing.T) {
	for _, plain := range []bool{false, true} {
		gr := trainPass(t, toyModel(t, plain), toyWorld(6, 3, 8, 1))
		var got [][]float32
		for _, g := range gr.grads {
			got = append(got, append([]float32(nil), g.Value().Data().([]float32)...))
		}
		whole := G.NewTapeMachine(gr.g, G.BindDualValues(gr.params...))
		if err := whole.RunAll(); err != nil {
			t.Fatal(err)
		}
		for i, pn := range gr.params {
			want, err := pn.Grad()
			if err != nil {
				t.Fatal(err)
			}
			for j, w := range want.Data().([]float32) {
				if got[i][j] != w {
					t.Fatalf("plain=%v: %s gradient[%d] = %v, whole graph %v", plain, pn.Name(), j, got[i][j], w)
				}
			}
		}
		whole.Close()
	}
}

// TestPrepareReusesFeatures checks the reused feature buffer: a batch whose image has fewer
// regions than the most in its batch gets zeros after its own rows, not the previous batch's
// values.
func TestPrepareReusesFeatures(t *testing.T) {
	m, err := New(testConfig(func(c *Config) { c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.Seed = 10, 2, 4, 3, 1 }))
	if err != nil {
		t.Fatal(err)
	}
	caps := []Caption{{IDs: []int32{1}}, {IDs: []int32{2}}}
	full := Batch{Feats: [][]float32{{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}}, Captions: caps}
	if _, err := m.prepare(full); err != nil {
		t.Fatal(err)
	}
	short := Batch{Feats: [][]float32{{-1, -2}, {-3, -4, -5, -6, -7, -8}}, Captions: caps}
	p, err := m.prepare(short)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, -2, 0, 0, 0, 0, -3, -4, -5, -6, -7, -8}
	if got := p.feats.Data().([]float32); !slices.Equal(got, want) {
		t.Fatalf("features %v, want %v", got, want)
	}
	if got := p.regionMask.Data().([]float32); !slices.Equal(got, []float32{1, 0, 0, 1, 1, 1}) {
		t.Fatalf("region mask %v", got)
	}
}

// TestTrainingAndInferenceScoresAgree: the training graph computes R with one fused op
// (XAttnT2IR), the inference graph with the ops that also give α (XAttnT2I); their scores agree.
func TestTrainingAndInferenceScoresAgree(t *testing.T) {
	for _, plain := range []bool{false, true} {
		m := toyModel(t, plain)
		b := toyWorld(6, 3, 8, 1)
		gr := trainPass(t, m, b)
		train := append([]float32(nil), gr.scores.Value().Data().([]float32)...)
		infer, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range infer {
			if d := math.Abs(float64(train[i] - infer[i])); d > 1e-6 {
				t.Fatalf("plain=%v: score %d: training graph %v, inference graph %v", plain, i, train[i], infer[i])
			}
		}
	}
}

// testConfig returns DefaultConfig changed by set: a test states only what it changes.
func testConfig(set func(*Config)) Config {
	c := DefaultConfig()
	set(&c)
	return c
}
