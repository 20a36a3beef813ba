package captionscst_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// BenchmarkSCSTStep measures one caption-scst step at the demo's sizes (16 images, 5 samples
// each plus the greedy baseline, rnn = input encoding = att_hid = 128) with the CIDEr-D reward
// alone and with CIDEr-D + the POS-SCAN score (embed 128, word_dim 64; samples POS-tagged) in
// one run. The CIDEr-D table is built from the world's train references.
func BenchmarkSCSTStep(b *testing.B) {
	ctx := context.Background()
	in := testworld.CaptionerData(b, b.TempDir(), testworld.Data(100, 256, 36, 1, 2))
	defer in.Close()
	split, err := captioning.SelectSplit(in.Rows, []string{"train"}, 0)
	if err != nil {
		b.Fatal(err)
	}
	var refs [][][]string
	for _, rs := range split.Rows {
		var im [][]string
		for _, r := range rs {
			im = append(im, append(append([]string(nil), r.Tokens...), "<eos>"))
		}
		refs = append(refs, im)
	}
	df, err := caption.BuildDocFreq(refs)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := caption.NewScorer(df, updown.ScorerVocab("<eos>", in.Words))
	if err != nil {
		b.Fatal(err)
	}
	sm, err := tscan.New(testworld.MatcherConfig(len(in.Words)+1, in.Store.Dim(), 128, 64))
	if err != nil {
		b.Fatal(err)
	}
	src := &captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats}
	matcher, err := captionscst.NewMatcher(sm, src, in.Words)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 16
	idx := rand.New(rand.NewPCG(1, 1)).Perm(len(split.Images))[:batch]
	for _, c := range []struct {
		name  string
		match updown.MatchFunc
	}{{"reward=cider", nil}, {"reward=cider+posscan", matcher.Func()}} {
		b.Run(c.name, func(b *testing.B) {
			m, err := updown.New(testworld.CaptionerConfig(len(in.Words), in.Store.Dim(), 128))
			if err != nil {
				b.Fatal(err)
			}
			opt, err := updown.NewOptimizer(m, updown.DefaultGradClip)
			if err != nil {
				b.Fatal(err)
			}
			rw := &updown.Rewarder{Scorer: sc, Match: c.match, WCider: 1, WMatch: 1}
			r := rand.New(rand.NewPCG(1, 2))
			images := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt, err := src.Batch(idx)
				if err != nil {
					b.Fatal(err)
				}
				bt.Index = idx
				st, err := m.SCSTStep(bt, updown.DefaultSCSTLR, updown.DefaultSCSTSamples, 0, rw, r, opt)
				if err != nil {
					b.Fatal(err, matcher.Err())
				}
				images += st.Images
			}
			b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
