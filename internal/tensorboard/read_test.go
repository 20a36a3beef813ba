package tensorboard

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReadEventsAgreesWithTestReader decodes a written file with ReadEvents and with the test's
// own reader (readEvents, written from event.proto independently) and compares them.
func TestReadEventsAgreesWithTestReader(t *testing.T) {
	w, err := Create(t.TempDir(), Options{Clock: fakeClock(), Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalars(7, map[string]float64{"train/loss": 2.5, "train/lr": 1e-3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Image("attention/1", 9, image.NewGray(image.Rect(0, 0, 4, 6))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEvents(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := readEvents(t, w.Path())
	if len(got) != len(want) || len(got) != 3 {
		t.Fatalf("%d events, the test's reader %d, want 3", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.WallTime != w.wallTime || g.Step != w.step || g.FileVersion != w.fileVersion || len(g.Values) != len(w.values) {
			t.Fatalf("event %d: %+v, test reader %+v", i, g, w)
		}
		for j, v := range g.Values {
			wv := w.values[j]
			if v.Tag != wv.tag || v.Scalar != wv.simple || (v.Image == nil) != (wv.image == nil) {
				t.Errorf("event %d value %d: %+v, test reader %+v", i, j, v, wv)
			}
			if v.Image != nil && (v.Image.Width != wv.image.width || v.Image.Height != wv.image.height ||
				v.Image.Colorspace != wv.image.colorspace || !bytes.Equal(v.Image.Encoded, wv.image.encoded)) {
				t.Errorf("event %d image %+v, test reader %+v", i, v.Image, wv.image)
			}
		}
	}
	if im := got[2].Values[0].Image; im.Width != 4 || im.Height != 6 || im.Colorspace != 1 {
		t.Errorf("image %dx%d colorspace %d, want 4x6 gray (1)", im.Width, im.Height, im.Colorspace)
	}
}

// TestParseEventsCorrupt: a truncated file and a flipped byte are errors wrapping ErrCorrupt.
func TestParseEventsCorrupt(t *testing.T) {
	w, err := Create(t.TempDir(), Options{Clock: fakeClock(), Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("a", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEvents(data); err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]byte{data[:len(data)-1], data[:len(data)-20], flip(data, len(data)-6), flip(data, 3)} {
		if _, err := ParseEvents(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d: ParseEvents = %v, want ErrCorrupt", i, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}

// TestCompactResumedEqualsUninterrupted writes the log of an uninterrupted run and the logs of a
// run killed after step 5 and resumed from step 3 (steps 4 and 5 written twice, at other wall
// times): Compact makes the same bytes of both, with the throughput tag left out, steps in order
// and wall times zero.
func TestCompactResumedEqualsUninterrupted(t *testing.T) {
	pic := image.NewRGBA(image.Rect(0, 0, 3, 2))
	pic.Set(0, 1, color.RGBA{1, 2, 3, 255})
	steps := func(w *Writer, from, to int64, rate float64) {
		t.Helper()
		for s := from; s <= to; s++ {
			if err := w.Scalars(s, map[string]float64{"train/loss": 10 / float64(s), "time/captions_per_s": rate}); err != nil {
				t.Fatal(err)
			}
			if s%2 == 0 {
				if err := w.Image("attention/5", s, pic); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	open := func(dir, suffix string, start time.Time) *Writer {
		t.Helper()
		clock := func() time.Time { start = start.Add(time.Second); return start }
		w, err := Create(dir, Options{Clock: clock, Host: "h", Suffix: suffix})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	keep := func(tag string) bool { return tag != "time/captions_per_s" }

	one := t.TempDir()
	w := open(one, "", time.Unix(1e9, 0))
	steps(w, 1, 8, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	two := t.TempDir()
	w1 := open(two, ".1", time.Unix(2e9, 0))
	steps(w1, 1, 5, 4)
	if err := w1.Close(); err != nil { // killed after step 5
		t.Fatal(err)
	}
	w2 := open(two, ".2", time.Unix(2e9+50, 0))
	steps(w2, 4, 8, 5) // resumed from the checkpoint of step 3
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := Compact([]string{w.Path()}, keep)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compact([]string{w1.Path(), w2.Path()}, keep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the compacted logs of an uninterrupted and a resumed run differ")
	}
	evs, err := ParseEvents(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 9 || evs[0].FileVersion != FileVersion {
		t.Fatalf("%d events (first %+v), want the file_version event and 8 steps", len(evs), evs[0])
	}
	for i, ev := range evs[1:] {
		step := int64(i + 1)
		n := 1 + int(1-step%2)
		if ev.Step != step || ev.WallTime != 0 || len(ev.Values) != n {
			t.Fatalf("event of step %d: %+v, want step %d, wall time 0, %d values", step, ev, step, n)
		}
		if n == 2 && (ev.Values[0].Tag != "attention/5" || ev.Values[0].Image == nil || ev.Values[0].Image.Width != 3) {
			t.Errorf("step %d: first value %+v, want the 3x2 attention image", step, ev.Values[0])
		}
		if l := ev.Values[n-1]; l.Tag != "train/loss" || l.Scalar != float32(10/float64(step)) {
			t.Errorf("step %d: %+v, want train/loss %g", step, l, 10/float64(step))
		}
	}
	all, err := Compact([]string{w.Path()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if evs, _ := ParseEvents(all); len(evs[1].Values) != 2 {
		t.Errorf("Compact with keep nil left out a tag: %+v", evs[1])
	}
	if _, err := Compact([]string{filepath.Join(one, "missing")}, nil); err == nil {
		t.Error("Compact of a missing file succeeded")
	}
}
