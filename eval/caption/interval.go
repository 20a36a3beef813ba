package caption

// BleuStatistic is Bleu_N of a corpus as a function of image weights, for bootstrap intervals
// (eval/bootstrap.Statistic): the images' BLEU statistics summed with the weights, then
// pycocoevalcap's formula. With every weight 1 it is the corpus Bleu_N of [Score].
type BleuStatistic struct {
	PerImage []BleuStats
	N        int // 1..4
}

// Units returns the number of images.
func (b BleuStatistic) Units() int { return len(b.PerImage) }

// Value returns Bleu_N of the weighted statistics.
func (b BleuStatistic) Value(w []float64) float64 {
	var t BleuStats
	for i := range b.PerImage {
		if w[i] != 0 {
			t.AddScaled(b.PerImage[i], w[i])
		}
	}
	return t.scores()[b.N-1]
}
