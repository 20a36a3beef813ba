package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/groundcap/groundcap/training/gpu"
)

// DeviceBench sizes the measurements of the device-resident mode (the figures of
// docs/bench/gpu.md). Zero sizes take the paper's (batch 128, 36 regions × 2048 features,
// embed 1024, word embedding 300); zero counts skip a measurement.
type DeviceBench struct {
	// Batch is the images and captions of a training step; Regions, Feat, Embed, WordDim,
	// Vocab and Words (per caption, a third of them nouns) size the model and its data.
	Batch, Regions, Feat, Embed, WordDim, Vocab, Words int
	// StepReps is the number of timed steps of POS-SCAN and of SCAN, after one warm-up step.
	StepReps int
	// CPUStep compares the first step's loss with the CPU's (seconds per step at the paper's
	// size).
	CPUStep bool
	// CurveSteps trains POS-SCAN on the device and on the CPU for this many steps at batch
	// CurveBatch and embedding CurveEmbed and compares the loss curves.
	CurveSteps, CurveBatch, CurveEmbed int
	// ValImages × ValCaptions pairs are scored as validation scores them.
	ValImages, ValCaptions int
	// AlignCaptions captions are aligned in calls of AlignImages images with AlignPerImage
	// captions each.
	AlignCaptions, AlignImages, AlignPerImage int
}

// Bounds of the correctness figures of DeviceBench (the targets).
const (
	benchLossLimit  = 1e-4
	benchCurveLimit = 0.01
)

func (b DeviceBench) withDefaults() DeviceBench {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&b.Batch, 128)
	def(&b.Regions, 36)
	def(&b.Feat, 2048)
	def(&b.Embed, 1024)
	def(&b.WordDim, 300)
	def(&b.Vocab, 10000)
	def(&b.Words, 12)
	def(&b.CurveBatch, 32)
	def(&b.CurveEmbed, 256)
	def(&b.AlignImages, 32)
	def(&b.AlignPerImage, 5)
	return b
}

// benchWorld draws synthetic images and captions: image i shows concept i mod concepts in its
// first region, and its caption names the concept with a noun (so that a model can learn the
// pairs), among random other words.
type benchWorld struct {
	b        DeviceBench
	concepts int
}

func (w benchWorld) batch(r *rand.Rand, n, first int) Batch {
	b := w.b
	var out Batch
	for i := first; i < first+n; i++ {
		f := make([]float32, b.Regions*b.Feat)
		for k := range f {
			f[k] = float32(r.NormFloat64()) * 0.5
		}
		c := i % w.concepts
		f[c%b.Feat] += 3
		ids, nouns := make([]int32, b.Words), make([]bool, b.Words)
		for t := range ids {
			ids[t] = int32(1 + w.concepts + r.IntN(b.Vocab-1-w.concepts))
			nouns[t] = t%3 == 1
		}
		ids[1] = int32(1 + c)
		out.Feats = append(out.Feats, f)
		out.Captions = append(out.Captions, Caption{IDs: ids, Nouns: nouns})
	}
	return out
}

// Run makes the measurements on d and writes one line per figure to w. It fails when the
// device's first-step loss or loss curve is outside its bound from the CPU's.
func (b DeviceBench) Run(ctx context.Context, d gpu.Device, w io.Writer) error {
	b = b.withDefaults()
	world := benchWorld{b: b, concepts: min(1000, b.Vocab/2)}
	r := rand.New(rand.NewPCG(1, 1))
	var failed []string
	if b.StepReps > 0 {
		batch := world.batch(r, b.Batch, 0)
		for _, plain := range []bool{false, true} {
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := b.stepTimes(d, batch, plain, w)
			if err != nil {
				return err
			}
			if !ok {
				failed = append(failed, fmt.Sprintf("first-step loss (plain %v)", plain))
			}
		}
	}
	if b.CurveSteps > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := b.curve(d, w)
		if err != nil {
			return err
		}
		if !ok {
			failed = append(failed, "loss curve")
		}
	}
	if b.ValImages > 0 && b.ValCaptions > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.validation(ctx, d, world, w); err != nil {
			return err
		}
	}
	if b.AlignCaptions > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.align(ctx, d, world, w); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("scan: device bench: %v outside the bounds", failed)
	}
	return nil
}

