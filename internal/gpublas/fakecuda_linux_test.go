//go:build linux

package gpublas

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/internal/gpublas/gpublastest"
)

// TestRealBindingsWithFakeCUDA runs New and Sgemm through the real loader
// and purego bindings against CPU stand-ins of the CUDA libraries. It
// checks the binding (symbols, argument order and types), not a GPU.
func TestRealBindingsWithFakeCUDA(t *testing.T) {
	dir := gpublastest.FakeCUDADir(t, "13")

	t.Run("sgemm", func(t *testing.T) {
		b, err := New(Options{LibDir: dir, Threshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := b.Close(); err != nil {
				t.Error(err)
			}
		}()
		info := b.Info()
		if info.Name != "Fake CUDA Device (CPU)" || info.Major != 9 || info.Minor != 0 ||
			info.Runtime != 13000 || info.Driver != 13010 || info.CUBLAS != 130001 ||
			info.TotalBytes != 80<<30 || info.FreeBytes != 70<<30 || info.MathMode != "CUBLAS_DEFAULT_MATH" {
			t.Errorf("info %+v does not match the fake library's values", info)
		}
		for _, role := range []string{roleDriver, roleRuntime, roleCublasLt, roleCublas} {
			if !strings.HasPrefix(info.Libraries[role], dir+"/") {
				t.Errorf("%s loaded from %q, want the fake in %s", role, info.Libraries[role], dir)
			}
		}
		cases := CheckCases()
		for i, c := range cases {
			rel, err := Compare(b, gonum.Implementation{}, c, uint64(i)+1)
			if err != nil || rel > tolFake {
				t.Errorf("%d: %v: rel %.3g, err %v", i, c, rel, err)
			}
		}
		if s := b.Stats(); s.GPUCalls != int64(len(cases)) || s.Fallbacks != 0 || b.Err() != nil {
			t.Errorf("stats %+v err %v, want %d device calls, no failure", s, b.Err(), len(cases))
		}
	})

	t.Run("pedantic", func(t *testing.T) {
		b, err := New(Options{LibDir: dir, Threshold: 1, Pedantic: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close() // read-only use
		c := Case{TA: blas.Trans, TB: blas.NoTrans, M: 5, N: 7, K: 3, PadA: 1, Alpha: 1, Beta: 0}
		if rel, err := Compare(b, gonum.Implementation{}, c, 1); err != nil || rel > tolFake || b.Err() != nil {
			t.Errorf("rel %.3g err %v device err %v", rel, err, b.Err())
		}
		if b.Info().MathMode != "CUBLAS_PEDANTIC_MATH" {
			t.Errorf("math mode %q", b.Info().MathMode)
		}
	})

	t.Run("no device", func(t *testing.T) {
		t.Setenv("FAKE_CUDA_DEVICES", "0")
		_, err := New(Options{LibDir: dir})
		if !errors.Is(err, ErrNoCUDA) || !strings.Contains(err.Error(), "no CUDA-capable device is detected") {
			t.Errorf("err = %v, want ErrNoCUDA with the runtime's message", err)
		}
	})

	t.Run("device out of range", func(t *testing.T) {
		_, err := New(Options{LibDir: dir, Device: 3})
		if !errors.Is(err, ErrNoCUDA) || !strings.Contains(err.Error(), "device 3 requested, 1 present") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("malloc failure falls back", func(t *testing.T) {
		t.Setenv("FAKE_CUDA_MALLOC_FAIL", "1")
		b, err := New(Options{LibDir: dir, Threshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close() // read-only use
		a, bb, c := randMats(3, 6, 5, 4)
		want := slices.Clone(c)
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 6, 5, 4, 1, a, 4, bb, 5, 1, want, 5)
		b.Sgemm(blas.NoTrans, blas.NoTrans, 6, 5, 4, 1, a, 4, bb, 5, 1, c, 5)
		if !slices.Equal(c, want) {
			t.Errorf("fallback product differs from gonum")
		}
		if err := b.Err(); err == nil || !strings.Contains(err.Error(), "cudaMalloc: CUDA error 2: out of memory") {
			t.Errorf("Err() = %v, want the cudaMalloc failure with the runtime's message", err)
		}
	})
}

// TestFakeCUDA12 checks that a directory holding only the CUDA 12 set is used.
func TestFakeCUDA12(t *testing.T) {
	dir := gpublastest.FakeCUDADir(t, "12")
	b, err := New(Options{LibDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close() // nothing written
	if got := b.Info().Libraries[roleCublas]; got != filepath.Join(dir, "libcublas.so.12") {
		t.Errorf("cuBLAS loaded from %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "libcublas.so.13")); err == nil {
		t.Fatal("test set-up: a CUDA 13 library exists")
	}
}
