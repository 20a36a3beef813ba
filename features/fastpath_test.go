package features

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// refFirstNonFinite is the plain loop that firstNonFinite must agree with.
func refFirstNonFinite(b []byte) int {
	for i := 0; i+4 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:])&expMask == expMask {
			return i / 4
		}
	}
	return -1
}

func TestFirstNonFinite(t *testing.T) {
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	edge := []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0, float32(math.Copysign(0, -1))}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 100} {
		for _, off := range []int{0, 1} { // 1: unaligned, takes the byte loop
			for pos := -1; pos < n; pos++ {
				v := make([]float32, n)
				for i := range v {
					v[i] = edge[i%len(edge)]
				}
				if pos >= 0 {
					v[pos] = specials[pos%len(specials)]
				}
				b := append(make([]byte, off), Float32Bytes(v)...)[off:]
				if got, want := firstNonFinite(b), refFirstNonFinite(b); got != want || want != pos {
					t.Fatalf("n %d offset %d: non-finite at %d: firstNonFinite %d, reference %d", n, off, pos, got, want)
				}
			}
		}
	}
}

func TestColumnSums(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const k, d = 5, 13
	v := make([]float32, k*d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	want := MeanFC(Float32Bytes(v), k, nil)
	wlo, whi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range v {
		wlo, whi = min(wlo, x), max(whi, x)
	}
	for _, off := range []int{0, 2} {
		b := append(make([]byte, off), Float32Bytes(v)...)[off:]
		sums := make([]float32, d)
		lo, hi := columnSums(b, k, sums)
		if lo != wlo || hi != whi {
			t.Errorf("offset %d: min/max %v %v, want %v %v", off, lo, hi, wlo, whi)
		}
		for j := range sums {
			if m := sums[j] / k; math.Float32bits(m) != math.Float32bits(want[j]) {
				t.Errorf("offset %d: column %d mean %v, MeanFC %v", off, j, m, want[j])
			}
		}
	}
}

func TestColumnStatsNonFinite(t *testing.T) {
	v := []float32{1, 2, 3, float32(math.NaN()), 5, float32(math.Inf(-1))}
	var r Row
	r.columnStats(Float32Bytes(v), 2)
	if r.nan != 2 || r.n != 4 || r.min != 1 || r.max != 5 || r.sum != 11 {
		t.Errorf("stats with NaN and -Inf: nan %d n %d min %v max %v sum %v, want 2 4 1 5 11", r.nan, r.n, r.min, r.max, r.sum)
	}
	r.columnStats(Float32Bytes([]float32{1, 2, 3, 4}), 2)
	if r.nan != 0 || r.n != 4 || r.min != 1 || r.max != 4 || r.sum != 10 {
		t.Errorf("finite stats: nan %d n %d min %v max %v sum %v", r.nan, r.n, r.min, r.max, r.sum)
	}
}

func BenchmarkRowChecks(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const k, d = 36, 2048
	v := make([]float32, k*d)
	for i := range v {
		v[i] = float32(r.ExpFloat64())
	}
	buf := Float32Bytes(v)
	sums := make([]float32, d)
	b.Run("firstNonFinite", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if firstNonFinite(buf) >= 0 {
				b.Fatal("non-finite")
			}
		}
	})
	b.Run("columnSums", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			clear(sums)
			columnSums(buf, k, sums)
		}
	})
}
