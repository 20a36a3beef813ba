// Package gpu runs groundcap's device-resident training, scoring and alignment: device memory,
// copies, kernel launches and matrix products behind one interface, Device, with two
// implementations.
//
// # Overview
//
// The kernels are CUDA C source files in kernels/ (embedded in the binary), written in a style
// (kernels/gpu.h) that compiles three ways from the same text: with NVRTC on the GPU machine,
// with clang into PTX embedded in the binary (go generate; the fallback when NVRTC is missing),
// and as C11 with the system C compiler for the CPU emulation.
//
//   - OpenCUDA drives an NVIDIA GPU through the driver API (libcuda.so.1), cuBLAS and NVRTC
//     (libnvrtc.so.13), all loaded at run time with purego: no cgo, no CUDA headers at build
//     time. Compiled PTX is cached on disk per device architecture and source hash.
//   - OpenEmulator compiles the same kernel sources with cc into a shared library (cached),
//     loads it with purego and runs each launch block by block on the CPU; products run in Go
//     through a gonum BLAS. Device memory is C memory guarded by canaries, filled with NaN when
//     allocated, so kernels that read memory nobody wrote or write outside their buffers show.
//
// Both run the same kernels with the same arguments, so a model written against Device is
// tested end to end on any machine with a C compiler (training/scan's device step is checked
// this way against the gorgonia step), and runs at GPU speed where there is a GPU.
//
// # Conventions
//
// Buffers hold 4-byte words (float32 or int32; a float64 takes two). Matrices are row-major, as
// everywhere in groundcap: Gemm and GemmStrided take gonum's argument order and map it onto
// cuBLAS's column-major convention. Work is queued in order on one stream: Launch, Gemm,
// GemmStrided and Zero return before the work is done; Read waits for it; Write returns once
// the host data may be reused. Errors of queued work may surface at the next Read or Sync. Sums
// in kernels run in a fixed order (no float atomics), so two runs on one device give the same
// bits. A Device is not safe for concurrent use.
//
// # Errors
//
// Missing libraries or devices wrap ErrNoDevice (and gpublas.ErrNoCUDA); a missing NVRTC
// wraps ErrNoNVRTC; a failed kernel compile is a *CompileError carrying the compiler's log;
// an allocation the device cannot satisfy wraps ErrOutOfMemory and says how much was asked
// and what was free.
package gpu

//go:generate go run ./internal/genptx -o embedded_ptx.go

import (
	"errors"
	"fmt"
)

// Ptr is a device address. Ptr arithmetic is in bytes; use Buf.At for element offsets.
type Ptr uintptr

// WordSize is the size in bytes of one buffer element.
const WordSize = 4

// Buf is a device allocation (or a part of one): its address and its length in 4-byte words.
type Buf struct {
	Ptr Ptr
	N   int
}

// At returns the address of word i of b.
func (b Buf) At(i int) Ptr { return b.Ptr + Ptr(i*WordSize) }

// Slice returns words [lo, hi) of b. It panics when the range is outside b.
func (b Buf) Slice(lo, hi int) Buf {
	if lo < 0 || hi < lo || hi > b.N {
		panic(fmt.Sprintf("gpu: Buf.Slice(%d, %d) of a buffer of %d words", lo, hi, b.N))
	}
	return Buf{Ptr: b.At(lo), N: hi - lo}
}

// Grid is a launch grid: X·Y blocks (Y 0 means 1).
type Grid struct{ X, Y int }

// Blocks returns a one-dimensional grid of enough blocks of size threads for n threads.
func Blocks(n, size int) Grid { return Grid{X: max(1, (n+size-1)/size)} }

