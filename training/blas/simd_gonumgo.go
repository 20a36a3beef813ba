//go:build !amd64 || noasm || gccgo || safe

package blas

// gonumHasAsm says that gonum's float32 kernels are plain Go on this build,
// where the portable sgemm kernel is the faster (docs/bench/training.md).
const gonumHasAsm = false
