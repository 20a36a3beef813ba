package caption

import (
	"fmt"
	"testing"
)

// BenchmarkScore measures the whole of Score (BLEU-1..4, ROUGE-L, CIDEr-D) on pre-tokenised captions:
// 5,000 images × 5 references, the size of the COCO Karpathy test split.
func BenchmarkScore(b *testing.B) {
	refs, preds := syntheticCorpus(5000, 5, 1)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("images=5000/workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Score(refs, preds, Options{PreTokenized: true, Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkTokenize measures the PTB tokeniser on raw captions.
func BenchmarkTokenize(b *testing.B) {
	caps := []string{
		"A man in a red shirt is riding a bike down the street.",
		"Two dogs (one brown) play with a frisbee, don't they?",
		"The woman's hat is blue and white; it's sunny outside!",
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, c := range caps {
			_ = Tokenize(c)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "captions/s")
}