// Device is a GPU or its CPU emulation. See the package documentation for the conventions.
type Device interface {
	// Info describes the device.
	Info() Info
	// Alloc allocates n words of device memory (contents undefined).
	Alloc(n int) (Buf, error)
	// Free releases an allocation made by Alloc (its whole Buf).
	Free(b Buf) error
	// Write copies src to dst (len(src) ≤ dst.N) after the work queued so far; src may be
	// reused when it returns.
	Write(dst Buf, src []float32) error
	// WriteInt32 is Write for int32 data.
	WriteInt32(dst Buf, src []int32) error
	// Read waits for the queued work and copies len(dst) words from src.
	Read(dst []float32, src Buf) error
	// ReadFloat64 waits for the queued work and copies len(dst) float64s (2·len(dst) words).
	ReadFloat64(dst []float64, src Buf) error
	// Zero queues setting dst to zero bits.
	Zero(dst Buf) error
	// HostAlloc returns n float32s of host memory that copies to and from the device read and
	// write fastest (pinned); HostFree releases it.
	HostAlloc(n int) ([]float32, error)
	// HostFree releases memory from HostAlloc.
	HostFree(h []float32) error
	// Launch queues kernel name on grid with block threads per block. args match the kernel's
	// parameters in order: Buf or Ptr for pointers, int or int32 for int, int or int64 for
	// long long, float32 for float.
	Launch(name string, grid Grid, block int, args ...any) error
	// Gemm queues C = alpha·op(A)·op(B) + beta·C for row-major matrices (op(A) m×k, op(B)
	// k×n, C m×n, leading dimensions in words), as gonum's Sgemm.
	Gemm(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error
	// GemmStrided queues batch products like Gemm, product p on A + p·sa, B + p·sb, C + p·sc
	// (strides in words; 0 repeats an operand).
	GemmStrided(tA, tB bool, m, n, k int, alpha float32, a Ptr, lda, sa int, b Ptr, ldb, sb int, beta float32, c Ptr, ldc, sc int, batch int) error
	// Sync waits for the queued work and returns its first error.
	Sync() error
	// Close releases the device; allocations must not be used afterwards.
	Close() error
}

// Info describes a Device.
type Info struct {
	// Kind is "cuda" or "emulation".
	Kind string
	// Name is the device name ("NVIDIA H200", or the emulation's C compiler).
	Name string
	// Arch is the compute capability as "sm_90" (empty for the emulation).
	Arch string
	// TotalBytes and FreeBytes are the device memory when it was opened (0: unknown).
	TotalBytes, FreeBytes uint64
	// Compiler says how the kernels were built: "nvrtc 13.0", "nvrtc 13.0 (cached PTX)",
	// "embedded PTX (clang)", or the C compiler and library of the emulation.
	Compiler string
	// Libraries maps each library's role to the file loaded.
	Libraries map[string]string
}

// String formats the info on one line.
func (i Info) String() string {
	s := i.Kind + ": " + i.Name
	if i.Arch != "" {
		s += " (" + i.Arch + ")"
	}
	if i.TotalBytes > 0 {
		s += fmt.Sprintf(", %.1f GiB", float64(i.TotalBytes)/(1<<30))
	}
	return s + ", kernels: " + i.Compiler
}

var (
	// ErrNoDevice is wrapped by errors that mean "no usable GPU here": a library, a symbol,
	// the driver or a device missing.
	ErrNoDevice = errors.New("gpu: no usable CUDA device")
	// ErrNoNVRTC is wrapped when the kernels must be compiled and NVRTC cannot be loaded.
	ErrNoNVRTC = errors.New("gpu: NVRTC unavailable")
	// ErrOutOfMemory is wrapped when an allocation does not fit in device memory.
	ErrOutOfMemory = errors.New("gpu: out of device memory")
	// ErrNoCompiler is wrapped when the emulation finds no C compiler.
	ErrNoCompiler = errors.New("gpu: no C compiler for the emulation")
)

// CompileError reports kernels that did not compile, with the compiler's log.
type CompileError struct {
	// Compiler names the compiler ("NVRTC 13.0", "cc").
	Compiler string
	// Log is the compiler's output.
	Log string
	// Err is the underlying failure (a status or exit code).
	Err error
}

// Error implements error.
func (e *CompileError) Error() string {
	return fmt.Sprintf("gpu: compiling the kernels with %s: %v\n%s", e.Compiler, e.Err, e.Log)
}

// Unwrap returns the underlying failure.
func (e *CompileError) Unwrap() error { return e.Err }

// RedBlock is the block size of the kernels that reduce inside a block (RED in kernels/gpu.h).
const RedBlock = 256
