package tensorboard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// event is what the test's reader decodes from a tensorflow.Event.
type event struct {
	wallTime    float64
	step        int64
	fileVersion string
	values      []value
}

type value struct {
	tag    string
	simple float32
	image  *img
}

type img struct {
	height, width, colorspace int
	encoded                   []byte
}

// readRecords splits a TFRecord file into its records, checking the length and data CRCs
// (computed here from the Castagnoli table and the mask's definition, not with MaskedCRC).
func readRecords(t *testing.T, data []byte) [][]byte {
	t.Helper()
	table := crc32.MakeTable(crc32.Castagnoli)
	mask := func(b []byte) uint32 {
		c := crc32.Checksum(b, table)
		return ((c >> 15) | (c << 17)) + 0xa282ead8
	}
	var recs [][]byte
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			t.Fatalf("record at %d: %d bytes left, want a 12-byte header", off, len(data)-off)
		}
		lenBytes := data[off : off+8]
		n := int(binary.LittleEndian.Uint64(lenBytes))
		if got := binary.LittleEndian.Uint32(data[off+8:]); got != mask(lenBytes) {
			t.Fatalf("record at %d: length CRC %08x, want %08x", off, got, mask(lenBytes))
		}
		if len(data)-off < 12+n+4 {
			t.Fatalf("record at %d: length %d past the end", off, n)
		}
		payload := data[off+12 : off+12+n]
		if got := binary.LittleEndian.Uint32(data[off+12+n:]); got != mask(payload) {
			t.Fatalf("record at %d: data CRC %08x, want %08x", off, got, mask(payload))
		}
		recs = append(recs, payload)
		off += 12 + n + 4
	}
	return recs
}

// fields calls f for each field of a protocol-buffer message.
func fields(t *testing.T, b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			f(num, typ, nil, x)
			b = b[m:]
		case protowire.Fixed32Type:
			x, m := protowire.ConsumeFixed32(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			f(num, typ, nil, uint64(x))
			b = b[m:]
		case protowire.Fixed64Type:
			x, m := protowire.ConsumeFixed64(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			f(num, typ, nil, x)
			b = b[m:]
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			f(num, typ, v, 0)
			b = b[m:]
		default:
			t.Fatalf("unexpected wire type %d", typ)
		}
	}
}

func decodeEvent(t *testing.T, b []byte) event {
	t.Helper()
	var ev event
	fields(t, b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			ev.wallTime = math.Float64frombits(x)
		case num == 2 && typ == protowire.VarintType:
			ev.step = int64(x)
		case num == 3 && typ == protowire.BytesType:
			ev.fileVersion = string(v)
		case num == 5 && typ == protowire.BytesType:
			fields(t, v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
				if num != 1 || typ != protowire.BytesType {
					t.Fatalf("Summary field %d type %d", num, typ)
				}
				var val value
				fields(t, v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
					switch {
					case num == 1 && typ == protowire.BytesType:
						val.tag = string(v)
					case num == 2 && typ == protowire.Fixed32Type:
						val.simple = math.Float32frombits(uint32(x))
					case num == 4 && typ == protowire.BytesType:
						val.image = &img{}
						fields(t, v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
							switch num {
							case 1:
								val.image.height = int(x)
							case 2:
								val.image.width = int(x)
							case 3:
								val.image.colorspace = int(x)
							case 4:
								val.image.encoded = v
							}
						})
					default:
						t.Fatalf("Summary.Value field %d type %d", num, typ)
					}
				})
				ev.values = append(ev.values, val)
			})
		default:
			t.Fatalf("Event field %d type %d", num, typ)
		}
	})
	return ev
}

func readEvents(t *testing.T, path string) []event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event
	for _, r := range readRecords(t, data) {
		evs = append(evs, decodeEvent(t, r))
	}
	return evs
}

// fakeClock returns 2026-01-02 03:04:05.25 UTC, then a second later at every call.
func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 250_000_000, time.UTC)
	return func() time.Time {
		now := t
		t = t.Add(time.Second)
		return now
	}
}

