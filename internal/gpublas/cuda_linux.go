//go:build linux

package gpublas

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
)

// CUDA and cuBLAS constants (cuda_runtime_api.h, driver_types.h,
// cublas_api.h); stable across CUDA 12 and 13.
const (
	cudaSuccess            = 0
	cudaMemcpyHostToDevice = 1
	cudaMemcpyDeviceToHost = 2
	cudaDevAttrCCMajor     = 75
	cudaDevAttrCCMinor     = 76
	cublasOpN              = 0
	cublasOpT              = 1
	cublasDefaultMath      = 0
	cublasPedanticMath     = 2
)

// cudaAPI holds the C functions, bound with purego.RegisterFunc.
type cudaAPI struct {
	// CUDA runtime.
	getDeviceCount     func(count *int32) int32
	setDevice          func(dev int32) int32
	malloc             func(p *uintptr, size uintptr) int32
	free               func(p uintptr) int32
	mallocHost         func(p *unsafe.Pointer, size uintptr) int32
	freeHost           func(p unsafe.Pointer) int32
	memcpyH2D          func(dst uintptr, src unsafe.Pointer, size uintptr, kind int32, stream uintptr) int32
	memcpyD2H          func(dst unsafe.Pointer, src uintptr, size uintptr, kind int32, stream uintptr) int32
	streamCreate       func(s *uintptr) int32
	streamDestroy      func(s uintptr) int32
	streamSynchronize  func(s uintptr) int32
	getErrorString     func(err int32) string
	runtimeGetVersion  func(v *int32) int32
	driverGetVersion   func(v *int32) int32
	memGetInfo         func(free, total *uintptr) int32
	deviceGetAttribute func(v *int32, attr, dev int32) int32
	// Driver.
	cuInit           func(flags uint32) int32
	cuDeviceGet      func(dev *int32, ordinal int32) int32
	cuDeviceGetName  func(name *byte, n int32, dev int32) int32
	cuDeviceTotalMem func(bytes *uintptr, dev int32) int32
	// cuBLAS.
	cublasCreate      func(h *uintptr) int32
	cublasDestroy     func(h uintptr) int32
	cublasSetStream   func(h, s uintptr) int32
	cublasSetMathMode func(h uintptr, mode int32) int32
	cublasGetVersion  func(h uintptr, v *int32) int32
	cublasSgemm       func(h uintptr, tA, tB, m, n, k int32, alpha *float32, a uintptr, lda int32, b uintptr, ldb int32, beta *float32, c uintptr, ldc int32) int32
}

// bind resolves every symbol from the loaded libraries.
func (api *cudaAPI) bind(l loaded) error {
	syms := []struct {
		role, name string
		fptr       any
	}{
		{roleRuntime, "cudaGetDeviceCount", &api.getDeviceCount},
		{roleRuntime, "cudaSetDevice", &api.setDevice},
		{roleRuntime, "cudaMalloc", &api.malloc},
		{roleRuntime, "cudaFree", &api.free},
		{roleRuntime, "cudaMallocHost", &api.mallocHost},
		{roleRuntime, "cudaFreeHost", &api.freeHost},
		{roleRuntime, "cudaMemcpyAsync", &api.memcpyH2D},
		{roleRuntime, "cudaMemcpyAsync", &api.memcpyD2H},
		{roleRuntime, "cudaStreamCreate", &api.streamCreate},
		{roleRuntime, "cudaStreamDestroy", &api.streamDestroy},
		{roleRuntime, "cudaStreamSynchronize", &api.streamSynchronize},
		{roleRuntime, "cudaGetErrorString", &api.getErrorString},
		{roleRuntime, "cudaRuntimeGetVersion", &api.runtimeGetVersion},
		{roleRuntime, "cudaDriverGetVersion", &api.driverGetVersion},
		{roleRuntime, "cudaMemGetInfo", &api.memGetInfo},
		{roleRuntime, "cudaDeviceGetAttribute", &api.deviceGetAttribute},
		{roleDriver, "cuInit", &api.cuInit},
		{roleDriver, "cuDeviceGet", &api.cuDeviceGet},
		{roleDriver, "cuDeviceGetName", &api.cuDeviceGetName},
		{roleDriver, "cuDeviceTotalMem_v2", &api.cuDeviceTotalMem},
		{roleCublas, "cublasCreate_v2", &api.cublasCreate},
		{roleCublas, "cublasDestroy_v2", &api.cublasDestroy},
		{roleCublas, "cublasSetStream_v2", &api.cublasSetStream},
		{roleCublas, "cublasSetMathMode", &api.cublasSetMathMode},
		{roleCublas, "cublasGetVersion_v2", &api.cublasGetVersion},
		{roleCublas, "cublasSgemm_v2", &api.cublasSgemm},
	}
	for _, s := range syms {
		addr, err := purego.Dlsym(l.handles[s.role], s.name)
		if err != nil || addr == 0 {
			return fmt.Errorf("%w: symbol %s not found in %s: %v", ErrNoCUDA, s.name, l.paths[s.role], err)
		}
		purego.RegisterFunc(s.fptr, addr)
	}
	return nil
}

