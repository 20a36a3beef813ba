package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/blascheck"
)

// doctorBenchHelp is the part of doctor's help about --bench.
const doctorBenchHelp = "With --bench it then times, for each BLAS backend in the binary, Sgemm (NoTrans, NoTrans)\n" +
	"at 1024x1024x1024, 128x1024x1024 and the fused ops' small shapes (a GRU step's 128x3072x1024,\n" +
	"the cosine's 36x36x1024 and 36x768x36), one line each: 'backend MxNxK GFLOP/s' (best of 5);\n" +
	"and one POS-SCAN training step at the paper's sizes (batch 128, 36 regions x 2048 features,\n" +
	"16 words, embed 1024, vocab 7000): 'backend pos-scan-step seconds' (mean of --bench-steps\n" +
	"steps after one that builds the graph; gonum's go backend takes ~10 s a step on 2 cores)."

// doctorBenchOptions are the flags of 'groundcap doctor --bench'.
type doctorBenchOptions struct {
	Bench      bool
	BenchSteps int

	// shapes and scan size the measurements; zero means doctorBenchShapes
	// and blascheck.PaperScan. Tests shrink them.
	shapes [][3]int
	scan   blascheck.ScanSize
}

func (o *doctorBenchOptions) AddFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.Bench, "bench", false, "time Sgemm and the paper-sized POS-SCAN step on every BLAS backend in the binary")
	fs.IntVar(&o.BenchSteps, "bench-steps", 2, "timed POS-SCAN steps per backend with --bench (0: products only)")
}

// doctorBenchShapes are the m, n, k of the products doctor --bench times.
var doctorBenchShapes = [][3]int{{1024, 1024, 1024}, {128, 1024, 1024}, {128, 3072, 1024}, {36, 36, 1024}, {36, 768, 36}}

// runDoctorBench prints the --bench lines of every backend that constructs
// with the options bo; a backend that does not is reported on a line starting
// with '#'.
func runDoctorBench(_ context.Context, opts doctorBenchOptions, bo blas.Options, w io.Writer) error {
	if opts.BenchSteps < 0 {
		return usageError{fmt.Sprintf("--bench-steps %d: want ≥ 0", opts.BenchSteps)}
	}
	shapes, ss := opts.shapes, opts.scan
	if shapes == nil {
		shapes = doctorBenchShapes
	}
	if ss == (blascheck.ScanSize{}) {
		ss = blascheck.PaperScan
	}
	fmt.Fprintf(w, "\nBenchmarks (backend shape GFLOP/s; backend pos-scan-step seconds, %v):\n", ss)
	for _, name := range blas.Names() {
		b, err := bo.Select(name)
		if err != nil {
			fmt.Fprintf(w, "# %s unavailable: %v\n", name, err)
			continue
		}
		err = benchBackend(w, b, shapes, ss, opts.BenchSteps)
		if c, ok := b.Impl.(io.Closer); ok { // the GPU backend holds a cuBLAS handle
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("doctor --bench: %s: %w", name, err)
		}
	}
	return nil
}

// benchBackend prints the lines of one backend.
func benchBackend(w io.Writer, b blas.Backend, shapes [][3]int, ss blascheck.ScanSize, steps int) error {
	for _, s := range shapes {
		gf, err := blas.SgemmGFLOPS(b.Impl, s[0], s[1], s[2], 5)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %dx%dx%d %.1f\n", b.Name, s[0], s[1], s[2], gf)
	}
	if steps == 0 {
		return nil
	}
	res, err := blascheck.ScanSteps(b.Impl, ss, steps)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s pos-scan-step %.3f\n", b.Name, res.Time.Seconds())
	return nil
}
