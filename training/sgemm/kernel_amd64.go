//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

//go:noescape
func gemm12x32AVX512(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)

//go:noescape
func gemm12x16AVX512(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)

//go:noescape
func gemm6x16AVX2(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32, useC int)

//go:noescape
func packB32(kc int, src *float32, ld int, dst *float32, mask uint32)

//go:noescape
func packBT32(kc int, src *float32, idx *int32, dst *float32, mask uint32)

//go:noescape
func dotAVX2(n int, x, y *float32) float32

//go:noescape
func axpyAVX2(n int, alpha float32, x, y *float32)

// kernels lists the kernels this CPU runs, best first.
func kernels() []kernel {
	var ks []kernel
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA
	if avx2 && cpu.X86.HasAVX512F {
		ks = append(ks, kernel{name: AVX512, mr: 12, nr: 32, gemm: gemmAVX512, gemmHalf: gemmHalfAVX512, packB: packBAVX512, dot: dotAsm, axpy: axpyAsm})
	}
	if avx2 {
		ks = append(ks, kernel{name: AVX2, mr: 6, nr: 16, gemm: gemmAVX2, dot: dotAsm, axpy: axpyAsm})
	}
	return append(ks, generic)
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// The Go wrappers check, once, that the kernel reads and writes within the
// slices, and pass strides in bytes.

func gemmAVX512(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool) {
	_, _, _ = a[11*rs+(kc-1)*cs], b[32*kc-1], c[11*ldc+31]
	gemm12x32AVX512(kc, &a[0], 4*rs, 4*cs, &b[0], &c[0], ldc, alpha, beta, b2i(useC))
}

func gemmHalfAVX512(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool) {
	_, _, _ = a[11*rs+(kc-1)*cs], b[32*kc-1], c[11*ldc+15]
	gemm12x16AVX512(kc, &a[0], 4*rs, 4*cs, &b[0], &c[0], ldc, alpha, beta, b2i(useC))
}

func gemmAVX2(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32, useC bool) {
	_, _, _ = a[5*rs+(kc-1)*cs], b[16*kc-1], c[5*ldc+15]
	gemm6x16AVX2(kc, &a[0], 4*rs, 4*cs, &b[0], &c[0], ldc, alpha, beta, b2i(useC))
}

// packBAVX512 packs a 32-column panel of op(B) with masked vector loads
// (NoTrans) or gathers (Trans), or in Go where the gather's int32 offsets
// could overflow.
func packBAVX512(bT bool, b []float32, ldb, pc, kc, col, cols int, dst []float32) {
	mask := uint32(1)<<cols - 1
	if cols == 32 {
		mask = ^uint32(0)
	}
	_ = dst[32*kc-1]
	if !bT {
		o := pc*ldb + col
		_ = b[o+(kc-1)*ldb+cols-1]
		packB32(kc, &b[o], 4*ldb, &dst[0], mask)
		return
	}
	if 32*ldb+kc >= 1<<31 {
		pack(false, b, ldb, col, cols, pc, kc, 32, dst)
		return
	}
	o := col*ldb + pc
	_ = b[o+(cols-1)*ldb+kc-1]
	var idx [32]int32
	for j := 0; j < cols; j++ {
		idx[j] = int32(j * ldb)
	}
	packBT32(kc, &b[o], &idx[0], &dst[0], mask)
}

// dotAsm is the AVX2 dot product of the first multiple of 32 values, then
// the rest in Go.
func dotAsm(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	v := n &^ 31
	var s float32
	if v > 0 {
		s = dotAVX2(v, &x[0], &y[0])
	}
	for i := v; i < n; i++ {
		s += x[i] * y[i]
	}
	return s
}

// axpyAsm is the AVX2 axpy of the first multiple of 32 values, then the
// rest in Go.
func axpyAsm(alpha float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	v := n &^ 31
	if v > 0 {
		axpyAVX2(v, alpha, &x[0], &y[0])
	}
	for i := v; i < n; i++ {
		y[i] += alpha * x[i]
	}
}
