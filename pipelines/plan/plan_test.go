package plan_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundcap/groundcap/internal/config"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/plan"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/nn"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

func TestSizesFromCaptionsStats(t *testing.T) {
	st := &captions.Stats{Captions: 100, Tokens: 1000, NounTokens: 250, MaxLength: 16, VocabSize: 77,
		Splits: map[string]captions.SplitCount{"train": {Images: 10, Captions: 50}, "restval": {Images: 4, Captions: 20}, "val": {Images: 6, Captions: 30}}}
	z := plan.FromCaptionsStats(st)
	if z.Images["train"] != 14 || z.Captions["train"] != 70 || z.Images["val"] != 6 || z.MeanWords != 10 || z.MeanNouns != 2.5 || z.Vocab != 77 || z.MaxWords != 16 {
		t.Errorf("sizes %+v: want restval in train, 10 words and 2.5 nouns per caption", z)
	}
}

func TestSizesFromSynth(t *testing.T) {
	z := plan.FromSynth(synthOptions(400, 256, 36), 16)
	// The generator's splits: a tenth each for val and test (internal/synth), 5 captions each.
	if z.Images["train"] != 320 || z.Images["val"] != 40 || z.Images["test"] != 40 || z.Captions["train"] != 1600 {
		t.Errorf("splits %v %v", z.Images, z.Captions)
	}
	if z.Regions != 36 || z.FeatDim != 256 || z.FeatureBytes != 400*36*256*4 {
		t.Errorf("features %+v", z)
	}
	// Given val and test sizes.
	o := synthOptions(600, 256, 36)
	o.ValImages, o.TestImages = 80, 200
	if z := plan.FromSynth(o, 16); z.Images["train"] != 320 || z.Images["val"] != 80 || z.Images["test"] != 200 || z.Captions["test"] != 1000 {
		t.Errorf("val_images 80, test_images 200: splits %v %v", z.Images, z.Captions)
	}
}

