package captionxe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	"github.com/groundcap/groundcap/training/updown"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// tiny trains a very small captioner for two epochs.
func tiny() captionxe.Params { return tinyOf(models.CaptionXEPOSSCAN) }

// tinyOf is tiny for the named instance.
func tinyOf(name string) captionxe.Params {
	p := captionxe.DefaultParams(name)
	p.InputEncoding, p.RNNSize, p.AttHid, p.BatchImages, p.Epochs, p.LR, p.Seed, p.CheckpointEvery = 16, 16, 16, 6, 2, 5e-3, 3, 2
	return p
}

func newEngine(t *testing.T, root string, log io.Writer, extra ...*engine.Stage) *engine.Engine {
	t.Helper()
	return testworld.New(t, root, testworld.Small, log, extra...)
}

func mustStage(t *testing.T, name string, p captionxe.Params) *engine.Stage {
	t.Helper()
	s, err := captionxe.Stage(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStagesWriteOutputs runs the three instances (baseline, SCAN distillation with online α,
// POS-SCAN distillation with precomputed α) and checks their outputs.
func TestStagesWriteOutputs(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	online := tinyOf(models.CaptionXESCAN)
	online.Alpha = captionxe.AlphaOnline
	e := newEngine(t, root, &log,
		mustStage(t, models.CaptionXE, tinyOf(models.CaptionXE)),
		mustStage(t, models.CaptionXESCAN, online),
		mustStage(t, models.CaptionXEPOSSCAN, tiny()))
	ms, err := e.Make(context.Background(), "", engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, c := range []struct {
		name    string
		teacher models.Teacher
		kl      float64
		input   string
	}{
		{models.CaptionXE, models.None, 0, ""},
		{models.CaptionXESCAN, models.SCAN, updown.DefaultKLWeightFlick, "@scan-plain/model.ckpt"},
		{models.CaptionXEPOSSCAN, models.POSSCAN, updown.DefaultKLWeightFlick, "@align/alignments"},
	} {
		m := ms[c.name]
		out := readOutputs(t, root, m)
		var met captionxe.Metrics
		if err := json.Unmarshal(out[captionxe.MetricsFile], &met); err != nil {
			t.Fatal(err)
		}
		if met.Teacher != c.teacher || met.KLWeight != c.kl {
			t.Errorf("%s: teacher %s λ %g, want %s λ %g", c.name, met.Teacher, met.KLWeight, c.teacher, c.kl)
		}
		// 24 train images (80% of 30) in batches of 6: 4 steps per epoch, 2 epochs.
		if met.TrainImages != 24 || met.Steps != 8 || len(met.ValCIDEr) != 2 {
			t.Errorf("%s: %d train images, %d steps, %d validations; want 24, 8, 2", c.name, met.TrainImages, met.Steps, len(met.ValCIDEr))
		}
		best := math.Inf(-1)
		for _, v := range met.ValCIDEr {
			best = math.Max(best, v)
		}
		if met.BestValCIDEr != best || met.ValCIDEr[met.BestEpoch-1] != best {
			t.Errorf("%s: best %g at epoch %d, val scores %v", c.name, met.BestValCIDEr, met.BestEpoch, met.ValCIDEr)
		}
		var hist updown.History
		if err := json.Unmarshal(out[captionxe.HistoryFile], &hist); err != nil {
			t.Fatal(err)
		}
		if len(hist.Loss) != 8 || hist.BestEpoch != met.BestEpoch {
			t.Errorf("%s: history has %d losses, best epoch %d", c.name, len(hist.Loss), hist.BestEpoch)
		}
		if _, err := png.Decode(bytes.NewReader(out[models.CurvesFile])); err != nil {
			t.Errorf("%s: curves: %v", c.name, err)
		}
		// The TensorBoard log: the history's losses, KL where distilling, the val scores, and
		// after each validation the attention pictures of the first val images.
		board := testworld.Board(t, root, m)
		for i, l := range hist.Loss {
			if v, ok := board["train/loss"][hist.Steps[i]]; !ok || v.Scalar != float32(l) {
				t.Errorf("%s: TensorBoard train/loss at step %d = %+v, history %g", c.name, hist.Steps[i], v, l)
			}
		}
		for step, v := range board["train/grad_norm"] {
			if !(v.Scalar > 0) || math.IsInf(float64(v.Scalar), 0) {
				t.Errorf("%s: TensorBoard train/grad_norm at step %d = %g, want finite and positive", c.name, step, v.Scalar)
			}
		}
		if n := len(board["train/grad_norm"]); n != 8 {
			t.Errorf("%s: TensorBoard train/grad_norm: %d steps, want 8", c.name, n)
		}
		if n := len(board["train/kl"]); n != 8 || (c.kl > 0) != (board["train/kl"][8].Scalar > 0) {
			t.Errorf("%s: TensorBoard train/kl: %d steps, last %g; want 8, positive iff λ > 0", c.name, n, board["train/kl"][8].Scalar)
		}
		for i, v := range met.ValCIDEr {
			if b, ok := board["val/val_cider"][int64(4*(i+1))]; !ok || b.Scalar != float32(v) {
				t.Errorf("%s: TensorBoard val/val_cider after epoch %d = %+v, metrics %g", c.name, i+1, b, v)
			}
		}
		pictures := 0
		for tag, steps := range board {
			if !strings.HasPrefix(tag, "attention/") {
				continue
			}
			pictures++
			for step, v := range steps {
				if (step != 4 && step != 8) || v.Image == nil || v.Image.Width <= 0 || v.Image.Height <= v.Image.Width/4 {
					t.Errorf("%s: TensorBoard %s at step %d: %+v, want a picture after a validation", c.name, tag, step, v.Image)
				} else if img, err := png.Decode(bytes.NewReader(v.Image.Encoded)); err != nil || img.Bounds().Dx() != v.Image.Width || img.Bounds().Dy() != v.Image.Height {
					t.Errorf("%s: TensorBoard %s: PNG %v, %v; want %dx%d", c.name, tag, img.Bounds(), err, v.Image.Width, v.Image.Height)
				}
			}
		}
		if pictures != captioning.Pictures {
			t.Errorf("%s: TensorBoard pictures of %d val images, want %d", c.name, pictures, captioning.Pictures)
		}
		for _, f := range []string{captionxe.BestFile, captionxe.LastFile} {
			model, ck, err := captioning.LoadModel(context.Background(), filepath.Join(testworld.Dir(root, m), f))
			if err != nil {
				t.Fatal(err)
			}
			if model.Config().RNNSize != 16 || ck.M == nil {
				t.Errorf("%s/%s: rnn %d, optimiser state %v", c.name, f, model.Config().RNNSize, ck.M != nil)
			}
		}
		refs := map[string]bool{}
		for _, in := range m.Components.Inputs {
			refs[in.Ref] = true
		}
		if c.input != "" && !refs[c.input] {
			t.Errorf("%s: inputs %v lack %s", c.name, m.Components.Inputs, c.input)
		}
		if _, err := os.Stat(testworld.Dir(root, m) + ".work"); !os.IsNotExist(err) {
			t.Errorf("%s: the work directory is still there (%v)", c.name, err)
		}
	}
}

// TestResumeIdentical stops caption-xe-posscan after step 3 (its last checkpoint is step 2),
// reruns it, and compares every output byte with an uninterrupted run (forced afterwards).
func TestResumeIdentical(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	ctx := context.Background()
	e := newEngine(t, root, &log, mustStage(t, models.CaptionXEPOSSCAN, tiny()))
	if _, err := e.Make(testworld.FailAfter(ctx, models.CaptionXEPOSSCAN, 3), models.CaptionXEPOSSCAN, engine.MakeOptions{}); !errors.Is(err, testworld.ErrInjected) {
		t.Fatalf("first run: got %v, want the injected failure\n%s", err, log.String())
	}
	log.Reset()
	e = newEngine(t, root, &log, mustStage(t, models.CaptionXEPOSSCAN, tiny()))
	ms, err := e.Make(ctx, models.CaptionXEPOSSCAN, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "resuming from") {
		t.Errorf("the second run did not resume:\n%s", log.String())
	}
	resumed := readOutputs(t, root, ms[models.CaptionXEPOSSCAN])
	fresh := testworld.Remake(t, ctx, e, root, models.CaptionXEPOSSCAN, outputs...)
	testworld.SameFiles(t, resumed, fresh, "the resumed and the uninterrupted run")
}

// TestOnlineAlphaMatchesAlignments checks that α computed online from the POS-SCAN model equals
// the align stage's table for the same captions (the align stage batches 4 images per call, so
// the last bits may differ).
func TestOnlineAlphaMatchesAlignments(t *testing.T) {
	const tol = 1e-5 // float32 attention, different batch shapes
	root := t.TempDir()
	ctx := context.Background()
	e := newEngine(t, root, io.Discard)
	ms, err := e.Make(ctx, "align", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := captionstable.ReadCaptions(ctx, filepath.Join(testworld.Dir(root, ms["captions"]), captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	al, err := alignments.ReadAll(ctx, filepath.Join(testworld.Dir(root, ms["align"]), alignments.Table))
	if err != nil {
		t.Fatal(err)
	}
	pre, err := captioning.NewPrecomputed(al)
	if err != nil {
		t.Fatal(err)
	}
	model, err := models.LoadMatching(ctx, filepath.Join(testworld.Dir(root, ms["scan"]), models.MatchingFile))
	if err != nil {
		t.Fatal(err)
	}
	in, err := captioning.OpenInputs(ctx, filepath.Join(testworld.Dir(root, ms["captions"]), captionstable.CaptionsTable),
		filepath.Join(testworld.Dir(root, ms["captions"]), captionstable.VocabFile), testworld.Dir(root, ms["features"]), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	split, err := captioning.SelectSplit(rows, []string{"train"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := &captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats, Alpha: pre}
	b := &captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats, Alpha: &captioning.Online{Model: model}}
	idx := []int{0, 3, 7}
	ba, err := a.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := b.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	nouns := 0
	for c := range ba.Captions {
		if len(ba.NounPos[c]) != len(bb.NounPos[c]) || len(ba.Alpha[c]) != len(bb.Alpha[c]) {
			t.Fatalf("caption %d: %v vs %v", c, ba.NounPos[c], bb.NounPos[c])
		}
		nouns += len(ba.NounPos[c])
		for i := range ba.Alpha[c] {
			if d := math.Abs(float64(ba.Alpha[c][i] - bb.Alpha[c][i])); d > tol {
				t.Fatalf("caption %d value %d: %g vs %g", c, i, ba.Alpha[c][i], bb.Alpha[c][i])
			}
		}
	}
	if nouns == 0 {
		t.Fatal("no noun in the batch: the test checks nothing")
	}
}

func TestValidate(t *testing.T) {
	kl := 0.5
	neg := -1.0
	with := func(name string, set func(*captionxe.Params)) captionxe.Params {
		p := captionxe.DefaultParams(name)
		set(&p)
		return p
	}
	for i, c := range []struct {
		name string
		p    captionxe.Params
		want string
	}{
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.KLWeight = &kl }), "kl_weight"},                                      // 0
		{models.CaptionXESCAN, with(models.CaptionXESCAN, func(p *captionxe.Params) { p.KLWeight = &neg }), "kl_weight"},                             // 1
		{models.CaptionXEPOSSCAN, with(models.CaptionXEPOSSCAN, func(p *captionxe.Params) { p.Alpha = "sometimes" }), "alpha"},                       // 2
		{models.CaptionXEPOSSCAN, with(models.CaptionXEPOSSCAN, func(p *captionxe.Params) { p.Teacher = "clip" }), "teacher"},                        // 3
		{"caption-xe-other", captionxe.DefaultParams(models.CaptionXE), "stage name"},                                                                // 4
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.TrainSplits = []string{"val"} }), "train"},                           // 5
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.BLAS = "mkl" }), "blas"},                                             // 6
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.Epochs = -1 }), "epochs: -1"},                                        // 7
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.BatchImages = 0 }), "batch_images: 0"},                               // 8: zero is no default
		{models.CaptionXE, with(models.CaptionXE, func(p *captionxe.Params) { p.Selection = "bleu" }), "selection"},                                  // 9
		{models.CaptionXEPOSSCAN, with(models.CaptionXEPOSSCAN, func(p *captionxe.Params) { p.GTAttention = captioning.GTSoftmax }), "gt_attention"}, // 10: only with teacher gt
		{models.CaptionXEGT, with(models.CaptionXEGT, func(p *captionxe.Params) { p.GTAttention = "uniform" }), "gt_attention"},                      // 11
		{models.CaptionXEGT, with(models.CaptionXEGT, func(p *captionxe.Params) { p.KLWeight = &neg }), "kl_weight"},                                 // 12
	} {
		_, err := captionxe.Stage(c.name, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: got %v, want an error naming %s", i, err, c.want)
		}
	}
	refs := func(st *engine.Stage) string {
		var r []string
		for _, in := range st.Inputs {
			r = append(r, in.Name+"="+in.Ref)
		}
		return strings.Join(r, " ")
	}
	zero := 0.0
	st := mustStage(t, models.CaptionXEPOSSCAN, with(models.CaptionXEPOSSCAN, func(p *captionxe.Params) { p.KLWeight = &zero }))
	if key := st.Params.(map[string]any); key["teacher"] != models.None || strings.Contains(refs(st), "alignments") {
		t.Errorf("kl_weight 0 keeps teacher %v, inputs %s", key["teacher"], refs(st))
	}
	st = mustStage(t, models.CaptionXESCAN, captionxe.DefaultParams(models.CaptionXESCAN))
	if key := st.Params.(map[string]any); key["teacher"] != models.SCAN || !strings.Contains(refs(st), "alignments=@align-plain/alignments") || key["kl_weight"] != updown.DefaultKLWeightFlick {
		t.Errorf("caption-xe-scan defaults: %v, inputs %s", key, refs(st))
	}
	// Teacher gt reads the grounding references, has no α mode, and its form enters the key;
	// the other instances' keys have no gt_attention at all.
	st = mustStage(t, models.CaptionXEGT, captionxe.DefaultParams(models.CaptionXEGT))
	if key := st.Params.(map[string]any); key["teacher"] != models.GT || key["gt_attention"] != captioning.GTArgmax || key["alpha"] != captionxe.AlphaMode("") ||
		key["kl_weight"] != updown.DefaultKLWeightFlick || refs(st) != "captions=@captions/captions vocab=@captions/vocab.json cider_df=@captions/cider_df.json features=@features grounding_refs=@captions/grounding_refs" {
		t.Errorf("caption-xe-gt defaults: %v, inputs %s", key, refs(st))
	}
	for _, n := range []string{models.CaptionXE, models.CaptionXESCAN, models.CaptionXEPOSSCAN} {
		if _, ok := mustStage(t, n, captionxe.DefaultParams(n)).Params.(map[string]any)["gt_attention"]; ok {
			t.Errorf("%s: gt_attention in the key", n)
		}
	}
	st = mustStage(t, models.CaptionXEGT, with(models.CaptionXEGT, func(p *captionxe.Params) { p.KLWeight = &zero }))
	if key := st.Params.(map[string]any); key["teacher"] != models.None || strings.Contains(refs(st), "grounding_refs") {
		t.Errorf("caption-xe-gt with kl_weight 0 keeps teacher %v, inputs %s", key["teacher"], refs(st))
	}
}

