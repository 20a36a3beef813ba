package gpublas

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Roles of the loaded libraries, the keys of DeviceInfo.Libraries.
const (
	roleDriver   = "driver"
	roleRuntime  = "runtime"
	roleCublasLt = "cublasLt"
	roleCublas   = "cublas"
)

// library is one shared library to load.
type library struct {
	role string // key in DeviceInfo.Libraries
	what string // for messages
	name string // soname
}

// driverLib is the NVIDIA driver's library, installed with the driver.
var driverLib = library{roleDriver, "the NVIDIA driver library", "libcuda.so.1"}

// toolkitSets are the CUDA toolkit libraries, one set per major version in
// order of preference. A set is loaded whole or not at all, so that the
// runtime and cuBLAS always come from the same major version. cuBLASLt is
// loaded before cuBLAS so that cuBLAS's dependency on it resolves to the
// same directory.
var toolkitSets = [][]library{
	{
		{roleRuntime, "the CUDA runtime", "libcudart.so.13"},
		{roleCublasLt, "cuBLASLt", "libcublasLt.so.13"},
		{roleCublas, "cuBLAS", "libcublas.so.13"},
	},
	{
		{roleRuntime, "the CUDA runtime", "libcudart.so.12"},
		{roleCublasLt, "cuBLASLt", "libcublasLt.so.12"},
		{roleCublas, "cuBLAS", "libcublas.so.12"},
	},
}

// loader finds and opens shared libraries: first as files in dirs, then
// by bare name through the dynamic linker's search (LD_LIBRARY_PATH, the
// ldconfig cache, the default directories) when system is set.
type loader struct {
	dirs   []string
	system bool
	// open opens a library (dlopen); close undoes it.
	open  func(path string) (uintptr, error)
	close func(h uintptr) error
	// stat reports whether a file exists.
	stat func(path string) error
	// mapped returns the file a library found by bare name was loaded
	// from, or "" when unknown.
	mapped func(soname string) string
}

// newLoader returns a loader over libDir (a path list) and the system path.
func newLoader(libDir string, open func(string) (uintptr, error), close func(uintptr) error) loader {
	var dirs []string
	for _, d := range filepath.SplitList(libDir) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return loader{
		dirs:   dirs,
		system: true,
		open:   open,
		close:  close,
		stat:   func(p string) error { _, err := os.Stat(p); return err },
		mapped: mappedPath,
	}
}

// LoadError reports a library that could not be loaded and every place
// searched. It wraps ErrNoCUDA.
type LoadError struct {
	// What names the library or libraries, e.g. "the NVIDIA driver
	// library (libcuda.so.1)".
	What string
	// Tried lists each attempt as "path: reason".
	Tried []string
	// Hint says what to do next.
	Hint string
}

// Error implements error.
func (e *LoadError) Error() string {
	return fmt.Sprintf("gpublas: cannot load %s: tried %s; %s", e.What, strings.Join(e.Tried, "; "), e.Hint)
}

// Unwrap returns ErrNoCUDA.
func (e *LoadError) Unwrap() error { return ErrNoCUDA }

// loadOne opens lib, returning the handle and the file loaded, or the
// attempts made.
func (l loader) loadOne(lib library) (uintptr, string, []string) {
	var tried []string
	for _, d := range l.dirs {
		p := filepath.Join(d, lib.name)
		if err := l.stat(p); err != nil {
			reason := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				reason = "no such file"
			}
			tried = append(tried, p+": "+reason)
			continue
		}
		h, err := l.open(p)
		if err != nil {
			tried = append(tried, p+": "+err.Error())
			continue
		}
		return h, p, nil
	}
	if l.system {
		h, err := l.open(lib.name)
		if err == nil {
			p := l.mapped(lib.name)
			if p == "" {
				p = lib.name + " (system library path)"
			}
			return h, p, nil
		}
		tried = append(tried, lib.name+" on the system library path: "+err.Error())
	}
	return 0, "", tried
}

// loaded is the result of loadAll: a handle and a path per role.
type loaded struct {
	handles map[string]uintptr
	paths   map[string]string
	// major is the CUDA major version of the toolkit set loaded (13, 12).
	major int
}

// hintToolkit is the advice for a missing toolkit library.
const hintToolkit = "point --lib-dir or " + EnvLibDir + " at the directory holding them " +
	"(pip install 'nvidia-cuda-runtime>=13,<14' 'nvidia-cublas>=13,<14' puts them in site-packages/nvidia/cu13/lib)"

// loadAll loads the driver library and the first complete toolkit set.
func (l loader) loadAll() (loaded, error) {
	out := loaded{handles: map[string]uintptr{}, paths: map[string]string{}}
	h, p, tried := l.loadOne(driverLib)
	if tried != nil {
		return out, &LoadError{
			What:  driverLib.what + " (" + driverLib.name + ")",
			Tried: tried,
			Hint:  "is the NVIDIA driver installed? (nvidia-smi should work; in a container, run it with the GPU exposed)",
		}
	}
	out.handles[roleDriver], out.paths[roleDriver] = h, p
	var all []string
	var names []string
	for _, set := range toolkitSets {
		var opened []uintptr
		ok := true
		for _, lib := range set {
			h, p, tried := l.loadOne(lib)
			if tried != nil {
				all = append(all, tried...)
				names = append(names, lib.name)
				ok = false
				break
			}
			opened = append(opened, h)
			out.handles[lib.role], out.paths[lib.role] = h, p
		}
		if ok {
			out.major = setMajor(set)
			return out, nil
		}
		for i := len(opened) - 1; i >= 0; i-- {
			_ = l.close(opened[i]) // a partial set is abandoned; nothing was used from it
		}
		for _, lib := range set {
			delete(out.handles, lib.role)
			delete(out.paths, lib.role)
		}
	}
	return out, &LoadError{
		What:  "the CUDA toolkit libraries (" + strings.Join(names, ", then ") + " missing)",
		Tried: all,
		Hint:  hintToolkit,
	}
}

// setMajor returns the CUDA major version in the sonames of a toolkit set (libcudart.so.13: 13).
func setMajor(set []library) int {
	var v int
	name := set[0].name
	fmt.Sscanf(name[strings.LastIndexByte(name, '.')+1:], "%d", &v)
	return v
}

// mappedPath returns the file of the first mapping in /proc/self/maps
// whose base name is soname, or "" (no such mapping, or not Linux).
func mappedPath(soname string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close() // read-only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		p := line[i:]
		if filepath.Base(p) == soname {
			return p
		}
		// The mapping shows the real file; sonames are usually links to it
		// (libcudart.so.13 -> libcudart.so.13.0.96).
		if strings.HasPrefix(filepath.Base(p), soname+".") {
			return p
		}
	}
	return ""
}
