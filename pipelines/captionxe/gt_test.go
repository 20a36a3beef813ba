package captionxe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	"github.com/groundcap/groundcap/training/updown"
)

// TestGTStage trains caption-xe-gt (teacher gt) on the synthetic world: it reads the captions
// stage's grounding references, trains with a KL term, and a forced rerun writes the same bytes.
func TestGTStage(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	ctx := context.Background()
	e := newEngine(t, root, &log, mustStage(t, models.CaptionXEGT, tinyOf(models.CaptionXEGT)))
	ms, err := e.Make(ctx, models.CaptionXEGT, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	m := ms[models.CaptionXEGT]
	out := readOutputs(t, root, m)
	var met captionxe.Metrics
	if err := json.Unmarshal(out[captionxe.MetricsFile], &met); err != nil {
		t.Fatal(err)
	}
	if met.Teacher != models.GT || met.GTAttention != captioning.GTArgmax || met.KLWeight != updown.DefaultKLWeightFlick || met.Steps != 8 {
		t.Errorf("metrics: teacher %s, gt_attention %q, λ %g, %d steps; want gt, argmax, %g, 8", met.Teacher, met.GTAttention, met.KLWeight, met.Steps, updown.DefaultKLWeightFlick)
	}
	if !slices.ContainsFunc(m.Components.Inputs, func(in engine.InputDigest) bool {
		return in.Name == captionxe.InputGroundingRefs && in.Ref == captionxe.DefaultGroundingRefs
	}) {
		t.Errorf("inputs %+v lack the grounding references", m.Components.Inputs)
	}
	board := testworld.Board(t, root, m)
	supervised := 0
	for _, v := range board["train/kl"] {
		if v.Scalar > 0 {
			supervised++
		}
	}
	if supervised == 0 {
		t.Errorf("no step has a positive KL term: %v", board["train/kl"])
	}
	testworld.SameFiles(t, out, testworld.Remake(t, ctx, e, root, models.CaptionXEGT, outputs...), "two runs of the same seed")
}

// TestGTAlphaInTheKL checks on the synthetic world that the KL term of caption-xe-gt uses the
// ground-truth α: one-hot rows at annotated words, a KL that differs from POS-SCAN's α on the
// same batch, and none at all for captions without ground-truth boxes (XE unchanged).
func TestGTAlphaInTheKL(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	ms, err := newEngine(t, root, io.Discard).Make(ctx, "align", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := testworld.CaptionerInputs(t, root, ms, 64)
	defer in.Close()
	refs, err := captionstable.ReadGroundingRefs(ctx, filepath.Join(testworld.Dir(root, ms["captions"]), captionstable.GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	al, err := alignments.ReadAll(ctx, filepath.Join(testworld.Dir(root, ms["align"]), alignments.Table))
	if err != nil {
		t.Fatal(err)
	}
	split, err := captioning.SelectSplit(in.Rows, []string{"train"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := captioning.NewGTBoxes(refs, captioning.GTArgmax, in.UNK)
	if err != nil {
		t.Fatal(err)
	}
	none, err := captioning.NewGTBoxes(nil, captioning.GTArgmax, in.UNK)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := captioning.NewPrecomputed(al)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3}
	batch := func(a captioning.AlphaSource) *updown.Batch {
		b, err := (&captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats, Alpha: a}).Batch(idx)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bGT, bScan, bNone := batch(gt), batch(pre), batch(none)
	// The batch's captions in order, and the head word of every annotated phrase by caption and
	// token index: a supervised position must hold its phrase's head word.
	var rows []*captionstable.Row
	for _, i := range idx {
		rows = append(rows, split.Rows[i]...)
	}
	type at struct {
		image     int64
		caption   int32
		headIndex int32
	}
	heads := map[at]string{}
	for _, r := range refs {
		heads[at{r.ImageID, r.CaptionIdx, r.HeadIndex}] = r.HeadWord
	}
	words := 0
	for c, pos := range bGT.NounPos {
		k := bGT.NumBoxes[bGT.ImageOf[c]]
		for j := range pos {
			r := rows[c]
			if h, ok := heads[at{r.ImageID, r.CaptionIdx, int32(pos[j])}]; !ok || r.Tokens[pos[j]] != h {
				t.Errorf("caption %d (image %d caption %d) position %d: token %q, annotated head word %q (%v)", c, r.ImageID, r.CaptionIdx, pos[j], r.Tokens[pos[j]], h, ok)
			}
			row := bGT.Alpha[c][j*k : (j+1)*k]
			ones := 0
			for _, v := range row {
				if v == 1 {
					ones++
				} else if v != 0 {
					ones = -1
					break
				}
			}
			if ones != 1 {
				t.Errorf("caption %d position %d: α %v is not one-hot", c, pos[j], row)
			}
		}
		words += len(pos)
		if len(bNone.NounPos[c]) != 0 {
			t.Errorf("caption %d: positions %v without ground-truth boxes", c, bNone.NounPos[c])
		}
	}
	if words == 0 {
		t.Fatal("no annotated word in the batch: the test checks nothing")
	}
	model, err := updown.New(testworld.CaptionerConfig(len(in.Words), in.Store.Dim(), 16))
	if err != nil {
		t.Fatal(err)
	}
	loss := func(b *updown.Batch) updown.XEStats {
		st, err := model.Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	sGT, sScan, sNone := loss(bGT), loss(bScan), loss(bNone)
	if sGT.Nouns != words || !(sGT.KL > 0) || sGT.KL == sScan.KL {
		t.Errorf("ground-truth KL %g over %d words (want %d, positive, unlike POS-SCAN's %g)", sGT.KL, sGT.Nouns, words, sScan.KL)
	}
	if sNone.KL != 0 || sNone.Nouns != 0 || sNone.XE != sGT.XE {
		t.Errorf("without boxes: KL %g over %d words, XE %g (want 0, 0, %g)", sNone.KL, sNone.Nouns, sNone.XE, sGT.XE)
	}
}
