package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/report"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scaneval"
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

// TestReportTables runs the report over two fake evaluations and a fake scan-eval and checks
// the rendered rows (values ×100, F1 with two decimals, "–" without grounding).
func TestReportTables(t *testing.T) {
	xe := evaluate.Metrics{Stage: "evaluate-xe", Captioner: "caption-xe", Images: 40,
		Caption:   evaluate.CaptionScores{Bleu1: 0.6543, Bleu4: 0.2109, RougeL: 0.45, CIDEr: 0.987},
		Grounding: &evaluate.GroundingMetrics{All: evaluate.F1Scores{F1: 0.0412}, Loc: evaluate.F1Scores{F1: 0.1234}},
		Attention: &evaluate.AttentionMetrics{Teacher: "scan", KL: 1.23456}}
	scst := evaluate.Metrics{Stage: "evaluate-scst", Captioner: "caption-scst", Images: 40, Caption: evaluate.CaptionScores{Bleu1: 0.7, CIDEr: 1.5}}
	se := scaneval.Metrics{Splits: map[string]scaneval.SplitInfo{"test": {}, "val": {}}, Random: map[string]float64{"test": 9.5, "val": 10},
		Models: []scaneval.ModelResult{
			{Stage: scan.NamePlain, Accuracy: map[string]float64{"test": 20, "val": 21}, Retrieval: scan.Retrieval{RSum: 300}},
			{Stage: scan.NamePOS, POS: true, Accuracy: map[string]float64{"test": 30.25, "val": 31}, Retrieval: scan.Retrieval{RSum: 310}},
		}}
	p := report.DefaultParams()
	p.Rows = []report.Row{
		{Label: "Up-Down (XE)", Metrics: "@evaluate-xe/metrics.json", Results: "none", Pictures: "none"},
		{Label: "Up-Down (XE) + SCST", Metrics: "@evaluate-scst/metrics.json", Results: "none", Pictures: "none"},
	}
	p.Curves = []report.CurveRef{{Stage: "none"}}
	rep, err := report.Stage(p)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	e, err := engine.New(root, []*engine.Stage{fake("evaluate-xe", "metrics.json", xe), fake("evaluate-scst", "metrics.json", scst),
		fake(scaneval.Name, scaneval.MetricsFile, se), rep}, engine.Options{ModuleVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Make(context.Background(), report.Name, engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, report.Name, ms[report.Name].Key, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Up-Down (XE) | 65.4 | 21.1 | 45.0 | 98.7 | 4.12 | 12.34 | 1.235 |",
		"| Up-Down (XE) + SCST | 70.0 | 0.0 | 0.0 | 150.0 | – | – | – |",
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
	if len(rows) != 6 || rows[2].Label != "XE + KL(POS-SCAN)" || rows[5].Metrics != "@evaluate-scst-posscan/metrics.json" {
		t.Errorf("default rows %+v", rows)
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
	g := &evaluate.GroundingMetrics{All: evaluate.F1Scores{F1: 0.1, PerClass: []grounding.ClassScore{{Class: "dog", Precision: 0.5, Recall: 0.5, NumPrec: 2, NumRecall: 4}}},
		Loc: evaluate.F1Scores{F1: 0.2, PerClass: []grounding.ClassScore{{Class: "dog", Precision: 1, Recall: 0.5, NumPrec: 1, NumRecall: 2}}}}
	stages := func() []*engine.Stage {
		var out []*engine.Stage
		for i, name := range []string{"evaluate-xe", "evaluate-scst"} {
			m := evaluate.Metrics{Stage: name, Images: 2, Caption: evaluate.CaptionScores{Bleu1: 0.5 + 0.1*float64(i)}, Grounding: g}
			res, _ := json.Marshal([]evaluate.Result{{ImageID: 4, Caption: "a dog " + name}, {ImageID: 9, Caption: "two dogs"}})
			out = append(out, fake(name, evaluate.MetricsFile, m, map[string][]byte{evaluate.ResultsFile: res, "pictures/4.png": red, "pictures/9.png": blue}))
		}
		se := scaneval.Metrics{Splits: map[string]scaneval.SplitInfo{"test": {}}, Random: map[string]float64{"test": 9.5},
			Models: []scaneval.ModelResult{{Stage: scan.NamePOS, POS: true, Accuracy: map[string]float64{"test": 30}}}}
		out = append(out, fake(scaneval.Name, scaneval.MetricsFile, se), fake(scan.NamePOS, "x.json", 1, map[string][]byte{scan.CurveFile: blue}),
			fake("caption-xe", "x.json", 1, map[string][]byte{"curves.png": red}))
		p := report.DefaultParams()
		p.Rows = []report.Row{
			{Label: "Up-Down (XE)", Metrics: "@evaluate-xe/metrics.json"},
			{Label: "Up-Down (XE) + SCST", Metrics: "@evaluate-scst/metrics.json"},
		}
		p.Curves = []report.CurveRef{{Stage: scan.NamePOS, Picture: "@scan/" + scan.CurveFile}, {Stage: "caption-xe"}}
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
