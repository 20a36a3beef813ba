package align_test

import (
	"io"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	tscan "github.com/groundcap/groundcap/training/scan"
)

type fakeFeats struct{ recs []*feat.Record }

func (f *fakeFeats) Next() (*feat.Record, error) {
	if len(f.recs) == 0 {
		return nil, io.EOF
	}
	r := f.recs[0]
	f.recs = f.recs[1:]
	return r, nil
}

// TestAlignerRejectsMissingFeatures: captions of an image without features are rejected (one
// row each, with the image id); the others are aligned in input order, across batch boundaries.
func TestAlignerRejectsMissingFeatures(t *testing.T) {
	const d = 4
	cfg := tscan.DefaultConfig()
	cfg.Vocab, cfg.ImgDim, cfg.Embed, cfg.WordDim, cfg.Seed = 6, d, 8, 4, 1
	m, err := tscan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id int64, k int) *feat.Record {
		f := make([]float32, k*d)
		for i := range f {
			f[i] = float32(i%5) * 0.1
		}
		return &feat.Record{ImageID: id, NumBoxes: k, Dim: d, Features: f}
	}
	var rows []captionstable.Row
	for _, id := range []int64{1, 2, 3, 5} {
		for c := range 2 {
			rows = append(rows, captionstable.Row{ImageID: id, CaptionIdx: int32(c), Split: "train", Labels: []int32{1, 2, 3}, NounMask: []bool{false, true, c == 1}})
		}
	}
	feats := &fakeFeats{recs: []*feat.Record{rec(1, 3), rec(3, 2), rec(4, 5), rec(5, 4)}}
	a := &align.Aligner{Model: m, BatchImages: 2, Source: "captions/part-00000-of-00001.parquet"}
	out, rej, err := a.Align(rows, feats)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 2 || rej[0].ImageID != 2 || rej[1].ImageID != 2 || rej[1].Record != "caption 1" {
		t.Errorf("rejects %+v, want captions 0 and 1 of image 2", rej)
	}
	wantIDs := []int64{1, 1, 3, 3, 5, 5}
	wantK := map[int64]int32{1: 3, 3: 2, 5: 4}
	if len(out) != len(wantIDs) {
		t.Fatalf("%d rows, want %d", len(out), len(wantIDs))
	}
	for i, r := range out {
		if r.ImageID != wantIDs[i] || r.CaptionIdx != int32(i%2) || r.Regions != wantK[r.ImageID] || len(r.NounPositions) != 1+i%2 {
			t.Errorf("row %d: image %d caption %d regions %d positions %v", i, r.ImageID, r.CaptionIdx, r.Regions, r.NounPositions)
		}
		if _, err := r.Alpha(); err != nil {
			t.Error(err)
		}
	}
}
