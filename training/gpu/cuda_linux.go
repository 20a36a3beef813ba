//go:build linux

package gpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/groundcap/groundcap/internal/gpublas"
)

// CUDA driver constants (cuda.h); stable across CUDA 12 and 13.
const (
	cuSuccess               = 0
	cuErrorOutOfMemory      = 2
	cuAttrCCMajor           = 75
	cuAttrCCMinor           = 76
	cuJitInfoLogBuffer      = 3
	cuJitInfoLogBufferSize  = 4
	cuJitErrorLogBuffer     = 5
	cuJitErrorLogBufferSize = 6
	cublasOpN               = 0
	cublasOpT               = 1
	cublasDefaultMath       = 0
	cublasPedanticMath      = 2
)

// cuAPI holds the driver and cuBLAS functions, bound with purego.
type cuAPI struct {
	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(v *int32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr, dev int32) int32
	cuDeviceTotalMem          func(bytes *uintptr, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuStreamCreate            func(s *uintptr, flags uint32) int32
	cuStreamDestroy           func(s uintptr) int32
	cuStreamSynchronize       func(s uintptr) int32
	cuMemAlloc                func(p *uintptr, bytes uintptr) int32
	cuMemFree                 func(p uintptr) int32
	cuMemGetInfo              func(free, total *uintptr) int32
	cuMemAllocHost            func(p *unsafe.Pointer, bytes uintptr) int32
	cuMemFreeHost             func(p unsafe.Pointer) int32
	cuMemcpyHtoDAsync         func(dst uintptr, src unsafe.Pointer, bytes uintptr, s uintptr) int32
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src uintptr, bytes uintptr, s uintptr) int32
	cuMemsetD32Async          func(dst uintptr, v uint32, n uintptr, s uintptr) int32
	cuModuleLoadDataEx        func(m *uintptr, image *byte, nopts uint32, opts *int32, vals *uintptr) int32
	cuModuleGetFunction       func(f *uintptr, m uintptr, name string) int32
	cuModuleUnload            func(m uintptr) int32
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuGetErrorName            func(e int32, s **byte) int32
	cuGetErrorString          func(e int32, s **byte) int32

	cublasCreate      func(h *uintptr) int32
	cublasDestroy     func(h uintptr) int32
	cublasSetStream   func(h, s uintptr) int32
	cublasSetMathMode func(h uintptr, mode int32) int32
	cublasGetVersion  func(h uintptr, v *int32) int32
	cublasSgemm       func(h uintptr, tA, tB, m, n, k int32, alpha *float32, a uintptr, lda int32, b uintptr, ldb int32, beta *float32, c uintptr, ldc int32) int32
	cublasSgemmSB     func(h uintptr, tA, tB, m, n, k int32, alpha *float32, a uintptr, lda int32, sa int64, b uintptr, ldb int32, sb int64, beta *float32, c uintptr, ldc int32, sc int64, batch int32) int32
}

