package nn

// tanhDot sets t[j] = tanhRational(a[j] + b[j]) and returns Σ_j t[j]·w[j] (all of length
// len(t)): the additive attention's activations and score of one region. On CPUs with AVX-512
// the first multiple of 16 values go through tanhDotAVX512 (16 lanes, fused multiply-adds,
// partial sums added in a fixed order), the rest here; the results are the same for a given
// CPU whatever the batch or thread count.
func tanhDot(t, a, b, w []float32) float32 {
	a, b, w = a[:len(t)], b[:len(t)], w[:len(t)]
	var s float32
	n := 0
	if useAVX512 && len(t) >= 16 {
		n = len(t) &^ 15
		s = tanhDotAVX512(n, &a[0], &b[0], &w[0], &t[0])
	}
	for j := n; j < len(t); j++ {
		x := tanhRational(a[j] + b[j])
		t[j] = x
		s += x * w[j]
	}
	return s
}
