// Package blas selects, at run time, the BLAS implementation that gorgonia
// uses for every matrix product (forward and backward).
//
// # Overview
//
// gorgonia routes each MatMul/MatVecMul/BatchedMatMul through
// gorgonia.org/tensor, which calls the process-wide BLAS installed with
// tensor.Use (gorgonia.Use sets both). This package keeps a registry of
// single-precision backends behind gonum's blas.Float32 interface:
//
//   - "simd": Sgemm and Sgemv from training/sgemm (pure Go with AVX-512 or
//     AVX2 assembly kernels chosen at run time, a Go kernel elsewhere),
//     always available, no cgo: the default of every stage;
//   - "go": gonum's pure-Go BLAS, always available, no cgo;
//   - "openblas": OpenBLAS through gonum.org/v1/netlib, compiled in only with
//     the build tag openblas (cgo, Debian libopenblas-dev);
//   - "cuda": cuBLAS on an NVIDIA GPU through internal/gpublas (loaded at run
//     time with purego, no cgo), its libraries searched first in
//     Options.CUDALibDir, else $GROUNDCAP_CUDA_LIB_DIR (cuda.go);
//   - "auto": the first of cuda, openblas, any other registered backend,
//     simd, go whose factory succeeds.
//
// Building with OpenBLAS (Debian: apt-get install libopenblas-dev):
//
//	CGO_LDFLAGS=-lopenblas go build -tags openblas ./cmd/groundcap
//
// The default build has no cgo dependency.
//
// Float64 and complex routines always come from gonum's native BLAS; models
// in this project run in float32 (float64 is only used by gradient checks).
//
// # Invariants
//
// The installed BLAS is process-global state owned by gorgonia and tensor;
// Install changes it for every graph in the process. Register and Select are
// safe to call from multiple goroutines; Install should be called once at
// start-up, before any graph runs.
package blas

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"

	"github.com/groundcap/groundcap/training/sgemm"
)

// Float32 is the single-precision BLAS interface a backend implements.
type Float32 = gblas.Float32

// Factory constructs a backend with the given options (most backends have none
// and ignore them); it returns an error when the backend cannot run on this
// machine (no library, no device).
type Factory func(Options) (Float32, error)

// Options configure how Select constructs a backend. The zero value is every
// backend's default.
type Options struct {
	// CUDALibDir lists directories (':'-separated) searched for the CUDA
	// libraries of the cuda backend before the system library path; empty
	// means $GROUNDCAP_CUDA_LIB_DIR (gpublas.EnvLibDir), then the system
	// library path only.
	CUDALibDir string
	// CUDADevice is the CUDA device ordinal of the cuda backend.
	CUDADevice int
}

// Names of the built-in and well-known backends.
const (
	// SIMD is training/sgemm's pure-Go SGEMM with assembly kernels.
	SIMD = "simd"
	// Go is gonum's pure-Go BLAS.
	Go = "go"
	// OpenBLAS is OpenBLAS through gonum's netlib cgo wrapper (build tag openblas).
	OpenBLAS = "openblas"
	// CUDA is cuBLAS on an NVIDIA GPU (internal/gpublas).
	CUDA = "cuda"
	// Auto picks the best available backend (cuda, openblas, simd, go).
	Auto = "auto"
	// Default is the backend of a stage that names none.
	Default = SIMD
)

// Known reports whether name is one of the backend names a stage accepts
// (simd, go, openblas, cuda, auto), whether or not this binary has it.
func Known(name string) bool { return slices.Contains(known, Name(name)) }

// known lists the names Known accepts, in the order error messages give them.
var known = []Name{SIMD, Go, OpenBLAS, CUDA, Auto}

// autoOrder is the preference order of Auto; unknown registered names follow
// in alphabetical order, then SIMD, then Go.
var autoOrder = []string{CUDA, OpenBLAS}

var (
	regMu    sync.Mutex
	registry = map[string]Factory{
		Go:   func(Options) (Float32, error) { return gonum.Implementation{}, nil },
		SIMD: func(Options) (Float32, error) { return newSIMD() },
		CUDA: newCUDA,
	}
)

// ErrUnknown is returned (wrapped) by Select for a name that no backend has
// registered.
var ErrUnknown = errors.New("blas: unknown backend")

