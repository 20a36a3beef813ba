//go:build amd64 && !noasm && !gccgo && !safe

package blas

// gonumHasAsm says that gonum's float32 kernels are assembly on this build
// (gonum's internal/asm/f32 has amd64 SSE code, the same build constraint).
const gonumHasAsm = true
