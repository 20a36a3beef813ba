package captionscst_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	"github.com/groundcap/groundcap/training/checkpoint"
	"github.com/groundcap/groundcap/training/updown"
	"github.com/groundcap/groundcap/transforms/vocab"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// tinyOf is a short SCST run of the named instance, every instance from caption-xe.
func tinyOf(name string) captionscst.Params {
	p := captionscst.DefaultParams(name)
	p.BatchImages, p.Epochs, p.LR, p.Samples, p.Seed, p.CheckpointEvery, p.Init = 6, 2, 1e-3, 3, 4, 2, "@caption-xe/last.ckpt"
	return p
}

// world is the Small world with a tiny caption-xe.
var world = testworld.Small + `caption-xe: {input_encoding: 16, rnn_size: 16, att_hid: 16, batch_images: 6, epochs: 2, lr: 5.0e-3, seed: 3}
`

func newEngine(t *testing.T, root string, log io.Writer, extra ...*engine.Stage) *engine.Engine {
	t.Helper()
	return testworld.New(t, root, world, log, extra...)
}

func mustStage(t *testing.T, name string, p captionscst.Params) *engine.Stage {
	t.Helper()
	s, err := captionscst.Stage(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestInstances checks each instance's starting XE stage and default matching reward.
func TestInstances(t *testing.T) {
	for i, c := range []struct {
		name, init string
		matcher    models.Teacher
	}{
		{models.CaptionSCST, "@caption-xe/last.ckpt", models.POSSCAN},                  // 0
		{models.CaptionSCSTSCAN, "@caption-xe-scan/last.ckpt", models.SCAN},            // 1
		{models.CaptionSCSTPOSSCAN, "@caption-xe-posscan/last.ckpt", models.POSSCAN},   // 2: the paper's best
		{models.CaptionSCSTCIDEr, "@caption-xe/last.ckpt", models.None},                // 3
		{models.CaptionSCSTCIDErSCAN, "@caption-xe-scan/last.ckpt", models.None},       // 4
		{models.CaptionSCSTCIDErPOSSCAN, "@caption-xe-posscan/last.ckpt", models.None}, // 5
		{models.CaptionSCSTGT, "@caption-xe-gt/last.ckpt", models.POSSCAN},             // 6: ground-truth supervised XE
		{models.CaptionSCSTCIDErGT, "@caption-xe-gt/last.ckpt", models.None},           // 7
	} {
		p := captionscst.DefaultParams(c.name)
		if p.Init != c.init || p.Matcher != c.matcher {
			t.Errorf("%d: %s starts from %s with matcher %s; want %s, %s", i, c.name, p.Init, p.Matcher, c.init, c.matcher)
		}
		st, err := captionscst.Stage(c.name, p)
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		// The XE best model whose score is carried in sits beside the start.
		want := strings.TrimSuffix(c.init, "last.ckpt") + "best.ckpt"
		if !slices.Contains(st.Inputs, engine.Input{Name: captionscst.InputInitBest, Ref: want}) {
			t.Errorf("%d: %s inputs %v, want %s = %s", i, c.name, st.Inputs, captionscst.InputInitBest, want)
		}
	}
	// A start that is not a stage's last.ckpt needs init_best, unless carry_best is off.
	p := captionscst.DefaultParams(models.CaptionSCST)
	p.Init = "gs://bucket/xe/model.ckpt"
	if _, err := captionscst.Stage(models.CaptionSCST, p); err == nil || !strings.Contains(err.Error(), "init_best") {
		t.Errorf("init %s without init_best: %v, want an error naming init_best", p.Init, err)
	}
	p.CarryBest = false
	if st, err := captionscst.Stage(models.CaptionSCST, p); err != nil || slices.ContainsFunc(st.Inputs, func(in engine.Input) bool { return in.Name == captionscst.InputInitBest }) {
		t.Errorf("carry_best false: %v, inputs %v (want no init_best)", err, st.Inputs)
	}
}

// TestStagesWriteOutputs runs SCST with the POS-SCAN, the SCAN and no matching reward (the
// CIDEr-D-only instance's default), the SCAN one without the XE score carried in, and a
// CIDEr-D run whose learning rate is too small to move a weight: no epoch of it beats the
// carried XE score, so its best model is caption-xe's.
func TestStagesWriteOutputs(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	noCarry := tinyOf(models.CaptionSCSTSCAN)
	noCarry.CarryBest = false
	still := tinyOf(models.CaptionSCSTCIDErSCAN)
	still.LR = 1e-12
	e := newEngine(t, root, &log,
		mustStage(t, models.CaptionSCST, tinyOf(models.CaptionSCST)),
		mustStage(t, models.CaptionSCSTSCAN, noCarry),
		mustStage(t, models.CaptionSCSTCIDEr, tinyOf(models.CaptionSCSTCIDEr)),
		mustStage(t, models.CaptionSCSTCIDErSCAN, still))
	ms, err := e.Make(context.Background(), "", engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	xeDir := testworld.Dir(root, ms[models.CaptionXE])
	var xe captionxe.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(xeDir, captionxe.MetricsFile)), &xe); err != nil {
		t.Fatal(err)
	}
	xeBest, err := checkpoint.Load(filepath.Join(xeDir, captionxe.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	xeLast, err := checkpoint.Load(filepath.Join(xeDir, captionxe.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	// A carried best model with the start's weights is scored once: the log says so for each of
	// the three carrying stages exactly when caption-xe's best epoch was its last.
	sameStart := checkpoint.EqualTensors(xeBest.Params, xeLast.Params)
	if n, want := strings.Count(log.String(), ", the start's weights"), map[bool]int{true: 3, false: 0}[sameStart]; n != want {
		t.Errorf("%d stages say their carried best is the start's weights, want %d (caption-xe's best = last: %v)", n, want, sameStart)
	}
	for _, c := range []struct {
		name    string
		matcher models.Teacher
		carried bool
	}{{models.CaptionSCST, models.POSSCAN, true}, {models.CaptionSCSTSCAN, models.SCAN, false}, {models.CaptionSCSTCIDEr, models.None, true},
		{models.CaptionSCSTCIDErSCAN, models.None, true}} {
		out := testworld.ReadFiles(t, root, ms[c.name], outputs...)
		var met captionscst.Metrics
		if err := json.Unmarshal(out[captioning.MetricsFile], &met); err != nil {
			t.Fatal(err)
		}
		if met.Matcher != c.matcher || (c.matcher == models.None) != (met.SCST.WMatch == 0) {
			t.Errorf("%s: matcher %s, w_match %g; want %s", c.name, met.Matcher, met.SCST.WMatch, c.matcher)
		}
		if met.Selection != captioning.SelectCOCO || xe.Selection != captioning.SelectCOCO {
			t.Errorf("%s: selection %q, caption-xe's %q; want %s", c.name, met.Selection, xe.Selection, captioning.SelectCOCO)
		}
		// 24 train images in batches of 6, 2 epochs.
		if met.Steps != 8 || len(met.ValCIDEr) != 2 {
			t.Errorf("%s: %d steps, %d validations; want 8, 2", c.name, met.Steps, len(met.ValCIDEr))
		}
		// The best model: the highest val score, the carried XE score counting as epoch 0
		// and winning ties.
		best, bestEpoch := math.Inf(-1), -1
		if c.carried {
			// The carried score is the XE best model's val score, as caption-xe computed it.
			if met.InitBest != "@caption-xe/best.ckpt" || met.InitBestValCIDEr != xe.BestValCIDEr {
				t.Errorf("%s: carried %s %g, caption-xe's best %g", c.name, met.InitBest, met.InitBestValCIDEr, xe.BestValCIDEr)
			}
			best, bestEpoch = met.InitBestValCIDEr, 0
		} else if met.InitBest != "" {
			t.Errorf("%s: carried %s without carry_best", c.name, met.InitBest)
		}
		for i, v := range met.ValCIDEr {
			if v > best {
				best, bestEpoch = v, i+1
			}
		}
		var hist updown.History
		if err := json.Unmarshal(out[captioning.HistoryFile], &hist); err != nil {
			t.Fatal(err)
		}
		if met.BestValCIDEr != best || met.BestEpoch != bestEpoch || hist.BestEpoch != bestEpoch || hist.Best != best {
			t.Errorf("%s: best %g at epoch %d (history %g at %d), val %v; want %g at %d", c.name, met.BestValCIDEr, met.BestEpoch,
				hist.Best, hist.BestEpoch, met.ValCIDEr, best, bestEpoch)
		}
		ck, err := checkpoint.Load(filepath.Join(testworld.Dir(root, ms[c.name]), captioning.BestFile))
		if err != nil {
			t.Fatal(err)
		}
		fromXE := ck.Meta["stage"] == models.CaptionXE && ck.Meta["key"] == ms[models.CaptionXE].Key
		if bestEpoch == 0 {
			if !fromXE || !checkpoint.EqualTensors(ck.Params, xeBest.Params) || met.Best != met.InitBest {
				t.Errorf("%s: no SCST epoch beat caption-xe, but best.ckpt is not caption-xe's best model (stage %s) or metrics say best %q",
					c.name, ck.Meta["stage"], met.Best)
			}
		} else if fromXE || ck.Meta["stage"] != c.name || met.Best != fmt.Sprintf("scst epoch %d", bestEpoch) {
			t.Errorf("%s: best.ckpt from stage %s, metrics say best %q; want SCST's epoch %d", c.name, ck.Meta["stage"], met.Best, bestEpoch)
		}
		// The start is caption-xe's last.ckpt: its val score is XE's last validation (same val
		// images, same decode batches: the same numbers).
		if want := xe.ValCIDEr[len(xe.ValCIDEr)-1]; met.StartValCIDEr != want {
			t.Errorf("%s: start val CIDEr-D %g, caption-xe's last validation %g", c.name, met.StartValCIDEr, want)
		}
		if _, _, err := captioning.LoadModel(context.Background(), filepath.Join(testworld.Dir(root, ms[c.name]), captioning.BestFile)); err != nil {
			t.Error(err)
		}
		// The TensorBoard log: the reward and loss of every step, the val scores.
		board := testworld.Board(t, root, ms[c.name])
		if len(board["train/reward"]) != 8 || len(board["train/loss"]) != 8 || len(board["train/grad_norm"]) != 8 || len(board["val/val_cider"]) != 2 {
			t.Errorf("%s: TensorBoard has %d rewards, %d losses, %d gradient norms, %d val scores; want 8, 8, 8, 2", c.name,
				len(board["train/reward"]), len(board["train/loss"]), len(board["train/grad_norm"]), len(board["val/val_cider"]))
		}
		if v := board["val/val_cider"][8]; v.Scalar != float32(met.ValCIDEr[1]) {
			t.Errorf("%s: TensorBoard val/val_cider at step 8 = %g, metrics %g", c.name, v.Scalar, met.ValCIDEr[1])
		}
	}
	// The run that cannot move a weight never beats the carried score.
	var still2 captionscst.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(testworld.Dir(root, ms[models.CaptionSCSTCIDErSCAN]), captioning.MetricsFile)), &still2); err != nil {
		t.Fatal(err)
	}
	if still2.BestEpoch != 0 {
		t.Errorf("%s at lr 1e-12: best epoch %d (val %v, carried %g), want 0", models.CaptionSCSTCIDErSCAN, still2.BestEpoch, still2.ValCIDEr, still2.InitBestValCIDEr)
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

// TestResumeIdentical stops caption-scst after step 3, reruns it, and compares every output
// byte with an uninterrupted (forced) run.
func TestResumeIdentical(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	ctx := context.Background()
	e := newEngine(t, root, &log, mustStage(t, models.CaptionSCST, tinyOf(models.CaptionSCST)))
	if _, err := e.Make(testworld.FailAfter(ctx, models.CaptionSCST, 3), models.CaptionSCST, engine.MakeOptions{}); !errors.Is(err, testworld.ErrInjected) {
		t.Fatalf("first run: got %v, want the injected failure\n%s", err, log.String())
	}
	log.Reset()
	e = newEngine(t, root, &log, mustStage(t, models.CaptionSCST, tinyOf(models.CaptionSCST)))
	ms, err := e.Make(ctx, models.CaptionSCST, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "resuming from") {
		t.Errorf("the second run did not resume:\n%s", log.String())
	}
	resumed := testworld.ReadFiles(t, root, ms[models.CaptionSCST], outputs...)
	fresh := testworld.Remake(t, ctx, e, root, models.CaptionSCST, outputs...)
	testworld.SameFiles(t, resumed, fresh, "the resumed and the uninterrupted run")
}

// TestMatcherNounMask checks that the noun mask the matcher derives for sampled words equals the
// captions stage's mask on the same (untruncated, UNK-free) reference captions, and that its
// scores equal the model's scores of those captions.
func TestMatcherNounMask(t *testing.T) {
	const tol = 1e-5 // float32 scores, different batch shapes
	root := t.TempDir()
	ctx := context.Background()
	e := newEngine(t, root, io.Discard)
	ms, err := e.Make(ctx, string(models.POSSCAN), engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := testworld.CaptionerInputs(t, root, ms, 64)
	defer in.Close()
	split, err := captioning.SelectSplit(in.Rows, []string{"train"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	model, err := models.LoadMatching(ctx, filepath.Join(testworld.Dir(root, ms[string(models.POSSCAN)]), models.MatchingFile))
	if err != nil {
		t.Fatal(err)
	}
	src := &captioning.Source{Ctx: ctx, Split: split, Feats: in.Feats}
	m, err := captionscst.NewMatcher(model, src, in.Words)
	if err != nil {
		t.Fatal(err)
	}
	text, err := models.TextOf(model)
	if err != nil || text.Mode != models.TextOriginal {
		t.Fatalf("the matching model's text: %+v %v, want %s", text, err, models.TextOriginal)
	}
	checked := 0
	for i, rows := range split.Rows[:5] {
		var toks [][]int32
		for _, r := range rows {
			if int(r.Length) != len(r.Labels) || slices.Contains(r.Tokens, vocab.UNK) {
				continue // truncated or with UNK: tagged in another context
			}
			c, err := m.Caption(r.Labels)
			if err != nil {
				t.Fatal(err)
			}
			// The sampled sentence reads as the reference does through the model's text
			// input (the original's: <start>, matching ids, ".", <end>).
			want, err := text.Sentence(r.Labels, r.NounMask)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Nouns, want.Nouns) || !slices.Equal(c.IDs, want.IDs) {
				t.Errorf("image %d caption %d %v: ids %v noun mask %v, captions stage %v %v", r.ImageID, r.CaptionIdx, r.Tokens, c.IDs, c.Nouns, want.IDs, want.Nouns)
			}
			toks = append(toks, r.Labels)
			checked++
		}
		got, err := m.Scores(i, append(toks, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got[len(toks)] != 0 {
			t.Errorf("empty caption scores %g, want 0", got[len(toks)])
		}
		for j, tk := range toks {
			c, _ := m.Caption(tk)
			rec, _ := src.Record(i)
			want, err := model.Forward(scanBatch(rec.Features, c))
			if err != nil {
				t.Fatal(err)
			}
			if d := got[j] - want[0]; d > tol || d < -tol {
				t.Errorf("image %d caption %d: score %g, alone %g", i, j, got[j], want[0])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no caption checked")
	}
}

// outputs are the files every captioner stage writes.
var outputs = []string{captioning.BestFile, captioning.LastFile, captioning.HistoryFile, captioning.MetricsFile, captioning.CurvesFile, trainrun.BoardFile}

// TestGTInstance runs caption-scst-cider-gt as a config configures it: it starts from
// caption-xe-gt (the ground-truth supervised model) and carries that model's best val score.
func TestGTInstance(t *testing.T) {
	root := t.TempDir()
	var log bytes.Buffer
	text := world + `caption-xe-gt: {input_encoding: 16, rnn_size: 16, att_hid: 16, batch_images: 6, epochs: 2, lr: 5.0e-3, seed: 3}
caption-scst-cider-gt: {batch_images: 6, epochs: 2, lr: 1.0e-3, samples: 3, seed: 4, checkpoint_every: 2}
`
	ms, err := testworld.New(t, root, text, &log).Make(context.Background(), models.CaptionSCSTCIDErGT, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var xe captionxe.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(testworld.Dir(root, ms[models.CaptionXEGT]), captionxe.MetricsFile)), &xe); err != nil {
		t.Fatal(err)
	}
	var met captionscst.Metrics
	if err := json.Unmarshal(readFile(t, filepath.Join(testworld.Dir(root, ms[models.CaptionSCSTCIDErGT]), captioning.MetricsFile)), &met); err != nil {
		t.Fatal(err)
	}
	if xe.Teacher != models.GT || met.Matcher != models.None || met.Steps != 8 || met.InitBest != "@caption-xe-gt/best.ckpt" || met.InitBestValCIDEr != xe.BestValCIDEr {
		t.Errorf("caption-xe-gt teacher %s; caption-scst-cider-gt matcher %s, %d steps, carried %s %g (caption-xe-gt's best %g)",
			xe.Teacher, met.Matcher, met.Steps, met.InitBest, met.InitBestValCIDEr, xe.BestValCIDEr)
	}
}
