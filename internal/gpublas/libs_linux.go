//go:build linux

package gpublas

import (
	"fmt"
	"path/filepath"

	"github.com/ebitengine/purego"
)

// Libraries are the CUDA libraries of one machine, found by the search New uses: the driver
// and the first complete toolkit set (runtime, cuBLASLt, cuBLAS), from the directories of a
// library path list, then the system library path. Other packages that drive the GPU
// themselves (training/gpu) load them through LoadLibraries and bind their own symbols.
type Libraries struct {
	// Handles are the dlopen handles by role ("driver", "runtime", "cublasLt", "cublas").
	Handles map[string]uintptr
	// Paths are the files loaded by role.
	Paths map[string]string
	// Major is the CUDA major version of the toolkit set (13 or 12).
	Major int

	search loader
}

// LoadLibraries loads the NVIDIA driver and the first complete CUDA toolkit set from libDir (a
// ':'-separated list, searched first) and the system library path. The error wraps ErrNoCUDA
// and names every path tried.
func LoadLibraries(libDir string) (*Libraries, error) {
	l := newLoader(libDir, func(p string) (uintptr, error) {
		return purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	}, purego.Dlclose)
	libs, err := l.loadAll()
	if err != nil {
		return nil, err
	}
	return &Libraries{Handles: libs.handles, Paths: libs.paths, Major: libs.major, search: l}, nil
}

// Load opens one more library by soname (e.g. "libnvrtc.so.13"), searched first in the
// directory cuBLAS was loaded from, then in libDir's directories and the system library path;
// what names it in the error, which wraps ErrNoCUDA and lists every place tried.
func (l *Libraries) Load(what, soname string) (uintptr, string, error) {
	search := l.search
	if p := l.Paths[roleCublas]; filepath.IsAbs(p) {
		search.dirs = append([]string{filepath.Dir(p)}, search.dirs...)
	}
	h, p, tried := search.loadOne(library{role: soname, what: what, name: soname})
	if tried != nil {
		return 0, "", &LoadError{What: fmt.Sprintf("%s (%s)", what, soname), Tried: tried, Hint: hintToolkit}
	}
	return h, p, nil
}
