package align_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/training/blas"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// BenchmarkAlign measures the alignment of one shard's captions (5 per image, 12 words, every
// third a noun) with random features, excluding I/O: captions aligned per second.
// GROUNDCAP_BLAS picks the backend (default go).
func BenchmarkAlign(b *testing.B) {
	name := os.Getenv("GROUNDCAP_BLAS")
	if name == "" {
		name = blas.Go
	}
	if _, err := blas.Use(name); err != nil {
		b.Fatal(err)
	}
	defer blas.Use(blas.Go)
	for _, s := range []struct {
		name                         string
		images, k, d, e, word, vocab int
		batch                        int
	}{
		{"demo/E=256,D=256,K=36", 64, 36, 256, 256, 128, 500, 16},
		{"paper/E=1024,D=2048,K=36", 32, 36, 2048, 1024, 300, 7000, 16},
	} {
		b.Run(fmt.Sprintf("%s,batch=%d/blas=%s", s.name, s.batch, name), func(b *testing.B) {
			cfg := tscan.DefaultConfig()
			cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.WordDim, cfg.Seed = s.vocab, s.d, s.e, s.word, 1
			m, err := tscan.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			var rows []captionstable.Row
			var recs []*feat.Record
			for i := range s.images {
				f := make([]float32, s.k*s.d)
				for j := range f {
					f[j] = r.Float32()
				}
				recs = append(recs, &feat.Record{ImageID: int64(i), NumBoxes: s.k, Dim: s.d, Features: f})
				for c := range 5 {
					labels := make([]int32, 12)
					nouns := make([]bool, 12)
					for t := range labels {
						labels[t] = int32(1 + r.IntN(s.vocab-1))
						nouns[t] = t%3 == 1
					}
					rows = append(rows, captionstable.Row{ImageID: int64(i), CaptionIdx: int32(c), Labels: labels, NounMask: nouns})
				}
			}
			a := &align.Aligner{Model: m, BatchImages: s.batch, Source: "bench"}
			if _, _, err := a.Align(rows, &fakeFeats{recs: recs}); err != nil { // builds the graphs
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, err := a.Align(rows, &fakeFeats{recs: recs}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "captions/s")
		})
	}
}
