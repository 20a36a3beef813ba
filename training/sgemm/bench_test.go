package sgemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShapes are the products timed by BenchmarkSgemm: the square and
// 128-row shapes of the issue, and the small products of the fused ops
// (the cosine's 36×36×1024 Gram matrix and 36×1024×36 product, a GRU step's
// 128×3072×1024).
var benchShapes = [][3]int{{1024, 1024, 1024}, {128, 1024, 1024}, {128, 3072, 1024}, {36, 36, 1024}, {36, 1024, 36}}

// BenchmarkSgemm measures Sgemm (NoTrans, NoTrans) of every kernel this CPU
// runs at benchShapes, on all CPUs and on one, reporting GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	for _, isa := range Available() {
		im, err := New(isa)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range benchShapes {
			m, n, k := s[0], s[1], s[2]
			r := rand.New(rand.NewPCG(1, 1))
			x, y, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
			for _, one := range []bool{false, true} {
				name := fmt.Sprintf("isa=%s/%dx%dx%d", isa, m, n, k)
				if one {
					name += "/threads=1"
				}
				b.Run(name, func(b *testing.B) {
					run := func() { im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, y, n, 0, c, n) }
					for i := 0; i < b.N; i++ {
						if one {
							im.Threads(1, run)
						} else {
							run()
						}
					}
					b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32() - 0.5
	}
	return s
}

// BenchmarkSgemmPeer measures gonum's Sgemm at benchShapes, the peer of
// BenchmarkSgemm's kernels in the same run.
func BenchmarkSgemmPeer(b *testing.B) {
	var g gonum.Implementation
	for _, s := range benchShapes {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewPCG(1, 1))
		x, y, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, n, k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				g.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, y, n, 0, c, n)
			}
			b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