// Register adds a backend under name. It returns an error if the name is
// empty, "auto", or already registered. Register is safe for concurrent use;
// packages usually call it from init.
func Register(name string, f Factory) error {
	if name == "" || name == Auto {
		return fmt.Errorf("blas: cannot register backend name %q", name)
	}
	if f == nil {
		return fmt.Errorf("blas: nil factory for backend %q", name)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, ok := registry[name]; ok {
		return fmt.Errorf("blas: backend %q registered twice", name)
	}
	registry[name] = f
	return nil
}

// Names returns the registered backend names, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Backend is a constructed BLAS backend and its name.
type Backend struct {
	// Name is the registered name (never "auto").
	Name string
	// Impl is the single-precision implementation.
	Impl Float32
}

// Select constructs the backend called name with the default Options (see
// Options.Select).
func Select(name string) (Backend, error) { return Options{}.Select(name) }

// Select constructs the backend called name with the options o; "auto" (or
// "") tries cuda, openblas, any other registered backend, simd, then go, and
// returns the first that constructs without error. For an explicit name, a
// factory error is returned wrapped, never replaced by a fallback.
func (o Options) Select(name string) (Backend, error) {
	regMu.Lock()
	reg := make(map[string]Factory, len(registry))
	for k, v := range registry {
		reg[k] = v
	}
	regMu.Unlock()

	if name != "" && name != Auto {
		f, ok := reg[name]
		if !ok {
			return Backend{}, fmt.Errorf("%w %q (registered: %v; build with -tags openblas for openblas)", ErrUnknown, name, Names())
		}
		impl, err := f(o)
		if err != nil {
			return Backend{}, fmt.Errorf("blas: backend %q unavailable: %w", name, err)
		}
		return Backend{Name: name, Impl: impl}, nil
	}
	order := append([]string(nil), autoOrder...)
	var rest []string
	for n := range reg {
		if n != Go && n != SIMD && n != CUDA && n != OpenBLAS {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	order = append(order, rest...)
	order = append(order, SIMD, Go)
	var errs []error
	for _, n := range order {
		f, ok := reg[n]
		if !ok {
			continue
		}
		impl, err := f(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		return Backend{Name: n, Impl: impl}, nil
	}
	return Backend{}, fmt.Errorf("blas: no backend available: %w", errors.Join(errs...))
}

// full adapts a Float32 backend to the full BLAS interface gorgonia wants:
// the embedded Float32 (depth 1) shadows gonum's float32 methods (depth 2),
// float64 and complex routines come from gonum.
type full struct {
	Float32
	native
}

type native struct{ gonum.Implementation }

// Threaded is implemented by backends that spread each product over several
// threads and can limit that for a while. Products too small to gain from
// threads (a 36×36×1024 Gram matrix takes OpenBLAS 82 µs on two threads and
// 30 µs on one) are then faster issued from several goroutines at once, one
// thread each; independent chains of products (the two directions of a
// bidirectional GRU) run side by side on half the threads each.
type Threaded interface {
	// Threads runs fn, during which every product, issued from any
	// goroutine, uses at most n threads, and returns true; or, when it
	// cannot (a wrapper around a backend that is not Threaded), returns
	// false without running fn. Calls may nest and overlap: while several
	// run, the smallest n holds.
	Threads(n int, fn func()) bool
}

// Threads is impl.Threads(n, fn) when impl is Threaded, else false (fn not run).
func Threads(impl Float32, n int, fn func()) bool {
	if t, ok := impl.(Threaded); ok {
		return t.Threads(n, fn)
	}
	return false
}

// Threads forwards to the installed backend (see Threaded).
func (f full) Threads(n int, fn func()) bool { return Threads(f.Float32, n, fn) }

// PackB forwards to the installed backend when it is a Packer, else returns nil.
func (f full) PackB(tB gblas.Transpose, k, n int, b []float32, ldb int) *sgemm.PackedB {
	if p, ok := f.Float32.(Packer); ok {
		return p.PackB(tB, k, n, b, ldb)
	}
	return nil
}

// SgemmPacked forwards to the installed backend (a Packer: p came from its PackB).
func (f full) SgemmPacked(tA gblas.Transpose, m int, alpha float32, a []float32, lda int, p *sgemm.PackedB, beta float32, c []float32, ldc int) {
	f.Float32.(Packer).SgemmPacked(tA, m, alpha, a, lda, p, beta, c, ldc)
}

// Install makes b the BLAS of gorgonia and tensor for the whole process.
func Install(b Backend) {
	G.Use(full{Float32: b.Impl})
}

// Use selects the backend called name with the default Options, installs it
// and returns the name actually chosen (see Options.Use).
func Use(name string) (string, error) { return Options{}.Use(name) }

// Use selects the backend called name with the options o (see
// Options.Select), installs it and returns the name actually chosen, so that
// "auto" can report what it picked.
func (o Options) Use(name string) (string, error) {
	b, err := o.Select(name)
	if err != nil {
		return "", err
	}
	Install(b)
	return b.Name, nil
}

// Counter wraps a Float32 backend and counts the floating-point operations
// of its matrix products (2·m·n·k per Sgemm, 2·m·n per Sgemv). It is safe for
// concurrent use.
type Counter struct {
	Float32
	flops atomic.Int64
}

// NewCounter wraps impl.
func NewCounter(impl Float32) *Counter { return &Counter{Float32: impl} }

// Sgemm counts and forwards to the wrapped backend.
func (c *Counter) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cc []float32, ldc int) {
	c.flops.Add(2 * int64(m) * int64(n) * int64(k))
	c.Float32.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

// Sgemv counts and forwards to the wrapped backend.
func (c *Counter) Sgemv(tA gblas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	c.flops.Add(2 * int64(m) * int64(n))
	c.Float32.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Threads forwards to the wrapped backend (see Threaded).
func (c *Counter) Threads(n int, fn func()) bool { return Threads(c.Float32, n, fn) }

// Flops returns the operations counted since the last Reset.
func (c *Counter) Flops() int64 { return c.flops.Load() }

// Reset sets the count to zero.
func (c *Counter) Reset() { c.flops.Store(0) }
