package sgemm

import (
	"testing"

	"gonum.org/v1/gonum/blas"
)

// FuzzSgemm checks random small products of every kernel (sizes up to 70,
// so that k may take two passes only for larger seeds' k; transposes,
// padding, α and β drawn from the input) against the float64 reference.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(0), uint8(1), uint64(1))
	f.Add(uint8(13), uint8(33), uint8(1), uint8(3), uint8(2), uint8(0), uint64(2))
	f.Add(uint8(0), uint8(4), uint8(4), uint8(1), uint8(1), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, trans, pad, ab uint8, seed uint64) {
		tr := transposes[int(trans)%len(transposes)]
		alphas := []float32{1, 0, -0.75, 2}
		betas := []float32{0, 1, 0.5, -1}
		c := gemmCase{tr[0], tr[1], int(m) % 71, int(n) % 71, int(k)%71 + int(k)/71*200, int(pad) % 4,
			alphas[int(ab)%4], betas[int(ab)/4%4]}
		if c.m == 0 || c.n == 0 { // Sgemm returns at once; nothing to compare
			return
		}
		for _, im := range impls(t) {
			checkCase(t, im, c, seed)
		}
	})
}

var _ = blas.NoTrans