// bind resolves the symbols from the driver and cuBLAS handles.
func (a *cuAPI) bind(libs *gpublas.Libraries) error {
	drv, blas := libs.Handles["driver"], libs.Handles["cublas"]
	syms := []struct {
		h    uintptr
		name string
		fptr any
	}{
		{drv, "cuInit", &a.cuInit},
		{drv, "cuDriverGetVersion", &a.cuDriverGetVersion},
		{drv, "cuDeviceGetCount", &a.cuDeviceGetCount},
		{drv, "cuDeviceGet", &a.cuDeviceGet},
		{drv, "cuDeviceGetName", &a.cuDeviceGetName},
		{drv, "cuDeviceGetAttribute", &a.cuDeviceGetAttribute},
		{drv, "cuDeviceTotalMem_v2", &a.cuDeviceTotalMem},
		{drv, "cuDevicePrimaryCtxRetain", &a.cuDevicePrimaryCtxRetain},
		{drv, "cuDevicePrimaryCtxRelease_v2", &a.cuDevicePrimaryCtxRelease},
		{drv, "cuCtxSetCurrent", &a.cuCtxSetCurrent},
		{drv, "cuStreamCreate", &a.cuStreamCreate},
		{drv, "cuStreamDestroy_v2", &a.cuStreamDestroy},
		{drv, "cuStreamSynchronize", &a.cuStreamSynchronize},
		{drv, "cuMemAlloc_v2", &a.cuMemAlloc},
		{drv, "cuMemFree_v2", &a.cuMemFree},
		{drv, "cuMemGetInfo_v2", &a.cuMemGetInfo},
		{drv, "cuMemAllocHost_v2", &a.cuMemAllocHost},
		{drv, "cuMemFreeHost", &a.cuMemFreeHost},
		{drv, "cuMemcpyHtoDAsync_v2", &a.cuMemcpyHtoDAsync},
		{drv, "cuMemcpyDtoHAsync_v2", &a.cuMemcpyDtoHAsync},
		{drv, "cuMemsetD32Async", &a.cuMemsetD32Async},
		{drv, "cuModuleLoadDataEx", &a.cuModuleLoadDataEx},
		{drv, "cuModuleGetFunction", &a.cuModuleGetFunction},
		{drv, "cuModuleUnload", &a.cuModuleUnload},
		{drv, "cuLaunchKernel", &a.cuLaunchKernel},
		{drv, "cuGetErrorName", &a.cuGetErrorName},
		{drv, "cuGetErrorString", &a.cuGetErrorString},
		{blas, "cublasCreate_v2", &a.cublasCreate},
		{blas, "cublasDestroy_v2", &a.cublasDestroy},
		{blas, "cublasSetStream_v2", &a.cublasSetStream},
		{blas, "cublasSetMathMode", &a.cublasSetMathMode},
		{blas, "cublasGetVersion_v2", &a.cublasGetVersion},
		{blas, "cublasSgemm_v2", &a.cublasSgemm},
		{blas, "cublasSgemmStridedBatched", &a.cublasSgemmSB},
	}
	for _, s := range syms {
		addr, err := purego.Dlsym(s.h, s.name)
		if err != nil || addr == 0 {
			return fmt.Errorf("%w: symbol %s not found: %v", ErrNoDevice, s.name, err)
		}
		purego.RegisterFunc(s.fptr, addr)
	}
	return nil
}

// cudaDevice is a Device on an NVIDIA GPU.
type cudaDevice struct {
	api     cuAPI
	ordinal int32
	ctx     uintptr
	stream  uintptr
	blas    uintptr
	module  uintptr
	src     *Source
	funcs   map[string]uintptr
	info    Info

	mu     sync.Mutex
	args   argPack
	closed bool
}

