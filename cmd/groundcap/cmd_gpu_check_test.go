package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/scan"
)

// fakeCUDADir compiles gpublas's CPU stand-ins of the CUDA libraries
// (internal/gpublas/testdata/fakecuda.c) into a temporary directory. They
// exercise the commands' wiring and the real bindings, not a GPU.
func fakeCUDADir(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the CUDA backend is linux-only")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the fake CUDA libraries")
	}
	dir := t.TempDir()
	src := filepath.Join("..", "..", "internal", "gpublas", "testdata", "fakecuda.c")
	for _, lib := range [][2]string{
		{"FAKE_DRIVER", "libcuda.so.1"}, {"FAKE_RUNTIME", "libcudart.so.13"},
		{"FAKE_CUBLASLT", "libcublasLt.so.13"}, {"FAKE_CUBLAS", "libcublas.so.13"},
	} {
		out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-D"+lib[0], "-o", filepath.Join(dir, lib[1]), src).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", lib[1], err, out)
		}
	}
	return dir
}

func TestCUDABackendRegistered(t *testing.T) {
	if !slices.Contains(blas.Names(), blas.CUDA) {
		t.Errorf("registered backends %v lack %q", blas.Names(), blas.CUDA)
	}
}

// TestSelectCUDA checks the registered backend through training/blas: a
// hard error naming the directory searched for "cuda", a CPU fallback for
// "auto" without CUDA, the GPU backend for "auto" with (fake) CUDA.
func TestSelectCUDA(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(gpublas.EnvLibDir, dir)
	_, err := blas.Select(blas.CUDA)
	if !errors.Is(err, gpublas.ErrNoCUDA) {
		t.Skipf("Select(cuda) = %v: CUDA seems installed here; this part needs a machine without it", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "libcuda.so.1")) {
		t.Errorf("error %q does not name the path searched", err)
	}
	b, err := blas.Select(blas.Auto)
	if err != nil || b.Name == blas.CUDA {
		t.Errorf("Select(auto) = %q, %v; want a CPU backend", b.Name, err)
	}

	t.Setenv(gpublas.EnvLibDir, fakeCUDADir(t))
	b, err = blas.Select(blas.Auto)
	if err != nil || b.Name != blas.CUDA {
		t.Fatalf("Select(auto) with CUDA = %q, %v; want cuda", b.Name, err)
	}
	gpu, ok := b.Impl.(*gpublas.BLAS)
	if !ok {
		t.Fatalf("cuda backend is %T, want *gpublas.BLAS", b.Impl)
	}
	if err := gpu.Close(); err != nil {
		t.Error(err)
	}
}

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
	dir := fakeCUDADir(t)
	var out bytes.Buffer
	if err := runDoctor(context.Background(), doctorOptions{LibDir: dir}, &globalOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
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
	dir := fakeCUDADir(t)
	var out bytes.Buffer
	opts := gpuCheckOptions{LibDir: dir, Reps: 1, CPUReps: 1, Tol: 1e-5, Thresholds: thresholdList{1, 1 << 40},
		shapes: [][3]int{{16, 32, 24}}, step: stepDims{Batch: 8, In: 32, Hidden: 16, Out: 4},
		scan: scanSize{Batch: 4, Regions: 5, Feat: 16, Words: 6, Embed: 8, Vocab: 30}}
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

// TestGraphStepUsesInstalledBLAS checks that the gorgonia step of gpu-check
// routes its products through the BLAS it installs (so the GPU comparison
// compares something) and that a wrong Sgemm changes its loss.
func TestGraphStepUsesInstalledBLAS(t *testing.T) {
	d := stepDims{Batch: 6, In: 10, Hidden: 8, Out: 3}
	ref, err := graphStep(gonum.Implementation{}, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	counter := blas.NewCounter(gonum.Implementation{})
	same, err := graphStep(counter, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Forward X·W1, H·W2; backward dW2 = Hᵀ·dY, dH = dY·W2ᵀ, dW1 = Xᵀ·dH.
	if counter.Flops() == 0 {
		t.Fatal("no Sgemm/Sgemv went through the installed BLAS")
	}
	if same.Loss != ref.Loss || maxNormRel(same.Grad, ref.Grad) != 0 {
		t.Errorf("same BLAS, different step: loss %g vs %g", same.Loss, ref.Loss)
	}
	wrong, err := graphStep(scaledBLAS{f: 1.01}, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel := maxNormRel([]float32{wrong.Loss}, []float32{ref.Loss}); rel <= stepTol {
		t.Errorf("a 1%% Sgemm error moved the loss by only %.3g", rel)
	}
}

// TestScanStepUsesInstalledBLAS checks the POS-SCAN step of gpu-check
// runs its products through the installed BLAS and that a wrong Sgemm
// changes its loss beyond the check's limit.
func TestScanStepUsesInstalledBLAS(t *testing.T) {
	s := scanSize{Batch: 4, Regions: 5, Feat: 16, Words: 6, Embed: 8, Vocab: 30}
	ref, err := scanSteps(gonum.Implementation{}, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	counter := blas.NewCounter(gonum.Implementation{})
	same, err := scanSteps(counter, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if counter.Flops() == 0 || same.Loss != ref.Loss {
		t.Errorf("flops through the installed BLAS %d (want > 0), loss %g vs %g (want equal: same BLAS, same seed)", counter.Flops(), same.Loss, ref.Loss)
	}
	wrong, err := scanSteps(scaledBLAS{f: 1.01}, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(wrong.Loss-ref.Loss) / math.Abs(ref.Loss); rel <= stepTol {
		t.Errorf("a 1%% Sgemm error moved the POS-SCAN loss by only %.3g (loss %g)", rel, ref.Loss)
	}
}

// scaledBLAS is gonum with every Sgemm's alpha multiplied by f.
type scaledBLAS struct {
	gonum.Implementation
	f float32
}

func (s scaledBLAS) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha*s.f, a, lda, b, ldb, beta, c, ldc)
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
