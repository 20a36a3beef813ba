//go:build linux

package gpu

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeLibs are the fake CUDA libraries by define, and the soname each is installed as.
var fakeLibs = []struct{ def, name string }{
	{"FAKE_DRIVER", "libcuda.so.1"},
	{"FAKE_RUNTIME", "libcudart.so.13"},
	{"FAKE_CUBLASLT", "libcublasLt.so.13"},
	{"FAKE_CUBLAS", "libcublas.so.13"},
	{"FAKE_NVRTC", "libnvrtc.so.13"},
}

// buildFakeCUDA compiles testdata/fakecuda.c into the fake CUDA libraries (all but those in
// omit) in a temporary directory and points the fake driver at the emulation library of the
// kernels; it skips the test without a C compiler.
func buildFakeCUDA(t *testing.T, omit ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the fake CUDA libraries")
	}
	dir := t.TempDir()
	for _, lib := range fakeLibs {
		skip := false
		for _, o := range omit {
			skip = skip || o == lib.name
		}
		if skip {
			continue
		}
		out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-Wall", "-D"+lib.def,
			"-o", filepath.Join(dir, lib.name), filepath.Join("testdata", "fakecuda.c"), "-ldl").CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", lib.name, err, out)
		}
	}
	src, err := Sources()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := emulatorLibrary(src, cc, emuCache(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_CUDA_EMU_LIB", lib)
	return dir
}

// openFake opens the CUDA device on the fake libraries in dir.
func openFake(t *testing.T, dir string, opts CUDAOptions) Device {
	t.Helper()
	opts.LibDir = dir
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	d, err := OpenCUDA(opts)
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

// TestCUDAWithFakeLibraries runs the CUDA device's real bindings (driver API, cuBLAS, NVRTC,
// kernelParams) against the CPU stand-ins: the conformance suite, the information, and the
// PTX cache. It checks the bindings and the row-major mapping, not a GPU.
func TestCUDAWithFakeLibraries(t *testing.T) {
	dir := buildFakeCUDA(t)
	cache := t.TempDir()
	d := openFake(t, dir, CUDAOptions{CacheDir: cache})
	info := d.Info()
	if info.Kind != "cuda" || info.Name != "Fake CUDA Device 0 (CPU)" || info.Arch != "sm_90" || info.TotalBytes != 80<<30 ||
		!strings.HasPrefix(info.Compiler, "NVRTC 13.0 ("+dir) {
		t.Errorf("info %+v", info)
	}
	runSuite(t, d)

	// A second device finds the PTX in the cache.
	d2 := openFake(t, dir, CUDAOptions{CacheDir: cache})
	if c := d2.Info().Compiler; !strings.Contains(c, "cached PTX") {
		t.Errorf("second open: kernels from %q, want the cache", c)
	}
	// The embedded PTX (clang's) loads too.
	d3 := openFake(t, dir, CUDAOptions{Kernels: KernelsEmbedded})
	if c := d3.Info().Compiler; !strings.HasPrefix(c, "embedded PTX (clang") {
		t.Errorf("embedded: kernels from %q", c)
	}
	runSuite(t, d3)
}

// TestCUDAErrors checks the errors of a missing driver, a missing device, a missing NVRTC, a
// failed compile, a failed JIT and an allocation beyond the device's memory.
func TestCUDAErrors(t *testing.T) {
	dir := buildFakeCUDA(t)
	t.Run("no driver", func(t *testing.T) {
		empty := t.TempDir()
		_, err := OpenCUDA(CUDAOptions{LibDir: empty})
		if err == nil {
			t.Skip("a CUDA driver is installed on the system library path")
		}
		if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), filepath.Join(empty, "libcuda.so.1")+": no such file") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no device", func(t *testing.T) {
		t.Setenv("FAKE_CUDA_DEVICES", "0")
		_, err := OpenCUDA(CUDAOptions{LibDir: dir})
		if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "device 0 requested, 0 present") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		if _, err := OpenCUDA(CUDAOptions{Kernels: "ptx"}); err == nil || !strings.Contains(err.Error(), `Kernels = "ptx"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("compile failure", func(t *testing.T) {
		t.Setenv("FAKE_NVRTC_FAIL", "1")
		_, err := OpenCUDA(CUDAOptions{LibDir: dir, CacheDir: t.TempDir()})
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "NVRTC_ERROR_COMPILATION") ||
			!strings.Contains(ce.Log, "groundcap_kernels.cu(7): error: fake compile failure") || ce.Compiler != "NVRTC 13.0" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("JIT failure", func(t *testing.T) {
		t.Setenv("FAKE_CUDA_JIT_FAIL", "1")
		_, err := OpenCUDA(CUDAOptions{LibDir: dir, CacheDir: t.TempDir()})
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(ce.Log, "ptxas fatal   : fake JIT failure") || !strings.Contains(err.Error(), "CUDA_ERROR_INVALID_PTX") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("out of memory", func(t *testing.T) {
		t.Setenv("FAKE_CUDA_MEM_LIMIT", "4096")
		d := openFake(t, dir, CUDAOptions{})
		if _, err := d.Alloc(1024); err != nil {
			t.Fatal(err)
		}
		_, err := d.Alloc(1 << 20)
		if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "4.0 MiB requested, 71680.0 MiB free of 81920.0 MiB") ||
			!strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
			t.Errorf("err = %v", err)
		}
	})
	noNVRTC := buildFakeCUDA(t, "libnvrtc.so.13")
	t.Run("no NVRTC", func(t *testing.T) {
		_, err := OpenCUDA(CUDAOptions{LibDir: noNVRTC, Kernels: KernelsNVRTC})
		if err == nil {
			t.Skip("an NVRTC is installed on the system library path")
		}
		if !errors.Is(err, ErrNoNVRTC) || !strings.Contains(err.Error(), filepath.Join(noNVRTC, "libnvrtc.so.13")+": no such file") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no NVRTC, auto", func(t *testing.T) {
		d := openFake(t, noNVRTC, CUDAOptions{})
		if c := d.Info().Compiler; !strings.HasPrefix(c, "embedded PTX") || !strings.Contains(c, "NVRTC unavailable") {
			t.Errorf("kernels from %q, want the embedded PTX and why", c)
		}
	})
	if _, err := os.Stat(filepath.Join(noNVRTC, "libnvrtc.so.13")); err == nil {
		t.Fatal("test set-up: NVRTC exists")
	}
}