// config is the model of the measurements.
func (b DeviceBench) config(plain bool, batch, embed int) Config {
	c := DefaultConfig()
	c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.PlainSCAN, c.BatchSize, c.Seed = b.Vocab, b.Feat, embed, b.WordDim, plain, batch, 1
	return c
}

// deviceModel is a fresh POS-SCAN model of the bench's sizes on d.
func (b DeviceBench) deviceModel(d gpu.Device) (*Model, error) {
	m, err := New(b.config(false, b.Batch, b.Embed))
	if err != nil {
		return nil, err
	}
	return m, m.UseDevice(d)
}

// stepTimes times training steps of POS-SCAN (or SCAN) on d and, with CPUStep, compares the
// first step's loss with the CPU's.
func (b DeviceBench) stepTimes(d gpu.Device, batch Batch, plain bool, w io.Writer) (bool, error) {
	cfg := b.config(plain, b.Batch, b.Embed)
	m, err := New(cfg)
	if err != nil {
		return false, err
	}
	var cpuLoss float64
	if b.CPUStep {
		cpu, err := New(cfg)
		if err != nil {
			return false, err
		}
		t0 := time.Now()
		res, err := cpu.TrainStep(batch)
		if err != nil {
			return false, err
		}
		cpuLoss = res.Loss
		fmt.Fprintf(w, "  %s step on the CPU (gorgonia): %v\n", map[bool]string{false: "POS-SCAN", true: "SCAN"}[plain], time.Since(t0).Round(time.Millisecond))
	}
	if err := m.UseDevice(d); err != nil {
		return false, err
	}
	defer func() { _ = m.ReleaseDevice() }() // bench model
	first, err := m.TrainStep(batch)
	if err != nil {
		return false, err
	}
	t0 := time.Now()
	for i := 0; i < b.StepReps; i++ {
		if _, err := m.TrainStep(batch); err != nil {
			return false, err
		}
	}
	step := time.Since(t0) / time.Duration(b.StepReps)
	// The features' copy alone, from the pinned buffer the step copies them from.
	feats := m.feats
	fb, err := m.dev.o.WS.Get("batch.feats", len(feats))
	if err != nil {
		return false, err
	}
	t0 = time.Now()
	for i := 0; i < b.StepReps; i++ {
		if err := d.Write(fb, feats); err != nil {
			return false, err
		}
	}
	upload := time.Since(t0) / time.Duration(b.StepReps)
	name := "POS-SCAN"
	if plain {
		name = "SCAN"
	}
	fmt.Fprintf(w, "  %s step (batch %d, %d×%d regions, %d words, embed %d): %.2f ms (mean of %d; the features' copy %.2f ms of it)\n",
		name, b.Batch, b.Regions, b.Feat, b.Words, b.Embed, ms(step), b.StepReps, ms(upload))
	ok := true
	if b.CPUStep {
		rel := math.Abs(first.Loss-cpuLoss) / math.Abs(cpuLoss)
		ok = rel <= benchLossLimit
		fmt.Fprintf(w, "  %s first-step loss: device %.7g, CPU %.7g (rel %.2g, limit %g): %s\n", name, first.Loss, cpuLoss, rel, benchLossLimit, okWord(ok))
	}
	return ok, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

// curve trains POS-SCAN for CurveSteps steps on the device and on the CPU, on the same
// batches, and compares the loss curves step by step.
func (b DeviceBench) curve(d gpu.Device, w io.Writer) (bool, error) {
	cb := b
	cb.Batch = b.CurveBatch
	world := benchWorld{b: cb, concepts: min(200, b.Vocab/2)}
	r := rand.New(rand.NewPCG(2, 2))
	var batches []Batch
	for i := 0; i < 20; i++ {
		batches = append(batches, world.batch(r, b.CurveBatch, i*b.CurveBatch))
	}
	cfg := b.config(false, b.CurveBatch, b.CurveEmbed)
	run := func(dev gpu.Device) ([]float64, time.Duration, error) {
		m, err := New(cfg)
		if err != nil {
			return nil, 0, err
		}
		if dev != nil {
			if err := m.UseDevice(dev); err != nil {
				return nil, 0, err
			}
			defer func() { _ = m.ReleaseDevice() }() // bench model
		}
		var losses []float64
		t0 := time.Now()
		for s := 0; s < b.CurveSteps; s++ {
			res, err := m.TrainStep(batches[s%len(batches)])
			if err != nil {
				return nil, 0, err
			}
			losses = append(losses, res.Loss)
		}
		return losses, time.Since(t0), nil
	}
	dl, dt, err := run(d)
	if err != nil {
		return false, err
	}
	cl, ct, err := run(nil)
	if err != nil {
		return false, err
	}
	worst, at := 0.0, 0
	for i := range cl {
		if rel := math.Abs(dl[i]-cl[i]) / math.Abs(cl[i]); rel > worst || math.IsNaN(rel) {
			worst, at = rel, i
		}
	}
	ok := worst <= benchCurveLimit
	fmt.Fprintf(w, "  loss curve, %d POS-SCAN steps at batch %d, embed %d: loss %.4g → %.4g on the device, %.4g → %.4g on the CPU; largest difference %.2g %% (step %d, limit %g %%): %s; %v vs %v\n",
		b.CurveSteps, b.CurveBatch, b.CurveEmbed, dl[0], dl[len(dl)-1], cl[0], cl[len(cl)-1], 100*worst, at+1, 100*benchCurveLimit, okWord(ok),
		dt.Round(time.Millisecond), ct.Round(time.Millisecond))
	return ok, nil
}

// validation times scoring ValImages × ValCaptions pairs with Model.Scores on the device.
func (b DeviceBench) validation(ctx context.Context, d gpu.Device, world benchWorld, w io.Writer) error {
	m, err := b.deviceModel(d)
	if err != nil {
		return err
	}
	defer func() { _ = m.ReleaseDevice() }() // bench model
	r := rand.New(rand.NewPCG(3, 3))
	imgs := world.batch(r, b.ValImages, 0)
	var caps []Caption
	for len(caps) < b.ValCaptions {
		caps = append(caps, world.batch(r, min(b.ValImages, b.ValCaptions-len(caps)), len(caps)).Captions...)
	}
	t0 := time.Now()
	s, err := m.Scores(context.Background(), imgs.Feats, caps, ScoreOptions{})
	if err != nil {
		return err
	}
	el := time.Since(t0)
	if len(s) != b.ValImages*b.ValCaptions {
		return fmt.Errorf("scan: device bench: %d scores for %d×%d pairs", len(s), b.ValImages, b.ValCaptions)
	}
	fmt.Fprintf(w, "  validation %d images × %d captions (POS-SCAN, embed %d): %.2f s (%.3g pairs/s)\n",
		b.ValImages, b.ValCaptions, b.Embed, el.Seconds(), float64(len(s))/el.Seconds())
	return ctx.Err()
}

// align times aligning AlignCaptions captions with Model.Align on the device, AlignImages
// images with AlignPerImage captions each per call, from a pool of distinct images.
func (b DeviceBench) align(ctx context.Context, d gpu.Device, world benchWorld, w io.Writer) error {
	m, err := b.deviceModel(d)
	if err != nil {
		return err
	}
	defer func() { _ = m.ReleaseDevice() }() // bench model
	r := rand.New(rand.NewPCG(4, 4))
	pool := world.batch(r, 4*b.AlignImages, 0)
	var imageOf []int
	for i := 0; i < b.AlignImages; i++ {
		for k := 0; k < b.AlignPerImage; k++ {
			imageOf = append(imageOf, i)
		}
	}
	done, call := 0, 0
	t0 := time.Now()
	for done < b.AlignCaptions {
		if err := ctx.Err(); err != nil {
			return err
		}
		first := (call * b.AlignImages) % len(pool.Feats)
		var batch Batch
		for i := 0; i < b.AlignImages; i++ {
			batch.Feats = append(batch.Feats, pool.Feats[(first+i)%len(pool.Feats)])
			for k := 0; k < b.AlignPerImage; k++ {
				batch.Captions = append(batch.Captions, pool.Captions[(first+i+k)%len(pool.Captions)])
			}
		}
		al, err := m.Align(batch, imageOf)
		if err != nil {
			return err
		}
		if len(al) != len(imageOf) {
			return errors.New("scan: device bench: Align returned the wrong number of alignments")
		}
		done += len(al)
		call++
	}
	el := time.Since(t0)
	fmt.Fprintf(w, "  align %d captions (%d images × %d captions per call, POS-SCAN, embed %d): %.2f s, %.0f captions/s\n",
		done, b.AlignImages, b.AlignPerImage, b.Embed, el.Seconds(), float64(done)/el.Seconds())
	return nil
}