// openCUDA is OpenCUDA on linux, with validated options.
func openCUDA(opts CUDAOptions) (Device, error) {
	src, err := Sources()
	if err != nil {
		return nil, err
	}
	libs, err := gpublas.LoadLibraries(opts.LibDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	d := &cudaDevice{ordinal: int32(opts.Device), src: src, funcs: map[string]uintptr{}}
	if err := d.api.bind(libs); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.open(libs, opts); err != nil {
		return nil, errors.Join(err, d.release())
	}
	return d, nil
}

// open initialises the device, stream, cuBLAS handle and kernels. Called on a locked thread.
func (d *cudaDevice) open(libs *gpublas.Libraries, opts CUDAOptions) error {
	a := &d.api
	if e := a.cuInit(0); e != cuSuccess {
		return fmt.Errorf("%w: %w", ErrNoDevice, d.err("cuInit", e))
	}
	var count, dev int32
	if e := a.cuDeviceGetCount(&count); e != cuSuccess {
		return fmt.Errorf("%w: %w", ErrNoDevice, d.err("cuDeviceGetCount", e))
	}
	if d.ordinal >= count {
		return fmt.Errorf("%w: device %d requested, %d present", ErrNoDevice, d.ordinal, count)
	}
	if e := a.cuDeviceGet(&dev, d.ordinal); e != cuSuccess {
		return fmt.Errorf("%w: %w", ErrNoDevice, d.err("cuDeviceGet", e))
	}
	if e := a.cuDevicePrimaryCtxRetain(&d.ctx, dev); e != cuSuccess {
		return d.err("cuDevicePrimaryCtxRetain", e)
	}
	if e := a.cuCtxSetCurrent(d.ctx); e != cuSuccess {
		return d.err("cuCtxSetCurrent", e)
	}
	d.info = d.describe(libs, dev)
	if e := a.cuStreamCreate(&d.stream, 0); e != cuSuccess {
		return d.err("cuStreamCreate", e)
	}
	if s := a.cublasCreate(&d.blas); s != 0 {
		return blasErr("cublasCreate_v2", s)
	}
	mode := int32(cublasDefaultMath)
	if opts.Pedantic {
		mode = cublasPedanticMath
	}
	if s := a.cublasSetStream(d.blas, d.stream); s != 0 {
		return blasErr("cublasSetStream_v2", s)
	}
	if s := a.cublasSetMathMode(d.blas, mode); s != 0 {
		return blasErr("cublasSetMathMode", s)
	}
	var v int32
	if a.cublasGetVersion(d.blas, &v) == 0 {
		d.info.Libraries["cublas version"] = fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
	}
	return d.loadKernels(libs, opts)
}

// describe gathers the Info of device dev; fields it cannot read stay empty.
func (d *cudaDevice) describe(libs *gpublas.Libraries, dev int32) Info {
	a := &d.api
	info := Info{Kind: "cuda", Libraries: map[string]string{}}
	for k, v := range libs.Paths {
		info.Libraries[k] = v
	}
	name := make([]byte, 256)
	if a.cuDeviceGetName(&name[0], int32(len(name)), dev) == cuSuccess {
		info.Name = cString(&name[0])
	}
	var major, minor int32
	if a.cuDeviceGetAttribute(&major, cuAttrCCMajor, dev) == cuSuccess && a.cuDeviceGetAttribute(&minor, cuAttrCCMinor, dev) == cuSuccess {
		info.Arch = fmt.Sprintf("sm_%d%d", major, minor)
	}
	var free, total uintptr
	if a.cuMemGetInfo(&free, &total) == cuSuccess {
		info.FreeBytes, info.TotalBytes = uint64(free), uint64(total)
	}
	var v int32
	if a.cuDriverGetVersion(&v) == cuSuccess {
		info.Libraries["driver version"] = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	return info
}

// loadKernels loads the kernel module as opts.Kernels says and looks up every kernel.
func (d *cudaDevice) loadKernels(libs *gpublas.Libraries, opts CUDAOptions) error {
	var nvrtcErr error
	if opts.Kernels != KernelsEmbedded {
		if d.info.Arch == "" {
			return fmt.Errorf("gpu: the device's compute capability is unknown; NVRTC needs it")
		}
		how, err := nvrtcModule(libs, d.src, d.info.Arch, opts.CacheDir, d.loadPTX)
		if err == nil {
			d.info.Compiler = how
			return d.lookupKernels()
		}
		// Only a missing NVRTC falls back (and says so in Info); a failed compile is an error.
		if opts.Kernels == KernelsNVRTC || !errors.Is(err, ErrNoNVRTC) {
			return err
		}
		nvrtcErr = err
	}
	if embeddedPTXHash != d.src.Hash {
		return errors.Join(nvrtcErr, fmt.Errorf("gpu: the embedded PTX was built from other kernel sources (hash %.12s, sources %.12s): run go generate ./training/gpu", embeddedPTXHash, d.src.Hash))
	}
	if err := d.loadPTX([]byte(embeddedPTX)); err != nil {
		return errors.Join(nvrtcErr, err)
	}
	d.info.Compiler = "embedded PTX (" + embeddedPTXCompiler + ", " + embeddedPTXArch + ")"
	if nvrtcErr != nil {
		d.info.Compiler += "; NVRTC unavailable: " + strings.SplitN(nvrtcErr.Error(), "\n", 2)[0]
	}
	return d.lookupKernels()
}

// loadPTX loads a PTX module (the driver compiles it for the device), replacing none: it is
// called once per device. A JIT failure returns the driver's log.
func (d *cudaDevice) loadPTX(ptx []byte) error {
	img := append(append([]byte(nil), ptx...), 0)
	logBuf := make([]byte, 16<<10)
	opts := []int32{cuJitErrorLogBuffer, cuJitErrorLogBufferSize}
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	var m uintptr
	e := d.api.cuModuleLoadDataEx(&m, &img[0], uint32(len(opts)), &opts[0], &vals[0])
	runtime.KeepAlive(logBuf)
	if e != cuSuccess {
		return &CompileError{Compiler: "the CUDA driver's PTX JIT", Log: cString(&logBuf[0]), Err: d.err("cuModuleLoadDataEx", e)}
	}
	d.module = m
	return nil
}

// lookupKernels finds every kernel of the sources in the loaded module.
func (d *cudaDevice) lookupKernels() error {
	for _, name := range d.src.Names() {
		var f uintptr
		if e := d.api.cuModuleGetFunction(&f, d.module, name); e != cuSuccess {
			return fmt.Errorf("gpu: kernel %s: %w", name, d.err("cuModuleGetFunction", e))
		}
		d.funcs[name] = f
	}
	return nil
}

// cString returns the NUL-terminated string at p (C memory or a Go byte buffer).
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// err formats a driver error with its name and description.
func (d *cudaDevice) err(call string, e int32) error {
	var name, desc *byte
	d.api.cuGetErrorName(e, &name)
	d.api.cuGetErrorString(e, &desc)
	return fmt.Errorf("gpu: %s: CUDA error %d (%s: %s)", call, e, cString(name), cString(desc))
}

// blasNames names cublasStatus_t values (cublas_api.h).
var blasNames = map[int32]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
	8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
}

func blasErr(call string, s int32) error {
	name, ok := blasNames[s]
	if !ok {
		name = "unknown status"
	}
	return fmt.Errorf("gpu: %s: cuBLAS status %d (%s)", call, s, name)
}

// begin locks the calling goroutine to its thread and makes the context current on it; the
// returned function undoes the lock. Every call into the driver runs between the two.
func (d *cudaDevice) begin() (func(), error) {
	d.mu.Lock()
	runtime.LockOSThread()
	end := func() {
		runtime.UnlockOSThread()
		d.mu.Unlock()
	}
	if d.closed {
		end()
		return nil, errors.New("gpu: device closed")
	}
	if e := d.api.cuCtxSetCurrent(d.ctx); e != cuSuccess {
		end()
		return nil, d.err("cuCtxSetCurrent", e)
	}
	return end, nil
}

func (d *cudaDevice) Info() Info { return d.info }

func (d *cudaDevice) Alloc(n int) (Buf, error) {
	if n < 0 {
		return Buf{}, fmt.Errorf("gpu: Alloc(%d)", n)
	}
	end, err := d.begin()
	if err != nil {
		return Buf{}, err
	}
	defer end()
	var p uintptr
	bytes := uintptr(max(n, 1)) * WordSize
	if e := d.api.cuMemAlloc(&p, bytes); e != cuSuccess {
		if e == cuErrorOutOfMemory {
			var free, total uintptr
			d.api.cuMemGetInfo(&free, &total)
			return Buf{}, fmt.Errorf("%w: %.1f MiB requested, %.1f MiB free of %.1f MiB: %w", ErrOutOfMemory,
				float64(bytes)/(1<<20), float64(free)/(1<<20), float64(total)/(1<<20), d.err("cuMemAlloc_v2", e))
		}
		return Buf{}, d.err("cuMemAlloc_v2", e)
	}
	return Buf{Ptr: Ptr(p), N: n}, nil
}

func (d *cudaDevice) Free(b Buf) error {
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuMemFree(uintptr(b.Ptr)); e != cuSuccess {
		return d.err("cuMemFree_v2", e)
	}
	return nil
}

// copyIn copies bytes from host memory at src to dst and waits for it.
func (d *cudaDevice) copyIn(dst Ptr, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuMemcpyHtoDAsync(uintptr(dst), src, uintptr(bytes), d.stream); e != cuSuccess {
		return d.err("cuMemcpyHtoDAsync_v2", e)
	}
	if e := d.api.cuStreamSynchronize(d.stream); e != cuSuccess {
		return d.err("cuStreamSynchronize", e)
	}
	return nil
}

// copyOut waits for the queued work and copies bytes from src to host memory at dst.
func (d *cudaDevice) copyOut(dst unsafe.Pointer, src Ptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuMemcpyDtoHAsync(dst, uintptr(src), uintptr(bytes), d.stream); e != cuSuccess {
		return d.err("cuMemcpyDtoHAsync_v2", e)
	}
	if e := d.api.cuStreamSynchronize(d.stream); e != cuSuccess {
		return d.err("cuStreamSynchronize", e)
	}
	return nil
}

func (d *cudaDevice) Write(dst Buf, src []float32) error {
	if len(src) > dst.N {
		return fmt.Errorf("gpu: Write of %d words into a buffer of %d", len(src), dst.N)
	}
	if len(src) == 0 {
		return nil
	}
	return d.copyIn(dst.Ptr, unsafe.Pointer(&src[0]), len(src)*WordSize)
}

func (d *cudaDevice) WriteInt32(dst Buf, src []int32) error {
	if len(src) > dst.N {
		return fmt.Errorf("gpu: WriteInt32 of %d words into a buffer of %d", len(src), dst.N)
	}
	if len(src) == 0 {
		return nil
	}
	return d.copyIn(dst.Ptr, unsafe.Pointer(&src[0]), len(src)*WordSize)
}

func (d *cudaDevice) Read(dst []float32, src Buf) error {
	if len(dst) > src.N {
		return fmt.Errorf("gpu: Read of %d words from a buffer of %d", len(dst), src.N)
	}
	if len(dst) == 0 {
		return d.Sync()
	}
	return d.copyOut(unsafe.Pointer(&dst[0]), src.Ptr, len(dst)*WordSize)
}

func (d *cudaDevice) ReadFloat64(dst []float64, src Buf) error {
	if 2*len(dst) > src.N {
		return fmt.Errorf("gpu: ReadFloat64 of %d values from a buffer of %d words", len(dst), src.N)
	}
	if len(dst) == 0 {
		return d.Sync()
	}
	return d.copyOut(unsafe.Pointer(&dst[0]), src.Ptr, len(dst)*8)
}

func (d *cudaDevice) Zero(dst Buf) error {
	if dst.N == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuMemsetD32Async(uintptr(dst.Ptr), 0, uintptr(dst.N), d.stream); e != cuSuccess {
		return d.err("cuMemsetD32Async", e)
	}
	return nil
}

func (d *cudaDevice) HostAlloc(n int) ([]float32, error) {
	if n <= 0 {
		return nil, nil
	}
	end, err := d.begin()
	if err != nil {
		return nil, err
	}
	defer end()
	var p unsafe.Pointer
	if e := d.api.cuMemAllocHost(&p, uintptr(n)*WordSize); e != cuSuccess {
		return nil, d.err("cuMemAllocHost_v2", e)
	}
	return unsafe.Slice((*float32)(p), n), nil
}

func (d *cudaDevice) HostFree(h []float32) error {
	if len(h) == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuMemFreeHost(unsafe.Pointer(&h[0])); e != cuSuccess {
		return d.err("cuMemFreeHost", e)
	}
	return nil
}

func (d *cudaDevice) Launch(name string, grid Grid, block int, args ...any) error {
	k, ok := d.src.Kernels[name]
	if !ok {
		return fmt.Errorf("gpu: no kernel %q", name)
	}
	gy := max(grid.Y, 1)
	if grid.X < 1 || grid.X > math.MaxInt32 || gy > 65535 || block < 1 || block > 1024 {
		return fmt.Errorf("gpu: kernel %s: grid %d×%d, block %d", name, grid.X, gy, block)
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	kp, err := d.args.pack(k, args)
	if err != nil {
		return err
	}
	e := d.api.cuLaunchKernel(d.funcs[name], uint32(grid.X), uint32(gy), 1, uint32(block), 1, 1, 0, d.stream, kp, nil)
	runtime.KeepAlive(&d.args)
	if e != cuSuccess {
		return fmt.Errorf("gpu: kernel %s: %w", name, d.err("cuLaunchKernel", e))
	}
	return nil
}

// op maps a transpose flag to cublasOperation_t.
func op(t bool) int32 {
	if t {
		return cublasOpT
	}
	return cublasOpN
}

// checkGemm reports sizes cuBLAS's 32-bit arguments cannot express or leading dimensions too
// small for a row-major product.
func checkGemm(tA, tB bool, m, n, k, lda, ldb, ldc int) error {
	aCols, bCols := k, n
	if tA {
		aCols = m
	}
	if tB {
		bCols = k
	}
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v < 0 || v > math.MaxInt32 {
			return fmt.Errorf("gpu: Gemm m=%d n=%d k=%d lda=%d ldb=%d ldc=%d out of range", m, n, k, lda, ldb, ldc)
		}
	}
	if lda < max(1, aCols) || ldb < max(1, bCols) || ldc < max(1, n) {
		return fmt.Errorf("gpu: Gemm m=%d n=%d k=%d: leading dimensions %d, %d, %d too small", m, n, k, lda, ldb, ldc)
	}
	return nil
}

func (d *cudaDevice) Gemm(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	if err := checkGemm(tA, tB, m, n, k, lda, ldb, ldc); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	// Row-major C (m×n) is column-major Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ: operands and m, n swapped.
	s := d.api.cublasSgemm(d.blas, op(tB), op(tA), int32(n), int32(m), int32(k), &alpha, uintptr(b), int32(ldb), uintptr(a), int32(lda), &beta, uintptr(c), int32(ldc))
	if s != 0 {
		return blasErr("cublasSgemm_v2", s)
	}
	return nil
}

func (d *cudaDevice) GemmStrided(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda, sa int, b Ptr, ldb, sb int, beta float32, c Ptr, ldc, sc int, batch int) error {
	if err := checkGemm(tA, tB, m, n, k, lda, ldb, ldc); err != nil {
		return err
	}
	if batch < 0 || batch > math.MaxInt32 {
		return fmt.Errorf("gpu: GemmStrided batch %d", batch)
	}
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	s := d.api.cublasSgemmSB(d.blas, op(tB), op(tA), int32(n), int32(m), int32(k), &alpha,
		uintptr(b), int32(ldb), int64(sb), uintptr(a), int32(lda), int64(sa), &beta, uintptr(c), int32(ldc), int64(sc), int32(batch))
	if s != 0 {
		return blasErr("cublasSgemmStridedBatched", s)
	}
	return nil
}

func (d *cudaDevice) Sync() error {
	end, err := d.begin()
	if err != nil {
		return err
	}
	defer end()
	if e := d.api.cuStreamSynchronize(d.stream); e != cuSuccess {
		return d.err("cuStreamSynchronize", e)
	}
	return nil
}

func (d *cudaDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err := d.release()
	d.closed = true
	return err
}

// release destroys what open created. Called on a locked thread.
func (d *cudaDevice) release() error {
	a := &d.api
	if d.ctx == 0 {
		return nil
	}
	var errs []error
	if e := a.cuCtxSetCurrent(d.ctx); e != cuSuccess {
		errs = append(errs, d.err("cuCtxSetCurrent", e))
	}
	if d.stream != 0 {
		if e := a.cuStreamSynchronize(d.stream); e != cuSuccess {
			errs = append(errs, d.err("cuStreamSynchronize", e))
		}
	}
	if d.blas != 0 {
		if s := a.cublasDestroy(d.blas); s != 0 {
			errs = append(errs, blasErr("cublasDestroy_v2", s))
		}
		d.blas = 0
	}
	if d.module != 0 {
		if e := a.cuModuleUnload(d.module); e != cuSuccess {
			errs = append(errs, d.err("cuModuleUnload", e))
		}
		d.module = 0
	}
	if d.stream != 0 {
		if e := a.cuStreamDestroy(d.stream); e != cuSuccess {
			errs = append(errs, d.err("cuStreamDestroy_v2", e))
		}
		d.stream = 0
	}
	var dev int32
	if a.cuDeviceGet(&dev, d.ordinal) == cuSuccess {
		if e := a.cuDevicePrimaryCtxRelease(dev); e != cuSuccess {
			errs = append(errs, d.err("cuDevicePrimaryCtxRelease_v2", e))
		}
	}
	d.ctx = 0
	return errors.Join(errs...)
}