func TestSizesFromDataset(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dataset.json")
	// Two train images (one restval), one test: 6 captions; "a" 7 times, "dog" 4, "cat" 2.
	data := `{"images": [
	 {"split": "train", "sentences": [{"tokens": ["a", "dog"]}, {"tokens": ["a", "dog", "a", "cat", "a", "b", "c", "d"]}]},
	 {"split": "restval", "sentences": [{"tokens": ["a", "dog"]}, {"tokens": ["a", "Dog"]}]},
	 {"split": "test", "sentences": [{"tokens": ["a", "cat"]}, {"tokens": ["x"]}]}]}`
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	z, err := plan.FromDataset(context.Background(), p, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Words truncated to 4: 2+4+2+2+2+1 = 13 over 6 captions; vocabulary: words seen more than 3
	// times: "a", "dog".
	if z.Images["train"] != 2 || z.Captions["train"] != 4 || z.Images["test"] != 1 || math.Abs(z.MeanWords-13.0/6) > 1e-12 || z.Vocab != 2 {
		t.Errorf("sizes %+v", z)
	}
	if err := os.WriteFile(p, []byte(`{"images": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.FromDataset(context.Background(), p, 4, 3); err == nil || !strings.Contains(err.Error(), "dataset.json") {
		t.Errorf("a truncated dataset: %v", err)
	}
}

// demoSizes are the demo's data sizes.
func demoSizes() *plan.Sizes {
	z := plan.FromSynth(synthOptions(400, 256, 36), 16)
	return z
}

// TestEstimatesScale checks how the training estimates grow with their settings: steps with
// epochs, validation quadratically with the val images (every image against every caption).
func TestEstimatesScale(t *testing.T) {
	z := demoSizes()
	s := plan.ScanTrain{Stage: "scan", Model: scanConfig(128, 64, 64, 4), CaptionsPerImage: 5, Backend: blas.Go}
	part := func(e *plan.Estimate, name string) plan.Part {
		for _, p := range e.Parts {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("%s has no part %q: %+v", e.Stage, name, e.Parts)
		return plan.Part{}
	}
	flops := func(p plan.Part) float64 { return blas.Flops(p.Work.Products) }
	e4 := s.Estimate(z)
	s.Model.Epochs = 8
	e8 := s.Estimate(z)
	if r := flops(part(e8, "training steps")) / flops(part(e4, "training steps")); math.Abs(r-2) > 1e-9 {
		t.Errorf("twice the epochs: %v × the training flops", r)
	}
	// 25 steps per epoch (1,600 captions, batch 64): 200 steps.
	if d := part(e8, "training steps").Detail; !strings.HasPrefix(d, "200 steps × ") {
		t.Errorf("detail %q", d)
	}
	big := demoSizes()
	big.Images["val"] *= 4
	eb := s.Estimate(big)
	if r := part(eb, "validation").Work.Values / part(e8, "validation").Work.Values; r < 12 || r > 16 {
		t.Errorf("4 × the val images: %v × the validation's element-wise work, want about 16 (quadratic)", r)
	}
	s.MaxSteps = 30
	if d := part(s.Estimate(z), "training steps").Detail; !strings.HasPrefix(d, "30 steps × ") {
		t.Errorf("max_steps 30: %q", d)
	}
	s.Device = "cuda"
	if e := s.Estimate(z); e.Note == "" || len(e.Parts) != 0 {
		t.Errorf("a device run has an estimate: %+v", e)
	}
	x := plan.CaptionXE{Stage: "caption-xe", Model: updown.Config{Arch: arch(128, 128, 128)}, BatchImages: 16, Epochs: 8, Backend: blas.Go}
	ex := x.Estimate(z)
	// 320 train images in batches of 16: 20 steps an epoch.
	if d := part(ex, "training steps").Detail; !strings.HasPrefix(d, "160 steps × ") {
		t.Errorf("caption-xe detail %q", d)
	}
}

// TestPriceAndWrite prices hand-made estimates with a machine of known rates and checks the
// sums, the dominant part and the block.
func TestPriceAndWrite(t *testing.T) {
	r, err := blas.Calibrate(blas.Go, mustSelect(t).Impl, []blas.Product{{M: 64, N: 64, K: 64, Count: 1}}, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r.Shapes[0].FlopsPerSecond = 1e9
	m := &plan.Machine{Rates: map[string]*blas.Rates{blas.Go: r}, ValuesPerSecond: 70e6}
	// 64³·2 = 524,288 flops × 1000 at 1 GFLOP/s: 0.524 s; 70 M values: 1 s; fixed 2 s at the
	// reference speed (slowdown 1); wait 0.5 s.
	e := &plan.Estimate{Stage: "scan", Inputs: "sizes", Parts: []plan.Part{
		{Name: "training steps", Backend: blas.Go, Work: nn.Work{Products: []blas.Product{{M: 64, N: 64, K: 64, Count: 1000}}, Values: 70e6}, Detail: "1000 steps"},
		{Name: "reading", Fixed: 2 * time.Second},
		{Name: "waiting", Wait: 500 * time.Millisecond},
	}}
	if err := m.Price(e); err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.Seconds-(0.524288+1+2+0.5)) > 1e-9 {
		t.Errorf("total %v", e.Seconds)
	}
	if d := e.Dominant(); d.Name != "reading" {
		t.Errorf("dominant %q", d.Name)
	}
	m.ValuesPerSecond = 35e6 // twice slower: fixed parts double, waits stay
	if err := m.Price(e); err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.Seconds-(0.524288+2+4+0.5)) > 1e-9 {
		t.Errorf("total at half speed %v", e.Seconds)
	}
	if err := (&plan.Machine{Rates: map[string]*blas.Rates{}, ValuesPerSecond: 1}).Price(e); err == nil {
		t.Error("priced work of a backend that was not calibrated")
	}
	var b bytes.Buffer
	p := &plan.Plan{Estimates: []*plan.Estimate{e, {Stage: "scan-plain", Inputs: "sizes", Note: "device cuda"}}, Fresh: 3, Machine: m}
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plan: 2 stages to run (3 fresh), about 7s on this machine", "blas go 1.0–1.0 GFLOP/s", "element-wise 35 M/s",
		"  scan" + strings.Repeat(" ", 14) + "7s  sizes; mostly reading, 57%\n", "  scan-plain" + strings.Repeat(" ", 9) + "?  sizes; device cuda\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("block lacks %q:\n%s", want, b.String())
		}
	}
	for _, c := range []struct {
		s    float64
		want string
	}{{0.85, "850ms"}, {12.4, "12s"}, {185, "3m05s"}, {8040, "2h14m"}} {
		if got := plan.Duration(c.s); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}

func mustSelect(t *testing.T) blas.Backend {
	b, err := blas.Select(blas.Go)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMakeDemo plans the demo config on an empty root (every stage, sizes from the synth
// stage's parameters), then again once the synth stage is fresh.
func TestMakeDemo(t *testing.T) {
	c, err := config.Load("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Root = t.TempDir()
	eng, err := pipelines.Graph(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := plan.Make(ctx, eng, plan.ParamsOf(eng), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Estimates) != len(eng.Stages()) || p.Fresh != 0 {
		t.Fatalf("%d estimates, %d fresh; want every one of the %d stages", len(p.Estimates), p.Fresh, len(eng.Stages()))
	}
	dominant := map[string]string{}
	for _, e := range p.Estimates {
		if e.Note != "" || !(e.Seconds > 0) {
			t.Errorf("%s: %v s, note %q", e.Stage, e.Seconds, e.Note)
		}
		dominant[e.Stage] = e.Dominant().Name
	}
	for stage, want := range map[string]string{"scan": "training steps", "caption-xe": "training steps", "caption-scst-posscan": "training steps"} {
		if dominant[stage] != want {
			t.Errorf("%s: dominant %q, want %q", stage, dominant[stage], want)
		}
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  captions ") || !strings.Contains(b.String(), "3000 captions of 600 images") {
		t.Errorf("block:\n%s", b.String())
	}
	// Once synth is fresh, it is not planned; forcing it plans it again.
	if _, err := eng.Make(ctx, "synth", engine.MakeOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = plan.Make(ctx, eng, plan.ParamsOf(eng), nil); err != nil {
		t.Fatal(err)
	}
	if p.Fresh != 1 || p.Estimates[0].Stage != "captions" {
		t.Errorf("after synth: %d fresh, first %s", p.Fresh, p.Estimates[0].Stage)
	}
	// The raw features' size is now read from the synth stage's output.
	if !strings.Contains(p.Estimates[1].Inputs, "MB of raw features") || p.Estimates[1].Stage != "features" {
		t.Errorf("features estimate %+v", p.Estimates[1])
	}
	if p, err = plan.Make(ctx, eng, plan.ParamsOf(eng), []string{"synth"}); err != nil {
		t.Fatal(err)
	}
	if p.Fresh != 0 || p.Estimates[0].Stage != "synth" {
		t.Errorf("synth forced: %d fresh, first %s", p.Fresh, p.Estimates[0].Stage)
	}
}

// synthOptions returns the generator's defaults with the given images, feature width and boxes.
func synthOptions(images, featDim, boxes int) gen.Options {
	o := gen.DefaultOptions()
	o.Images, o.FeatDim, o.Boxes = images, featDim, boxes
	return o
}

// scanConfig returns the matching model's defaults with the given widths, batch and epochs.
func scanConfig(embed, wordDim, batch, epochs int) tscan.Config {
	c := tscan.DefaultConfig()
	c.Embed, c.WordDim, c.BatchSize, c.Epochs = embed, wordDim, batch, epochs
	return c
}

// arch returns the captioner's default architecture with the given widths.
func arch(rnn, inputEncoding, attHid int) updown.Arch {
	a := updown.DefaultArch()
	a.RNNSize, a.InputEncoding, a.AttHid = rnn, inputEncoding, attHid
	return a
}
