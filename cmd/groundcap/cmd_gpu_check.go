package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/scan"
)

// gpuCheckOptions are the flags of 'groundcap gpu-check'.
type gpuCheckOptions struct {
	LibDir   string
	Device   int
	Pedantic bool
	Reps     int
	CPUReps  int
	Tol      float64

	// ScanBatch and ScanEmbed, when set, replace the batch size and
	// embedding width of the POS-SCAN step (defaultScan); Thresholds are
	// the GPU size thresholds its step is timed with.
	ScanBatch  int
	ScanEmbed  int
	Thresholds thresholdList

	// Emulate and Resident run the device-resident mode's checks (training/gpu kernels and the
	// training step against the CPU) on the CPU emulation or on the GPU instead of the cuBLAS
	// checks; Bench adds the device-resident measurements; Kernels picks the GPU kernels'
	// source (auto, nvrtc, embedded).
	Emulate, Resident, Bench bool
	Kernels                  string
	// BenchPreset sizes --bench: paper (the paper's shape and the counts) or small
	// (tiny sizes that the CPU emulation runs in seconds).
	BenchPreset string

	// shapes, step and scan size the measurements; zero means the
	// defaults (benchShapes, defaultStep, defaultScan). Tests shrink them.
	shapes [][3]int
	step   stepDims
	scan   scanSize
	// bench, when set, replaces the device-resident measurements' sizes (tests).
	bench *scan.DeviceBench
	// checkSizes, when set, replaces the device checks' sizes (tests).
	checkSizes *scan.CheckSizes
}

// benchShapes are the m, n, k of the timed products.
var benchShapes = [][3]int{{128, 1024, 1024}, {2048, 2048, 2048}}

// defaultStep sizes the timed training step.
var defaultStep = stepDims{Batch: 256, In: 2048, Hidden: 1024, Out: 256}

func (o *gpuCheckOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.LibDir, "lib-dir", "", "directory (or ':'-separated list) holding the CUDA libraries, searched before the system library path; sets "+gpublas.EnvLibDir+" for this run (default $"+gpublas.EnvLibDir+")")
	fs.IntVar(&o.Device, "device", 0, "CUDA device ordinal")
	fs.BoolVar(&o.Pedantic, "pedantic", false, "run cuBLAS in CUBLAS_PEDANTIC_MATH instead of CUBLAS_DEFAULT_MATH (neither uses TF32)")
	fs.IntVar(&o.Reps, "reps", 20, "timed repetitions of each GPU product and training step")
	fs.IntVar(&o.CPUReps, "cpu-reps", 2, "timed repetitions of each CPU product and training step")
	fs.Float64Var(&o.Tol, "tol", 1e-5, "largest max-norm relative error of a GPU Sgemm against gonum")
	fs.IntVar(&o.ScanBatch, "scan-batch", 0, "batch size of the POS-SCAN step (default 32; the paper's is 128)")
	fs.IntVar(&o.ScanEmbed, "scan-embed", 0, "embedding width of the POS-SCAN step (default 256; the paper's is 1024)")
	fs.Var(&o.Thresholds, "thresholds", "comma-separated m·n·k thresholds to time the POS-SCAN step with on the GPU (default the built-in threshold)")
	fs.BoolVar(&o.Emulate, "emulate", false, "check the device-resident mode's kernels and training step on the CPU emulation (needs a C compiler, no GPU); exit 1 on a mismatch")
	fs.BoolVar(&o.Resident, "resident", false, "check the device-resident mode's kernels and training step on the GPU instead of the cuBLAS checks")
	fs.BoolVar(&o.Bench, "bench", false, "with --resident or --emulate: also measure the device-resident mode (paper-shape POS-SCAN and SCAN steps, a 200-step loss curve against the CPU, validation 1000×5000, align 145,000 captions)")
	fs.StringVar(&o.BenchPreset, "bench-preset", "paper", "sizes of --bench: paper (batch 128, 36×2048 regions, embed 1024; validation 1000×5000; align 145,000 captions) or small (tiny sizes for the emulation)")
	fs.StringVar(&o.Kernels, "kernels", "auto", "with --resident: where the GPU kernels come from: auto (NVRTC, else the embedded PTX), nvrtc or embedded")
}

// thresholdList is a flag holding comma-separated positive integers.
type thresholdList []int

