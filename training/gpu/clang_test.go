package gpu

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestKernelsCompileWithClang compiles every kernel as CUDA with clang (both branches of
// kernels/gpu.h: clang's own, and NVRTC's with testdata/nvrtc_shim.h standing in for NVRTC's
// built-in declarations) and checks that the PTX defines each kernel, with no warning. It
// skips when no clang ≥ 16 is installed (Debian: apt-get install clang-19).
func TestKernelsCompileWithClang(t *testing.T) {
	clang, _, err := FindClang()
	if err != nil {
		t.Skip(err)
	}
	src, err := Sources()
	if err != nil {
		t.Fatal(err)
	}
	shim, err := filepath.Abs(filepath.Join("testdata", "nvrtc_shim.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"clang branch", nil}, {"nvrtc branch", []string{"-include", shim}}} {
		ptx, err := CompileClang(clang, "sm_90", tc.extra...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, k := range src.Names() {
			if !bytes.Contains(ptx, []byte(".entry "+k+"(")) {
				t.Errorf("%s: the PTX has no entry %s", tc.name, k)
			}
		}
	}
}

// TestEmbeddedPTXCurrent fails when the kernel sources changed after the embedded PTX was
// generated: run go generate ./training/gpu.
func TestEmbeddedPTXCurrent(t *testing.T) {
	src, err := Sources()
	if err != nil {
		t.Fatal(err)
	}
	if embeddedPTXHash != src.Hash {
		t.Fatalf("embedded PTX built from sources %.12s, the sources are %.12s: run go generate ./training/gpu", embeddedPTXHash, src.Hash)
	}
	for _, k := range src.Names() {
		if !bytes.Contains([]byte(embeddedPTX), []byte(".entry "+k+"(")) {
			t.Errorf("the embedded PTX has no entry %s", k)
		}
	}
}
