package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/blascheck"
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
	// defaults (benchShapes, blascheck.DefaultStep, blascheck.DefaultScan).
	// Tests shrink them.
	shapes [][3]int
	step   blascheck.StepDims
	scan   blascheck.ScanSize
	// bench, when set, replaces the device-resident measurements' sizes (tests).
	bench *scan.DeviceBench
	// checkSizes, when set, replaces the device checks' sizes (tests).
	checkSizes *scan.CheckSizes
}

// benchShapes are the m, n, k of the timed products.
var benchShapes = [][3]int{{128, 1024, 1024}, {2048, 2048, 2048}}

func (o *gpuCheckOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.LibDir, "lib-dir", "", "directory (or ':'-separated list) holding the CUDA libraries, searched before the system library path (default $"+gpublas.EnvLibDir+")")
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
		Run: func(ctx context.Context, _ []string) error {
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

func runGPUCheck(ctx context.Context, opts gpuCheckOptions, g *globalOptions) (err error) {
	libDir := blas.Options{CUDALibDir: opts.LibDir}.CUDADir()
	gpu, err := gpublas.New(gpublas.Options{
		LibDir:    libDir,
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
	if dims == (blascheck.StepDims{}) {
		dims = blascheck.DefaultStep
	}
	cs, err := blascheck.GraphStep(cpu, dims, opts.CPUReps)
	if err != nil {
		return err
	}
	counted := blas.NewCounter(gpu)
	before := gpu.Stats().GPUCalls
	gs, err := blascheck.GraphStep(counted, dims, opts.Reps)
	if err != nil {
		return err
	}
	onGPU := gpu.Stats().GPUCalls - before
	lossRel := math.Abs(float64(gs.Loss-cs.Loss)) / math.Max(math.Abs(float64(cs.Loss)), math.SmallestNonzeroFloat32)
	gradRel := blascheck.MaxNormRel(gs.Grad, cs.Grad)
	status := "ok"
	if !(lossRel <= blascheck.StepTol && gradRel <= blascheck.StepTol) || onGPU == 0 {
		status = "FAILED"
		failed = append(failed, "training step")
	}
	fmt.Fprintf(w, "  %v: loss CPU %.7g GPU %.7g (rel %.2g), dW1 rel %.2g (limit %g), %d Sgemm calls on the GPU: %s\n",
		dims, cs.Loss, gs.Loss, lossRel, gradRel, blascheck.StepTol, onGPU, status)
	fmt.Fprintf(w, "  step time: CPU %v, GPU %v (speed-up %.1fx; every product on the GPU)\n", cs.Time.Round(time.Microsecond), gs.Time.Round(time.Microsecond),
		cs.Time.Seconds()/gs.Time.Seconds())

	ss := opts.scan
	if ss == (blascheck.ScanSize{}) {
		ss = blascheck.DefaultScan
	}
	if opts.ScanBatch > 0 {
		ss.Batch = opts.ScanBatch
	}
	if opts.ScanEmbed > 0 {
		ss.Embed = opts.ScanEmbed
	}
	fmt.Fprintf(w, "\nPOS-SCAN training step (scan.Model.TrainStep: forward, backward, clip, Adam; %v):\n", ss)
	cpuScan, err := blascheck.ScanSteps(cpu, ss, opts.CPUReps)
	if err != nil {
		return err
	}
	// The loss check sends every product to the GPU; the timing uses the
	// default threshold, as training does.
	before = gpu.Stats().GPUCalls
	allGPU, err := blascheck.ScanSteps(gpu, ss, 0)
	if err != nil {
		return err
	}
	onGPU = gpu.Stats().GPUCalls - before
	lossRel = math.Abs(allGPU.Loss-cpuScan.Loss) / math.Max(math.Abs(cpuScan.Loss), math.SmallestNonzeroFloat64)
	status = "ok"
	if !(lossRel <= blascheck.StepTol) || onGPU == 0 {
		status = "FAILED"
		failed = append(failed, "POS-SCAN step")
	}
	fmt.Fprintf(w, "  first-step loss CPU %.7g GPU %.7g (rel %.2g, limit %g), %d Sgemm calls on the GPU: %s\n",
		cpuScan.Loss, allGPU.Loss, lossRel, blascheck.StepTol, onGPU, status)
	thresholds := []int(opts.Thresholds)
	if len(thresholds) == 0 {
		thresholds = []int{gpublas.DefaultThreshold}
	}
	fmt.Fprintf(w, "  step time: CPU %v\n", cpuScan.Time.Round(time.Microsecond))
	for _, th := range thresholds {
		timed, err := gpublas.New(gpublas.Options{LibDir: libDir, Device: opts.Device, Pedantic: opts.Pedantic, Strict: true, Threshold: th})
		if err != nil {
			return err
		}
		gpuScan, err := blascheck.ScanSteps(timed, ss, opts.Reps)
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
