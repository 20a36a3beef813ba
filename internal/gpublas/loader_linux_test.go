//go:build linux

package gpublas

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

// TestNewWithoutCUDA runs the real loader against a directory with a
// corrupt libcuda.so.1: the error names that file and dlopen's reason.
func TestNewWithoutCUDA(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(bad, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{LibDir: dir})
	if err == nil {
		b.Close()
		t.Skip("CUDA is installed on the system library path: this test needs a machine without it")
	}
	if !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("err = %v, want ErrNoCUDA", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory searched", err)
	}
	var le *LoadError
	if errors.As(err, &le) && le.What == driverLib.what+" (libcuda.so.1)" {
		// The driver is absent here: the corrupt file must have been tried.
		if !strings.Contains(err.Error(), bad+": ") || strings.Contains(err.Error(), bad+": no such file") {
			t.Errorf("error %q does not report dlopen's failure on %s", err, bad)
		}
	}
}

// TestLoaderOpensSystemLibrary exercises the real dlopen path through
// purego with a library every Linux has: it is found by bare name, its
// file is located through /proc/self/maps, and a symbol can be called.
func TestLoaderOpensSystemLibrary(t *testing.T) {
	l := newLoader(t.TempDir(), func(p string) (uintptr, error) {
		return purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	}, purego.Dlclose)
	h, path, tried := l.loadOne(library{"libm", "the C math library", "libm.so.6"})
	if tried != nil {
		t.Skipf("libm.so.6 not loadable here: %v", tried)
	}
	if !strings.HasPrefix(path, "/") || !strings.Contains(filepath.Base(path), "libm") {
		t.Errorf("libm loaded from %q, want an absolute path to the file", path)
	}
	sym, err := purego.Dlsym(h, "cos")
	if err != nil {
		t.Fatal(err)
	}
	var cos func(float64) float64
	purego.RegisterFunc(&cos, sym)
	if got := cos(0); got != 1 { // cos(0) is exactly 1
		t.Errorf("cos(0) = %v through purego, want 1", got)
	}
}