// String formats the list as the flag takes it.
func (l *thresholdList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

// Set parses a comma-separated list of positive integers.
func (l *thresholdList) Set(s string) error {
	var out thresholdList
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return fmt.Errorf("threshold %q is not a positive integer", f)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

func newGPUCheckCommand(g *globalOptions) *command {
	var opts gpuCheckOptions
	return &command{
		Name:  "gpu-check",
		Short: "check cuBLAS Sgemm against the CPU and measure GPU vs CPU throughput",
		Usage: "groundcap gpu-check [--lib-dir DIR] [--device N] [--reps N] [--cpu-reps N] [--emulate | --resident [--kernels K]] [--bench]",
		Long: "Loads cuBLAS at run time (see docs/gpu.md), checks Sgemm against gonum on every transpose\n" +
			"combination with odd sizes and padded leading dimensions (max-norm relative error <= --tol,\n" +
			"fp32, TF32 off), prints GFLOP/s of 128x1024x1024 and 2048x2048x2048 products on GPU and CPU,\n" +
			"runs a small gorgonia step (matmul, tanh, backward) and one POS-SCAN training step on CPU and\n" +
			"GPU, compares their losses and prints step times. Exits 1 when CUDA is unavailable or any\n" +
			"check fails.\n\n" +
			"With --emulate or --resident it checks the device-resident mode instead (docs/gpu.md): every\n" +
			"kernel of training/gpu against the Go op it replaces and three POS-SCAN training steps against\n" +
			"the gorgonia step, one line each, on the CPU emulation of the kernels (a C compiler, no GPU)\n" +
			"or on the GPU; --bench then measures that mode at the paper's sizes.",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			if opts.Reps <= 0 || opts.CPUReps <= 0 || !(opts.Tol > 0) || opts.ScanBatch < 0 || opts.ScanEmbed < 0 {
				return usageError{"--reps and --cpu-reps must be positive, --tol > 0, --scan-batch and --scan-embed >= 0"}
			}
			if opts.Emulate && opts.Resident {
				return usageError{"--emulate and --resident exclude each other"}
			}
			if opts.Bench && !opts.Emulate && !opts.Resident {
				return usageError{"--bench needs --resident or --emulate"}
			}
			if opts.BenchPreset != "paper" && opts.BenchPreset != "small" {
				return usageError{fmt.Sprintf("--bench-preset %q: want paper or small", opts.BenchPreset)}
			}
			if opts.Emulate || opts.Resident {
				return runResidentCheck(ctx, opts, g)
			}
			return runGPUCheck(ctx, opts, g)
		},
	}
}

// stepTol bounds the relative difference of the training step's loss and
// gradient between GPU and CPU: both are fp32, only the summation order of
// the products differs, and the step adds tanh and a mean on top.
const stepTol = 1e-4

func runGPUCheck(ctx context.Context, opts gpuCheckOptions, g *globalOptions) (err error) {
	if opts.LibDir != "" {
		if err := os.Setenv(gpublas.EnvLibDir, opts.LibDir); err != nil {
			return err
		}
	}
	gpu, err := gpublas.New(gpublas.Options{
		LibDir:    os.Getenv(gpublas.EnvLibDir),
		Device:    opts.Device,
		Pedantic:  opts.Pedantic,
		Threshold: 1, // every product of the checks runs on the GPU
		Strict:    true,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, gpu.Close()) }()
	w := g.Stdout
	fmt.Fprintln(w, "CUDA:")
	printDeviceInfo(w, gpu.Info())

	cpu := gonum.Implementation{}
	var failed []string
	fmt.Fprintf(w, "\nSgemm vs gonum (max-norm relative error, limit %g):\n", opts.Tol)
	for i, c := range gpublas.CheckCases() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := gpublas.Compare(gpu, cpu, c, uint64(i)+1)
		status := "ok"
		switch {
		case err != nil:
			status = "FAILED: " + err.Error()
		case rel > opts.Tol:
			status = "FAILED"
		}
		if status != "ok" {
			failed = append(failed, c.String())
		}
		fmt.Fprintf(w, "  %-55s %.2g  %s\n", c, rel, status)
	}

	fmt.Fprintln(w, "\nThroughput (NN products, GPU time includes host<->device copies):")
	shapes := opts.shapes
	if shapes == nil {
		shapes = benchShapes
	}
	for _, s := range shapes {
		if err := ctx.Err(); err != nil {
			return err
		}
		gg, gt, err := gpublas.GFLOPS(gpu, s[0], s[1], s[2], opts.Reps)
		if err != nil {
			return err
		}
		cg, ct, err := gpublas.GFLOPS(cpu, s[0], s[1], s[2], opts.CPUReps)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %4dx%4dx%4d  GPU %8.1f GFLOP/s (%v/call)  CPU %6.1f GFLOP/s (%v/call)  speed-up %.1fx\n",
			s[0], s[1], s[2], gg, gt.Round(time.Microsecond), cg, ct.Round(time.Microsecond), gg/cg)
	}

	fmt.Fprintln(w, "\nTraining step through gorgonia (X·W1 -> tanh -> ·W2 -> mean square, backward to W1, W2):")
	dims := opts.step
	if dims == (stepDims{}) {
		dims = defaultStep
	}
	cs, err := graphStep(cpu, dims, opts.CPUReps)
	if err != nil {
		return err
	}
	counted := blas.NewCounter(gpu)
	before := gpu.Stats().GPUCalls
	gs, err := graphStep(counted, dims, opts.Reps)
	if err != nil {
		return err
	}
	onGPU := gpu.Stats().GPUCalls - before
	lossRel := math.Abs(float64(gs.Loss-cs.Loss)) / math.Max(math.Abs(float64(cs.Loss)), math.SmallestNonzeroFloat32)
	gradRel := maxNormRel(gs.Grad, cs.Grad)
	status := "ok"
	if !(lossRel <= stepTol && gradRel <= stepTol) || onGPU == 0 {
		status = "FAILED"
		failed = append(failed, "training step")
	}
	fmt.Fprintf(w, "  %v: loss CPU %.7g GPU %.7g (rel %.2g), dW1 rel %.2g (limit %g), %d Sgemm calls on the GPU: %s\n",
		dims, cs.Loss, gs.Loss, lossRel, gradRel, stepTol, onGPU, status)
	fmt.Fprintf(w, "  step time: CPU %v, GPU %v (speed-up %.1fx; every product on the GPU)\n", cs.Time.Round(time.Microsecond), gs.Time.Round(time.Microsecond),
		cs.Time.Seconds()/gs.Time.Seconds())

	ss := opts.scan
	if ss == (scanSize{}) {
		ss = defaultScan
	}
	if opts.ScanBatch > 0 {
		ss.Batch = opts.ScanBatch
	}
	if opts.ScanEmbed > 0 {
		ss.Embed = opts.ScanEmbed
	}
	fmt.Fprintf(w, "\nPOS-SCAN training step (scan.Model.TrainStep: forward, backward, clip, Adam; %v):\n", ss)
	cpuScan, err := scanSteps(cpu, ss, opts.CPUReps)
	if err != nil {
		return err
	}
	// The loss check sends every product to the GPU; the timing uses the
	// default threshold, as training does.
	before = gpu.Stats().GPUCalls
	allGPU, err := scanSteps(gpu, ss, 0)
	if err != nil {
		return err
	}
	onGPU = gpu.Stats().GPUCalls - before
	lossRel = math.Abs(allGPU.Loss-cpuScan.Loss) / math.Max(math.Abs(cpuScan.Loss), math.SmallestNonzeroFloat64)
	status = "ok"
	if !(lossRel <= stepTol) || onGPU == 0 {
		status = "FAILED"
		failed = append(failed, "POS-SCAN step")
	}
	fmt.Fprintf(w, "  first-step loss CPU %.7g GPU %.7g (rel %.2g, limit %g), %d Sgemm calls on the GPU: %s\n",
		cpuScan.Loss, allGPU.Loss, lossRel, stepTol, onGPU, status)
	thresholds := []int(opts.Thresholds)
	if len(thresholds) == 0 {
		thresholds = []int{gpublas.DefaultThreshold}
	}
	fmt.Fprintf(w, "  step time: CPU %v\n", cpuScan.Time.Round(time.Microsecond))
	for _, th := range thresholds {
		timed, err := gpublas.New(gpublas.Options{LibDir: os.Getenv(gpublas.EnvLibDir), Device: opts.Device, Pedantic: opts.Pedantic, Strict: true, Threshold: th})
		if err != nil {
			return err
		}
		gpuScan, err := scanSteps(timed, ss, opts.Reps)
		st := timed.Stats()
		if cerr := timed.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  step time: GPU %v (speed-up %.1fx; threshold m·n·k >= %d: %d products on the GPU, %d on the CPU)\n",
			gpuScan.Time.Round(time.Microsecond), cpuScan.Time.Seconds()/gpuScan.Time.Seconds(), th, st.GPUCalls, st.CPUCalls)
	}

	if len(failed) > 0 {
		return fmt.Errorf("%d check(s) failed: %v", len(failed), failed)
	}
	fmt.Fprintln(w, "\nall checks passed")
	return nil
}

