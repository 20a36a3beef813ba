package gpublas

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// EnvLibDir is the environment variable the command line reads for
// Options.LibDir when no --lib-dir flag is given.
const EnvLibDir = "GROUNDCAP_CUDA_LIB_DIR"

// DefaultThreshold is the m·n·k below which a product stays on the CPU: a
// 64×64×64 product takes the pure-Go BLAS about 60 µs, the order of one
// round trip to the device (three copies, one kernel, one synchronisation).
// On an H200 (docs/bench/gpu.md) it was the best of 32³…256³ for a
// paper-sized POS-SCAN step and within 5 % of the best at batch 32.
const DefaultThreshold = 64 * 64 * 64

// align is the offset granularity, in float32s, of the operands inside the
// device and staging buffers (256 bytes, so cuBLAS gets aligned pointers).
const align = 64

// growQuantum is the granularity, in float32s, of buffer sizes (1 MiB).
const growQuantum = 1 << 18

// ErrNoCUDA is wrapped by every error of New that means "no usable CUDA on
// this machine": a library or symbol missing, no driver, no device.
var ErrNoCUDA = errors.New("gpublas: CUDA unavailable")

// errDisabled reports a product that found the device disabled (closed or
// failed) after offload chose it; it runs on the CPU like any other.
var errDisabled = errors.New("gpublas: device disabled")

// Options configure New. The zero value is valid: libraries from the system
// library path, device 0, DefaultThreshold, default math, CPU fallback on
// device failure.
type Options struct {
	// LibDir lists directories (separated by the OS path-list separator,
	// ':') searched for the CUDA libraries before the system library path.
	// Empty means the system library path only.
	LibDir string
	// Device is the CUDA device ordinal; zero is the first device.
	Device int
	// Threshold is the m·n·k from which a product runs on the GPU; zero
	// means DefaultThreshold, 1 sends every product to the GPU. Negative is
	// invalid.
	Threshold int
	// Pedantic selects CUBLAS_PEDANTIC_MATH instead of CUBLAS_DEFAULT_MATH.
	// Neither uses TF32 or reduced-precision tensor-core paths.
	Pedantic bool
	// Strict makes a device failure during a product panic instead of
	// recomputing it on the CPU.
	Strict bool
	// Logf, if non-nil, receives one line on the first device failure.
	Logf func(format string, args ...any)
}

// Validate reports the first invalid field.
func (o Options) Validate() error {
	if o.Device < 0 {
		return fmt.Errorf("gpublas: Options.Device is %d, want >= 0", o.Device)
	}
	if o.Threshold < 0 {
		return fmt.Errorf("gpublas: Options.Threshold is %d, want >= 0 (0: default %d)", o.Threshold, DefaultThreshold)
	}
	return nil
}

// Stats counts what a BLAS did since it was created.
type Stats struct {
	// GPUCalls is the number of Sgemm calls computed on the device.
	GPUCalls int64
	// CPUCalls is the number of Sgemm calls kept on the CPU (under the
	// threshold, degenerate, or after a device failure).
	CPUCalls int64
	// Fallbacks is the number of calls that failed on the device and were
	// recomputed on the CPU (the first one disables the device).
	Fallbacks int64
	// DeviceAllocs and HostAllocs count buffer (re)allocations.
	DeviceAllocs, HostAllocs int64
	// BufferFloats is the current capacity, in float32s, of the device
	// buffer (the pinned staging buffer has the same size).
	BufferFloats int
}

// BLAS is gonum's pure-Go BLAS with Sgemm on the GPU. Create it with New;
// it is safe for concurrent use.
type BLAS struct {
	gonum.Implementation

	opts      Options
	threshold int64

	gpuCalls, cpuCalls, fallbacks atomic.Int64
	disabled                      atomic.Bool

	mu      sync.Mutex // guards everything below and all device work
	dev     device
	dbuf    devPtr    // device buffer, capacity bufCap float32s
	host    []float32 // pinned staging, len bufCap
	bufCap  int
	dAllocs int64
	hAllocs int64
	err     error // first device failure
	closed  bool
}

