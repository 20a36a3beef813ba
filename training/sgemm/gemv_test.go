package sgemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestSgemvAgainstReference checks Sgemv of every kernel, both transpose
// cases, increments ±1 and ±3, padded lda and α/β values against a float64
// reference, with the bound of tolerance (n or m terms per element).
func TestSgemvAgainstReference(t *testing.T) {
	for _, im := range impls(t) {
		for si, s := range [][2]int{{1, 1}, {5, 3}, {37, 70}, {64, 33}, {300, 1000}} {
			m, n := s[0], s[1]
			for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, inc := range [][2]int{{1, 1}, {-1, 3}, {3, -3}} {
					for _, ab := range [][2]float32{{1, 0}, {-0.5, 2}} {
						r := rand.New(rand.NewPCG(uint64(si), uint64(inc[0]+7)))
						lda := n + 2
						a := make([]float32, (m-1)*lda+n)
						for i := range a {
							a[i] = 2*r.Float32() - 1
						}
						lenX, lenY := n, m
						if tA == blas.Trans {
							lenX, lenY = m, n
						}
						incX, incY := inc[0], inc[1]
						x := make([]float32, 1+(lenX-1)*abs(incX))
						y := make([]float32, 1+(lenY-1)*abs(incY))
						for i := range x {
							x[i] = 2*r.Float32() - 1
						}
						for i := range y {
							y[i] = 2*r.Float32() - 1
						}
						want, mag := make([]float64, lenY), make([]float64, lenY)
						for i := 0; i < lenY; i++ {
							var s, sa float64
							for j := 0; j < lenX; j++ {
								var av float32
								if tA == blas.Trans {
									av = a[j*lda+i]
								} else {
									av = a[i*lda+j]
								}
								v := float64(av) * float64(x[idx(j, incX, lenX)])
								s, sa = s+v, sa+math.Abs(v)
							}
							yv := float64(y[idx(i, incY, lenY)])
							want[i] = float64(ab[0])*s + float64(ab[1])*yv
							mag[i] = math.Abs(float64(ab[0]))*sa + math.Abs(float64(ab[1])*yv)
						}
						got := append([]float32(nil), y...)
						im.Sgemv(tA, m, n, ab[0], a, lda, x, incX, ab[1], got, incY)
						for i := 0; i < lenY; i++ {
							g := float64(got[idx(i, incY, lenY)])
							if d := math.Abs(g - want[i]); !(d <= tolerance(lenX, mag[i])) {
								t.Fatalf("%s %dx%d tA %c inc %v αβ %v: y[%d] = %v, want %v", im.ISA(), m, n, tA, inc, ab, i, g, want[i])
							}
						}
					}
				}
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

// TestSgemvSpecialValues checks β = 0 over NaN, α = 0 (A and x not read),
// one result for any thread limit, and gonum's panics.
func TestSgemvSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	for _, im := range impls(t) {
		m, n := 700, 300 // above parallelGemv: several goroutines
		r := rand.New(rand.NewPCG(9, 9))
		a := make([]float32, m*n)
		for i := range a {
			a[i] = r.Float32() - 0.5
		}
		x := make([]float32, max(m, n))
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			lenY := m
			if tA == blas.Trans {
				lenY = n
			}
			y := make([]float32, lenY)
			for i := range y {
				y[i] = nan
			}
			im.Sgemv(tA, m, n, 1, a, n, x, 1, 0, y, 1)
			one := make([]float32, lenY)
			im.Threads(1, func() { im.Sgemv(tA, m, n, 1, a, n, x, 1, 0, one, 1) })
			for i := range y {
				if math.IsNaN(float64(y[i])) || math.Float32bits(y[i]) != math.Float32bits(one[i]) {
					t.Fatalf("%s tA %c: y[%d] = %v over NaN, %v on one goroutine", im.ISA(), tA, i, y[i], one[i])
				}
			}
			aNaN := []float32{nan, nan, nan, nan}
			y2 := []float32{1, 2}
			im.Sgemv(tA, 2, 2, 0, aNaN, 2, aNaN, 1, 3, y2, 1)
			if y2[0] != 3 || y2[1] != 6 {
				t.Fatalf("%s tA %c: alpha 0: y = %v, want [3 6]", im.ISA(), tA, y2)
			}
		}
	}
	im, _ := New("")
	s, xs, ys := make([]float32, 10), make([]float32, 10), make([]float32, 10)
	for i, c := range []struct {
		tA         blas.Transpose
		m, n, lda  int
		incX, incY int
		x, y       []float32
	}{
		{'z', 2, 2, 2, 1, 1, xs, ys}, {blas.NoTrans, -1, 2, 2, 1, 1, xs, ys}, {blas.NoTrans, 2, 2, 1, 1, 1, xs, ys},
		{blas.NoTrans, 2, 2, 2, 0, 1, xs, ys}, {blas.NoTrans, 2, 2, 2, 1, 0, xs, ys}, {blas.NoTrans, 2, 2, 2, 10, 1, xs, ys},
		{blas.Trans, 2, 2, 2, 1, -10, xs, ys}, {blas.NoTrans, 2, 5, 5, 1, 1, xs, s[:2]}, // 7: y overlaps A
	} {
		if i == 7 {
			if msg := panics(func() { im.Sgemv(c.tA, c.m, c.n, 1, s, c.lda, c.x, c.incX, 0, c.y, c.incY) }); msg != "sgemm: y overlaps A or x" {
				t.Errorf("%d: panic %q", i, msg)
			}
			continue
		}
		want := panics(func() { gonum.Implementation{}.Sgemv(c.tA, c.m, c.n, 1, s, c.lda, c.x, c.incX, 0, c.y, c.incY) })
		got := panics(func() { im.Sgemv(c.tA, c.m, c.n, 1, s, c.lda, c.x, c.incX, 0, c.y, c.incY) })
		if want == "" || got != want {
			t.Errorf("%d: panic %q, gonum's %q", i, got, want)
		}
	}
}
