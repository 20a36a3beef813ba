package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/training/sgemm"
)

// simdBLAS is the "simd" backend: Sgemm and Sgemv from training/sgemm, the
// other single-precision routines from gonum. It is Threaded.
type simdBLAS struct {
	gonum.Implementation
	im *sgemm.Impl
}

// gonumSIMD is the "simd" backend on a CPU whose best sgemm kernel is the
// portable Go one while gonum's Sgemm has vector assembly (amd64 without
// AVX2: gonum's SSE kernels run 2–4× the portable kernel's rate, see
// docs/bench/training.md). It is gonum's BLAS under the simd name, not Threaded.
type gonumSIMD struct {
	gonum.Implementation
}

// gonumISA is what ISA reports for gonumSIMD.
const gonumISA = "gonum-sse"

// newSIMD is the factory of the "simd" backend: the best instruction set of
// this CPU; where that is the portable Go kernel, gonum's Sgemm when it has
// assembly for this CPU (gonumHasAsm), else the portable kernel.
func newSIMD() (Float32, error) {
	return newSIMDFor(sgemm.Available()[0], gonumHasAsm)
}

// newSIMDFor is newSIMD with the instruction set and gonum's assembly given.
func newSIMDFor(isa string, gonumAsm bool) (Float32, error) {
	if isa == sgemm.Generic && gonumAsm {
		return gonumSIMD{}, nil
	}
	im, err := sgemm.New(isa)
	if err != nil {
		return nil, err
	}
	return simdBLAS{im: im}, nil
}

// ISA names gonum's kernels.
func (gonumSIMD) ISA() string { return gonumISA }

// Sgemm is sgemm.Impl.Sgemm.
func (s simdBLAS) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	s.im.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv is sgemm.Impl.Sgemv.
func (s simdBLAS) Sgemv(tA gblas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	s.im.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Threads limits the goroutines of each product while fn runs (see Threaded).
func (s simdBLAS) Threads(n int, fn func()) bool { return s.im.Threads(n, fn) }

// ISA names the instruction set of the kernels (sgemm.AVX512, AVX2, Generic).
func (s simdBLAS) ISA() string { return s.im.ISA() }

// ISA returns the instruction set a backend runs with, when it says
// (the simd backend, also behind a Counter), else "".
func ISA(impl Float32) string {
	switch v := impl.(type) {
	case interface{ ISA() string }:
		return v.ISA()
	case *Counter:
		return ISA(v.Float32)
	}
	return ""
}

// Packer is implemented by backends that can pack the B operand of several products once
// (the simd backend; sgemm.Impl.PackB and SgemmPacked): recurrent networks multiply each
// step's rows by the same weights. PackB returns nil when the backend cannot.
type Packer interface {
	PackB(tB gblas.Transpose, k, n int, b []float32, ldb int) *sgemm.PackedB
	SgemmPacked(tA gblas.Transpose, m int, alpha float32, a []float32, lda int, p *sgemm.PackedB, beta float32, c []float32, ldc int)
}

// PackB is sgemm.Impl.PackB.
func (s simdBLAS) PackB(tB gblas.Transpose, k, n int, b []float32, ldb int) *sgemm.PackedB {
	return s.im.PackB(tB, k, n, b, ldb)
}

// SgemmPacked is sgemm.Impl.SgemmPacked.
func (s simdBLAS) SgemmPacked(tA gblas.Transpose, m int, alpha float32, a []float32, lda int, p *sgemm.PackedB, beta float32, c []float32, ldc int) {
	s.im.SgemmPacked(tA, m, alpha, a, lda, p, beta, c, ldc)
}
