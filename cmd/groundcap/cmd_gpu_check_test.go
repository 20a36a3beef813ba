package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/internal/gpublas/gpublastest"
	"github.com/groundcap/groundcap/training/blascheck"
	"github.com/groundcap/groundcap/training/scan"
)

func TestDoctorWithoutCUDA(t *testing.T) {
	t.Setenv(gpublas.EnvLibDir, "")
	dir := t.TempDir()
	var out bytes.Buffer
	err := runDoctor(context.Background(), doctorOptions{LibDir: dir}, &globalOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("doctor on a machine without CUDA: %v", err)
	}
	s := out.String()
	for _, want := range []string{"  go        ok", "  auto      selects ", "library dir  " + dir} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(s, "Sgemm check") { // no CUDA here (a GPU machine would pass the check instead)
		for _, want := range []string{"cuda      unavailable: ", "unavailable  gpublas: cannot load", filepath.Join(dir, "libcuda.so.1")} {
			if !strings.Contains(s, want) {
				t.Errorf("output lacks %q:\n%s", want, s)
			}
		}
	}
}

func TestDoctorWithFakeCUDA(t *testing.T) {
	t.Setenv(gpublas.EnvLibDir, "")
	dir := gpublastest.FakeCUDADir(t, "13")
	var out bytes.Buffer
	if err := runDoctor(context.Background(), doctorOptions{LibDir: dir}, &globalOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv(gpublas.EnvLibDir); v != "" {
		t.Errorf("doctor set $%s=%q; --lib-dir must reach the backend as an option", gpublas.EnvLibDir, v)
	}
	s := out.String()
	for _, want := range []string{
		"  cuda      ok", "  auto      selects cuda",
		"runtime      " + filepath.Join(dir, "libcudart.so.13"),
		"Fake CUDA Device (CPU), compute capability 9.0",
		"80.0 GiB total", "CUBLAS_DEFAULT_MATH",
		"limit 1e-05): ok",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestGPUCheckWithoutCUDA(t *testing.T) {
	t.Setenv(gpublas.EnvLibDir, "")
	var out bytes.Buffer
	err := runGPUCheck(context.Background(), gpuCheckOptions{LibDir: t.TempDir(), Reps: 1, CPUReps: 1, Tol: 1e-5}, &globalOptions{Stdout: &out, Stderr: &out})
	if err == nil {
		t.Skip("CUDA is installed here; this test needs a machine without it")
	}
	if !errors.Is(err, gpublas.ErrNoCUDA) {
		t.Errorf("err = %v, want one wrapping gpublas.ErrNoCUDA", err)
	}
}

func TestGPUCheckWithFakeCUDA(t *testing.T) {
	t.Setenv(gpublas.EnvLibDir, "")
	dir := gpublastest.FakeCUDADir(t, "13")
	var out bytes.Buffer
	opts := gpuCheckOptions{LibDir: dir, Reps: 1, CPUReps: 1, Tol: 1e-5, Thresholds: thresholdList{1, 1 << 40},
		shapes: [][3]int{{16, 32, 24}}, step: blascheck.StepDims{Batch: 8, In: 32, Hidden: 16, Out: 4},
		scan: blascheck.ScanSize{Batch: 4, Regions: 5, Feat: 16, Words: 6, Embed: 8, Vocab: 30}}
	if err := runGPUCheck(context.Background(), opts, &globalOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	t.Log(s)
	for _, want := range []string{"TT m=64 n=130 k=65", "  16x  32x  24  GPU", "GFLOP/s", "Sgemm calls on the GPU: ok", "first-step loss CPU",
		"threshold m·n·k >= 1: ", "threshold m·n·k >= 1099511627776: 0 products on the GPU", "all checks passed"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") {
		t.Errorf("a check failed:\n%s", s)
	}
}

func TestThresholdListFlag(t *testing.T) {
	var l thresholdList
	if err := l.Set("1, 262144,4096"); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "1,262144,4096" {
		t.Errorf("parsed %q", got)
	}
	for _, bad := range []string{"", "0", "-3", "1,x"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// TestGPUCheckEmulate runs gpu-check --emulate --bench at small sizes: one line per kernel and
// one for the step, all ok, then the device-resident measurements.
func TestGPUCheckEmulate(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler for the emulation")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the compiled kernels' cache
	var out bytes.Buffer
	sizes := scan.CheckSizes{I: 3, K: 3, T: 2, L: 4, E: 20, W: 6, D: 9, V: 12}
	bench := scan.DeviceBench{Batch: 3, Regions: 2, Feat: 8, Embed: 8, WordDim: 4, Vocab: 30, Words: 4, StepReps: 1,
		CurveSteps: 3, CurveBatch: 3, CurveEmbed: 8, ValImages: 2, ValCaptions: 3, AlignCaptions: 4, AlignImages: 1, AlignPerImage: 2}
	opts := gpuCheckOptions{Emulate: true, Bench: true, checkSizes: &sizes, bench: &bench}
	if err := runResidentCheck(context.Background(), opts, &globalOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"device: emulation: CPU", "\n  attn_softmax ", "\n  gru_bwd_step ", "\n  step ", "loss curve, 3 POS-SCAN steps",
		"all device checks passed"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAILED") {
		t.Errorf("a check failed:\n%s", s)
	}
}
