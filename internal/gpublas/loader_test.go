package gpublas

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// fakeFS stands in for the file system and dlopen: files lists the paths
// that exist, openable the bare names the system search finds.
type fakeFS struct {
	files    map[string]bool
	openable map[string]bool
	opened   []string
	closed   int
}

func (f *fakeFS) loader(dirs []string, system bool) loader {
	return loader{
		dirs:   dirs,
		system: system,
		open: func(p string) (uintptr, error) {
			if f.files[p] || f.openable[p] {
				f.opened = append(f.opened, p)
				return uintptr(len(f.opened)), nil
			}
			return 0, fmt.Errorf("%s: cannot open shared object file: No such file or directory", p)
		},
		close: func(uintptr) error { f.closed++; return nil },
		stat: func(p string) error {
			if f.files[p] {
				return nil
			}
			return &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		},
		mapped: func(soname string) string { return "/usr/lib/x86_64-linux-gnu/" + soname },
	}
}

func files(dir string, names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[filepath.Join(dir, n)] = true
	}
	return m
}

func TestLoaderNothingFound(t *testing.T) {
	dir := "/opt/wheels/nvidia/cu13/lib"
	f := &fakeFS{}
	_, err := f.loader([]string{dir}, true).loadAll()
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("err = %v, want a *LoadError wrapping ErrNoCUDA", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"libcuda.so.1",
		dir + "/libcuda.so.1: no such file",
		"libcuda.so.1 on the system library path",
		"NVIDIA driver",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestLoaderToolkitMissing(t *testing.T) {
	dir := t.TempDir()
	f := &fakeFS{openable: map[string]bool{"libcuda.so.1": true}}
	_, err := f.loader([]string{dir}, true).loadAll()
	if !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("err = %v, want ErrNoCUDA", err)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "libcudart.so.13") + ": no such file",
		"libcudart.so.13 on the system library path",
		filepath.Join(dir, "libcudart.so.12") + ": no such file",
		EnvLibDir, "--lib-dir", "nvidia/cu13/lib",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// TestLoaderPrefersDirAndWholeSets: the 13 set is incomplete (no cuBLAS),
// so its opened libraries are closed and the whole 12 set is used; the
// driver comes from the system path.
func TestLoaderPrefersDirAndWholeSets(t *testing.T) {
	dir := "/w/lib"
	f := &fakeFS{
		files: files(dir, "libcudart.so.13", "libcublasLt.so.13",
			"libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12"),
		openable: map[string]bool{"libcuda.so.1": true, "libcublas.so.12": true},
	}
	got, err := f.loader([]string{"/empty", dir}, true).loadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		roleDriver:   "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
		roleRuntime:  dir + "/libcudart.so.12",
		roleCublasLt: dir + "/libcublasLt.so.12",
		roleCublas:   dir + "/libcublas.so.12", // the directory wins over the system path
	}
	for role, p := range want {
		if got.paths[role] != p {
			t.Errorf("%s loaded from %q, want %q", role, got.paths[role], p)
		}
	}
	if f.closed != 2 {
		t.Errorf("closed %d libraries, want 2 (the incomplete 13 set)", f.closed)
	}
}

func TestNewLoaderSplitsPathList(t *testing.T) {
	l := newLoader("/a:/b::/c", nil, nil)
	if got := strings.Join(l.dirs, ","); got != "/a,/b,/c" || !l.system {
		t.Errorf("dirs %q system %v, want /a,/b,/c and true", got, l.system)
	}
}
