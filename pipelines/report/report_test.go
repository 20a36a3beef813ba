package report_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/report"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scaneval"
)

// fake returns a stage that writes v as JSON to file.
func fake(name, file string, v any) *engine.Stage {
	return &engine.Stage{Name: name, Version: "1", Run: func(ctx context.Context, r *engine.Run) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
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
	rep, err := report.Stage(report.Params{Rows: []report.Row{
		{Label: "Up-Down (XE)", Metrics: "@evaluate-xe/metrics.json"},
		{Label: "Up-Down (XE) + SCST", Metrics: "@evaluate-scst/metrics.json"},
	}})
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
	if err := (report.Params{Rows: []report.Row{{Label: "x"}}}).Validate(); err == nil || !strings.Contains(err.Error(), "rows[0]") {
		t.Errorf("a row without metrics: %v", err)
	}
}
