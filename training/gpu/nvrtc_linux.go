//go:build linux

package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ebitengine/purego"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/gpublas"
)

// nvrtcAPI holds NVRTC's functions, bound with purego.
type nvrtcAPI struct {
	version        func(major, minor *int32) int32
	createProgram  func(prog *uintptr, src, name string, nheaders int32, headers, includeNames **byte) int32
	compileProgram func(prog uintptr, nopts int32, opts **byte) int32
	getPTXSize     func(prog uintptr, n *uintptr) int32
	getPTX         func(prog uintptr, ptx *byte) int32
	getLogSize     func(prog uintptr, n *uintptr) int32
	getLog         func(prog uintptr, log *byte) int32
	destroyProgram func(prog *uintptr) int32
	errorString    func(r int32) string
}

// nvrtcSo returns NVRTC's soname for CUDA major version major.
func nvrtcSo(major int) string { return fmt.Sprintf("libnvrtc.so.%d", major) }

// loadNVRTC loads NVRTC of the toolkit's major version (and its builtins library from the same
// directory, so that NVRTC finds it wherever it lives) and binds its functions. The error wraps
// ErrNoNVRTC and names every path tried.
func loadNVRTC(libs *gpublas.Libraries) (*nvrtcAPI, string, error) {
	h, path, err := libs.Load("NVRTC", nvrtcSo(libs.Major))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrNoNVRTC, err)
	}
	if filepath.IsAbs(path) {
		builtins, _ := filepath.Glob(filepath.Join(filepath.Dir(path), fmt.Sprintf("libnvrtc-builtins.so.%d*", libs.Major)))
		for _, b := range builtins {
			if _, err := purego.Dlopen(b, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				break
			}
		}
	}
	api := &nvrtcAPI{}
	for _, s := range []struct {
		name string
		fptr any
	}{
		{"nvrtcVersion", &api.version},
		{"nvrtcCreateProgram", &api.createProgram},
		{"nvrtcCompileProgram", &api.compileProgram},
		{"nvrtcGetPTXSize", &api.getPTXSize},
		{"nvrtcGetPTX", &api.getPTX},
		{"nvrtcGetProgramLogSize", &api.getLogSize},
		{"nvrtcGetProgramLog", &api.getLog},
		{"nvrtcDestroyProgram", &api.destroyProgram},
		{"nvrtcGetErrorString", &api.errorString},
	} {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			return nil, "", fmt.Errorf("%w: symbol %s not found in %s: %v", ErrNoNVRTC, s.name, path, err)
		}
		purego.RegisterFunc(s.fptr, addr)
	}
	return api, path, nil
}

// cStrings returns NUL-terminated copies of ss and an array of pointers to them; keep both
// alive while C reads them.
func cStrings(ss []string) ([][]byte, []*byte) {
	bufs := make([][]byte, len(ss))
	ptrs := make([]*byte, len(ss)+1)
	for i, s := range ss {
		bufs[i] = append([]byte(s), 0)
		ptrs[i] = &bufs[i][0]
	}
	return bufs, ptrs
}

// nvrtcOptions are NVRTC's options for a device of compute capability arch ("sm_90"): PTX for
// its virtual architecture, and no contraction of a·b + c into fused multiply-adds (the
// kernels round as written, as in the C emulation).
func nvrtcOptions(arch string) []string {
	return []string{"--gpu-architecture=compute_" + strings.TrimPrefix(arch, "sm_"), "--fmad=false"}
}

// nvrtcModule loads the kernels through load: PTX cached from an earlier compile by the same
// NVRTC for the same sources and architecture, else a fresh NVRTC compile (cached afterwards).
// It returns how the kernels were obtained.
func nvrtcModule(libs *gpublas.Libraries, src *Source, arch, cacheDir string, load func([]byte) error) (string, error) {
	api, path, err := loadNVRTC(libs)
	if err != nil {
		return "", err
	}
	var major, minor int32
	if r := api.version(&major, &minor); r != 0 {
		return "", fmt.Errorf("%w: nvrtcVersion: %s", ErrNoNVRTC, api.errorString(r))
	}
	ver := fmt.Sprintf("NVRTC %d.%d", major, minor)
	opts := nvrtcOptions(arch)
	sum := sha256.Sum256([]byte(src.Hash + "\x00" + ver + "\x00" + path + "\x00" + strings.Join(opts, " ")))
	cache := ptxCachePath(cacheDir, arch, hex.EncodeToString(sum[:12]))
	if cache != "" {
		if ptx, err := os.ReadFile(cache); err == nil {
			if load(ptx) == nil {
				return ver + " (cached PTX " + cache + ")", nil
			}
		}
	}
	ptx, err := api.compile(src, opts, ver)
	if err != nil {
		return "", err
	}
	if err := load(ptx); err != nil {
		return "", err
	}
	how := ver + " (" + path + ")"
	if cache != "" {
		if err := atomicfile.WriteFile(cache, func(w io.Writer) error { _, err := w.Write(ptx); return err }); err != nil {
			how += "; PTX not cached: " + err.Error()
		}
	}
	return how, nil
}

// compile compiles the kernels into PTX; a failure is a *CompileError with NVRTC's log.
func (api *nvrtcAPI) compile(src *Source, opts []string, ver string) ([]byte, error) {
	hb, hp := cStrings([]string{src.Header})
	nb, np := cStrings([]string{HeaderName})
	var prog uintptr
	if r := api.createProgram(&prog, src.Unit(), "groundcap_kernels.cu", 1, &hp[0], &np[0]); r != 0 {
		return nil, fmt.Errorf("gpu: nvrtcCreateProgram: %s", api.errorString(r))
	}
	defer api.destroyProgram(&prog) // nothing to report once the PTX is out
	ob, op := cStrings(opts)
	r := api.compileProgram(prog, int32(len(opts)), &op[0])
	runtime.KeepAlive(hb)
	runtime.KeepAlive(nb)
	runtime.KeepAlive(ob)
	var logSize uintptr
	log := ""
	if api.getLogSize(prog, &logSize) == 0 && logSize > 1 {
		buf := make([]byte, logSize)
		if api.getLog(prog, &buf[0]) == 0 {
			log = cString(&buf[0])
		}
	}
	if r != 0 {
		return nil, &CompileError{Compiler: ver, Log: log, Err: errors.New(api.errorString(r))}
	}
	var n uintptr
	if r := api.getPTXSize(prog, &n); r != 0 || n == 0 {
		return nil, fmt.Errorf("gpu: nvrtcGetPTXSize: %s", api.errorString(r))
	}
	ptx := make([]byte, n)
	if r := api.getPTX(prog, &ptx[0]); r != 0 {
		return nil, fmt.Errorf("gpu: nvrtcGetPTX: %s", api.errorString(r))
	}
	return []byte(cString(&ptx[0])), nil
}

// ptxCachePath returns the cache file of PTX for arch and key, or "" when there is no usable
// cache directory.
func ptxCachePath(dir, arch, key string) string {
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(d, "groundcap", "gpu-ptx")
	}
	dir = filepath.Join(dir, arch)
	if os.MkdirAll(dir, 0o755) != nil {
		return ""
	}
	return filepath.Join(dir, key+".ptx")
}