// New loads the CUDA libraries, opens the device and returns a BLAS that
// runs large products on it. The error wraps ErrNoCUDA when the machine
// cannot run CUDA (a library, a symbol, the driver or a device missing);
// it names every path tried.
func New(opts Options) (*BLAS, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dev, err := openCUDA(opts)
	if err != nil {
		return nil, err
	}
	return newBLAS(dev, opts), nil
}

// newBLAS wraps an opened device.
func newBLAS(dev device, opts Options) *BLAS {
	t := int64(opts.Threshold)
	if t == 0 {
		t = DefaultThreshold
	}
	return &BLAS{opts: opts, threshold: t, dev: dev}
}

// Info describes the device and the libraries loaded.
func (b *BLAS) Info() DeviceInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dev.info()
}

// Stats returns the counters.
func (b *BLAS) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{
		GPUCalls:     b.gpuCalls.Load(),
		CPUCalls:     b.cpuCalls.Load(),
		Fallbacks:    b.fallbacks.Load(),
		DeviceAllocs: b.dAllocs,
		HostAllocs:   b.hAllocs,
		BufferFloats: b.bufCap,
	}
}

// Err returns the first device failure, or nil. After a failure every
// product runs on the CPU.
func (b *BLAS) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Close frees the device and pinned buffers and the cuBLAS handle. Later
// products run on the CPU. Close is idempotent.
func (b *BLAS) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.disabled.Store(true)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var errs []error
	if b.bufCap > 0 {
		errs = append(errs, b.dev.free(b.dbuf), b.dev.freeHost(b.host))
		b.bufCap, b.host, b.dbuf = 0, nil, 0
	}
	errs = append(errs, b.dev.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gpublas: close: %w", err)
	}
	return nil
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, as
// gonum's Sgemm does (same argument checks and panics). Products with
// m·n·k at or above the threshold run on the GPU.
func (b *BLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	if !b.offload(tA, tB, m, n, k, alpha, len(a), lda, len(bm), ldb, len(c), ldc) {
		b.cpuCalls.Add(1)
		b.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	err := b.deviceSgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
	if err == nil {
		b.gpuCalls.Add(1)
		return
	}
	if errors.Is(err, errDisabled) {
		b.cpuCalls.Add(1)
		b.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	if b.opts.Strict {
		panic(err)
	}
	// c is written only after the device finished, so it still holds its
	// input values: recompute on the CPU.
	b.fallbacks.Add(1)
	b.cpuCalls.Add(1)
	b.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
}

// isTrans reports whether t transposes; false for invalid values too.
func isTrans(t blas.Transpose) bool { return t == blas.Trans || t == blas.ConjTrans }

// span is the number of elements a row-major rows×cols matrix with leading
// dimension ld occupies.
func span(rows, cols, ld int) int { return (rows-1)*ld + cols }

// offload decides whether a product goes to the device. It returns false
// for every argument gonum rejects (gonum then panics with its message), for
// quick returns, under the threshold, for sizes cuBLAS's 32-bit int
// arguments cannot express, and once the device is disabled.
func (b *BLAS) offload(tA, tB blas.Transpose, m, n, k int, alpha float32, la, lda, lb, ldb, lc, ldc int) bool {
	if b.disabled.Load() {
		return false
	}
	validT := func(t blas.Transpose) bool { return t == blas.NoTrans || isTrans(t) }
	if !validT(tA) || !validT(tB) || m <= 0 || n <= 0 || k <= 0 || alpha == 0 {
		return false
	}
	if int64(m)*int64(n)*int64(k) < b.threshold {
		return false
	}
	aRows, aCols := m, k
	if isTrans(tA) {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if isTrans(tB) {
		bRows, bCols = n, k
	}
	if lda < aCols || ldb < bCols || ldc < n {
		return false
	}
	if la < span(aRows, aCols, lda) || lb < span(bRows, bCols, ldb) || lc < span(m, n, ldc) {
		return false
	}
	for _, v := range [...]int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			return false
		}
	}
	return true
}

// roundUp rounds x up to a multiple of q.
func roundUp(x, q int) int { return (x + q - 1) / q * q }

// deviceSgemm runs one checked product on the device. It writes c only
// after the device finished without error.
func (b *BLAS) deviceSgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) error {
	aRows, aCols := m, k
	if isTrans(tA) {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if isTrans(tB) {
		bRows, bCols = n, k
	}
	aLen, bLen, cLen := span(aRows, aCols, lda), span(bRows, bCols, ldb), span(m, n, ldc)
	aOff := 0
	bOff := roundUp(aOff+aLen, align)
	cOff := roundUp(bOff+bLen, align)
	total := cOff + cLen

	b.mu.Lock()
	defer b.mu.Unlock()
	// One OS thread for the whole sequence: the CUDA runtime's current
	// device is per thread, and the device sets it at the first call.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if b.closed || b.err != nil {
		// Disabled between offload and here; not a new failure.
		return errDisabled
	}
	if err := b.reserve(total); err != nil {
		return b.fail(err)
	}
	h := b.host
	hA, hB, hC := h[aOff:aOff+aLen], h[bOff:bOff+bLen], h[cOff:cOff+cLen]
	copy(hA, a[:aLen])
	copy(hB, bm[:bLen])
	dA, dB, dC := b.dbuf+devPtr(aOff*floatSize), b.dbuf+devPtr(bOff*floatSize), b.dbuf+devPtr(cOff*floatSize)
	if err := b.dev.upload(dA, hA); err != nil {
		return b.fail(err)
	}
	if err := b.dev.upload(dB, hB); err != nil {
		return b.fail(err)
	}
	if beta != 0 {
		copy(hC, c[:cLen])
		if err := b.dev.upload(dC, hC); err != nil {
			return b.fail(err)
		}
	}
	// Row-major C (m×n) is column-major Cᵀ (n×m): Cᵀ = op(B)ᵀ·op(A)ᵀ.
	if err := b.dev.gemm(tB, tA, n, m, k, alpha, dB, ldb, dA, lda, beta, dC, ldc); err != nil {
		return b.fail(err)
	}
	if err := b.dev.download(hC, dC); err != nil {
		return b.fail(err)
	}
	if err := b.dev.sync(); err != nil {
		return b.fail(err)
	}
	// Copy row by row: the gaps between rows (ldc > n) belong to the caller
	// and were not uploaded when beta == 0.
	for i := 0; i < m; i++ {
		copy(c[i*ldc:i*ldc+n], hC[i*ldc:i*ldc+n])
	}
	return nil
}

