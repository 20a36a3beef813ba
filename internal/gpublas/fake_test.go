package gpublas

import (
	"fmt"
	"sort"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
)

// fakeDevice emulates the device layer on the CPU for tests: device
// memory is a set of Go slices at synthetic addresses with gaps between
// them (so an out-of-range access is reported, not silently served by a
// neighbour), copies and products are queued and run at sync (so reading
// results before sync gives stale data, as on a GPU), and gemm follows
// cuBLAS's column-major definition with a naive loop, independent of the
// operand swapping under test. It also checks that copies use pinned
// staging memory and counts every call.
type fakeDevice struct {
	mu     sync.Mutex
	next   devPtr
	allocs map[devPtr][]float32
	hosts  map[uintptr]int // live pinned buffers: base address -> length
	queue  []func()
	calls  map[string]int
	// failAt makes the call named key fail when its count reaches the value.
	failAt map[string]int
}

func newFakeDevice() *fakeDevice {
	return &fakeDevice{
		next:   0x7f0000000000,
		allocs: map[devPtr][]float32{},
		hosts:  map[uintptr]int{},
		calls:  map[string]int{},
		failAt: map[string]int{},
	}
}

// count records a call and returns the injected failure, if any.
func (f *fakeDevice) count(name string) error {
	f.calls[name]++
	if n, ok := f.failAt[name]; ok && f.calls[name] == n {
		return fmt.Errorf("fake %s failure (call %d)", name, n)
	}
	return nil
}

// Calls returns how many times name was called.
func (f *fakeDevice) Calls(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// live returns the number of live device and pinned allocations.
func (f *fakeDevice) live() (dev, host int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.allocs), len(f.hosts)
}

// resolve returns the n floats of device memory at p.
func (f *fakeDevice) resolve(p devPtr, n int) ([]float32, error) {
	bases := make([]devPtr, 0, len(f.allocs))
	for b := range f.allocs {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for _, b := range bases {
		mem := f.allocs[b]
		if p < b || p >= b+devPtr(len(mem)*floatSize) {
			continue
		}
		if (p-b)%floatSize != 0 {
			return nil, fmt.Errorf("fake: misaligned device address %#x", p)
		}
		off := int(p-b) / floatSize
		if off+n > len(mem) {
			return nil, fmt.Errorf("fake: access of %d floats at %#x overruns its allocation (%d floats at %#x)", n, p, len(mem), b)
		}
		return mem[off : off+n], nil
	}
	return nil, fmt.Errorf("fake: address %#x is not in a live allocation", p)
}

// pinned reports whether s lies inside a live pinned buffer.
func (f *fakeDevice) pinned(s []float32) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	for b, n := range f.hosts {
		if p >= b && p+uintptr(len(s))*floatSize <= b+uintptr(n)*floatSize {
			return true
		}
	}
	return false
}

func (f *fakeDevice) malloc(n int) (devPtr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("malloc"); err != nil {
		return 0, err
	}
	p := f.next
	mem := make([]float32, n)
	for i := range mem {
		mem[i] = float32(i%7) + 1e6 // garbage, as cudaMalloc leaves it
	}
	f.allocs[p] = mem
	f.next += devPtr(n*floatSize) + 4096
	return p, nil
}

func (f *fakeDevice) free(p devPtr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("free"); err != nil {
		return err
	}
	if _, ok := f.allocs[p]; !ok {
		return fmt.Errorf("fake: free of %#x, not an allocation", p)
	}
	delete(f.allocs, p)
	return nil
}

func (f *fakeDevice) mallocHost(n int) ([]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("mallocHost"); err != nil {
		return nil, err
	}
	h := make([]float32, n)
	f.hosts[uintptr(unsafe.Pointer(unsafe.SliceData(h)))] = n
	return h, nil
}

func (f *fakeDevice) freeHost(h []float32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("freeHost"); err != nil {
		return err
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(h)))
	if _, ok := f.hosts[p]; !ok {
		return fmt.Errorf("fake: freeHost of %#x, not a pinned buffer", p)
	}
	delete(f.hosts, p)
	return nil
}

func (f *fakeDevice) upload(dst devPtr, src []float32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("upload"); err != nil {
		return err
	}
	if !f.pinned(src) {
		return fmt.Errorf("fake: upload from memory that is not pinned staging")
	}
	d, err := f.resolve(dst, len(src))
	if err != nil {
		return err
	}
	f.queue = append(f.queue, func() { copy(d, src) })
	return nil
}

func (f *fakeDevice) download(dst []float32, src devPtr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("download"); err != nil {
		return err
	}
	if !f.pinned(dst) {
		return fmt.Errorf("fake: download into memory that is not pinned staging")
	}
	s, err := f.resolve(src, len(dst))
	if err != nil {
		return err
	}
	f.queue = append(f.queue, func() { copy(dst, s) })
	return nil
}

// gemm checks arguments as cuBLAS does (CUBLAS_STATUS_INVALID_VALUE) and
// queues the column-major product.
func (f *fakeDevice) gemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.count("gemm"); err != nil {
		return err
	}
	// Column-major storage: op(A) is m×k, so A is m×k (N) or k×m (T).
	aRows, aCols := m, k
	if isTrans(tA) {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if isTrans(tB) {
		bRows, bCols = n, k
	}
	if m < 0 || n < 0 || k < 0 || lda < max(1, aRows) || ldb < max(1, bRows) || ldc < max(1, m) {
		return fmt.Errorf("fake: CUBLAS_STATUS_INVALID_VALUE (m=%d n=%d k=%d lda=%d ldb=%d ldc=%d)", m, n, k, lda, ldb, ldc)
	}
	A, err := f.resolve(a, (aCols-1)*lda+aRows)
	if err != nil {
		return fmt.Errorf("A: %w", err)
	}
	B, err := f.resolve(b, (bCols-1)*ldb+bRows)
	if err != nil {
		return fmt.Errorf("B: %w", err)
	}
	C, err := f.resolve(c, (n-1)*ldc+m)
	if err != nil {
		return fmt.Errorf("C: %w", err)
	}
	f.queue = append(f.queue, func() { colMajorGemm(isTrans(tA), isTrans(tB), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc) })
	return nil
}

// colMajorGemm is the reference definition of cuBLAS's sgemm: element (i,j)
// of X is X[i + j·ldx]; sums are accumulated in float64.
func colMajorGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	opA := func(i, l int) float64 {
		if tA {
			return float64(a[l+i*lda])
		}
		return float64(a[i+l*lda])
	}
	opB := func(l, j int) float64 {
		if tB {
			return float64(b[j+l*ldb])
		}
		return float64(b[l+j*ldb])
	}
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			var s float64
			for l := 0; l < k; l++ {
				s += opA(i, l) * opB(l, j)
			}
			v := float64(alpha) * s
			if beta != 0 { // cuBLAS does not read C when beta is zero
				v += float64(beta) * float64(c[i+j*ldc])
			}
			c[i+j*ldc] = float32(v)
		}
	}
}

func (f *fakeDevice) sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue
	f.queue = nil
	if err := f.count("sync"); err != nil {
		return err // the queued work is lost, as after a device fault
	}
	for _, op := range q {
		op()
	}
	return nil
}

func (f *fakeDevice) info() DeviceInfo {
	return DeviceInfo{Name: "fake", Libraries: map[string]string{}, MathMode: "CUBLAS_DEFAULT_MATH"}
}

func (f *fakeDevice) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count("close")
}
