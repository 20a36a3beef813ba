// Package beamrun runs a Beam pipeline and reports its failure plainly: the root cause first,
// in one line, and the runner's whole report (bundle, plan and transform dumps) in a log file
// whose path the error names.
package beamrun

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

// Error is a failed pipeline run.
type Error struct {
	Cause string // the root cause, one line
	Log   string // the file holding the runner's whole report ("" when it could not be written)
	Err   error  // the runner's error
}

// Error returns the root cause and where the runner's report is.
func (e *Error) Error() string {
	if e.Log == "" {
		return e.Cause + " (the runner's report could not be saved; it follows: " + oneLine(e.Err.Error()) + ")"
	}
	return e.Cause + " (the runner's full report: " + e.Log + ")"
}

// Unwrap returns the runner's error.
func (e *Error) Unwrap() error { return e.Err }

// Run runs p with the runner Beam's flags select (beamx.Run). A failure is an *Error whose
// report is written to <dir>/<name>-<time>.log; dir "" means <os.TempDir()>/groundcap-logs.
//
// While p runs, log records at level ERROR and the dumps logged at any level (the runner's and
// the SDK's bundle and plan dumps) go to the report instead of the process's default log
// handler, and WARN records to both. When Run returns, the default handler is the one it found,
// behind a filter that keeps dumps off it (the runner may log a failed bundle's dump at INFO
// after the pipeline's failure has reached Run). Runs must not overlap.
func Run(ctx context.Context, p *beam.Pipeline, name, dir string) error {
	console := slog.Default().Handler()
	if f, ok := console.(*dumpFilter); ok {
		console = f.next
	}
	tee := &teeHandler{console: console, out: &capped{max: maxLogged}}
	tee.file = slog.NewTextHandler(tee.out, &slog.HandlerOptions{Level: slog.LevelDebug})
	slog.SetDefault(slog.New(tee))
	err := beamx.Run(ctx, p)
	slog.SetDefault(slog.New(&dumpFilter{next: console}))
	if err != nil {
		return report(err, tee.out.String(), name, dir, time.Now())
	}
	return nil
}

// report builds the *Error of a failed run and writes its log: the root cause, the runner's
// error and the log records kept during the run.
func report(err error, logged, name, dir string, now time.Time) *Error {
	e := &Error{Cause: RootCause(err.Error()), Err: err}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "groundcap-logs")
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.log", name, now.UTC().Format("20060102T150405.000000000Z")))
	body := fmt.Sprintf("%s: Beam pipeline %s failed\nroot cause: %s\n\nthe runner's error:\n%s\n\nwarnings and errors logged while it ran:\n%s",
		now.UTC().Format(time.RFC3339Nano), name, e.Cause, err, logged)
	if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(path, []byte(body), 0o644) == nil {
		e.Log = path
	}
	return e
}

// maxLogged bounds the log records a run keeps for its report.
const maxLogged = 4 << 20

// isDump reports whether a log record holds a runner's dump: a failed bundle's plan or a chain
// of causes.
func isDump(r slog.Record) bool {
	return strings.Contains(r.Message, "Plan[") || strings.Contains(r.Message, "caused by:")
}

// teeHandler sends ERROR records and dumps to file only, WARN records to file and console, the
// others to console.
type teeHandler struct {
	console slog.Handler
	file    slog.Handler
	out     *capped
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.console.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	dump := isDump(r)
	if r.Level >= slog.LevelWarn || dump {
		if err := h.file.Handle(ctx, r); err != nil {
			return err
		}
	}
	if r.Level < slog.LevelError && !dump && h.console.Enabled(ctx, r.Level) {
		return h.console.Handle(ctx, r)
	}
	return nil
}

// dumpFilter drops the dumps below ERROR that a finished run's runner logs late; ERROR records
// still reach the handler.
type dumpFilter struct{ next slog.Handler }

func (f *dumpFilter) Enabled(ctx context.Context, l slog.Level) bool { return f.next.Enabled(ctx, l) }

func (f *dumpFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && isDump(r) {
		return nil
	}
	return f.next.Handle(ctx, r)
}

func (f *dumpFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return &dumpFilter{next: f.next.WithAttrs(as)}
}

func (f *dumpFilter) WithGroup(g string) slog.Handler { return &dumpFilter{next: f.next.WithGroup(g)} }

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{console: h.console.WithAttrs(as), file: h.file.WithAttrs(as), out: h.out}
}

func (h *teeHandler) WithGroup(g string) slog.Handler {
	return &teeHandler{console: h.console.WithGroup(g), file: h.file.WithGroup(g), out: h.out}
}

// capped is a buffer safe for concurrent writes that keeps the first max bytes written.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return c.buf.String() + fmt.Sprintf("\n… (cut at %d bytes)\n", c.max)
	}
	return c.buf.String()
}

// RootCause extracts the root cause from a runner's failure message: the text after its last
// "caused by:", without the line naming the failed DoFn, its lines joined by "; ". A message
// without "caused by:" gives its last line.
func RootCause(msg string) string {
	msg = strings.TrimSpace(msg)
	i := strings.LastIndex(msg, "caused by:")
	if i < 0 {
		lines := strings.Split(msg, "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}
	var keep []string
	for _, l := range strings.Split(msg[i+len("caused by:"):], "\n") {
		l = strings.TrimSpace(l)
		if l == "" || (strings.HasPrefix(l, "DoFn[") && strings.HasSuffix(l, "failed:")) {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return oneLine(msg)
	}
	return strings.Join(keep, "; ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
