package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/eval/bootstrap"
	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/report"
)

// fake returns a stage that writes v as JSON to file, and the raw files of more (name → bytes).
func fake(name, file string, v any, more ...map[string][]byte) *engine.Stage {
	return &engine.Stage{Name: name, Version: "1", Run: func(ctx context.Context, r *engine.Run) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		for _, m := range more {
			for n, data := range m {
				if err := blobio.WriteAll(ctx, r.Output(n), data); err != nil {
					return err
				}
			}
		}
		return blobio.WriteAll(ctx, r.Output(file), b)
	}}
}

// makeReport runs the report stage of p over its fake input stages in a fresh engine and returns
// the report's output directory.
func makeReport(t *testing.T, p report.Params, inputs ...*engine.Stage) string {
	t.Helper()
	rep, err := report.Stage(p)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	e, err := engine.New(root, append(inputs, rep), engine.Options{ModuleVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Make(context.Background(), report.Name, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, report.Name, ms[report.Name].Key)
}

// splits returns an evaluate stage's metrics.json of the given splits (the first the main one).
func splits(stage string, names []string, ms ...evalresults.SplitMetrics) evalresults.Metrics {
	out := evalresults.Metrics{Stage: stage, Splits: names, Scores: map[string]*evalresults.SplitMetrics{}}
	for i, n := range names {
		m := ms[i]
		m.Stage, m.Split = stage, n
		out.Scores[n] = &m
	}
	return out
}

// TestReportTables runs the report over two fake evaluations and a fake scan-eval and checks
// the rendered rows (values ×100, F1 with two decimals, "–" without grounding).
func TestReportTables(t *testing.T) {
	// Both evaluated on test (the main split) and val; the val scores differ.
	xe := splits("evaluate-xe", []string{"test", "val"}, evalresults.SplitMetrics{Captioner: "caption-xe", Images: 40,
		Caption:   evalresults.CaptionScores{Bleu1: 0.6543, Bleu4: 0.2109, RougeL: 0.45, CIDEr: 0.987},
		Grounding: &evalresults.GroundingMetrics{All: evalresults.F1Scores{F1: 0.0412}, Loc: evalresults.F1Scores{F1: 0.1234}},
		Attention: &evalresults.AttentionMetrics{Teacher: "scan", KL: 1.23456}},
		evalresults.SplitMetrics{Captioner: "caption-xe", Images: 30, Caption: evalresults.CaptionScores{Bleu1: 0.5, Bleu4: 0.1, RougeL: 0.4, CIDEr: 0.8}})
	// The val split first in its list: the report's split decides the main table.
	scst := splits("evaluate-scst", []string{"val", "test"}, evalresults.SplitMetrics{Images: 30, Caption: evalresults.CaptionScores{Bleu1: 0.75, CIDEr: 1.25}},
		evalresults.SplitMetrics{Captioner: "caption-scst", Images: 40, Caption: evalresults.CaptionScores{Bleu1: 0.7, CIDEr: 1.5}})
	se := scanevalresults.Metrics{Splits: map[string]scanevalresults.SplitInfo{"test": {}, "val": {}}, Random: map[string]float64{"test": 9.5, "val": 10},
		Models: []scanevalresults.ModelResult{
			{Stage: string(models.SCAN), Accuracy: map[string]float64{"test": 20, "val": 21}, Retrieval: models.Retrieval{RSum: 300}},
			{Stage: string(models.POSSCAN), POS: true, Accuracy: map[string]float64{"test": 30.25, "val": 31}, Retrieval: models.Retrieval{RSum: 310}},
		}}
	p := report.DefaultParams()
	p.Rows = []report.Row{
		{Label: "Up-Down (XE)", Metrics: "@evaluate-xe/metrics.json", Results: "none", Pictures: "none", PerImage: "none"},
		{Label: "Up-Down (XE) + SCST", Metrics: "@evaluate-scst/metrics.json", Results: "none", Pictures: "none", PerImage: "none"},
	}
	p.Curves = []report.CurveRef{{Stage: "none"}}
	p.ScanEvalPerImage = "none"
	dir := makeReport(t, p, fake("evaluate-xe", "metrics.json", xe), fake("evaluate-scst", "metrics.json", scst),
		fake(scanevalresults.Name, scanevalresults.MetricsFile, se))
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	val := strings.Index(text, "## The val split")
	if val < 0 {
		t.Fatalf("report.md has no val table:\n%s", md)
	}
	for _, want := range []string{
		"Captioning and grounding on the test split (40 images)",
		"| Up-Down (XE) | 65.4 | 21.1 | 45.0 | 98.7 | 4.12 | 12.34 | 1.235 |",
		"| Up-Down (XE) + SCST | 70.0 | 0.0 | 0.0 | 150.0 | – | – | – |",
	} {
		if i := strings.Index(text, want); i < 0 || i > val {
			t.Errorf("report.md's test table lacks %q:\n%s", want, md)
		}
	}
	for _, want := range []string{
		"Captioning and grounding on the val split (30 images)",
		"| Up-Down (XE) | 50.0 | 10.0 | 40.0 | 80.0 | – | – |\n",
		"| Up-Down (XE) + SCST | 75.0 | 0.0 | 0.0 | 125.0 | – | – |\n",
	} {
		if i := strings.Index(text, want); i < val {
			t.Errorf("report.md's val table lacks %q:\n%s", want, md)
		}
	}
	for _, want := range []string{
		"| Matching model | accuracy (test) | accuracy (val) | rsum |",
		"| SCAN (scan-plain) | 20.00 | 21.00 | 300.0 |",
		"| POS-SCAN (scan) | 30.25 | 31.00 | 310.0 |",
		"| random region | 9.50 | 10.00 | – |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

func TestDefaultRows(t *testing.T) {
	rows := report.DefaultRows()
	if len(rows) != 12 || rows[2].Label != "XE + KL(POS-SCAN)" || rows[3].Metrics != "@evaluate-xe-gt/metrics.json" || rows[3].Paper != report.PaperGT ||
		rows[4].Metrics != "@evaluate-scst-cider-gt/metrics.json" || rows[5].Metrics != "@evaluate-scst-gt/metrics.json" || rows[5].Paper != report.PaperGT ||
		rows[8].Metrics != "@evaluate-scst-cider-posscan/metrics.json" ||
		rows[9].Metrics != "@evaluate-scst-posscan/metrics.json" || rows[9].Paper != report.PaperBest || rows[11].Paper != report.PaperAblation {
		t.Errorf("default rows %+v", rows)
	}
	if !slices.Contains(report.DefaultPairs(), report.Pair{A: "evaluate-xe-gt", B: "evaluate-xe-posscan"}) {
		t.Errorf("default pairs %+v lack ground truth − KL(POS-SCAN)", report.DefaultPairs())
	}
	// Restricted to the stages of a config without the CIDEr-D-only SCST and the optional
	// ground-truth supervision: their rows, pairs and curves go.
	p := report.DefaultParamsFor(func(s string) bool { return !strings.Contains(s, "cider") && !strings.HasSuffix(s, "-gt") })
	if len(p.Rows) != 6 || len(p.Curves) != 8 {
		t.Errorf("restricted: %d rows, %d curves; want 6 and 8", len(p.Rows), len(p.Curves))
	}
	for _, pr := range p.Pairs {
		if strings.Contains(pr.A+pr.B, "cider") || strings.Contains(pr.A+pr.B, "-gt") {
			t.Errorf("restricted: pair %+v", pr)
		}
	}
	bad := report.DefaultParams()
	bad.Rows = []report.Row{{Label: "x"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "rows[0]") {
		t.Errorf("a row without metrics: %v", err)
	}
}

// TestReportHTML runs the report stage over fake evaluations with results and pictures, a fake
// scan-eval and fake trained stages' curves: report.html has every row, curve and picture; the
// same inputs give the same bytes; and it renders in a browser when one is installed.
func TestReportHTML(t *testing.T) {
	red, blue := testPNG(t, 48, 32, color.RGBA{200, 40, 40, 255}), testPNG(t, 48, 32, color.RGBA{40, 40, 200, 255})
	g := &evalresults.GroundingMetrics{All: evalresults.F1Scores{F1: 0.1, PerClass: []grounding.ClassScore{{Class: "dog", Precision: 0.5, Recall: 0.5, NumPrec: 2, NumRecall: 4}}},
		Loc: evalresults.F1Scores{F1: 0.2, PerClass: []grounding.ClassScore{{Class: "dog", Precision: 1, Recall: 0.5, NumPrec: 1, NumRecall: 2}}}}
	stages := func() []*engine.Stage {
		var out []*engine.Stage
		for i, name := range []string{"evaluate-xe", "evaluate-scst"} {
			m := splits(name, []string{"test"}, evalresults.SplitMetrics{Images: 2, Caption: evalresults.CaptionScores{Bleu1: 0.5 + 0.1*float64(i)}, Grounding: g})
			res, _ := json.Marshal([]evalresults.Result{{ImageID: 4, Caption: "a dog " + name}, {ImageID: 9, Caption: "two dogs"}})
			out = append(out, fake(name, evalresults.MetricsFile, m, map[string][]byte{evalresults.ResultsOf("test"): res, "pictures/4.png": red, "pictures/9.png": blue}))
		}
		se := scanevalresults.Metrics{Splits: map[string]scanevalresults.SplitInfo{"test": {}}, Random: map[string]float64{"test": 9.5},
			Models: []scanevalresults.ModelResult{{Stage: string(models.POSSCAN), POS: true, Accuracy: map[string]float64{"test": 30}}}}
		out = append(out, fake(scanevalresults.Name, scanevalresults.MetricsFile, se), fake(string(models.POSSCAN), "x.json", 1, map[string][]byte{models.MatchingCurveFile: blue}),
			fake("caption-xe", "x.json", 1, map[string][]byte{"curves.png": red}))
		p := report.DefaultParams()
		p.Rows = []report.Row{
			{Label: "Up-Down (XE)", Metrics: "@evaluate-xe/metrics.json", PerImage: "none"},
			{Label: "Up-Down (XE) + SCST", Metrics: "@evaluate-scst/metrics.json", PerImage: "none"},
		}
		p.ScanEvalPerImage = "none"
		p.Curves = []report.CurveRef{{Stage: string(models.POSSCAN), Picture: "@scan/" + models.MatchingCurveFile}, {Stage: "caption-xe"}}
		rep, err := report.Stage(p)
		if err != nil {
			t.Fatal(err)
		}
		return append(out, rep)
	}
	run := func() []byte {
		root := t.TempDir()
		e, err := engine.New(root, stages(), engine.Options{ModuleVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Make(context.Background(), report.Name, engine.MakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(filepath.Join(root, report.Name, ms[report.Name].Key, report.HTMLFile))
		if err != nil {
			t.Fatal(err)
		}
		return html
	}
	html := run()
	for _, want := range []string{
		`<tr data-stage="evaluate-scst"><td><a href="#v-1">Up-Down (XE) &#43; SCST</a></td><td class="num best">60.0</td>`,
		`<figure class="curve" data-stage="scan">`, `<figure class="curve" data-stage="caption-xe">`,
		`<div class="image" id="img-4">`, `<div class="image" id="img-9">`,
		"<figcaption><b>Up-Down (XE) &#43; SCST</b>a dog evaluate-scst</figcaption>",
		`<td>dog</td><td class="num">4</td>`,
		"<td>POS-SCAN (scan)</td>",
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if again := run(); !bytes.Equal(html, again) {
		t.Error("two runs over the same inputs wrote different report.html")
	}
	checkInBrowser(t, html, 2, 4)
}

// TestReportIntervals runs the report over three fake evaluations of the same 30 images with
// per-image scores: evaluate-xe; evaluate-scst, whose every image scores 0.3 more CIDEr-D; and
// evaluate-xe-scan, a copy of evaluate-xe. Every score gets an interval around its value; the
// paired difference of a constant shift is the shift with a degenerate interval, the difference
// of a copy is 0 and marked †; POS-SCAN's accuracy minus SCAN's gets an interval per split. On
// val, whose per-image scores are test's in reverse order, SCST scores 0.3 less.
func TestReportIntervals(t *testing.T) {
	const n, shift, tol = 30, 0.3, 1e-9
	rng := rand.New(rand.NewPCG(7, 7))
	base := evalresults.PerImage{}
	for i := range n {
		base.ImageIDs = append(base.ImageIDs, int64(100+i))
		g := float64(5 + rng.IntN(5))
		c := float64(rng.IntN(int(g) + 1))
		base.Bleu = append(base.Bleu, caption.BleuStats{Correct: [4]float64{c, c / 2, c / 4, c / 8}, Guess: [4]float64{g, g - 1, g - 2, g - 3}, TestLen: g, RefLen: g + 1})
		base.RougeL = append(base.RougeL, rng.Float64())
		base.CIDEr = append(base.CIDEr, 0.5+rng.Float64())
		h := rng.IntN(3)
		base.F1All = append(base.F1All, []grounding.ClassCount{{Class: "dog", PrecHits: h, PrecN: 2, RecHits: h, RecN: 3, Annotated: true}, {Class: "man", PrecHits: 1, PrecN: 1 + h, RecN: 1, Annotated: true}})
		base.F1Loc = base.F1All
	}
	scst := base
	scst.CIDEr = nil
	for _, c := range base.CIDEr {
		scst.CIDEr = append(scst.CIDEr, c+shift)
	}
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	reversed := func(pi evalresults.PerImage) evalresults.PerImage {
		out := evalresults.PerImage{ImageIDs: pi.ImageIDs}
		for i := n - 1; i >= 0; i-- {
			out.Bleu, out.RougeL, out.CIDEr = append(out.Bleu, pi.Bleu[i]), append(out.RougeL, pi.RougeL[i]), append(out.CIDEr, pi.CIDEr[i])
			out.F1All, out.F1Loc = append(out.F1All, pi.F1All[i]), append(out.F1Loc, pi.F1Loc[i])
		}
		return out
	}
	metricsOf := func(pi evalresults.PerImage) evalresults.SplitMetrics {
		return evalresults.SplitMetrics{Images: n, Caption: evalresults.CaptionScores{
			Bleu1: caption.BleuStatistic{PerImage: pi.Bleu, N: 1}.Value(ones), Bleu4: caption.BleuStatistic{PerImage: pi.Bleu, N: 4}.Value(ones),
			RougeL: bootstrap.Mean(pi.RougeL).Value(ones), CIDEr: bootstrap.Mean(pi.CIDEr).Value(ones)},
			Grounding: &evalresults.GroundingMetrics{All: evalresults.F1Scores{F1: grounding.NewF1Statistic(pi.F1All).Value(ones)}, Loc: evalresults.F1Scores{F1: grounding.NewF1Statistic(pi.F1Loc).Value(ones)}}}
	}
	var stages []*engine.Stage
	p := report.DefaultParams()
	p.Rows = nil
	for _, v := range []struct {
		stage, label string
		pi           evalresults.PerImage
		val          evalresults.PerImage
	}{{"evaluate-xe", "XE", base, reversed(scst)}, {"evaluate-scst", "SCST", scst, reversed(base)}, {"evaluate-xe-scan", "KL(SCAN)", base, reversed(scst)}} {
		pj, err := json.Marshal(evalresults.PerImages{Splits: map[string]*evalresults.PerImage{"test": &v.pi, "val": &v.val}})
		if err != nil {
			t.Fatal(err)
		}
		m := splits(v.stage, []string{"test", "val"}, metricsOf(v.pi), metricsOf(v.val))
		stages = append(stages, fake(v.stage, evalresults.MetricsFile, m, map[string][]byte{evalresults.PerImageFile: pj}))
		p.Rows = append(p.Rows, report.Row{Label: v.label, Metrics: "@" + v.stage + "/metrics.json", Results: "none", Pictures: "none"})
	}
	// scan-eval: SCAN hits 1 of 2 dog words per image, POS-SCAN 2 of 2 on even images.
	per := scanevalresults.PerImage{Splits: map[string]*scanevalresults.SplitPerImage{}}
	for _, split := range []string{"val", "test"} {
		sp := &scanevalresults.SplitPerImage{Models: map[string][][]grounding.ClassCount{}}
		for i := range n {
			sp.ImageIDs = append(sp.ImageIDs, int64(i))
			sp.Models[string(models.SCAN)] = append(sp.Models[string(models.SCAN)], []grounding.ClassCount{{Class: "dog", RecHits: 1, RecN: 2}})
			sp.Models[string(models.POSSCAN)] = append(sp.Models[string(models.POSSCAN)], []grounding.ClassCount{{Class: "dog", RecHits: 2 * ((i + 1) % 2), RecN: 2}})
		}
		per.Splits[split] = sp
	}
	se := scanevalresults.Metrics{Splits: map[string]scanevalresults.SplitInfo{"test": {}, "val": {}}, Random: map[string]float64{"test": 9.5, "val": 10},
		Models: []scanevalresults.ModelResult{{Stage: string(models.SCAN), Accuracy: map[string]float64{"test": 50, "val": 50}}, {Stage: string(models.POSSCAN), POS: true, Accuracy: map[string]float64{"test": 50, "val": 50}}}}
	pj, err := json.Marshal(per)
	if err != nil {
		t.Fatal(err)
	}
	stages = append(stages, fake(scanevalresults.Name, scanevalresults.MetricsFile, se, map[string][]byte{scanevalresults.PerImageFile: pj}))
	p.Curves = []report.CurveRef{{Stage: "none"}}
	dir := makeReport(t, p, stages...)
	var rep report.Report
	if b, err := os.ReadFile(filepath.Join(dir, report.JSONFile)); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Bootstrap == nil || rep.Bootstrap.Images != n || rep.Bootstrap.Resamples != bootstrap.DefaultResamples {
		t.Errorf("bootstrap %+v", rep.Bootstrap)
	}
	for _, row := range rep.Rows {
		vals := map[string]float64{"bleu_1": row.B1, "bleu_4": row.B4, "rouge_l": row.RougeL, "cider_d": row.CIDEr, "f1_all": *row.F1All, "f1_loc": *row.F1Loc}
		for k, v := range vals {
			iv, ok := row.Intervals[k]
			if !ok || !(iv.Lo < v && v < iv.Hi) {
				t.Errorf("%s %s = %g, interval %+v (present %v): want one around the value", row.Label, k, v, iv, ok)
			}
		}
	}
	diffs := map[string]report.Difference{}
	for _, d := range rep.Differences {
		diffs[d.StageA+" "+d.StageB] = d
	}
	if len(rep.Differences) != 2 {
		t.Errorf("differences %+v, want scst and xe-scan against xe", rep.Differences)
	}
	c := diffs["evaluate-scst evaluate-xe"].Scores["cider_d"]
	if math.Abs(c.Value-100*shift) > tol || math.Abs(c.Lo-100*shift) > tol || math.Abs(c.Hi-100*shift) > tol || c.ContainsZero {
		t.Errorf("SCST − XE CIDEr-D %+v, want %g with a degenerate interval", c, 100*shift)
	}
	for k, e := range diffs["evaluate-xe-scan evaluate-xe"].Scores {
		if e.Value != 0 || e.Lo != 0 || e.Hi != 0 || !e.ContainsZero {
			t.Errorf("copy − XE %s %+v, want 0 marked as containing 0", k, e)
		}
	}
	// The val split: SCST − XE is −0.3 on every image.
	if len(rep.Other) != 1 || rep.Other[0].Split != "val" || len(rep.Other[0].Rows) != 3 || rep.Other[0].Bootstrap == nil {
		t.Fatalf("other splits %+v, want val's three rows", rep.Other)
	}
	for _, d := range rep.Other[0].Differences {
		if d.StageA == "evaluate-scst" {
			if c := d.Scores["cider_d"]; math.Abs(c.Value+100*shift) > tol || math.Abs(c.Hi+100*shift) > tol || c.ContainsZero {
				t.Errorf("val: SCST − XE CIDEr-D %+v, want %g with a degenerate interval", c, -100*shift)
			}
		}
	}
	for _, row := range rep.Other[0].Rows {
		if iv, ok := row.Intervals["cider_d"]; !ok || !(iv.Lo < row.CIDEr && row.CIDEr < iv.Hi) {
			t.Errorf("val: %s CIDEr-D %g, interval %+v", row.Label, row.CIDEr, iv)
		}
	}
	// POS-SCAN − SCAN: 50 % on average over the 30 images; half the images at 100 %, half at 0.
	md := rep.Matching
	for _, split := range []string{"val", "test"} {
		d := md.Difference.Accuracy[split]
		if d.Value != 0 || !(d.Lo < 0 && d.Hi > 0) || !d.ContainsZero {
			t.Errorf("%s: POS-SCAN − SCAN %+v, want 0 inside a wide interval", split, d)
		}
		if iv := md.Models[0].Intervals[split]; iv.Lo != 50 || iv.Hi != 50 {
			t.Errorf("%s: SCAN's accuracy interval %+v, want [50, 50] (every image at 50 %%)", split, iv)
		}
	}
	text, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| SCST − XE |", "+30.0 [30.0, 30.0] |", "| KL(SCAN) − XE | +0.0 [0.0, 0.0] † |", "| POS-SCAN − SCAN (scan − scan-plain) | +0.00 [", "-30.0 [-30.0, -30.0] |"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("report.md lacks %q:\n%s", want, text)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="differences-table"`, "&#43;30.0", "&#43;0.0<span class=\"ci\">[0.0, 0.0] †"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestReportMarksKeptModel checks that a row whose evaluated model was trained by another stage
// (an SCST stage that kept its XE model) is marked in report.md, report.json and report.html,
// and that rows with their own models are not.
func TestReportMarksKeptModel(t *testing.T) {
	score := func(captioner, trainedBy string, cider float64) evalresults.SplitMetrics {
		return evalresults.SplitMetrics{Captioner: captioner, TrainedBy: trainedBy, Images: 10, Caption: evalresults.CaptionScores{Bleu1: 0.5, CIDEr: cider}}
	}
	xe := splits("evaluate-xe", []string{"test"}, score("caption-xe", "caption-xe", 0.9))
	kept := splits("evaluate-scst", []string{"test"}, score("caption-scst", "caption-xe", 0.9))
	own := splits("evaluate-scst-cider", []string{"test"}, score("caption-scst-cider", "caption-scst-cider", 1.1))
	old := splits("evaluate-scst-old", []string{"test"}, score("caption-scst-old", "", 1.0)) // before trained_by
	p := report.DefaultParams()
	p.Rows = nil
	for _, s := range []string{"xe", "scst", "scst-cider", "scst-old"} {
		p.Rows = append(p.Rows, report.Row{Label: "row " + s, Metrics: "@evaluate-" + s + "/metrics.json", Results: "none", Pictures: "none", PerImage: "none"})
	}
	p.Curves, p.ScanEval = []report.CurveRef{{Stage: "none"}}, "none"
	dir := makeReport(t, p, fake("evaluate-xe", "metrics.json", xe), fake("evaluate-scst", "metrics.json", kept),
		fake("evaluate-scst-cider", "metrics.json", own), fake("evaluate-scst-old", "metrics.json", old))
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	if strings.Count(text, " ‡ |") != 1 || !strings.Contains(text, "| row scst ‡ |") {
		t.Errorf("report.md marks other rows than the kept one:\n%s", md)
	}
	if !strings.Contains(text, "caption-scst is caption-xe's model.") || strings.Count(text, "'s model") != 1 {
		t.Errorf("report.md's note does not name exactly the kept model:\n%s", md)
	}
	js, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var got report.Report
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "caption-xe", "", ""} {
		if got.Rows[i].Kept != want {
			t.Errorf("report.json row %d kept %q, want %q", i, got.Rows[i].Kept, want)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "no epoch of its own beat it on val"); n != 1 {
		t.Errorf("report.html marks %d rows as kept, want 1", n)
	}
}