func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb")
	w, err := Create(dir, Options{Clock: fakeClock(), Host: "box", Suffix: ".scan"})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("events.out.tfevents.%010d.box.scan", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	if filepath.Base(w.Path()) != want {
		t.Errorf("file name %s, want %s", filepath.Base(w.Path()), want)
	}
	if err := w.Scalar("train/loss", 3, 0.75); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalars(4, map[string]float64{"lr": 5e-4, "kl": 1.5, "grad_norm": -2}); err != nil {
		t.Fatal(err)
	}
	pic := image.NewRGBA(image.Rect(0, 0, 5, 3))
	pic.Set(1, 2, color.RGBA{200, 10, 20, 255})
	if err := w.Image("attention/img42", 4, pic); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if err := w.Scalar("x", 1, 1); err == nil {
		t.Error("write after Close succeeded")
	}

	evs := readEvents(t, w.Path())
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	if evs[0].fileVersion != "brain.Event:2" || evs[0].wallTime != 1767323045.25 || len(evs[0].values) != 0 {
		t.Errorf("first event %+v, want file_version brain.Event:2 at 1767323045.25", evs[0])
	}
	if e := evs[1]; e.step != 3 || e.wallTime != 1767323046.25 || len(e.values) != 1 || e.values[0].tag != "train/loss" || e.values[0].simple != 0.75 {
		t.Errorf("scalar event %+v", e)
	}
	e := evs[2]
	if e.step != 4 || len(e.values) != 3 {
		t.Fatalf("scalars event %+v", e)
	}
	for i, w := range []value{{tag: "grad_norm", simple: -2}, {tag: "kl", simple: 1.5}, {tag: "lr", simple: float32(5e-4)}} {
		if e.values[i].tag != w.tag || e.values[i].simple != w.simple {
			t.Errorf("value %d = %+v, want %+v (tags in order)", i, e.values[i], w)
		}
	}
	im := evs[3].values[0]
	if im.tag != "attention/img42" || im.image == nil || im.image.width != 5 || im.image.height != 3 || im.image.colorspace != 4 {
		t.Fatalf("image value %+v", im)
	}
	back, err := png.Decode(bytes.NewReader(im.image.encoded))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := back.At(1, 2).RGBA(); r>>8 != 200 || g>>8 != 10 || b>>8 != 20 {
		t.Errorf("decoded pixel (%d, %d, %d), want (200, 10, 20)", r>>8, g>>8, b>>8)
	}
}

// TestWriterDeterministic: with the same clock, two writers write the same bytes.
func TestWriterDeterministic(t *testing.T) {
	write := func(dir string) []byte {
		w, err := Create(dir, Options{Clock: fakeClock(), Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		for s := range int64(5) {
			if err := w.Scalars(s, map[string]float64{"a": float64(s), "b": -float64(s)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a, b := write(t.TempDir()), write(t.TempDir())
	if !bytes.Equal(a, b) {
		t.Error("same events, same clock: files differ")
	}
}

// TestCreateNeverOverwrites: a second writer in the same second and folder, same name, fails.
func TestCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, Options{Clock: fakeClock(), Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Create(dir, Options{Clock: fakeClock(), Host: "h"}); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Create: %v, want an 'exists' error", err)
	}
	w2, err := Create(dir, Options{Clock: fakeClock(), Host: "h", Suffix: ".2"})
	if err != nil || !strings.HasSuffix(w2.Path(), ".2") {
		t.Fatalf("Create with a suffix: %v", err)
	}
	_ = w2.Close()
}

// TestAppendRecord checks the framing of single records, the empty one included, with the test's
// own reader.
func TestAppendRecord(t *testing.T) {
	rec := AppendRecord(nil, []byte("abc"))
	if len(rec) != 8+4+3+4 || binary.LittleEndian.Uint64(rec) != 3 || string(rec[12:15]) != "abc" {
		t.Fatalf("record % x", rec)
	}
	recs := readRecords(t, append(rec, AppendRecord(nil, nil)...))
	if len(recs) != 2 || string(recs[0]) != "abc" || len(recs[1]) != 0 {
		t.Errorf("records %q", recs)
	}
	// A flipped byte is caught by the reader's CRC check (here: the check itself works).
	bad := append([]byte(nil), rec...)
	bad[13] ^= 1
	c := crc32.Checksum(bad[12:15], crc32.MakeTable(crc32.Castagnoli))
	if ((c>>15)|(c<<17))+0xa282ead8 == binary.LittleEndian.Uint32(bad[15:]) {
		t.Error("CRC unchanged by a flipped byte")
	}
}
