package blas

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/gpublas"
	"github.com/groundcap/groundcap/internal/gpublas/gpublastest"
)

// TestCUDARegistered checks that cuda is registered by this package, so a
// caller that links only training/blas can ask for it.
func TestCUDARegistered(t *testing.T) {
	if !slices.Contains(Names(), CUDA) {
		t.Errorf("registered backends %v lack %q", Names(), CUDA)
	}
}

// TestSelectCUDA checks the cuda backend through Select: a hard error naming
// the directory searched (Options.CUDALibDir, else $GROUNDCAP_CUDA_LIB_DIR)
// for "cuda", a CPU fallback for "auto" without CUDA, the GPU backend for
// "auto" with (fake) CUDA.
func TestSelectCUDA(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(gpublas.EnvLibDir, empty)
	_, err := Select(CUDA)
	if !errors.Is(err, gpublas.ErrNoCUDA) {
		t.Skipf("Select(cuda) = %v: CUDA seems installed here; this part needs a machine without it", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(empty, "libcuda.so.1")) {
		t.Errorf("error %q does not name the directory of $%s", err, gpublas.EnvLibDir)
	}
	other := t.TempDir()
	_, err = Options{CUDALibDir: other}.Select(CUDA)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(other, "libcuda.so.1")) || strings.Contains(err.Error(), empty) {
		t.Errorf("Select(cuda) with CUDALibDir %s: %v; want an error naming it, not $%s", other, err, gpublas.EnvLibDir)
	}
	b, err := Select(Auto)
	if err != nil || b.Name == CUDA {
		t.Errorf("Select(auto) = %q, %v; want a CPU backend", b.Name, err)
	}

	fake := gpublastest.FakeCUDADir(t, "13")
	for i, o := range []Options{{CUDALibDir: fake}, {}} {
		if i == 1 {
			t.Setenv(gpublas.EnvLibDir, fake)
		}
		b, err = o.Select(Auto)
		if err != nil || b.Name != CUDA {
			t.Fatalf("%d: Select(auto) with CUDA = %q, %v; want cuda", i, b.Name, err)
		}
		gpu, ok := b.Impl.(*gpublas.BLAS)
		if !ok {
			t.Fatalf("%d: cuda backend is %T, want *gpublas.BLAS", i, b.Impl)
		}
		if err := gpu.Close(); err != nil {
			t.Error(err)
		}
	}
}
