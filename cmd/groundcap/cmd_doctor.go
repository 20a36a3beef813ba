package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/training/blas"
)

// doctorOptions are the flags of 'groundcap doctor'.
type doctorOptions struct {
	LibDir string
	Device int
	doctorBenchOptions
}

func (o *doctorOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.LibDir, "lib-dir", "", "directory (or ':'-separated list) holding the CUDA libraries, searched before the system library path (default $"+gpublas.EnvLibDir+")")
	fs.IntVar(&o.Device, "device", 0, "CUDA device ordinal")
	o.doctorBenchOptions.AddFlags(fs)
}

func newDoctorCommand(g *globalOptions) *command {
	var opts doctorOptions
	return &command{
		Name:  "doctor",
		Short: "report the BLAS backends, CUDA libraries and GPU found on this machine",
		Usage: "groundcap doctor [--lib-dir DIR] [--device N] [--bench [--bench-steps N]]",
		Long: "Prints which BLAS backend each of --blas=simd|go|openblas|cuda|auto selects (simd with the\n" +
			"instruction set of its kernels), the CUDA libraries\n" +
			"loaded (libcuda.so.1, libcudart, libcublasLt, libcublas) and from where, the device name and\n" +
			"memory, and checks one small Sgemm on the GPU against the CPU. A machine without a GPU is\n" +
			"reported, not an error; exit status 1 means the GPU computed a wrong product.\n" +
			doctorBenchHelp,
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, _ []string) error {
			if err := runDoctor(ctx, opts, g); err != nil {
				return err
			}
			if opts.Bench {
				return runDoctorBench(ctx, opts.doctorBenchOptions, blas.Options{CUDALibDir: opts.LibDir, CUDADevice: opts.Device}, g.Stdout)
			}
			return nil
		},
	}
}

// doctorTol is the largest max-norm relative error accepted between the GPU
// and gonum in fp32 (TF32 off); see docs/gpu.md.
const doctorTol = 1e-5

func runDoctor(_ context.Context, opts doctorOptions, g *globalOptions) (err error) {
	bo := blas.Options{CUDALibDir: opts.LibDir, CUDADevice: opts.Device}
	w := g.Stdout
	fmt.Fprintln(w, "BLAS backends (--blas):")
	for _, name := range []string{blas.SIMD, blas.Go, blas.OpenBLAS, blas.CUDA, blas.Auto} {
		b, selErr := bo.Select(name)
		if selErr != nil {
			fmt.Fprintf(w, "  %-9s unavailable: %v\n", name, selErr)
			continue
		}
		isa := ""
		if v := blas.ISA(b.Impl); v != "" {
			isa = " (" + v + ")"
		}
		if name == blas.Auto {
			fmt.Fprintf(w, "  %-9s selects %s%s\n", name, b.Name, isa)
		} else {
			fmt.Fprintf(w, "  %-9s ok%s\n", name, isa)
		}
		if c, ok := b.Impl.(io.Closer); ok { // the GPU backend holds a cuBLAS handle
			if err := c.Close(); err != nil {
				return err
			}
		}
	}

	fmt.Fprintln(w, "\nCUDA:")
	dir := bo.CUDADir()
	if dir == "" {
		dir = "(none; system library path only)"
	}
	fmt.Fprintf(w, "  library dir  %s\n", dir)
	gpu, err := gpublas.New(gpublas.Options{LibDir: bo.CUDADir(), Device: opts.Device, Threshold: 1})
	if err != nil {
		fmt.Fprintf(w, "  unavailable  %v\n", err)
		return nil
	}
	defer func() { err = errors.Join(err, gpu.Close()) }()
	printDeviceInfo(w, gpu.Info())
	c := gpublas.CheckCases()[2] // NT with padded leading dimensions
	rel, err := gpublas.Compare(gpu, gonum.Implementation{}, c, 1)
	if err == nil {
		err = gpu.Err()
	}
	if err != nil {
		fmt.Fprintf(w, "  Sgemm check  %v: FAILED: %v\n", c, err)
		return fmt.Errorf("GPU Sgemm check failed: %w", err)
	}
	if st := gpu.Stats(); st.GPUCalls != 1 {
		return fmt.Errorf("GPU Sgemm check did not run on the GPU (stats %+v)", st)
	}
	status := "ok"
	if rel > doctorTol {
		status = "FAILED"
	}
	fmt.Fprintf(w, "  Sgemm check  %v: max relative error %.2g vs CPU (limit %g): %s\n", c, rel, doctorTol, status)
	if rel > doctorTol {
		return fmt.Errorf("GPU Sgemm differs from the CPU: max relative error %.3g > %g", rel, doctorTol)
	}
	return nil
}

// printDeviceInfo prints what gpublas found.
func printDeviceInfo(w io.Writer, info gpublas.DeviceInfo) {
	for _, r := range []string{"driver", "runtime", "cublasLt", "cublas"} {
		if p, ok := info.Libraries[r]; ok {
			fmt.Fprintf(w, "  %-12s %s\n", r, p)
		}
	}
	fmt.Fprintf(w, "  device %-5d %s, compute capability %d.%d\n", info.Ordinal, info.Name, info.Major, info.Minor)
	fmt.Fprintf(w, "  memory       %.1f GiB total, %.1f GiB free\n", float64(info.TotalBytes)/(1<<30), float64(info.FreeBytes)/(1<<30))
	fmt.Fprintf(w, "  versions     driver %s, runtime %s, cuBLAS %d.%d.%d\n", cudaVersion(info.Driver), cudaVersion(info.Runtime),
		info.CUBLAS/10000, info.CUBLAS/100%100, info.CUBLAS%100)
	fmt.Fprintf(w, "  math mode    %s (no TF32)\n", info.MathMode)
}

// cudaVersion formats CUDA's 1000·major + 10·minor encoding.
func cudaVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }
