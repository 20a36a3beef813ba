//go:build linux

package gpu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// emuFlags are the C compiler's flags: C11, no contraction of a·b + c into fused
// multiply-adds and no fast math, so the emulation rounds as the kernels are written.
var emuFlags = []string{"-std=c11", "-O2", "-fPIC", "-shared", "-Wall", "-ffp-contract=off", "-fno-fast-math"}

// guardWords are the canary words before and after every emulated allocation.
const guardWords = 16

// Bit patterns of the emulated memory: canaries around allocations and the NaN that fills a
// fresh allocation (a kernel that reads memory nobody wrote gets NaNs).
const (
	canary    = 0x7fa5a5a5
	freshBits = 0x7fc0dead
)

// emulator is the CPU emulation of a Device.
type emulator struct {
	src     *Source
	lib     uintptr
	libPath string
	cc      string
	impl    gblas.Float32
	workers int

	alloc func(bytes uintptr) unsafe.Pointer
	free  func(p unsafe.Pointer)
	fns   map[string]func(gx, gy, bx uint32, lo, hi int64, args unsafe.Pointer)

	mu     sync.Mutex
	allocs []emuAlloc // by address
	args   argPack
	closed bool
}

// emuAlloc is one emulated allocation: C memory of n words plus the guards.
type emuAlloc struct {
	base unsafe.Pointer // first guard word
	addr Ptr            // first word of the allocation proper
	n    int
}

// openEmulator is OpenEmulator on linux.
func openEmulator(opts EmulatorOptions) (Device, error) {
	src, err := Sources()
	if err != nil {
		return nil, err
	}
	cc := opts.CC
	if cc == "" {
		cc = os.Getenv("CC")
	}
	if cc == "" {
		cc = "cc"
	}
	ccPath, err := exec.LookPath(cc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	lib, err := emulatorLibrary(src, ccPath, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("gpu: loading the emulated kernels %s: %w", lib, err)
	}
	e := &emulator{src: src, lib: h, libPath: lib, cc: ccPath, impl: opts.BLAS, workers: opts.Workers,
		fns: map[string]func(gx, gy, bx uint32, lo, hi int64, args unsafe.Pointer){}}
	if e.impl == nil {
		e.impl = gonum.Implementation{}
	}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	bind := func(fptr any, name string) error {
		addr, err := purego.Dlsym(h, name)
		if err != nil {
			return fmt.Errorf("gpu: emulated kernels %s: %w", lib, err)
		}
		purego.RegisterFunc(fptr, addr)
		return nil
	}
	if err := errors.Join(bind(&e.alloc, "gpu_emu_alloc"), bind(&e.free, "gpu_emu_free")); err != nil {
		return nil, err
	}
	for _, name := range src.Names() {
		var fn func(gx, gy, bx uint32, lo, hi int64, args unsafe.Pointer)
		if err := bind(&fn, "gpu_emu_"+name); err != nil {
			return nil, err
		}
		e.fns[name] = fn
	}
	return e, nil
}

// emulatorLibrary returns the path of the compiled kernel library, compiling it into the
// cache when it is not there. Its name is a hash of the sources, the compiler and its flags.
func emulatorLibrary(src *Source, cc, cacheDir string) (string, error) {
	ver, err := exec.Command(cc, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v", ErrNoCompiler, cc, err)
	}
	unit := emulatorUnit(src)
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%s\x00%s", src.Hash, cc, ver, strings.Join(emuFlags, " "), unit)
	key := hex.EncodeToString(sum.Sum(nil))[:24]
	if cacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(d, "groundcap", "gpu-emu")
		}
	}
	if cacheDir == "" || os.MkdirAll(cacheDir, 0o755) != nil {
		cacheDir = filepath.Join(os.TempDir(), "groundcap-gpu-emu")
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return "", fmt.Errorf("gpu: emulation cache: %w", err)
		}
	}
	lib := filepath.Join(cacheDir, "kernels-"+key+".so")
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", fmt.Errorf("gpu: emulation cache: %w", err)
	}
	defer os.RemoveAll(work) // scratch files only
	if err := os.WriteFile(filepath.Join(work, HeaderName), []byte(src.Header), 0o644); err != nil {
		return "", fmt.Errorf("gpu: emulation build: %w", err)
	}
	cfile := filepath.Join(work, "kernels.c")
	if err := os.WriteFile(cfile, []byte(unit), 0o644); err != nil {
		return "", fmt.Errorf("gpu: emulation build: %w", err)
	}
	tmp := filepath.Join(work, "kernels.so")
	args := append(append([]string{}, emuFlags...), "-I", work, "-o", tmp, cfile, "-lm")
	var out bytes.Buffer
	cmd := exec.Command(cc, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", &CompileError{Compiler: cc, Log: out.String(), Err: err}
	}
	if err := os.Rename(tmp, lib); err != nil {
		return "", fmt.Errorf("gpu: emulation cache: %w", err)
	}
	return lib, nil
}

