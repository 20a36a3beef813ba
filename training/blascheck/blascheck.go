// Package blascheck runs small gorgonia training steps on a given BLAS backend, so that a
// backend (the GPU's cuBLAS, groundcap gpu-check) can be compared with the CPU on the products a
// real step issues, forward and backward: a two-layer network (GraphStep) and one POS-SCAN
// training step of training/scan (ScanSteps). Each installs the backend as gorgonia's BLAS for
// the process while it runs (blas.Install) and puts gonum's back, so it must not run beside
// other graphs.
package blascheck

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/scan"
)

// StepTol bounds the relative difference of a step's loss and gradient between two backends
// that both compute in fp32: only the summation order of the products differs, and the steps
// add tanh, a mean (GraphStep) or POS-SCAN's attention and loss (ScanSteps) on top.
const StepTol = 1e-4

// DefaultStep sizes the timed GraphStep of groundcap gpu-check.
var DefaultStep = StepDims{Batch: 256, In: 2048, Hidden: 1024, Out: 256}

// StepDims sizes GraphStep's network: X is Batch×In, W1 In×Hidden, W2 Hidden×Out.
type StepDims struct{ Batch, In, Hidden, Out int }

// String formats the sizes.
func (d StepDims) String() string {
	return fmt.Sprintf("X %dx%d, W1 %dx%d, W2 %dx%d", d.Batch, d.In, d.In, d.Hidden, d.Hidden, d.Out)
}

// StepResult is the outcome of GraphStep.
type StepResult struct {
	Loss float32
	Grad []float32     // dLoss/dW1
	Time time.Duration // mean time of one forward+backward pass
}

// GraphStep installs impl as gorgonia's BLAS, runs a forward and backward
// pass of loss = mean((tanh(X·W1)·W2)²) with seeded X, W1, W2 once, then
// reps more times for the timing, and puts gonum back. Every product of the
// pass (forward and the transposed ones of backward) ends in impl.Sgemm.
func GraphStep(impl gblas.Float32, d StepDims, reps int) (res StepResult, err error) {
	blas.Install(blas.Backend{Name: "blascheck", Impl: impl})
	defer blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
	r := rand.New(rand.NewPCG(7, 7))
	val := func(rows, cols int, scale float32) *tensor.Dense {
		x := make([]float32, rows*cols)
		for i := range x {
			x[i] = (r.Float32() - 0.5) * scale
		}
		return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(x))
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(d.Batch, d.In), G.WithName("x"), G.WithValue(val(d.Batch, d.In, 1)))
	w1 := G.NewMatrix(g, tensor.Float32, G.WithShape(d.In, d.Hidden), G.WithName("w1"),
		G.WithValue(val(d.In, d.Hidden, float32(2/math.Sqrt(float64(d.In))))))
	w2 := G.NewMatrix(g, tensor.Float32, G.WithShape(d.Hidden, d.Out), G.WithName("w2"),
		G.WithValue(val(d.Hidden, d.Out, float32(2/math.Sqrt(float64(d.Hidden))))))
	h, err := G.Mul(x, w1) // (batch, hidden)
	if err != nil {
		return res, err
	}
	if h, err = G.Tanh(h); err != nil {
		return res, err
	}
	y, err := G.Mul(h, w2) // (batch, out)
	if err != nil {
		return res, err
	}
	sq, err := G.Square(y)
	if err != nil {
		return res, err
	}
	loss, err := G.Mean(sq) // scalar
	if err != nil {
		return res, err
	}
	if _, err := G.Grad(loss, w1, w2); err != nil {
		return res, err
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w1, w2))
	defer func() { err = errors.Join(err, vm.Close()) }()
	if err := vm.RunAll(); err != nil {
		return res, fmt.Errorf("blascheck: training step: %w", err)
	}
	lv, ok := loss.Value().Data().(float32)
	if !ok {
		return res, fmt.Errorf("blascheck: training step: loss is %T, want float32", loss.Value().Data())
	}
	gv, err := w1.Grad()
	if err != nil {
		return res, err
	}
	res.Loss = lv
	res.Grad = append([]float32(nil), gv.Data().([]float32)...)
	start := time.Now()
	for i := 0; i < reps; i++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			return res, fmt.Errorf("blascheck: training step: %w", err)
		}
	}
	res.Time = time.Since(start) / time.Duration(max(reps, 1))
	return res, nil
}

// ScanSize sizes ScanSteps' POS-SCAN step: Batch images of Regions
// regions of Feat features and Batch captions of Words words.
type ScanSize struct{ Batch, Regions, Feat, Words, Embed, Vocab int }

// String formats the sizes.
func (s ScanSize) String() string {
	return fmt.Sprintf("batch %d, %d regions x %d features, %d words, embed %d, vocab %d", s.Batch, s.Regions, s.Feat, s.Words, s.Embed, s.Vocab)
}

// DefaultScan is the step of training/scan's BenchmarkTrainStep (B=32,E=256), the one
// groundcap gpu-check times by default.
var DefaultScan = ScanSize{Batch: 32, Regions: 36, Feat: 2048, Words: 12, Embed: 256, Vocab: 1000}

// PaperScan is the POS-SCAN step at the paper's sizes (training/scan's BenchmarkTrainStep with
// GROUNDCAP_BENCH_FULL=1), the one groundcap doctor --bench times.
var PaperScan = ScanSize{Batch: 128, Regions: 36, Feat: 2048, Words: 16, Embed: 1024, Vocab: 7000}

// ScanResult is the outcome of ScanSteps.
type ScanResult struct {
	Loss float64       // loss of the first step
	Time time.Duration // mean time of the later steps
}

// ScanSteps installs impl as gorgonia's BLAS, builds a POS-SCAN model
// (seed 1) and a seeded random batch of size s, runs one training step
// (which also builds the graph), then reps timed steps, and puts gonum back.
func ScanSteps(impl gblas.Float32, s ScanSize, reps int) (ScanResult, error) {
	blas.Install(blas.Backend{Name: "blascheck", Impl: impl})
	defer blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
	cfg := scan.DefaultConfig()
	cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.Seed = s.Vocab, s.Feat, s.Embed, 1
	m, err := scan.New(cfg)
	if err != nil {
		return ScanResult{}, err
	}
	r := rand.New(rand.NewPCG(1, 1))
	var batch scan.Batch
	for i := 0; i < s.Batch; i++ {
		f := make([]float32, s.Regions*s.Feat)
		for j := range f {
			f[j] = r.Float32()
		}
		ids := make([]int32, s.Words)
		nouns := make([]bool, s.Words)
		for t := range ids {
			ids[t] = int32(1 + r.IntN(s.Vocab-1))
			nouns[t] = t%3 == 1
		}
		batch.Feats = append(batch.Feats, f)
		batch.Captions = append(batch.Captions, scan.Caption{IDs: ids, Nouns: nouns})
	}
	first, err := m.TrainStep(batch)
	if err != nil {
		return ScanResult{}, fmt.Errorf("blascheck: POS-SCAN step: %w", err)
	}
	start := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := m.TrainStep(batch); err != nil {
			return ScanResult{}, fmt.Errorf("blascheck: POS-SCAN step: %w", err)
		}
	}
	return ScanResult{Loss: first.Loss, Time: time.Since(start) / time.Duration(max(reps, 1))}, nil
}

// MaxNormRel is max|a−b| / max|b| (+Inf when the lengths differ).
func MaxNormRel(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}
