// Package gpublas runs single-precision matrix products on an NVIDIA GPU
// through cuBLAS, loaded at run time with purego: no cgo and no CUDA headers
// at build time, so a CGO_ENABLED=0 binary uses the GPU when the machine has
// one.
//
// # Overview
//
// BLAS implements gonum's blas.Float32 by embedding the pure-Go
// gonum.Implementation and overriding Sgemm, the routine at the end of every
// gorgonia matmul (forward, backward, each slice of BatchedMatMul). A product
// whose m·n·k reaches Options.Threshold is staged through pinned host memory
// (cudaMallocHost) into device buffers that grow and are reused (no
// allocation per call), multiplied with cublasSgemm_v2 on one stream, and
// copied back; smaller products stay on the CPU. Sgemv is not overridden: a
// matrix-vector product reads each element of the matrix once, so copying the
// matrix to the device costs more than the CPU spends on it.
//
// gonum is row-major and cuBLAS column-major. A row-major m×n matrix with
// leading dimension ld is, read column-major, its n×m transpose with the same
// leading dimension, so C = op(A)·op(B) is computed as the column-major
// product Cᵀ = op(B)ᵀ·op(A)ᵀ: operands swapped, m and n swapped, transpose
// flags and leading dimensions kept.
//
// The libraries searched are the driver's libcuda.so.1, the CUDA runtime
// libcudart.so.13, libcublasLt.so.13 and libcublas.so.13 (falling back to the
// .so.12 set as a whole), first in Options.LibDir (the NVIDIA pip wheels put
// them in site-packages/nvidia/cu13/lib), then on the system library path.
// TF32 is never enabled: the handle runs in CUBLAS_DEFAULT_MATH (or
// CUBLAS_PEDANTIC_MATH with Options.Pedantic), so results are fp32 products.
//
// # Errors
//
// New returns an error wrapping ErrNoCUDA, naming every path tried, when a
// library or symbol is missing or no device is present; callers that want a
// CPU fallback (the "auto" backend of training/blas) use another backend. A
// device failure during a product (out of memory, a lost device) cannot be
// returned through the BLAS interface: the product is recomputed on the CPU
// (its output is written only after the device finished), the failure is
// kept (Err, Stats.Fallbacks), reported once through Options.Logf, and every
// later product runs on the CPU; with Options.Strict it panics instead.
//
// # Invariants
//
// A BLAS is safe for concurrent use: device work is serialised by a mutex,
// products under the threshold run concurrently on the CPU. Operands must
// not alias the output (as in every BLAS). Close releases the device
// resources; the libraries stay loaded for the life of the process.
package gpublas