// EmulatorUnit returns the C translation unit the emulation compiles: the kernel files,
// allocation helpers and one launch wrapper per kernel, gpu_emu_<name>(gx, gy, bx, lo, hi,
// args), which runs blocks lo..hi−1 of a gx×gy grid of bx threads with the arguments laid out
// as cuLaunchKernel's kernelParams.
func emulatorUnit(src *Source) string {
	var b strings.Builder
	b.WriteString(src.Unit())
	b.WriteString("\n/* ---- emulation wrappers (training/gpu) ---- */\n#include <stdlib.h>\n")
	b.WriteString("void *gpu_emu_alloc(size_t n) { return malloc(n); }\n")
	b.WriteString("void gpu_emu_free(void *p) { free(p); }\n")
	for _, name := range src.Names() {
		k := src.Kernels[name]
		fmt.Fprintf(&b, "void gpu_emu_%s(unsigned gx, unsigned gy, unsigned bx, long long lo, long long hi, void **a) {\n", name)
		b.WriteString("\tgpu_ntid_.x = bx; gpu_ntid_.y = 1; gpu_nbid_.x = gx; gpu_nbid_.y = gy;\n")
		b.WriteString("\tfor (long long blk = lo; blk < hi; blk++) {\n")
		b.WriteString("\t\tgpu_bid_.x = (unsigned)(blk % gx); gpu_bid_.y = (unsigned)(blk / gx);\n")
		fmt.Fprintf(&b, "\t\t%s(", name)
		for i, p := range k.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*(%s *)a[%d]", p.Type, i)
		}
		b.WriteString(");\n\t}\n}\n")
	}
	return b.String()
}

func (e *emulator) Info() Info {
	return Info{Kind: "emulation", Name: "CPU", Compiler: e.cc + " " + strings.Join(emuFlags, " ") + " (" + e.libPath + ")"}
}

func (e *emulator) Alloc(n int) (Buf, error) {
	if n < 0 {
		return Buf{}, fmt.Errorf("gpu: Alloc(%d)", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	words := n + 2*guardWords
	base := e.alloc(uintptr(words * WordSize))
	if base == nil {
		return Buf{}, fmt.Errorf("%w: emulation: malloc of %d bytes failed", ErrOutOfMemory, words*WordSize)
	}
	all := unsafe.Slice((*uint32)(base), words)
	for i := range all {
		all[i] = freshBits
	}
	for i := 0; i < guardWords; i++ {
		all[i], all[words-1-i] = canary, canary
	}
	a := emuAlloc{base: base, addr: Ptr(uintptr(base)) + guardWords*WordSize, n: n}
	i := sort.Search(len(e.allocs), func(i int) bool { return e.allocs[i].addr > a.addr })
	e.allocs = append(e.allocs, emuAlloc{})
	copy(e.allocs[i+1:], e.allocs[i:])
	e.allocs[i] = a
	return Buf{Ptr: a.addr, N: n}, nil
}

// find returns the index of the allocation holding address p, or −1.
func (e *emulator) find(p Ptr) int {
	i := sort.Search(len(e.allocs), func(i int) bool { return e.allocs[i].addr > p }) - 1
	if i < 0 || p >= e.allocs[i].addr+Ptr(e.allocs[i].n*WordSize) && !(e.allocs[i].n == 0 && p == e.allocs[i].addr) {
		return -1
	}
	return i
}

// words returns the n words at p as a slice of C memory, or an error when they are not
// inside one allocation.
func (e *emulator) words(p Ptr, n int, what string) ([]uint32, error) {
	i := e.find(p)
	if i < 0 {
		return nil, fmt.Errorf("gpu: emulation: %s: address %#x is not in a live allocation", what, uintptr(p))
	}
	a := e.allocs[i]
	off := int(p-a.addr) / WordSize
	if (p-a.addr)%WordSize != 0 || off+n > a.n || n < 0 {
		return nil, fmt.Errorf("gpu: emulation: %s: %d words at word %d overrun an allocation of %d words", what, n, off, a.n)
	}
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*uint32)(unsafe.Add(a.base, (guardWords+off)*WordSize)), n), nil
}

