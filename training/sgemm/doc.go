// Package sgemm is a single-precision matrix product (GEMM) and
// matrix-vector product (GEMV) in pure Go with assembly micro-kernels: the
// CPU backend of training/blas ("simd") that needs no cgo.
//
// # Overview
//
// Impl.Sgemm and Impl.Sgemv take the arguments of gonum's blas.Float32
// (row-major, all four transpose cases, any leading dimensions) and panic on
// the same bad arguments. A product is computed the way GotoBLAS and BLIS do:
// k is cut into passes of at most 384 (kBlock); for each pass, op(A) is
// packed into panels of MR rows and op(B) into panels of NR columns (zero
// padded), and a micro-kernel computes each MR×NR tile of C in registers
// with fused multiply-adds and adds it into C (alpha, beta applied once per
// tile and pass). The micro-kernels are chosen at run time from the CPU's
// features (golang.org/x/sys/cpu):
//
//   - AVX512: 12×32 tile, 24 zmm accumulators (AVX-512F), and 12×16 for
//     tiles that C cuts to at most 16 columns;
//   - AVX2: 6×16 tile, 12 ymm accumulators (AVX2 and FMA);
//   - Generic: 4×4 tile in Go (any other CPU, or the purego build tag;
//     training/blas's simd backend uses gonum's Sgemm instead where gonum
//     has assembly, as on amd64 without AVX2, since that is faster).
//
// New picks one by name (tests run each one this CPU has); Available lists
// them. Products of at least 4 Mflop are spread over GOMAXPROCS goroutines
// (packing shared out by panels, tiles split along n or m); Threads limits
// that while a function runs, which training/nn uses to run many small
// products side by side on one goroutine each.
//
// No existing Go module did this when the package was written: gonum's
// Sgemm is pure Go without SIMD kernels (10–20 GFLOP/s on the development
// machine), and the packed AVX-512 GEMM of gomlx lives inside that
// framework's backend.
//
// # Invariants
//
// Each element of C is computed by one goroutine, with the same sequence of
// operations whatever the number of goroutines, the Threads limit or the
// scheduling: tiles start at fixed multiples of MR and NR, a tile cut short
// by the edge of C goes through a full-size buffer, and the passes over k
// depend on k alone. Results are therefore identical for any GOMAXPROCS.
// The AVX512 and AVX2 kernels perform the same operations per element (one
// fused multiply-add per k step in order, then beta·c rounded and one fused
// multiply-add of alpha·acc), so they give identical results too; the
// Generic kernel rounds each product before adding it and may differ in the
// last bits. Sgemv sums each dot product, and each column of a transposed
// product, in an order fixed by the matrix's size.
//
// Aliasing: C (y) must not share memory with A or B (A or x): Sgemm and
// Sgemv panic if it does. A and B may be the same memory (V·Vᵀ).
//
// When alpha is 0 (or k is 0) A and B are not read and C = beta·C; when
// beta is 0, C is not read, so NaN or Inf in it does not propagate, as in
// the reference BLAS.
package sgemm