// stepDims sizes the gorgonia training step of gpu-check.
type stepDims struct{ Batch, In, Hidden, Out int }

// String formats the sizes.
func (d stepDims) String() string {
	return fmt.Sprintf("X %dx%d, W1 %dx%d, W2 %dx%d", d.Batch, d.In, d.In, d.Hidden, d.Hidden, d.Out)
}

// stepResult is the outcome of graphStep.
type stepResult struct {
	Loss float32
	Grad []float32     // dLoss/dW1
	Time time.Duration // mean time of one forward+backward pass
}

// graphStep installs impl as gorgonia's BLAS, runs a forward and backward
// pass of loss = mean((tanh(X·W1)·W2)²) with seeded X, W1, W2 once, then
// reps more times for the timing, and puts gonum back. Every product of the
// pass (forward and the transposed ones of backward) ends in impl.Sgemm.
func graphStep(impl gblas.Float32, d stepDims, reps int) (res stepResult, err error) {
	blas.Install(blas.Backend{Name: "gpu-check", Impl: impl})
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
		return res, fmt.Errorf("gpu-check: training step: %w", err)
	}
	lv, ok := loss.Value().Data().(float32)
	if !ok {
		return res, fmt.Errorf("gpu-check: training step: loss is %T, want float32", loss.Value().Data())
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
			return res, fmt.Errorf("gpu-check: training step: %w", err)
		}
	}
	res.Time = time.Since(start) / time.Duration(max(reps, 1))
	return res, nil
}

