package captionxe_test

import (
	"context"
	"math/rand/v2"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// benchWorld is the demo's world in small: D 256, 36 regions, 100 images (80 train).
var benchWorld = testworld.Data(100, 256, 36, 1, 2)

// BenchmarkXEStep measures one caption-xe training step (batch loading, α, XE + λ·KL forward,
// backward and Adam) at the demo's sizes (16 images × 5 captions, rnn = input encoding = att_hid
// = 128, λ = 0.1) with α read from precomputed alignments and with α computed online by the
// POS-SCAN model (embed 128, word_dim 64; its weights do not change the cost) in every step, in
// one run; and the batch loading alone with each α source (also with a paper-sized POS-SCAN,
// embed 1024, word_dim 300).
func BenchmarkXEStep(b *testing.B) {
	ctx := context.Background()
	in := testworld.CaptionerData(b, b.TempDir(), benchWorld)
	defer in.Close()
	split, err := captioning.SelectSplit(in.Rows, []string{"train"}, 0)
	if err != nil {
		b.Fatal(err)
	}
	sm, err := tscan.New(testworld.MatcherConfig(len(in.Words)+1, in.Store.Dim(), 128, 64))
	if err != nil {
		b.Fatal(err)
	}
	online := &captioning.Online{Model: sm}
	// The alignments table as the align stage would write it, from the same model.
	var rows []alignments.Row
	for i, id := range split.Images {
		rec, err := in.Feats.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, alignRows(b, sm, rec, split.Rows[i])...)
	}
	pre, err := captioning.NewPrecomputed(rows)
	if err != nil {
		b.Fatal(err)
	}
	big, err := tscan.New(testworld.MatcherConfig(len(in.Words)+1, in.Store.Dim(), 1024, 300))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 16
	idx := rand.New(rand.NewPCG(1, 1)).Perm(len(split.Images))[:batch]
	for _, c := range []struct {
		name  string
		alpha captioning.AlphaSource
		step  bool
	}{
		{"alpha=precomputed", pre, true}, {"alpha=online", online, true},
		{"alpha=precomputed-only", pre, false}, {"alpha=online-only", online, false},
		{"alpha=online-only/embed=1024", &captioning.Online{Model: big}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			src := &captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats, Alpha: c.alpha}
			m, err := updown.New(testworld.CaptionerConfig(len(in.Words), in.Store.Dim(), 128))
			if err != nil {
				b.Fatal(err)
			}
			opt, err := updown.NewOptimizer(m, updown.DefaultGradClip)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			caps := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt, err := src.Batch(idx)
				if err != nil {
					b.Fatal(err)
				}
				caps += len(bt.Captions)
				if !c.step {
					continue
				}
				if _, err := m.XEStep(bt, updown.DefaultXELR, updown.DefaultKLWeightFlick, 0, r, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(caps)/b.Elapsed().Seconds(), "captions/s")
		})
	}
}

// alignRows aligns one image's captions as the align stage does.
func alignRows(b *testing.B, m *tscan.Model, rec *feat.Record, rows []*captionstable.Row) []alignments.Row {
	b.Helper()
	bt := tscan.Batch{Feats: [][]float32{rec.Features}}
	for _, r := range rows {
		bt.Captions = append(bt.Captions, tscan.Caption{IDs: r.Labels, Nouns: r.NounMask})
	}
	als, err := m.Align(bt, make([]int, len(rows)))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]alignments.Row, len(rows))
	for j, a := range als {
		out[j] = alignments.Row{ImageID: rows[j].ImageID, CaptionIdx: rows[j].CaptionIdx, NounPositions: a.Positions, Regions: int32(a.Regions),
			Attention: feat.Float32Bytes(a.Attention), Score: a.Score}
	}
	return out
}