// TestMemRoot runs caption-xe on a mem:// root: the trainer's work directory is then local
// scratch space, removed once the checkpoints are in the store.
func TestMemRoot(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the work directory goes under os.TempDir()
	ctx := context.Background()
	root := "mem://captionxe-test/" + strings.ReplaceAll(t.Name(), "/", "_")
	e := newEngine(t, root, io.Discard, mustStage(t, models.CaptionXE, tinyOf(models.CaptionXE)))
	ms, err := e.Make(ctx, models.CaptionXE, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := ms[models.CaptionXE]
	names := map[string]bool{}
	for _, f := range m.Files {
		names[f.Name] = true
	}
	for _, f := range outputs {
		if !names[f] {
			t.Errorf("manifest lacks %s: %+v", f, m.Files)
		}
	}
	if _, _, err := captioning.LoadModel(ctx, e.OutputDir(models.CaptionXE, m.Key)+"/"+captionxe.BestFile); err != nil {
		t.Error(err)
	}
	work := filepath.Join(os.TempDir(), "groundcap-work", models.CaptionXE, m.Key)
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("the work directory %s is still there (%v)", work, err)
	}
}

// outputs are the files every captioner stage (caption-xe, caption-scst) writes.
var outputs = []string{captionxe.BestFile, captionxe.LastFile, captionxe.HistoryFile, captionxe.MetricsFile, models.CurvesFile, trainrun.BoardFile}

// readOutputs reads a captioner stage's outputs, by file name.
func readOutputs(t testing.TB, root string, m *engine.Manifest) map[string][]byte {
	t.Helper()
	return testworld.ReadFiles(t, root, m, outputs...)
}