// cudaDevice is the device of the real backend.
type cudaDevice struct {
	api     cudaAPI
	ordinal int32
	stream  uintptr
	handle  uintptr
	desc    DeviceInfo
}

// openCUDA loads the libraries and opens device opts.Device.
func openCUDA(opts Options) (device, error) {
	l := newLoader(opts.LibDir, func(p string) (uintptr, error) {
		return purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	}, purego.Dlclose)
	libs, err := l.loadAll()
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread() // cudaSetDevice below holds for this thread only
	defer runtime.UnlockOSThread()
	d := &cudaDevice{ordinal: int32(opts.Device)}
	if err := d.api.bind(libs); err != nil {
		return nil, err
	}
	a := &d.api
	var count int32
	if e := a.getDeviceCount(&count); e != cudaSuccess {
		// cudaErrorNoDevice, cudaErrorInsufficientDriver (driver older
		// than the runtime) and the like: no usable device.
		return nil, fmt.Errorf("%w: %w", ErrNoCUDA, d.err("cudaGetDeviceCount", e))
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: no CUDA device present", ErrNoCUDA)
	}
	if d.ordinal >= count {
		return nil, fmt.Errorf("%w: device %d requested, %d present", ErrNoCUDA, d.ordinal, count)
	}
	if e := a.setDevice(d.ordinal); e != cudaSuccess {
		return nil, fmt.Errorf("%w: %w", ErrNoCUDA, d.err("cudaSetDevice", e))
	}
	d.desc = d.describe(libs)
	if e := a.streamCreate(&d.stream); e != cudaSuccess {
		return nil, d.err("cudaStreamCreate", e)
	}
	if s := a.cublasCreate(&d.handle); s != 0 {
		_ = a.streamDestroy(d.stream) // already failing
		return nil, cublasErr("cublasCreate_v2", s)
	}
	mode, modeName := int32(cublasDefaultMath), "CUBLAS_DEFAULT_MATH"
	if opts.Pedantic {
		mode, modeName = cublasPedanticMath, "CUBLAS_PEDANTIC_MATH"
	}
	d.desc.MathMode = modeName
	for _, step := range []struct {
		name string
		st   int32
	}{
		{"cublasSetStream_v2", a.cublasSetStream(d.handle, d.stream)},
		{"cublasSetMathMode", a.cublasSetMathMode(d.handle, mode)},
	} {
		if step.st != 0 {
			return nil, errors.Join(cublasErr(step.name, step.st), d.close())
		}
	}
	var v int32
	if a.cublasGetVersion(d.handle, &v) == 0 {
		d.desc.CUBLAS = int(v)
	}
	return d, nil
}

// describe gathers DeviceInfo; fields it cannot read stay zero.
func (d *cudaDevice) describe(libs loaded) DeviceInfo {
	a := &d.api
	info := DeviceInfo{Ordinal: int(d.ordinal), Libraries: map[string]string{}}
	for k, v := range libs.paths {
		info.Libraries[k] = v
	}
	var v int32
	if a.driverGetVersion(&v) == cudaSuccess {
		info.Driver = int(v)
	}
	if a.runtimeGetVersion(&v) == cudaSuccess {
		info.Runtime = int(v)
	}
	if a.deviceGetAttribute(&v, cudaDevAttrCCMajor, d.ordinal) == cudaSuccess {
		info.Major = int(v)
	}
	if a.deviceGetAttribute(&v, cudaDevAttrCCMinor, d.ordinal) == cudaSuccess {
		info.Minor = int(v)
	}
	var free, total uintptr
	if a.memGetInfo(&free, &total) == cudaSuccess {
		info.FreeBytes, info.TotalBytes = uint64(free), uint64(total)
	}
	var dev int32
	if a.cuInit(0) == 0 && a.cuDeviceGet(&dev, d.ordinal) == 0 {
		name := make([]byte, 256)
		if a.cuDeviceGetName(&name[0], int32(len(name)), dev) == 0 {
			n := 0
			for n < len(name) && name[n] != 0 {
				n++
			}
			info.Name = string(name[:n])
		}
		var bytes uintptr
		if info.TotalBytes == 0 && a.cuDeviceTotalMem(&bytes, dev) == 0 {
			info.TotalBytes = uint64(bytes)
		}
	}
	return info
}

