// Package gpublastest builds CPU stand-ins of the CUDA libraries
// (internal/gpublas/testdata/fakecuda.c) for tests of code that loads
// cuBLAS through internal/gpublas: they exercise the real loader and
// bindings, not a GPU.
package gpublastest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// FakeCUDADir compiles the fake driver, runtime, cublasLt and cublas of CUDA
// major version ver (e.g. "13") into a temporary directory and returns it.
// It skips the test off linux or without a C compiler (cc).
func FakeCUDADir(t testing.TB, ver string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the CUDA backend is linux-only")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the fake CUDA libraries")
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("gpublastest: cannot locate its source file")
	}
	src := filepath.Join(filepath.Dir(self), "..", "testdata", "fakecuda.c")
	dir := t.TempDir()
	for _, lib := range []struct{ def, name string }{
		{"FAKE_DRIVER", "libcuda.so.1"},
		{"FAKE_RUNTIME", "libcudart.so." + ver},
		{"FAKE_CUBLASLT", "libcublasLt.so." + ver},
		{"FAKE_CUBLAS", "libcublas.so." + ver},
	} {
		out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-D"+lib.def,
			"-o", filepath.Join(dir, lib.name), src).CombinedOutput()
		if err != nil {
			t.Fatalf("gpublastest: build %s: %v\n%s", lib.name, err, out)
		}
	}
	return dir
}
