package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReporterLines(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	r := New(&buf, "captions", "captions", 1000)
	r.now = func() time.Time { return clock }
	r.start, r.last = clock, clock
	r.Add(100) // no time passed: no line
	if buf.Len() != 0 {
		t.Fatalf("printed too early: %q", buf.String())
	}
	clock = clock.Add(4 * time.Second)
	r.Add(100) // 200 done in 4 s: 50/s, 800 left: ETA 16 s
	want := "captions: 200/1000 (20.0%) captions, 50.0/s, ETA 16s\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	buf.Reset()
	clock = clock.Add(time.Second)
	r.Set(1000)
	r.Done()
	if !strings.Contains(buf.String(), "captions: 1000 captions in 5s (200.0/s)") {
		t.Fatalf("done line %q", buf.String())
	}
}