// scanSize sizes the POS-SCAN step of gpu-check: Batch images of Regions
// regions of Feat features and Batch captions of Words words.
type scanSize struct{ Batch, Regions, Feat, Words, Embed, Vocab int }

// String formats the sizes.
func (s scanSize) String() string {
	return fmt.Sprintf("batch %d, %d regions x %d features, %d words, embed %d, vocab %d", s.Batch, s.Regions, s.Feat, s.Words, s.Embed, s.Vocab)
}

// defaultScan is the step of training/scan's BenchmarkTrainStep (B=32,E=256).
var defaultScan = scanSize{Batch: 32, Regions: 36, Feat: 2048, Words: 12, Embed: 256, Vocab: 1000}

// scanResult is the outcome of scanSteps.
type scanResult struct {
	Loss float64       // loss of the first step
	Time time.Duration // mean time of the later steps
}

// scanSteps installs impl as gorgonia's BLAS, builds a POS-SCAN model
// (seed 1) and a seeded random batch of size s, runs one training step
// (which also builds the graph), then reps timed steps, and puts gonum back.
func scanSteps(impl gblas.Float32, s scanSize, reps int) (scanResult, error) {
	blas.Install(blas.Backend{Name: "gpu-check", Impl: impl})
	defer blas.Install(blas.Backend{Name: blas.Go, Impl: gonum.Implementation{}})
	cfg := scan.DefaultConfig()
	cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.Seed = s.Vocab, s.Feat, s.Embed, 1
	m, err := scan.New(cfg)
	if err != nil {
		return scanResult{}, err
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
		return scanResult{}, fmt.Errorf("gpu-check: POS-SCAN step: %w", err)
	}
	start := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := m.TrainStep(batch); err != nil {
			return scanResult{}, fmt.Errorf("gpu-check: POS-SCAN step: %w", err)
		}
	}
	return scanResult{Loss: first.Loss, Time: time.Since(start) / time.Duration(max(reps, 1))}, nil
}

// maxNormRel is max|a−b| / max|b|.
func maxNormRel(a, b []float32) float64 {
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
