package sgemm

import (
	"math"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestSgemmPackedSameBits compares SgemmPacked with Sgemm on the same operands, bit for bit,
// for every kernel, both layouts of B and A, sizes that leave edge tiles, k over one pass and
// over several, α/β special values, one and several goroutines; the packed B is used twice.
func TestSgemmPackedSameBits(t *testing.T) {
	cases := []gemmCase{
		{blas.NoTrans, blas.NoTrans, 50, 2048, 1024, 0, 1, 0},
		{blas.NoTrans, blas.Trans, 50, 1536, 2048, 3, 1, 1},
		{blas.Trans, blas.NoTrans, 37, 45, 7, 1, 0.5, 0.25},
		{blas.Trans, blas.Trans, 13, 33, 385, 2, -1, 0},
		{blas.NoTrans, blas.NoTrans, 1, 1, 1, 0, 2, 1},
		{blas.NoTrans, blas.Trans, 5, 9, 0, 0, 1, 0.5},
		{blas.NoTrans, blas.NoTrans, 5, 9, 4, 0, 0, 0.5},
	}
	for _, im := range impls(t) {
		for _, c := range cases {
			a, lda, b, ldb, cm, ldc := c.operands(3)
			want := append([]float32(nil), cm...)
			im.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
			p := im.PackB(c.tB, c.k, c.n, b, ldb)
			for pass, threads := range []int{runtime.GOMAXPROCS(0), 1} {
				got := append([]float32(nil), cm...)
				im.Threads(threads, func() { im.SgemmPacked(c.tA, c.m, c.alpha, a, lda, p, c.beta, got, ldc) })
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
						t.Fatalf("%s %v pass %d: element %d: packed %v, Sgemm %v", im.ISA(), c, pass, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestSgemmPackedBadArguments checks that SgemmPacked rejects what Sgemm rejects for A and C,
// and a B packed by another Impl.
func TestSgemmPackedBadArguments(t *testing.T) {
	ims := impls(t)
	im := ims[0]
	b := make([]float32, 12)
	p := im.PackB(blas.NoTrans, 3, 4, b, 4)
	for name, f := range map[string]func(){
		"short a": func() { im.SgemmPacked(blas.NoTrans, 2, 1, make([]float32, 5), 3, p, 0, make([]float32, 8), 4) },
		"short c": func() { im.SgemmPacked(blas.NoTrans, 2, 1, make([]float32, 6), 3, p, 0, make([]float32, 7), 4) },
		"bad ldc": func() { im.SgemmPacked(blas.NoTrans, 2, 1, make([]float32, 6), 3, p, 0, make([]float32, 8), 3) },
		"short b": func() { im.PackB(blas.NoTrans, 3, 4, make([]float32, 11), 4) },
		"other Impl": func() {
			other, _ := New(im.ISA())
			other.SgemmPacked(blas.NoTrans, 2, 1, make([]float32, 6), 3, p, 0, make([]float32, 8), 4)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
