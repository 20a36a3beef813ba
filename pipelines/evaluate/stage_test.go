package evaluate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/groundcap/groundcap/eval/bootstrap"
	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	"github.com/groundcap/groundcap/training/checkpoint"
	"github.com/groundcap/groundcap/training/updown"
	"github.com/groundcap/groundcap/transforms/lemma"
)

func TestMain(m *testing.M) { ptest.Main(m) }

const name = "evaluate-xe"

func newEngine(t *testing.T, root string, log io.Writer, p evaluate.Params) *engine.Engine {
	t.Helper()
	ev, err := evaluate.Stage(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return testworld.New(t, root, testworld.Small+`caption-xe: {input_encoding: 16, rnn_size: 16, att_hid: 16, batch_images: 8, epochs: 2, lr: 1.0e-2, seed: 3}
`, log, ev)
}

func outDir(root string, m *engine.Manifest) string { return filepath.Join(root, m.Stage, m.Key) }

func params() evaluate.Params {
	p := evaluate.DefaultParams(name)
	p.ClassNames, p.Pictures, p.DecodeBatch = "@synth/class_names.txt", 2, 2
	return p
}

// TestMetricsMatchFiles evaluates a tiny captioner and recomputes every score from the written
// results and submission files with references read independently of the stage: the synthetic
// world's Karpathy file (eval/caption) and its Flickr30k Entities folder (eval/grounding).
func TestMetricsMatchFiles(t *testing.T) {
	const tol = 1e-12 // the same computation on the same inputs; only summation order may differ
	ctx := context.Background()
	root := t.TempDir()
	var log bytes.Buffer
	e := newEngine(t, root, &log, params())
	ms, err := e.Make(ctx, name, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	out := outDir(root, ms[name])
	synthDir := outDir(root, ms["synth"])
	var met evalresults.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(out, evalresults.MetricsFile)), &met); err != nil {
		t.Fatal(err)
	}
	if strings.Join(met.Splits, ",") != "test,val" || met.Main() != met.Split("test") || len(met.Scores) != 2 {
		t.Fatalf("metrics.json splits %v with scores of %d, want test (main) and val", met.Splits, len(met.Scores))
	}
	var perAll evalresults.PerImages
	if err := json.Unmarshal(readFile(t, filepath.Join(out, evalresults.PerImageFile)), &perAll); err != nil {
		t.Fatal(err)
	}
	// The model's provenance, read from the checkpoint the captioner published.
	ck, err := checkpoint.Load(filepath.Join(outDir(root, ms[models.CaptionXE]), updown.BestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta["stage"] != models.CaptionXE {
		t.Fatalf("caption-xe's best.ckpt names stage %q", ck.Meta["stage"])
	}
	// Every split's files and scores, recomputed independently.
	for _, split := range met.Splits {
		sm := met.Split(split)
		if sm.Split != split {
			t.Errorf("scores of %s say split %s", split, sm.Split)
		}
		if sm.TrainedBy != ck.Meta["stage"] {
			t.Errorf("%s: trained_by %q, the checkpoint's stage %q", split, sm.TrainedBy, ck.Meta["stage"])
		}
		refs, err := caption.ReadReferences(filepath.Join(synthDir, "dataset.json"), caption.ReadOptions{Split: split})
		if err != nil {
			t.Fatal(err)
		}
		preds, err := caption.ReadPredictions(filepath.Join(out, evalresults.ResultsOf(split)))
		if err != nil {
			t.Fatal(err)
		}
		if sm.Images != len(refs) || len(preds) != len(refs) {
			t.Fatalf("%s: %d images in metrics, %d predictions, %d images", split, sm.Images, len(preds), len(refs))
		}
		res, err := caption.Score(refs, preds, caption.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := evaluate.ScoresOf(res.Corpus)
		for _, c := range [][2]float64{{sm.Caption.Bleu1, want.Bleu1}, {sm.Caption.Bleu4, want.Bleu4}, {sm.Caption.RougeL, want.RougeL}, {sm.Caption.CIDEr, want.CIDEr}} {
			if math.Abs(c[0]-c[1]) > tol {
				t.Errorf("metrics.json caption scores %+v, recomputed %+v", sm.Caption, want)
				break
			}
		}
		if sm.Caption.Bleu1 == 0 {
			t.Errorf("B@1 is 0: the captioner learnt nothing, the test checks little (%+v)", sm.Caption)
		}
		// Grounding: the submission file against references read from the Entities folder.
		sub, err := grounding.ReadSubmission(filepath.Join(out, evalresults.SubmissionOf(split)), grounding.GeneratedCaptions)
		if err != nil {
			t.Fatal(err)
		}
		classes, err := grounding.ReadClassList(filepath.Join(synthDir, "class_names.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for id := range refs {
			ids = append(ids, id)
		}
		grefs, err := grounding.ReadEntities(synthDir, classes, ids, grounding.EntitiesOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sm.Grounding == nil || sm.Grounding.RefImages != len(refs) {
			t.Fatalf("grounding metrics %+v, want references of the %d test images", sm.Grounding, len(refs))
		}
		// The tiny captioner rarely names an object: TestSubmission checks grounded words.
		for _, c := range []struct {
			mode grounding.Mode
			got  evalresults.F1Scores
		}{{grounding.ModeAll, sm.Grounding.All}, {grounding.ModeLoc, sm.Grounding.Loc}} {
			r, err := grounding.F1(grefs, sub, c.mode, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.F1-c.got.F1) > tol || math.Abs(r.Precision-c.got.Precision) > tol || math.Abs(r.Recall-c.got.Recall) > tol {
				t.Errorf("F1_%s: metrics.json P %g R %g F1 %g, recomputed from the Entities folder P %g R %g F1 %g",
					c.mode, c.got.Precision, c.got.Recall, c.got.F1, r.Precision, r.Recall, r.F1)
			}
		}
		// per_image.json: with every image counted once, its statistics give the corpus scores.
		per := perAll.Splits[split]
		if per == nil {
			t.Fatalf("per_image.json has no %s split", split)
		}
		if len(per.ImageIDs) != sm.Images || len(per.Bleu) != sm.Images || len(per.CIDEr) != sm.Images || len(per.RougeL) != sm.Images || len(per.F1All) != sm.Images || len(per.F1Loc) != sm.Images {
			t.Fatalf("per_image.json: %d ids, %d bleu, %d cider, %d rouge, %d/%d F1 rows; want %d images", len(per.ImageIDs), len(per.Bleu), len(per.CIDEr), len(per.RougeL), len(per.F1All), len(per.F1Loc), sm.Images)
		}
		ones := make([]float64, sm.Images)
		for i := range ones {
			ones[i] = 1
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"Bleu_1", caption.BleuStatistic{PerImage: per.Bleu, N: 1}.Value(ones), sm.Caption.Bleu1},
			{"Bleu_4", caption.BleuStatistic{PerImage: per.Bleu, N: 4}.Value(ones), sm.Caption.Bleu4},
			{"ROUGE_L", bootstrap.Mean(per.RougeL).Value(ones), sm.Caption.RougeL},
			{"CIDEr", bootstrap.Mean(per.CIDEr).Value(ones), sm.Caption.CIDEr},
			{"F1_all", grounding.NewF1Statistic(per.F1All).Value(ones), sm.Grounding.All.F1},
			{"F1_loc", grounding.NewF1Statistic(per.F1Loc).Value(ones), sm.Grounding.Loc.F1},
			{"attention KL", bootstrap.Ratio{Num: per.KLSum, Den: floats(per.Nouns)}.Value(ones), sm.Attention.KL},
		} {
			if math.Abs(c.got-c.want) > tol {
				t.Errorf("%s from per_image.json %g, metrics.json %g", c.name, c.got, c.want)
			}
		}
		if a := sm.Attention; a == nil || a.Teacher != "scan" || a.Nouns == 0 || a.Tokens == 0 || !(a.KL > 0) || !(a.XE > 0) {
			t.Errorf("attention metrics %+v, want POS-SCAN KL and XE over some nouns and tokens", sm.Attention)
		}
		if split != "test" && len(sm.Pictures) != 0 {
			t.Errorf("%s: pictures %v; only the main split has pictures", split, sm.Pictures)
		}
	}
	main := met.Main()
	if len(main.Pictures) != 2 {
		t.Fatalf("pictures %v, want 2", main.Pictures)
	}
	for _, p := range main.Pictures {
		if _, err := png.Decode(bytes.NewReader(readFile(t, filepath.Join(out, p)))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	rep := string(readFile(t, filepath.Join(out, evalresults.ReportFile)))
	if !strings.Contains(rep, "| B@1 |") || !strings.Contains(rep, "F1_all") || !strings.Contains(rep, "## The test split") || !strings.Contains(rep, "## The val split") {
		t.Errorf("report.md lacks the score table:\n%s", rep)
	}
}

// TestSubmission grounds hand-made decodes, writes the submission file, reads it back with
// eval/grounding and scores it against hand-made references.
func TestSubmission(t *testing.T) {
	const tol = 1e-12
	decodes := []evaluate.Decode{
		// "dogs" matches class dog (plural), "man" matches man; "red" names no class.
		{ImageID: 1, Tokens: []string{"two", "dogs", "and", "a", "man"}, Boxes: []float32{0, 0, 0, 0, 10, 10, 50, 50, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 140, 80}},
		{ImageID: 2, Tokens: []string{"a", "red", "ball"}, Boxes: make([]float32, 12)},
	}
	sub := evaluate.Submission(decodes, lemma.NewClasses([]string{"dog", "man", "car"}))
	p := sub[1][0]
	if strings.Join(p.Classes, ",") != "dog,man" || p.IdxInSent[0] != 1 || p.IdxInSent[1] != 4 || p.Boxes[1] != (grounding.Box{100, 0, 140, 80}) {
		t.Errorf("image 1 prediction %+v", p)
	}
	if len(sub[2]) != 1 || len(sub[2][0].Classes) != 0 {
		t.Errorf("image 2 (no class word) prediction %+v, want one empty entry", sub[2])
	}
	data, err := evaluate.EncodeSubmission(sub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := grounding.ReadSubmission(path, grounding.GeneratedCaptions)
	if err != nil {
		t.Fatal(err)
	}
	// One GT caption: "a dog near a man"; the dog box is hit (IoU 1), the man box is missed.
	refs := &grounding.References{Images: []grounding.ImageRef{{ImageID: 1, Captions: []grounding.Caption{{
		Tokens: []string{"a", "dog", "near", "a", "man"},
		Words:  []grounding.Word{{Class: "dog", Index: 1, Boxes: []grounding.Box{{10, 10, 50, 50}}}, {Class: "man", Index: 4, Boxes: []grounding.Box{{0, 0, 20, 20}}}}}}}}}
	r, err := grounding.F1(refs, back, grounding.ModeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Per class: dog P = R = 1, man P = R = 0; means over 2 classes: P = R = F1 = 0.5.
	if math.Abs(r.Precision-0.5) > tol || math.Abs(r.Recall-0.5) > tol || math.Abs(r.F1-0.5) > tol {
		t.Errorf("F1_all of the read-back submission: P %g R %g F1 %g, want 0.5 each", r.Precision, r.Recall, r.F1)
	}
}

// TestResumeByShard deletes one decode shard and every later output of a finished run, reruns
// the stage, and compares every file with the first run.
func TestResumeByShard(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	e := newEngine(t, root, io.Discard, params())
	ms, err := e.Make(ctx, name, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := outDir(root, ms[name])
	first := map[string][]byte{}
	for _, f := range ms[name].Files {
		first[f.Name] = readFile(t, filepath.Join(out, f.Name))
	}
	n := testworld.SmallShards
	for _, f := range []string{engine.ManifestName, shard.Name(evaluate.DecodesOf("val"), 1, n), evalresults.MetricsFile, evalresults.ResultsOf("test")} {
		if err := os.Remove(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	e = newEngine(t, root, &log, params())
	ms, err = e.Make(ctx, name, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(ms[name].Files) != len(first) {
		t.Errorf("%d files after the rerun, %d before", len(ms[name].Files), len(first))
	}
	for _, f := range ms[name].Files {
		if !bytes.Equal(readFile(t, filepath.Join(out, f.Name)), first[f.Name]) {
			t.Errorf("%s differs after the rerun", f.Name)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeReader yields records in order.
type fakeReader struct{ recs []*feat.Record }

func (f *fakeReader) Next() (*feat.Record, error) {
	if len(f.recs) == 0 {
		return nil, io.EOF
	}
	r := f.recs[0]
	f.recs = f.recs[1:]
	return r, nil
}

func TestDecodeImagesMissingFeatures(t *testing.T) {
	rec := func(id int64) *feat.Record {
		return &feat.Record{ImageID: id, NumBoxes: 2, Dim: 4, Boxes: make([]float32, 8), Features: make([]float32, 8)}
	}
	for i, c := range []struct {
		recs []*feat.Record
		ids  []int64
	}{
		{[]*feat.Record{rec(1), rec(3)}, []int64{1, 2}}, // 0: 2 lies between 1 and 3
		{[]*feat.Record{rec(1)}, []int64{1, 5}},         // 1: 5 after the last record
	} {
		_, err := evaluate.DecodeImages(nil, nil, 1, 4, &fakeReader{c.recs}, c.ids)
		if err == nil || !strings.Contains(err.Error(), "has no region features") {
			t.Errorf("%d: got %v, want a missing-features error", i, err)
		}
	}
}

// TestDrawPictureOnImage draws on a given image: the picture keeps its size plus the caption
// band, the box outline takes the first palette colour and the inside stays the image's.
func TestDrawPictureOnImage(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for i := range src.Pix {
		src.Pix[i] = 255
	}
	d := &evaluate.Decode{ImageID: 7, Caption: "a dog", Tokens: []string{"a", "dog"}, Boxes: []float32{0, 0, 1, 1, 5, 25, 75, 55}}
	b, err := evaluate.DrawPicture(src, d, []evaluate.Marked{{Index: 1, Word: "dog"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 80 || h <= 60 {
		t.Errorf("picture %d×%d, want width 80 and height > 60", w, h)
	}
	if c := color.RGBAModel.Convert(img.At(5, 55)).(color.RGBA); c != (color.RGBA{230, 25, 75, 255}) {
		t.Errorf("box corner colour %v", c)
	}
	if c := color.RGBAModel.Convert(img.At(40, 45)).(color.RGBA); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("box inside colour %v, want the image's white", c)
	}
	if _, err := evaluate.DrawPicture(src, d, []evaluate.Marked{{Index: 5, Word: "cat"}}); err == nil {
		t.Error("a marked word outside the caption gave no error")
	}
}

func TestReferencesUseRawCaptions(t *testing.T) {
	rows := []captionstable.Row{
		{ImageID: 2, Split: "test", CaptionIdx: 1, Raw: "A dog runs.", Tokens: []string{"a", "dog", "runs"}},
		{ImageID: 2, Split: "test", CaptionIdx: 0, Tokens: []string{"a", "cat"}},
		{ImageID: 3, Split: "val", CaptionIdx: 0, Raw: "x"},
	}
	got := evaluate.References(rows, "test")
	if len(got) != 1 || strings.Join(got[2], "|") != "a cat|A dog runs." {
		t.Errorf("references %v", got)
	}
}

// TestDistillationLowersKL trains the same tiny captioner with λ = 0 and with a large λ on
// POS-SCAN's attention and checks that the distilled one's attention is closer to POS-SCAN's on
// the test split's ground-truth captions.
func TestDistillationLowersKL(t *testing.T) {
	ctx := context.Background()
	lambda := 5.0
	root := t.TempDir()
	e := testworld.New(t, root, testworld.Small+`
caption-xe: &xp {input_encoding: 16, rnn_size: 16, att_hid: 16, batch_images: 8, epochs: 3, lr: 1.0e-2, seed: 3}
caption-xe-posscan: {<<: *xp, kl_weight: 5}
evaluate-xe: &ev {pictures: 0, grounding_refs: none}
evaluate-xe-posscan: *ev
`, nil)
	ms, err := e.Make(ctx, "", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kl := map[string]float64{}
	for _, c := range []string{models.CaptionXE, models.CaptionXEPOSSCAN} {
		var met evalresults.Metrics
		if err := json.Unmarshal(readFile(t, filepath.Join(outDir(root, ms[evalresults.NameOf(c)]), evalresults.MetricsFile)), &met); err != nil {
			t.Fatal(err)
		}
		kl[c] = met.Main().Attention.KL
	}
	if kl[models.CaptionXEPOSSCAN] >= kl[models.CaptionXE] {
		t.Errorf("KL(α‖β) on test: λ = %g gives %.4f, λ = 0 gives %.4f; want lower with distillation", lambda, kl[models.CaptionXEPOSSCAN], kl[models.CaptionXE])
	}
	t.Logf("KL(α‖β) on test: λ = 0: %.4f, λ = %g: %.4f", kl[models.CaptionXE], lambda, kl[models.CaptionXEPOSSCAN])
}

// TestGVDReference scores grounding against a reference file in GVD's format (one box per word,
// built from the synthetic world's Entities) that holds all test images but one, and two val
// images: the stage must score the test images it holds, exactly as eval/grounding scores the
// file (what `groundcap score-grounding --refs` runs), and name the file in its metrics.
func TestGVDReference(t *testing.T) {
	const tol = 1e-12 // the same computation on the same inputs
	ctx := context.Background()
	root := t.TempDir()
	ms, err := newEngine(t, root, io.Discard, params()).Make(ctx, name, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := captionstable.ReadCaptions(ctx, filepath.Join(outDir(root, ms["captions"]), captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	test, val := captionstable.SplitIDs(rows, "test"), captionstable.SplitIDs(rows, "val")
	path := filepath.Join(t.TempDir(), "flickr30k_cleaned_class.json")
	testworld.GVDReference(t, outDir(root, ms["synth"]), path, append(append([]int64{}, test[1:]...), val[:2]...))

	p := params()
	p.GroundingReference = path
	ms2, err := newEngine(t, root, io.Discard, p).Make(ctx, name, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ms2[name].Key == ms[name].Key {
		t.Fatal("grounding_reference left the stage key unchanged")
	}
	out := outDir(root, ms2[name])
	var met evalresults.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(out, evalresults.MetricsFile)), &met); err != nil {
		t.Fatal(err)
	}
	g := met.Split("test").Grounding
	if g == nil || g.Reference != path || g.RefImages != len(test)-1 {
		t.Fatalf("grounding metrics %+v, want the reference %s with %d test images", g, path, len(test)-1)
	}
	if gv := met.Split("val").Grounding; gv == nil || gv.Reference != path || gv.RefImages != 2 {
		t.Errorf("val grounding metrics %+v, want the reference %s with its 2 val images", gv, path)
	}
	refs, err := grounding.ReadReferences(path, test)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := grounding.ReadSubmission(filepath.Join(out, evalresults.SubmissionOf("test")), grounding.GeneratedCaptions)
	if err != nil {
		t.Fatal(err)
	}
	words := 0
	for _, img := range refs.Images {
		for _, c := range img.Captions {
			words += len(c.Words)
		}
	}
	for _, c := range []struct {
		mode grounding.Mode
		got  evalresults.F1Scores
	}{{grounding.ModeAll, g.All}, {grounding.ModeLoc, g.Loc}} {
		r, err := grounding.F1(refs, sub, c.mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.F1-c.got.F1) > tol || math.Abs(r.Precision-c.got.Precision) > tol || math.Abs(r.Recall-c.got.Recall) > tol || r.NumClasses != c.got.Classes {
			t.Errorf("F1_%s: metrics.json %+v, the reference file scored by eval/grounding P %g R %g F1 %g (%d classes)", c.mode, c.got, r.Precision, r.Recall, r.F1, r.NumClasses)
		}
	}
	// F1_all's recall decides every annotated word of every reference image once.
	n := 0
	for _, cs := range g.All.PerClass {
		n += cs.NumRecall
	}
	if n != words {
		t.Errorf("F1_all recall decided %d words, the file's test images annotate %d", n, words)
	}
	// A file without any image of the split is an error naming it.
	testworld.GVDReference(t, outDir(root, ms["synth"]), path, val)
	_, err = newEngine(t, root, io.Discard, p).Make(ctx, name, engine.MakeOptions{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "holds none of the split's") {
		t.Errorf("a reference without test images: %v", err)
	}
}

func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}