// reserve makes the device and staging buffers hold at least n float32s,
// growing both (never shrinking). Called with mu held.
func (b *BLAS) reserve(n int) error {
	if n <= b.bufCap {
		return nil
	}
	newCap := max(roundUp(n, growQuantum), b.bufCap+b.bufCap/2)
	if b.bufCap > 0 {
		// Wait for nothing: every call ends with sync, the old buffers are idle.
		errs := errors.Join(b.dev.free(b.dbuf), b.dev.freeHost(b.host))
		b.bufCap, b.host, b.dbuf = 0, nil, 0
		if errs != nil {
			return fmt.Errorf("gpublas: free buffers: %w", errs)
		}
	}
	d, err := b.dev.malloc(newCap)
	if err != nil {
		return fmt.Errorf("gpublas: allocate %d MiB on the device: %w", newCap*floatSize>>20, err)
	}
	b.dAllocs++
	h, err := b.dev.mallocHost(newCap)
	if err != nil {
		return errors.Join(fmt.Errorf("gpublas: allocate %d MiB of pinned host memory: %w", newCap*floatSize>>20, err), b.dev.free(d))
	}
	b.hAllocs++
	b.dbuf, b.host, b.bufCap = d, h, newCap
	return nil
}

// fail records the first device failure, disables the device and returns
// err. Called with mu held.
func (b *BLAS) fail(err error) error {
	if b.err == nil {
		b.err = err
		if b.opts.Logf != nil {
			b.opts.Logf("gpublas: device failure, products continue on the CPU: %v", err)
		}
	}
	b.disabled.Store(true)
	return err
}
