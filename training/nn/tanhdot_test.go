package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTanhDot runs tanhDot on every path this CPU has (AVX-512 and Go) over lengths 0–70 and
// the attention's 512, against tanh and a float64 sum: each t[j] within 5e-7 of tanh(a+b), the
// sum within 1e-6·Σ|t·w| + 1e-7; the paths agree on t within 3e-7 (fused multiply-adds round differently).
func TestTanhDot(t *testing.T) {
	paths := []bool{false}
	if useAVX512 {
		paths = append(paths, true)
	} else {
		t.Log("no AVX-512 on this CPU: the Go path only")
	}
	r := rand.New(rand.NewPCG(8, 8))
	lengths := []int{512}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		a, b, w := make([]float32, n), make([]float32, n), make([]float32, n)
		for j := range a {
			a[j], b[j], w[j] = float32(r.NormFloat64()*3), float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		var outs [][]float32
		for _, avx := range paths {
			setAVX512(t, avx)
			out := make([]float32, n)
			s := tanhDot(out, a, b, w)
			var want, mag float64
			for j := range out {
				x := math.Tanh(float64(a[j] + b[j]))
				if d := math.Abs(float64(out[j]) - x); d > 5e-7 {
					t.Fatalf("AVX-512 %v, n %d: t[%d] = %v, tanh %v", avx, n, j, out[j], x)
				}
				want += float64(out[j]) * float64(w[j])
				mag += math.Abs(float64(out[j]) * float64(w[j]))
			}
			if d := math.Abs(float64(s) - want); d > 1e-6*mag+1e-7 {
				t.Fatalf("AVX-512 %v, n %d: sum %v, float64 %v", avx, n, s, want)
			}
			outs = append(outs, out)
		}
		for j := range outs[0] {
			if d := math.Abs(float64(outs[0][j] - outs[len(outs)-1][j])); d > 3e-7 {
				t.Fatalf("n %d: t[%d] Go %v, AVX-512 %v", n, j, outs[0][j], outs[len(outs)-1][j])
			}
		}
	}
	for _, avx := range paths {
		setAVX512(t, avx)
		out := make([]float32, 16)
		a := make([]float32, 16)
		a[3] = float32(math.NaN())
		a[4], a[5] = float32(math.Inf(1)), float32(math.Inf(-1))
		if s := tanhDot(out, a, make([]float32, 16), make([]float32, 16)); !math.IsNaN(float64(s)) || !math.IsNaN(float64(out[3])) {
			t.Errorf("AVX-512 %v: NaN input gives t %v, sum %v", avx, out[3], s)
		}
		if out[4] != 1 && math.Abs(float64(out[4])-1) > 5e-7 || math.Abs(float64(out[5])+1) > 5e-7 {
			t.Errorf("AVX-512 %v: tanh(±Inf) = %v, %v", avx, out[4], out[5])
		}
	}
}

func BenchmarkTanhDot(b *testing.B) {
	const n = 512
	x, y, w, out := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for j := range x {
		x[j], y[j], w[j] = float32(j%17)*0.3-2, 0.1, 0.5
	}
	for _, avx := range []bool{false, true} {
		if avx && !useAVX512 {
			continue
		}
		name := map[bool]string{false: "go", true: "avx512"}[avx]
		b.Run(name, func(b *testing.B) {
			setAVX512(b, avx)
			for range b.N {
				tanhDot(out, x, y, w)
			}
		})
	}
}