func (e *emulator) floats(p Ptr, n int, what string) ([]float32, error) {
	w, err := e.words(p, n, what)
	if err != nil || n == 0 {
		return nil, err
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&w[0])), n), nil
}

func (e *emulator) Free(b Buf) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.find(b.Ptr)
	if i < 0 || e.allocs[i].addr != b.Ptr {
		return fmt.Errorf("gpu: emulation: Free of %#x, not an allocation", uintptr(b.Ptr))
	}
	a := e.allocs[i]
	err := e.checkGuards(a, "at Free")
	e.allocs = append(e.allocs[:i], e.allocs[i+1:]...)
	e.free(a.base)
	return err
}

// checkGuards reports an allocation whose canaries were overwritten; what says when it was
// found ("after kernel fill").
func (e *emulator) checkGuards(a emuAlloc, what string) error {
	all := unsafe.Slice((*uint32)(a.base), a.n+2*guardWords)
	for i := 0; i < guardWords; i++ {
		if all[i] != canary || all[len(all)-1-i] != canary {
			return fmt.Errorf("gpu: emulation: memory just outside the allocation of %d words at %#x was overwritten (found %s)", a.n, uintptr(a.addr), what)
		}
	}
	return nil
}

func (e *emulator) Write(dst Buf, src []float32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(src) > dst.N {
		return fmt.Errorf("gpu: Write of %d words into a buffer of %d", len(src), dst.N)
	}
	d, err := e.floats(dst.Ptr, len(src), "Write")
	if err != nil {
		return err
	}
	copy(d, src)
	return nil
}

func (e *emulator) WriteInt32(dst Buf, src []int32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(src) > dst.N {
		return fmt.Errorf("gpu: WriteInt32 of %d words into a buffer of %d", len(src), dst.N)
	}
	d, err := e.words(dst.Ptr, len(src), "WriteInt32")
	if err != nil {
		return err
	}
	for i, v := range src {
		d[i] = uint32(v)
	}
	return nil
}

func (e *emulator) Read(dst []float32, src Buf) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(dst) > src.N {
		return fmt.Errorf("gpu: Read of %d words from a buffer of %d", len(dst), src.N)
	}
	s, err := e.floats(src.Ptr, len(dst), "Read")
	if err != nil {
		return err
	}
	copy(dst, s)
	return nil
}

func (e *emulator) ReadFloat64(dst []float64, src Buf) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if 2*len(dst) > src.N {
		return fmt.Errorf("gpu: ReadFloat64 of %d values from a buffer of %d words", len(dst), src.N)
	}
	w, err := e.words(src.Ptr, 2*len(dst), "ReadFloat64")
	if err != nil {
		return err
	}
	for i := range dst {
		dst[i] = math.Float64frombits(uint64(w[2*i]) | uint64(w[2*i+1])<<32)
	}
	return nil
}

func (e *emulator) Zero(dst Buf) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, err := e.words(dst.Ptr, dst.N, "Zero")
	if err != nil {
		return err
	}
	clear(w)
	return nil
}

func (e *emulator) HostAlloc(n int) ([]float32, error) { return make([]float32, n), nil }

