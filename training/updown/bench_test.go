package updown

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/training/blas"
)

// benchBatch is a synthetic batch at demo-like sizes: nImg images of k
// regions of width d, five captions of 10–16 words per image from a
// vocabulary of v words, two nouns per caption with a random α.
func benchBatch(seed uint64, nImg, k, d, v int) *Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	b := &Batch{}
	for i := 0; i < nImg; i++ {
		f := make([]float32, k*d)
		for j := range f {
			f[j] = float32(r.Float64())
		}
		b.Feats = append(b.Feats, f)
		b.NumBoxes = append(b.NumBoxes, k)
		for c := 0; c < 5; c++ {
			cp := make([]int32, 10+r.IntN(7))
			for j := range cp {
				cp[j] = int32(1 + r.IntN(v))
			}
			b.Captions = append(b.Captions, cp)
			b.ImageOf = append(b.ImageOf, i)
			b.NounPos = append(b.NounPos, []int{1, 4})
			a := make([]float32, 2*k)
			for j := range a {
				a[j] = float32(r.Float64()) / float32(k) * 2
			}
			b.Alpha = append(b.Alpha, a)
		}
	}
	return b
}

func benchConfig(rnn int) Config {
	return Config{VocabSize: 300, FeatDim: 256, Arch: arch(rnn, rnn, rnn, DefaultMaxLen, DefaultDecodeMaxLen), Seed: 1}
}

// BenchmarkXEStepPaper measures XE training (as BenchmarkXEStep) at the
// paper's sizes: rnn = input encoding = att_hid = 512, 10 images × 5
// captions of 36 regions × 2048 features, V = 7000 (about Flickr30k's
// vocabulary), on the BLAS backend GROUNDCAP_BLAS names (default simd),
// reporting captions/s. Runs only with GROUNDCAP_BENCH_FULL=1 (a second or
// more per step with gonum).
func BenchmarkXEStepPaper(b *testing.B) {
	if os.Getenv("GROUNDCAP_BENCH_FULL") != "1" {
		b.Skip("GROUNDCAP_BENCH_FULL=1 runs the paper-sized captioner step")
	}
	be, err := blas.Select(cmp.Or(os.Getenv("GROUNDCAP_BLAS"), blas.Default))
	if err != nil {
		b.Fatal(err)
	}
	blas.Install(be)
	defer blas.Use(blas.Go)
	const v = 7000
	b.Run("rnn=512/D=2048/blas="+be.Name, func(b *testing.B) {
		xeSteps(b, Config{VocabSize: v, FeatDim: 2048, Arch: arch(512, 512, 512, DefaultMaxLen, DefaultDecodeMaxLen), Seed: 1}, benchBatch(1, 10, 36, 2048, v))
	})
}

// xeSteps times XE steps of a model built from cfg on batch (after one
// step that compiles the graph) and reports captions/s.
func xeSteps(b *testing.B, cfg Config, batch *Batch) {
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	opt, err := NewOptimizer(m, 0.1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	if _, err := m.XEStep(batch, 5e-4, 0.1, 0, r, opt); err != nil { // compile the graph
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.XEStep(batch, 5e-4, 0.1, 0, r, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch.Captions)*b.N)/b.Elapsed().Seconds(), "captions/s")
}

// BenchmarkXEStep measures XE training (teacher forcing, KL term λ = 0.1,
// dropout 0.5, Adam) on 29 images × 5 captions with K = 36 regions of
// D = 256 and V = 300, reporting captions/s.
func BenchmarkXEStep(b *testing.B) {
	for _, rnn := range []int{128, 256} {
		b.Run("rnn="+strconv.Itoa(rnn), func(b *testing.B) {
			xeSteps(b, benchConfig(rnn), benchBatch(1, 29, 36, 256, 300))
		})
	}
}

// BenchmarkSCSTStep measures SCST (greedy baseline, 5 samples per image,
// CIDEr-D rewards, policy-gradient update) on 29 images, reporting images/s.
func BenchmarkSCSTStep(b *testing.B) {
	for _, rnn := range []int{128, 256} {
		b.Run("rnn="+strconv.Itoa(rnn), func(b *testing.B) {
			m, err := New(benchConfig(rnn))
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(2, 29, 36, 256, 300)
			words := make([]string, 300)
			refs := make([][][]string, 29)
			for i := range words {
				words[i] = fmt.Sprintf("w%d", i+1)
			}
			for c, cp := range batch.Captions {
				var ws []string
				for _, t := range cp {
					ws = append(ws, words[t-1])
				}
				refs[batch.ImageOf[c]] = append(refs[batch.ImageOf[c]], append(ws, "<eos>"))
			}
			df, err := caption.BuildDocFreq(refs)
			if err != nil {
				b.Fatal(err)
			}
			sc, err := caption.NewScorer(df, ScorerVocab("<eos>", words))
			if err != nil {
				b.Fatal(err)
			}
			opt, err := NewOptimizer(m, 0.1)
			if err != nil {
				b.Fatal(err)
			}
			rw := &Rewarder{Scorer: sc, WCider: 1}
			r := rand.New(rand.NewPCG(1, 1))
			if _, err := m.SCSTStep(batch, 5e-5, 5, 0, rw, r, opt); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.SCSTStep(batch, 5e-5, 5, 0, rw, r, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(batch.Feats)*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkDecode measures greedy and beam-3 decoding (20 words) of 29
// images, reporting images/s.
func BenchmarkDecode(b *testing.B) {
	m, err := New(benchConfig(256))
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(3, 29, 36, 256, 300)
	for _, k := range []int{1, 3} {
		b.Run("beam="+strconv.Itoa(k), func(b *testing.B) {
			if _, err := m.Beam(&batch.Images, k); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Beam(&batch.Images, k); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(batch.Feats)*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
