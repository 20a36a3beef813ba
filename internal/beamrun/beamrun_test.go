package beamrun

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// prismFailure is the error prism gave for a shard writer that failed (features stage, issue 16
// finding 8), as the CLI printed it.
const prismFailure = `job job-001 failed:
bundle inst009 stage-009 failed:process bundle failed for instruction inst009 using plan stage-009 : while executing FinishBundle for Plan[stage-009]:
1: DataSource[S[stage-009_source@localhost:35619], i0] Out:6 Coder:W<CoGBK<int[varintz;c3];c4,LP;c8_lp<R[features.LineRef]>>>!GWC 
6: ParDo[features.writeShardFn] Out:[5] Sig: func(context.Context, int, func(*features.LineRef) bool, func(int)) error, SideInputs: []
5: PCollection[n10] Out:[4]
4: ParDo[shardcheck.single] Out:[2] Sig: func(int) []int, SideInputs: []
3: PCollection[n13] Out:[2]
2: DataSink[S[e13_i0@localhost:35619]] Coder:W;cwv_n13<I;c12<int[varintz;c3];c4>[[]int]>!GWC
	caused by:
DoFn[UID:6, PID:e10, Name: github.com/groundcap/groundcap/pipelines/features.writeShardFn] failed:
features: blobio: cannot write file:///out/features/part-00000-of-00002.parquet: no space left on device`

func TestRootCause(t *testing.T) {
	for i, c := range []struct{ msg, want string }{
		{prismFailure, "features: blobio: cannot write file:///out/features/part-00000-of-00002.parquet: no space left on device"}, // 0
		{"connecting to job service: connection refused", "connecting to job service: connection refused"},                         // 1
		{"a\n\tcaused by:\nb\n\tcaused by:\nc: d\n  e", "c: d; e"},                                                                 // 2: the last cause, lines joined
		{"job failed:\nplan dump\nthe end", "the end"},                                                                             // 3
	} {
		if got := RootCause(c.msg); got != c.want {
			t.Errorf("%d: RootCause = %q, want %q", i, got, c.want)
		}
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	runErr := errors.New(prismFailure)
	e := report(runErr, "level=ERROR msg=\"Bundle Failed.\"\n", "features", dir, time.Date(2026, 12, 5, 8, 43, 4, 5, time.UTC))
	msg := e.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "features: blobio: cannot write") || !strings.Contains(msg, e.Log) || !errors.Is(e, runErr) {
		t.Errorf("error %q (log %q): want the cause first, one line, naming the log", msg, e.Log)
	}
	data, err := os.ReadFile(e.Log)
	if err != nil || !strings.Contains(string(data), "Plan[stage-009]") || !strings.Contains(string(data), "root cause: features: blobio") ||
		!strings.Contains(string(data), "Bundle Failed.") {
		t.Errorf("log %s: %v\n%s", e.Log, err, data)
	}
	// A log that cannot be written leaves the report in the message.
	e = report(runErr, "", "features", "/dev/null/x", time.Now())
	if e.Log != "" || !strings.Contains(e.Error(), "Plan[stage-009]") || strings.Contains(e.Error(), "\n") {
		t.Errorf("unwritable log: %q", e.Error())
	}
}

// TestHandlers: while a pipeline runs, dumps (at any level) and ERROR records go to the report
// only, WARN records to both, the rest to the console; once it has run, dumps below ERROR that
// the runner logs late are dropped (prism logs a failed bundle's plan at INFO, sometimes after
// the failure has reached Run).
func TestHandlers(t *testing.T) {
	var console bytes.Buffer
	base := slog.NewTextHandler(&console, nil)
	tee := &teeHandler{console: base, out: &capped{max: maxLogged}}
	tee.file = slog.NewTextHandler(tee.out, &slog.HandlerOptions{Level: slog.LevelDebug})
	log := slog.New(tee)
	log.Info("bundle inst009 stage-009 failed: while executing Process for Plan[stage-009]")
	log.Info("Job[job-007] state: FAILED")
	log.Warn("a warning")
	log.Error("Bundle Failed.")
	report := tee.out.String()
	for _, w := range []string{"Plan[stage-009]", "a warning", "Bundle Failed."} {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q:\n%s", w, report)
		}
	}
	if strings.Contains(report, "state: FAILED") {
		t.Errorf("an INFO record reached the report:\n%s", report)
	}
	c := console.String()
	if strings.Contains(c, "Plan[") || strings.Contains(c, "Bundle Failed.") || !strings.Contains(c, "state: FAILED") || !strings.Contains(c, "a warning") {
		t.Errorf("console:\n%s", c)
	}

	console.Reset()
	after := slog.New(&dumpFilter{next: base})
	after.Info("bundle failed:\n\tcaused by:\nx")
	after.Info("pipeline done!")
	after.Error("a later error")
	if c := console.String(); strings.Contains(c, "caused by") || !strings.Contains(c, "pipeline done!") || !strings.Contains(c, "a later error") {
		t.Errorf("console after the run:\n%s", c)
	}
}