// err formats a CUDA runtime error.
func (d *cudaDevice) err(call string, e int32) error {
	return fmt.Errorf("gpublas: %s: CUDA error %d: %s", call, e, d.api.getErrorString(e))
}

// cublasStatusNames names cublasStatus_t values (cublas_api.h).
var cublasStatusNames = map[int32]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

// cublasErr formats a cuBLAS status.
func cublasErr(call string, s int32) error {
	name, ok := cublasStatusNames[s]
	if !ok {
		name = "unknown status"
	}
	return fmt.Errorf("gpublas: %s: cuBLAS status %d (%s)", call, s, name)
}

// current makes the device current on this OS thread: the runtime's
// current device is per thread and goroutines move between threads. BLAS
// locks the goroutine to its thread for each sequence of calls; malloc,
// free, upload (the first call of a product) and close set the device.
func (d *cudaDevice) current() error {
	if e := d.api.setDevice(d.ordinal); e != cudaSuccess {
		return d.err("cudaSetDevice", e)
	}
	return nil
}

func (d *cudaDevice) malloc(n int) (devPtr, error) {
	if err := d.current(); err != nil {
		return 0, err
	}
	var p uintptr
	if e := d.api.malloc(&p, uintptr(n)*floatSize); e != cudaSuccess {
		return 0, d.err("cudaMalloc", e)
	}
	return devPtr(p), nil
}

func (d *cudaDevice) free(p devPtr) error {
	if err := d.current(); err != nil {
		return err
	}
	if e := d.api.free(uintptr(p)); e != cudaSuccess {
		return d.err("cudaFree", e)
	}
	return nil
}

func (d *cudaDevice) mallocHost(n int) ([]float32, error) {
	var p unsafe.Pointer
	if e := d.api.mallocHost(&p, uintptr(n)*floatSize); e != cudaSuccess {
		return nil, d.err("cudaMallocHost", e)
	}
	return unsafe.Slice((*float32)(p), n), nil
}

func (d *cudaDevice) freeHost(h []float32) error {
	if len(h) == 0 {
		return nil
	}
	if e := d.api.freeHost(unsafe.Pointer(unsafe.SliceData(h))); e != cudaSuccess {
		return d.err("cudaFreeHost", e)
	}
	return nil
}

func (d *cudaDevice) upload(dst devPtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	if err := d.current(); err != nil {
		return err
	}
	e := d.api.memcpyH2D(uintptr(dst), unsafe.Pointer(unsafe.SliceData(src)), uintptr(len(src))*floatSize, cudaMemcpyHostToDevice, d.stream)
	if e != cudaSuccess {
		return d.err("cudaMemcpyAsync (host to device)", e)
	}
	return nil
}

func (d *cudaDevice) download(dst []float32, src devPtr) error {
	if len(dst) == 0 {
		return nil
	}
	e := d.api.memcpyD2H(unsafe.Pointer(unsafe.SliceData(dst)), uintptr(src), uintptr(len(dst))*floatSize, cudaMemcpyDeviceToHost, d.stream)
	if e != cudaSuccess {
		return d.err("cudaMemcpyAsync (device to host)", e)
	}
	return nil
}

// op maps a gonum transpose flag to cublasOperation_t (real data: ConjTrans
// is Trans).
func op(t blas.Transpose) int32 {
	if isTrans(t) {
		return cublasOpT
	}
	return cublasOpN
}

func (d *cudaDevice) gemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) error {
	// alpha and beta are read on the host during the call
	// (CUBLAS_POINTER_MODE_HOST, the default).
	s := d.api.cublasSgemm(d.handle, op(tA), op(tB), int32(m), int32(n), int32(k),
		&alpha, uintptr(a), int32(lda), uintptr(b), int32(ldb), &beta, uintptr(c), int32(ldc))
	if s != 0 {
		return cublasErr("cublasSgemm_v2", s)
	}
	return nil
}

func (d *cudaDevice) sync() error {
	if e := d.api.streamSynchronize(d.stream); e != cudaSuccess {
		return d.err("cudaStreamSynchronize", e)
	}
	return nil
}

func (d *cudaDevice) info() DeviceInfo { return d.desc }

func (d *cudaDevice) close() error {
	var errs []error
	if err := d.current(); err != nil {
		errs = append(errs, err)
	}
	if d.handle != 0 {
		if s := d.api.cublasDestroy(d.handle); s != 0 {
			errs = append(errs, cublasErr("cublasDestroy_v2", s))
		}
		d.handle = 0
	}
	if d.stream != 0 {
		if e := d.api.streamDestroy(d.stream); e != cudaSuccess {
			errs = append(errs, d.err("cudaStreamDestroy", e))
		}
		d.stream = 0
	}
	return errors.Join(errs...)
}
