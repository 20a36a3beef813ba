package caption

import (
	"fmt"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/treetest"
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

// BenchmarkRead measures the streaming readers that groundcap score starts with, on the files of
// syntheticCorpus (5,000 images × 5 references): a COCO annotation file and a COCO results file
// (ReadReferences + ReadPredictions), and the same references as a Karpathy dataset file with
// tokens (ReadReferences with Tokens).
//
//	go test -run XXX -bench Read -count 10 ./eval/caption
func BenchmarkRead(b *testing.B) {
	refs, preds := syntheticCorpus(5000, 5, 1)
	dir := b.TempDir()
	type ann struct {
		ImageID int64  `json:"image_id"`
		ID      int    `json:"id"`
		Caption string `json:"caption"`
	}
	type sentence struct {
		Raw    string   `json:"raw"`
		Tokens []string `json:"tokens"`
	}
	type image struct {
		Filename  string     `json:"filename"`
		CocoID    int64      `json:"cocoid"`
		Split     string     `json:"split"`
		Sentences []sentence `json:"sentences"`
	}
	var coco struct {
		Annotations []ann `json:"annotations"`
	}
	var results []ann
	var karpathy struct {
		Images []image `json:"images"`
	}
	for id := int64(1000); id < 1000+int64(len(refs)); id++ {
		img := image{Filename: fmt.Sprintf("%012d.jpg", id), CocoID: id, Split: "test"}
		for _, r := range refs[id] {
			coco.Annotations = append(coco.Annotations, ann{ImageID: id, ID: len(coco.Annotations) + 1, Caption: r})
			img.Sentences = append(img.Sentences, sentence{Raw: r, Tokens: strings.Fields(r)})
		}
		karpathy.Images = append(karpathy.Images, img)
		results = append(results, ann{ImageID: id, Caption: preds[id]})
	}
	write := func(name string, v any) string { return treetest.WriteJSON(b, dir, name, v) }
	cocoPath, resultsPath, karpathyPath := write("coco.json", coco), write("results.json", results), write("karpathy.json", karpathy)
	b.Run("coco+results", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := ReadReferences(cocoPath, ReadOptions{})
			if err != nil || len(r) != 5000 {
				b.Fatalf("%d references: %v", len(r), err)
			}
			p, err := ReadPredictions(resultsPath)
			if err != nil || len(p) != 5000 {
				b.Fatalf("%d predictions: %v", len(p), err)
			}
		}
	})
	b.Run("karpathy-tokens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := ReadReferences(karpathyPath, ReadOptions{Split: "test", Tokens: true})
			if err != nil || len(r) != 5000 {
				b.Fatalf("%d references: %v", len(r), err)
			}
		}
	})
}
