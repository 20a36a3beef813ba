package scan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/training/gpu"
)

// openEmulator opens the CPU emulation of a device (its kernel library cached for the test
// binary), skipping the test without a C compiler.
func openEmulator(t testing.TB) gpu.Device {
	t.Helper()
	d, err := gpu.OpenEmulator(gpu.EmulatorOptions{CacheDir: emuCacheDir(t)})
	if errors.Is(err, gpu.ErrNoCompiler) {
		t.Skip("no C compiler for the emulation:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

var emuDir string

func emuCacheDir(t testing.TB) string {
	if emuDir == "" {
		d, err := os.MkdirTemp("", "scan-emu-")
		if err != nil {
			t.Fatal(err)
		}
		emuDir = d
	}
	return emuDir
}

// ragged is toyWorld with images of different region counts (3, 2, 3, 1, …) and a repeated
// word, so that the region mask, padded regions and the embedding's scatter-add of a
// repeated id all take part.
func ragged(n int, seed uint64) Batch {
	b := toyWorld(n, 3, 8, seed)
	for i := range b.Feats {
		if r := 3 - i%3; r < 3 {
			b.Feats[i] = b.Feats[i][:r*8]
		}
	}
	b.Captions[0].IDs = append(b.Captions[0].IDs, b.Captions[0].IDs[1])
	b.Captions[0].Nouns = append(b.Captions[0].Nouns, true)
	return b
}

// The tolerances of the device step against the gorgonia step: both are float32 with other
// summation orders (products, reductions) and exp/log/tanh of another library (measured: loss
// within 2e-7, first-step gradients within 3e-6). Later steps start from weights that differ
// slightly, mostly where Adam's first updates (±lr whatever the gradient's size) met gradients
// near zero of opposite signs; gradients and weights then differ up to about 1e-4 (measured
// at the toy config's lr 1e-2).
const (
	lossTol      = 1e-5
	firstGradTol = 2e-5
	gradTol      = 3e-4
)

// compareSteps runs three training steps of cfg on the CPU and on d from the same weights and
// compares the loss, every gradient and, at the end, every weight.
func compareSteps(t *testing.T, d gpu.Device, cfg Config, batches []Batch) {
	t.Helper()
	cpu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.UseDevice(d); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dev.ReleaseDevice(); err != nil {
			t.Error(err)
		}
	}()
	names := cpu.ParamNames()
	for step, b := range batches {
		wantLoss, wantGrads, err := cpu.lossAndGrads(b)
		if err != nil {
			t.Fatal(err)
		}
		db, err := dev.dev.upload(dev, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		gotLoss, sumsq, err := dev.dev.lossAndGrads(dev, db)
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(gotLoss-wantLoss) / math.Abs(wantLoss); !(rel <= lossTol) {
			t.Errorf("step %d: loss %v, CPU %v (rel %.2g)", step, gotLoss, wantLoss, rel)
		}
		gotGrads, err := dev.dev.gradients()
		if err != nil {
			t.Fatal(err)
		}
		tol := gradTol
		if step == 0 {
			tol = firstGradTol
		}
		var want2 float64
		for i, w := range wantGrads {
			if rel := rel(gotGrads[i], w); !(rel <= tol) {
				t.Errorf("step %d: gradient of %s: max-norm relative error %.2g", step, names[i], rel)
			}
			for _, x := range w {
				want2 += float64(x) * float64(x)
			}
		}
		if rel := math.Abs(sumsq-want2) / want2; !(rel <= tol) {
			t.Errorf("step %d: Σg² %v, CPU %v", step, sumsq, want2)
		}
		rc, err := cpu.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := dev.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(rd.Loss-rc.Loss) > lossTol*math.Abs(rc.Loss) || math.Abs(rd.GradNorm-rc.GradNorm) > gradTol*rc.GradNorm || rd.LR != rc.LR {
			t.Errorf("step %d: device %+v, CPU %+v", step, rd, rc)
		}
	}
	for _, n := range names {
		if rel := rel(dev.Param(n), cpu.Param(n)); !(rel <= gradTol) {
			t.Errorf("after %d steps: %s differs by %.2g", len(batches), n, rel)
		}
	}
}

// TestDeviceStepMatchesCPU checks the device-resident training step, run through the CPU
// emulation of the kernels, against the gorgonia step over three steps: POS-SCAN and plain
// SCAN, LSE and average scores, hardest and all negatives.
func TestDeviceStepMatchesCPU(t *testing.T) {
	d := openEmulator(t)
	batches := []Batch{ragged(6, 1), ragged(6, 2), ragged(5, 3)}
	for _, tc := range []struct {
		plain, avg, all bool
	}{{false, false, false}, {true, false, false}, {false, true, false}, {true, false, true}} {
		t.Run(fmt.Sprintf("plain=%v,avg=%v,all=%v", tc.plain, tc.avg, tc.all), func(t *testing.T) {
			cfg := toyConfig()
			cfg.PlainSCAN, cfg.AllViolations = tc.plain, tc.all
			if tc.avg {
				cfg.Agg = AggAVG
			}
			compareSteps(t, d, cfg, batches)
		})
	}
}

// TestDeviceCheckpointsResumeAnywhere saves a model trained on the device and resumes it on
// the CPU, and the reverse: the checkpoints hold the device's exact weights and optimiser
// state, and every mixed run follows the run that stayed on one side (within the tolerance of
// device against CPU).
func TestDeviceCheckpointsResumeAnywhere(t *testing.T) {
	d := openEmulator(t)
	cfg := toyConfig()
	batches := []Batch{ragged(6, 1), ragged(6, 2), ragged(6, 3), ragged(6, 4)}
	dir := t.TempDir()
	// run trains steps [from, to) of batches on m (on d when onDev) and returns the losses.
	run := func(m *Model, onDev bool, from, to int) []float64 {
		t.Helper()
		if onDev {
			if err := m.UseDevice(d); err != nil {
				t.Fatal(err)
			}
		}
		var losses []float64
		for _, b := range batches[from:to] {
			r, err := m.TrainStep(b)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, r.Loss)
		}
		return losses
	}
	fresh := func() *Model {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// handOver saves m (then leaves its device) and loads the checkpoint as a new model.
	handOver := func(m *Model, name string) *Model {
		t.Helper()
		path := dir + "/" + name
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		onDev := m.Device() != nil
		var want map[string][]float32
		if onDev {
			want = map[string][]float32{}
			for _, n := range m.ParamNames() {
				want[n] = append([]float32(nil), m.Param(n)...)
			}
		}
		if err := m.ReleaseDevice(); err != nil {
			t.Fatal(err)
		}
		l, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for n, w := range want { // the device's weights, bit for bit
			for i, x := range l.Param(n) {
				if x != w[i] {
					t.Fatalf("%s: %s[%d] = %v in the checkpoint, %v on the device", name, n, i, x, w[i])
				}
			}
		}
		if l.Step() != 2 || l.adam.State.Step != 2 {
			t.Errorf("%s: resumed at step %d, optimiser step %d, want 2", name, l.Step(), l.adam.State.Step)
		}
		return l
	}
	allDev := fresh()
	lossDev := run(allDev, true, 0, 4)
	allCPU := fresh()
	lossCPU := run(allCPU, false, 0, 4)
	devThenCPU := fresh()
	run(devThenCPU, true, 0, 2)
	lossDC := run(handOver(devThenCPU, "dev.ckpt"), false, 2, 4)
	cpuThenDev := fresh()
	run(cpuThenDev, false, 0, 2)
	resumed := handOver(cpuThenDev, "cpu.ckpt")
	lossCD := run(resumed, true, 2, 4)
	for i := 0; i < 2; i++ {
		for _, got := range []float64{lossDev[2+i], lossDC[i], lossCD[i]} {
			if rel := math.Abs(got-lossCPU[2+i]) / lossCPU[2+i]; !(rel <= gradTol) {
				t.Errorf("step %d: loss %v, all on the CPU %v (rel %.2g)", 3+i, got, lossCPU[2+i], rel)
			}
		}
	}
	for _, n := range allCPU.ParamNames() {
		for _, m := range []*Model{allDev, resumed} {
			if rel := rel(m.Param(n), allCPU.Param(n)); !(rel <= gradTol) {
				t.Errorf("after 4 steps: %s differs from the CPU run by %.2g", n, rel)
			}
		}
	}
	for _, m := range []*Model{allDev, resumed} {
		if err := m.ReleaseDevice(); err != nil {
			t.Error(err)
		}
	}
}

// evalTol bounds scores and attention of the device against the CPU (float32, other
// summation orders; measured within 1e-6).
const evalTol = 2e-5

// TestDeviceEvalMatchesCPU checks Forward, Align and Scores on the device (through the
// emulation) against the CPU, for POS-SCAN and plain SCAN, with blocks that do not divide the
// images and captions evenly.
func TestDeviceEvalMatchesCPU(t *testing.T) {
	d := openEmulator(t)
	for _, plain := range []bool{false, true} {
		cfg := toyConfig()
		cfg.PlainSCAN = plain
		cpu, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for s := uint64(1); s <= 2; s++ { // trained weights, not the initial ones
			if _, err := cpu.TrainStep(ragged(6, s)); err != nil {
				t.Fatal(err)
			}
		}
		ck, err := cpu.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		dev, err := FromCheckpoint(ck)
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.UseDevice(d); err != nil {
			t.Fatal(err)
		}
		b := ragged(7, 9)
		want, err := cpu.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dev.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		if rel := rel(got, want); !(rel <= evalTol) {
			t.Errorf("plain=%v: Forward differs by %.2g", plain, rel)
		}
		imageOf := []int{0, 0, 1, 2, 3, 4, 6}
		wa, err := cpu.Align(b, imageOf)
		if err != nil {
			t.Fatal(err)
		}
		ga, err := dev.Align(b, imageOf)
		if err != nil {
			t.Fatal(err)
		}
		for j := range wa {
			w, g := wa[j], ga[j]
			if g.Regions != w.Regions || !slices.Equal(g.Positions, w.Positions) || len(g.Attention) != len(w.Attention) ||
				math.Abs(float64(g.Score-w.Score)) > evalTol*math.Abs(float64(w.Score)) {
				t.Fatalf("plain=%v: alignment %d: device %+v, CPU %+v", plain, j, g, w)
			}
			for x := range w.Attention {
				if math.Abs(float64(g.Attention[x]-w.Attention[x])) > evalTol {
					t.Fatalf("plain=%v: alignment %d α[%d] = %v, CPU %v", plain, j, x, g.Attention[x], w.Attention[x])
				}
			}
		}
		// Scores: 7 images × 7 captions in blocks of 3 captions and 2 images; the progress
		// reaches every pair.
		var last int64
		gs, err := dev.Scores(context.Background(), b.Feats, b.Captions, ScoreOptions{Images: 2, Captions: 3, Progress: func(done, total int64) {
			if done <= last || total != 49 {
				t.Errorf("progress %d/%d after %d", done, total, last)
			}
			last = done
		}})
		if err != nil {
			t.Fatal(err)
		}
		ws, err := cpu.Scores(context.Background(), b.Feats, b.Captions, ScoreOptions{Images: 3, Captions: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rel := rel(gs, ws); !(rel <= evalTol) || last != 49 {
			t.Errorf("plain=%v: Scores differ by %.2g (progress ended at %d)", plain, rel, last)
		}
		if rel := rel(ws, want); rel > 1e-6 {
			t.Errorf("plain=%v: CPU Scores differ from Forward by %.2g", plain, rel)
		}
		// Cancelled after its first block, scoring stops before the next one with the
		// context's error, on the device and on the CPU.
		for side, m := range map[string]*Model{"device": dev, "CPU": cpu} {
			ctx, cancel := context.WithCancel(context.Background())
			blocks := 0
			_, err := m.Scores(ctx, b.Feats, b.Captions, ScoreOptions{Images: 2, Captions: 3, Progress: func(done, total int64) {
				blocks++
				cancel()
			}})
			cancel()
			if !errors.Is(err, context.Canceled) || blocks != 1 {
				t.Errorf("plain=%v: %s Scores cancelled after a block: %v after %d blocks, want context.Canceled after 1", plain, side, err, blocks)
			}
		}
		if err := dev.ReleaseDevice(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckDevicePasses runs gpu-check --emulate's checks on the emulation: every kernel has
// a line and every line passes.
func TestCheckDevicePasses(t *testing.T) {
	d := openEmulator(t)
	lines, err := CheckDevice(context.Background(), d, DefaultCheckSizes())
	if err != nil {
		t.Fatal(err)
	}
	report, ok := CheckReport(lines)
	t.Log("\n" + report)
	src, err := gpu.Sources()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(src.Kernels)+3 {
		t.Errorf("%d lines for %d kernels", len(lines), len(src.Kernels))
	}
	if !ok {
		t.Error("checks failed")
	}
}

// corrupt is a device whose kernel bad writes wrong values: its first argument, a buffer, is
// scaled by 1.01 after it runs.
type corrupt struct {
	gpu.Device
	bad string
}

func (c corrupt) Launch(name string, grid gpu.Grid, block int, args ...any) error {
	if err := c.Device.Launch(name, grid, block, args...); err != nil || name != c.bad {
		return err
	}
	b := args[0].(gpu.Buf)
	return c.Device.Launch("scale", gpu.Blocks(b.N, 256), 256, b, b, float32(1.01), b.N)
}

// TestCheckDeviceCatchesWrongKernels checks that the checks fail when a kernel computes
// something else: its line fails (lines of the kernels checked together with it may too),
// unrelated ones pass.
func TestCheckDeviceCatchesWrongKernels(t *testing.T) {
	d := openEmulator(t)
	small := CheckSizes{I: 3, K: 3, T: 2, L: 4, E: 20, W: 6, D: 9, V: 12}
	for _, bad := range []string{"attn_softmax", "gru_bwd_step", "hinge_grad", "adam", "cos_bwd_w1", "score_lse", "embed_grad", "mean2"} {
		lines, err := CheckKernels(context.Background(), corrupt{d, bad}, small)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if (l.Name == bad && l.OK()) || (l.Name == "fill" && !l.OK()) {
				t.Errorf("%s wrong: %s", bad, l)
			}
		}
	}
	if l := CheckStep(corrupt{d, "adam"}, small); l.OK() {
		t.Errorf("adam wrong: %s", l)
	}
}

// TestDeviceBenchRuns runs the device measurements at tiny sizes on the emulation: every
// figure is printed and the correctness bounds hold.
func TestDeviceBenchRuns(t *testing.T) {
	d := openEmulator(t)
	var out strings.Builder
	b := DeviceBench{Batch: 4, Regions: 3, Feat: 10, Embed: 12, WordDim: 6, Vocab: 40, Words: 5, StepReps: 2, CPUStep: true,
		CurveSteps: 6, CurveBatch: 4, CurveEmbed: 12, ValImages: 5, ValCaptions: 9, AlignCaptions: 20, AlignImages: 2, AlignPerImage: 3}
	err := b.Run(context.Background(), d, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"POS-SCAN step (batch 4", "SCAN step (batch 4", "POS-SCAN first-step loss", "SCAN first-step loss",
		"loss curve, 6 POS-SCAN steps", "validation 5 images × 9 captions", "align 24 captions (2 images × 3 captions per call"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
