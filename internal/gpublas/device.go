package gpublas

import "gonum.org/v1/gonum/blas"

// devPtr is a device address. It is never dereferenced on the host.
type devPtr uintptr

// floatSize is the size in bytes of a float32, the unit of device offsets.
const floatSize = 4

// device is the small set of CUDA operations BLAS needs. The real
// implementation calls cudart and cuBLAS; tests use a fake. All operations
// are issued in order on one stream; sync waits for them to finish.
type device interface {
	// malloc allocates n float32s of device memory.
	malloc(n int) (devPtr, error)
	// free releases memory from malloc.
	free(p devPtr) error
	// mallocHost allocates n float32s of pinned host memory.
	mallocHost(n int) ([]float32, error)
	// freeHost releases memory from mallocHost.
	freeHost(h []float32) error
	// upload copies src, a sub-slice of pinned memory, to dst (asynchronous).
	upload(dst devPtr, src []float32) error
	// download copies len(dst) float32s from src into dst, a sub-slice of
	// pinned memory (asynchronous: dst is valid after sync).
	download(dst []float32, src devPtr) error
	// gemm computes the column-major C = alpha·op(A)·op(B) + beta·C with
	// cuBLAS semantics: op(A) is m×k, op(B) is k×n, C is m×n, element (i,j)
	// of a matrix X with leading dimension ldx is X[i + j·ldx].
	gemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) error
	// sync waits for all work issued so far and reports its first error.
	sync() error
	// info describes the device and the libraries in use.
	info() DeviceInfo
	// close releases the handle and the stream.
	close() error
}

// DeviceInfo describes the GPU and the libraries a BLAS uses.
type DeviceInfo struct {
	// Ordinal is the CUDA device number.
	Ordinal int
	// Name is the device name, e.g. "NVIDIA H100 80GB HBM3".
	Name string
	// TotalBytes and FreeBytes are the device memory, total and free when
	// the backend was created.
	TotalBytes, FreeBytes uint64
	// Major and Minor are the compute capability.
	Major, Minor int
	// Driver, Runtime and CUBLAS are the versions as CUDA encodes them
	// (1000·major + 10·minor for the driver and runtime; cuBLAS
	// 10000·major + 100·minor + patch).
	Driver, Runtime, CUBLAS int
	// Libraries maps each library's role ("driver", "runtime", "cublasLt",
	// "cublas") to the file that was loaded.
	Libraries map[string]string
	// MathMode is the cuBLAS math mode in use ("CUBLAS_DEFAULT_MATH" or
	// "CUBLAS_PEDANTIC_MATH").
	MathMode string
}
