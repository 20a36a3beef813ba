package sgemm

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
)

// PackedB is op(B), a k×n matrix, packed once into the panels the products of one Impl read
// (PackB), for several products with the same B: a recurrent network multiplies each step's
// few rows by the same weights, and packing them every time costs about a third of such a
// product. It is read-only once packed and safe for concurrent use.
type PackedB struct {
	im      *Impl
	k, n    int
	nPanels int
	data    []float32 // pass by pass over k, the nPanels panels of each (kcur·nr values each)
}

// PackB packs op(B) (k×n, with B's leading dimension ldb, as Sgemm's B) for SgemmPacked. The
// packed copy does not follow later changes to b.
func (im *Impl) PackB(tB blas.Transpose, k, n int, b []float32, ldb int) *PackedB {
	// B checked as Sgemm checks it (a one-row product with a B of these sizes).
	_, bT := checkGemm(blas.NoTrans, tB, 0, n, k, nil, max(1, k), b, ldb, nil, max(1, n))
	if k > 0 && n > 0 && (bT && len(b) < (n-1)*ldb+k || !bT && len(b) < (k-1)*ldb+n) {
		panic("blas: insufficient length of b")
	}
	kn := &im.k
	nr := kn.nr
	p := &PackedB{im: im, k: k, n: n, nPanels: (n + nr - 1) / nr}
	if k == 0 || n == 0 {
		return p
	}
	p.data = make([]float32, k*p.nPanels*nr)
	kc := kBlock(k)
	for pc := 0; pc < k; pc += kc {
		kcur := min(kc, k-pc)
		for jp := 0; jp < p.nPanels; jp++ {
			col := jp * nr
			dst := p.panel(pc, kcur, jp)
			if kn.packB != nil {
				kn.packB(bT, b, ldb, pc, kcur, col, min(nr, n-col), dst)
			} else {
				pack(!bT, b, ldb, col, min(nr, n-col), pc, kcur, nr, dst)
			}
		}
	}
	return p
}

// panel is column panel jp of the pass over k that starts at pc (kcur long).
func (p *PackedB) panel(pc, kcur, jp int) []float32 {
	nr := p.im.k.nr
	off := pc*p.nPanels*nr + jp*nr*kcur
	return p.data[off : off+nr*kcur]
}

// SgemmPacked computes C = alpha·op(A)·op(B) + beta·C with op(B) from PackB (k×n), op(A) m×k,
// C m×n: the same values, bit for bit, as Sgemm with that B. p must come from im.PackB.
func (im *Impl) SgemmPacked(tA blas.Transpose, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	if p.im != im {
		panic("sgemm: SgemmPacked: B packed by another Impl")
	}
	n, k := p.n, p.k
	// p.data holds at least k·n values: it passes for a k×n B.
	aT, _ := checkGemm(tA, blas.NoTrans, m, n, k, a, lda, p.data, max(1, n), c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	cEnd := (m-1)*ldc + n
	if overlaps(c[:cEnd], a) || overlaps(c[:cEnd], p.data) {
		panic("sgemm: C overlaps A or B")
	}
	im.gemm(aT, false, m, n, k, alpha, a, lda, nil, 0, beta, c, ldc, p)
}

// String describes the packed matrix.
func (p *PackedB) String() string { return fmt.Sprintf("PackedB{%d×%d, %s}", p.k, p.n, p.im.ISA()) }
