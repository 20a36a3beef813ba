package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/gpu"
	"github.com/groundcap/groundcap/training/scan"
)

// residentBench is what gpu-check --bench measures: the paper's shape (batch 128, 36 × 2048
// regions, embed 1024), a 200-step loss curve against the CPU at batch 32 / embed 256,
// validation over 1,000 images × 5,000 captions and an alignment of 145,000 captions.
var residentBench = scan.DeviceBench{StepReps: 20, CPUStep: true, CurveSteps: 200, ValImages: 1000, ValCaptions: 5000,
	AlignCaptions: 145000}

// smallBench is --bench-preset small: the same measurements at sizes the CPU emulation runs in
// seconds (it checks the wiring and the correctness bounds, not speed).
var smallBench = scan.DeviceBench{Batch: 4, Regions: 3, Feat: 16, Embed: 16, WordDim: 8, Vocab: 50, Words: 5, StepReps: 2,
	CPUStep: true, CurveSteps: 10, CurveBatch: 4, CurveEmbed: 16, ValImages: 10, ValCaptions: 50, AlignCaptions: 100,
	AlignImages: 4, AlignPerImage: 5}

// runResidentCheck is gpu-check --emulate / --resident: the device checks of training/scan on
// the emulation or the GPU, then, with --bench, the device-resident measurements.
func runResidentCheck(ctx context.Context, opts gpuCheckOptions, g *globalOptions) (err error) {
	var d gpu.Device
	if opts.Emulate {
		d, err = gpu.OpenEmulator(gpu.EmulatorOptions{})
	} else {
		libDir := blas.Options{CUDALibDir: opts.LibDir}.CUDADir()
		d, err = gpu.OpenCUDA(gpu.CUDAOptions{LibDir: libDir, Device: opts.Device, Kernels: opts.Kernels, Pedantic: opts.Pedantic})
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	w := g.Stdout
	fmt.Fprintf(w, "device: %s\n", d.Info())
	for role, path := range d.Info().Libraries {
		fmt.Fprintf(w, "  %-15s %s\n", role, path)
	}
	sizes := scan.DefaultCheckSizes()
	if opts.checkSizes != nil {
		sizes = *opts.checkSizes
	}
	fmt.Fprintf(w, "\nkernels and products against the Go ops they replace (%+v), and the training step:\n", sizes)
	lines, err := scan.CheckDevice(ctx, d, sizes)
	if err != nil {
		return err
	}
	report, ok := scan.CheckReport(lines)
	fmt.Fprint(w, report)
	if opts.Bench {
		b := residentBench
		if opts.BenchPreset == "small" {
			b = smallBench
		}
		if opts.bench != nil {
			b = *opts.bench
		}
		if opts.ScanBatch > 0 {
			b.Batch = opts.ScanBatch
		}
		if opts.ScanEmbed > 0 {
			b.Embed = opts.ScanEmbed
		}
		fmt.Fprintln(w, "\ndevice-resident measurements:")
		if err := b.Run(ctx, d, w); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("gpu-check: device checks failed (the lines marked FAILED)")
	}
	fmt.Fprintln(w, "\nall device checks passed")
	return nil
}