func (e *emulator) HostFree([]float32) error { return nil }

// minParallelThreads is the fewest threads of a launch worth spreading over goroutines.
const minParallelThreads = 1 << 14

func (e *emulator) Launch(name string, grid Grid, block int, args ...any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, ok := e.src.Kernels[name]
	fn := e.fns[name]
	if !ok || fn == nil {
		return fmt.Errorf("gpu: no kernel %q", name)
	}
	gy := max(grid.Y, 1)
	if grid.X < 1 || gy < 1 || block < 1 || block > 1024 {
		return fmt.Errorf("gpu: kernel %s: grid %d×%d, block %d", name, grid.X, gy, block)
	}
	kp, err := e.args.pack(k, args)
	if err != nil {
		return err
	}
	for i, p := range k.Params {
		if p.Kind != KindPtr {
			continue
		}
		if e.find(Ptr(e.args.vals[i])) < 0 {
			return fmt.Errorf("gpu: kernel %s: argument %d (%s) is %#x, not in a live allocation", name, i, p.Name, e.args.vals[i])
		}
	}
	nblocks := int64(grid.X) * int64(gy)
	workers := int64(e.workers)
	if nblocks*int64(block) < minParallelThreads {
		workers = 1
	}
	workers = min(workers, nblocks)
	if workers <= 1 {
		fn(uint32(grid.X), uint32(gy), uint32(block), 0, nblocks, kp)
	} else {
		var wg sync.WaitGroup
		for w := int64(0); w < workers; w++ {
			lo, hi := nblocks*w/workers, nblocks*(w+1)/workers
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(uint32(grid.X), uint32(gy), uint32(block), lo, hi, kp)
			}()
		}
		wg.Wait()
	}
	runtime.KeepAlive(&e.args)
	for _, a := range e.allocs {
		if err := e.checkGuards(a, "after kernel "+name); err != nil {
			return err
		}
	}
	return nil
}

func (e *emulator) Gemm(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemm runs one product with the operands resolved in emulated memory. Called with mu held.
func (e *emulator) gemm(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	if m == 0 || n == 0 {
		return nil
	}
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("gpu: Gemm m=%d n=%d k=%d", m, n, k)
	}
	aRows, aCols := m, k
	if tA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if tB {
		bRows, bCols = n, k
	}
	if lda < max(1, aCols) || ldb < max(1, bCols) || ldc < max(1, n) {
		return fmt.Errorf("gpu: Gemm m=%d n=%d k=%d: leading dimensions %d, %d, %d too small", m, n, k, lda, ldb, ldc)
	}
	span := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	cs, err := e.floats(c, span(m, n, ldc), "Gemm C")
	if err != nil {
		return err
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			row := cs[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return nil
	}
	as, err := e.floats(a, span(aRows, aCols, lda), "Gemm A")
	if err != nil {
		return err
	}
	bs, err := e.floats(b, span(bRows, bCols, ldb), "Gemm B")
	if err != nil {
		return err
	}
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if tA {
		ta = gblas.Trans
	}
	if tB {
		tb = gblas.Trans
	}
	e.impl.Sgemm(ta, tb, m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
	return nil
}

func (e *emulator) GemmStrided(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda, sa int, b Ptr, ldb, sb int, beta float32, c Ptr, ldc, sc int, batch int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if batch < 0 {
		return fmt.Errorf("gpu: GemmStrided batch %d", batch)
	}
	for p := 0; p < batch; p++ {
		off := func(base Ptr, stride int) Ptr { return base + Ptr(p*stride*WordSize) }
		if err := e.gemm(tA, tB, m, n, k, alpha, off(a, sa), lda, off(b, sb), ldb, beta, off(c, sc), ldc); err != nil {
			return fmt.Errorf("gpu: GemmStrided product %d of %d: %w", p, batch, err)
		}
	}
	return nil
}

func (e *emulator) Sync() error { return nil }

func (e *emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, a := range e.allocs {
		errs = append(errs, e.checkGuards(a, "at Close"))
		e.free(a.base)
	}
	e.allocs = nil
	return errors.Join(errs...)
}
