package features

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"github.com/groundcap/groundcap/internal/fixtures"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
)

// fixturesDir returns the shared fixtures directory or skips the test.
func fixturesDir(t testing.TB) string {
	t.Helper()
	return fixtures.Dir(t, "bottom_up")
}

// randRaw makes a valid record with k boxes of dimension d inside a w×h image; lx adds the
// LXMERT object columns. Features are non-negative like ReLU outputs, some exactly 0.
func randRaw(rng *rand.Rand, id int64, k, d int, lx bool) *Raw {
	w, h := int32(100+rng.IntN(500)), int32(100+rng.IntN(500))
	r := &Raw{ImageID: id, Width: w, Height: h, NumBoxes: k}
	boxes := make([]float32, 4*k)
	for b := 0; b < k; b++ {
		x1, y1 := rng.Float32()*float32(w-1), rng.Float32()*float32(h-1)
		boxes[4*b], boxes[4*b+1] = x1, y1
		boxes[4*b+2] = x1 + rng.Float32()*(float32(w)-x1)
		boxes[4*b+3] = y1 + rng.Float32()*(float32(h)-y1)
	}
	feats := make([]float32, k*d)
	for i := range feats {
		if rng.IntN(4) > 0 {
			feats[i] = float32(rng.ExpFloat64() * 2)
		}
	}
	r.Boxes, r.Features = Float32Bytes(boxes), Float32Bytes(feats)
	if lx {
		ids, aids := make([]int64, k), make([]int64, k)
		conf, aconf := make([]float32, k), make([]float32, k)
		for b := range ids {
			ids[b], aids[b] = rng.Int64N(1600), rng.Int64N(400)
			conf[b], aconf[b] = rng.Float32(), rng.Float32()
		}
		r.ObjectIDs, r.AttrIDs = Int64Bytes(ids), Int64Bytes(aids)
		r.ObjectConf, r.AttrConf = Float32Bytes(conf), Float32Bytes(aconf)
	}
	return r
}

func readFixture(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir(t), "bottom_up", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestFixtureLayouts decodes the two real COCO rows in both layouts: the ids, sizes (h/w
// swapped in LXMERT) and arrays must agree, and every row must pass the checks.
func TestFixtureLayouts(t *testing.T) {
	and := readFixture(t, "anderson_layout_2rows.tsv")
	lx := readFixture(t, "lxmert_layout_2rows.tsv")
	if len(and) != 2 || len(lx) != 2 {
		t.Fatalf("fixture rows: %d and %d, want 2 and 2", len(and), len(lx))
	}
	// Ids, sizes and K read off the fixture files' text (fields 1-4 of the Anderson layout).
	want := []struct {
		id   int64
		w, h int32
	}{{132417, 500, 333}, {573195, 640, 428}}
	for i := range and {
		var a, l Raw
		la, err := ParseTSV(and[i], LayoutAuto, &a)
		if err != nil || la != LayoutAnderson {
			t.Fatalf("anderson row %d: layout %s, %v", i, la, err)
		}
		ll, err := ParseTSV(lx[i], LayoutAuto, &l)
		if err != nil || ll != LayoutLXMERT {
			t.Fatalf("lxmert row %d: layout %s, %v", i, ll, err)
		}
		if a.ImageID != want[i].id || l.ImageID != want[i].id || a.Width != want[i].w || a.Height != want[i].h || l.Width != want[i].w || l.Height != want[i].h {
			t.Errorf("row %d: anderson id %d %dx%d, lxmert id %d %dx%d, want %d %dx%d", i, a.ImageID, a.Width, a.Height, l.ImageID, l.Width, l.Height, want[i].id, want[i].w, want[i].h)
		}
		if a.NumBoxes != 36 || l.NumBoxes != 36 || a.Dim() != 2048 || l.Dim() != 2048 {
			t.Errorf("row %d: K %d/%d D %d/%d, want 36 and 2048", i, a.NumBoxes, l.NumBoxes, a.Dim(), l.Dim())
		}
		if !bytes.Equal(a.Boxes, l.Boxes) || !bytes.Equal(a.Features, l.Features) {
			t.Errorf("row %d: arrays differ between layouts", i)
		}
		if a.HasObjects() || !l.HasObjects() {
			t.Errorf("row %d: object columns: anderson %v lxmert %v", i, a.HasObjects(), l.HasObjects())
		}
		lim := Limits{Dim: 2048, MinBoxes: 10, MaxBoxes: 100}
		if err := a.Check(lim); err != nil {
			t.Errorf("anderson row %d: %v", i, err)
		}
		if err := l.Check(lim); err != nil {
			t.Errorf("lxmert row %d: %v", i, err)
		}
		// Forcing the other layout fails on the field count.
		if _, err := ParseTSV(and[i], LayoutLXMERT, &l); !errors.Is(err, ErrFields) {
			t.Errorf("anderson row forced to lxmert: %v, want ErrFields", err)
		}
	}
}

// TestTSVRoundTrip writes records as TSV lines in both layouts and parses them back
// bit-identically.
func TestTSVRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, layout := range []Layout{LayoutAnderson, LayoutLXMERT} {
		for i := 0; i < 5; i++ {
			in := randRaw(rng, int64(1000+i), 10+i, 16, layout == LayoutLXMERT)
			line := AppendTSV(nil, in, layout)
			var out Raw
			got, err := ParseTSV(line, LayoutAuto, &out)
			if err != nil || got != layout {
				t.Fatalf("%s: %s %v", layout, got, err)
			}
			if out.ImageID != in.ImageID || out.Width != in.Width || out.Height != in.Height || out.NumBoxes != in.NumBoxes ||
				!bytes.Equal(out.Boxes, in.Boxes) || !bytes.Equal(out.Features, in.Features) ||
				!bytes.Equal(out.ObjectIDs, in.ObjectIDs) || !bytes.Equal(out.AttrConf, in.AttrConf) {
				t.Fatalf("%s record %d differs after the round trip", layout, i)
			}
		}
	}
}

func TestParseImageID(t *testing.T) {
	for i, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"132417", 132417, true},                      // 0
		{"COCO_train2014_000000132417", 132417, true}, // 1
		{"1000092795", 1000092795, true},              // 2
		{"-5", -5, true},                              // 3
		{"abc", 0, false},                             // 4
		{"", 0, false},                                // 5
	} {
		got, err := ParseImageID([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%d: ParseImageID(%q) = %d, %v; want %d ok=%v", i, c.in, got, err, c.want, c.ok)
		}
	}
}

// TestBadRecords builds one bad line or record per reason and checks the error kind.
func TestBadRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lim := Limits{Dim: 8, MinBoxes: 2, MaxBoxes: 20}
	good := randRaw(rng, 7, 4, 8, false)
	line := string(AppendTSV(nil, good, LayoutAnderson))
	fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
	with := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return strings.Join(f, "\t")
	}
	setF := func(r *Raw, i int, v float32) {
		b := append([]byte(nil), r.Features...)
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		r.Features = b
	}
	for i, c := range []struct {
		line string
		want error
	}{
		{line[:len(line)-3], ErrBase64},                                               // 0 truncated: 2 base64 characters lost
		{strings.Join(fields[:5], "\t"), ErrFields},                                   // 1 missing features field
		{with(5, fields[5][:len(fields[5])-4]), ErrLength},                            // 2 4 characters short: 3 bytes short
		{with(4, "AAAA!AAA"), ErrBase64},                                              // 3 invalid base64 character
		{with(3, "1"), ErrNumBoxes},                                                   // 4 num_boxes below min
		{with(3, "x"), ErrNumber},                                                     // 5
		{with(0, "img"), ErrImageID},                                                  // 6
		{with(3, "5"), ErrLength},                                                     // 7 byte length ≠ num_boxes × 4 × 4
		{with(5, fields[5][:len(fields[5])-44]), ErrDim},                              // 8 whole boxes of D 6, not 8
		{strings.Join(append(fields, "x"), "\t"), ErrFields},                          // 9
		{strings.Join(append(fields, "x", "y", "z", "w", "v", "u"), "\t"), ErrFields}, // 10 (12 fields)
	} {
		var r Raw
		_, err := ParseTSV([]byte(c.line), LayoutAuto, &r)
		if err == nil {
			err = r.Check(lim)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%d: got %v, want %v", i, err, c.want)
		}
	}
	for i, c := range []struct {
		mod  func(r *Raw)
		want error
	}{
		{func(r *Raw) { setF(r, 5, float32(math.NaN())) }, ErrNonFinite},                 // 0
		{func(r *Raw) { setF(r, 9, float32(math.Inf(-1))) }, ErrNonFinite},               // 1
		{func(r *Raw) { r.Width = 1 }, ErrBox},                                           // 2 box outside the image
		{func(r *Raw) { r.Boxes = Float32Bytes(swapX(Float32s(r.Boxes, nil))) }, ErrBox}, // 3 x2 < x1
		{func(r *Raw) { r.Features = r.Features[:len(r.Features)-4*4] }, ErrDim},         // 4 D 7 × 4 boxes... ≠ 8
		{func(r *Raw) { r.FC = make([]byte, 12) }, ErrLength},                            // 5
		{func(r *Raw) { r.NumBoxes = 21 }, ErrNumBoxes},                                  // 6
	} {
		r := *good
		c.mod(&r)
		if err := r.Check(lim); !errors.Is(err, c.want) {
			t.Errorf("record %d: got %v, want %v", i, err, c.want)
		}
	}
}

// swapX swaps x1 and x2 of every box whose x1 < x2, making it inverted.
func swapX(b []float32) []float32 {
	for i := 0; i+4 <= len(b); i += 4 {
		if b[i] < b[i+2] {
			b[i], b[i+2] = b[i+2], b[i]
		}
	}
	b[0], b[2] = 5, 1 // at least one strictly inverted box
	return b
}

// TestScanRangeTiling cuts a file with lines of very different lengths (longer than the scan
// buffer too) into ranges of several sizes; each line must be visited exactly once, with the
// right offset.
func TestScanRangeTiling(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	var data []byte
	var offsets []int64
	for i := 0; i < 40; i++ {
		offsets = append(offsets, int64(len(data)))
		n := rng.IntN(3000)
		if i == 7 {
			n = scanBufferSize + 12345 // longer than the read buffer
		}
		data = append(data, strings.Repeat(string(rune('a'+i%26)), n)...)
		data = append(data, '\n')
	}
	data = append(data, "last line without newline"...)
	offsets = append(offsets, int64(len(data))-int64(len("last line without newline")))
	file := filepath.Join(t.TempDir(), "lines.tsv")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mem := "mem://scantiling/lines.tsv"
	if err := blobio.WriteAll(ctx, mem, data); err != nil {
		t.Fatal(err)
	}
	// A local file is scanned through a memory mapping, mem:// through a buffered reader.
	for _, loc := range []string{file, mem} {
		name := "file"
		if strings.HasPrefix(loc, "mem:") {
			name = "mem"
		}
		t.Run(name, func(t *testing.T) { scanTiling(t, loc, data, offsets) })
	}
	// Ranges of a mapped file cut into pieces scanned in parallel (at least two pieces even
	// on one CPU).
	defer func(n int64, procs int) { parallelScanMin = n; runtime.GOMAXPROCS(procs) }(parallelScanMin, runtime.GOMAXPROCS(max(3, runtime.GOMAXPROCS(0))))
	parallelScanMin = 1
	t.Run("parallel", func(t *testing.T) { scanTiling(t, file, data, offsets) })
}

func scanTiling(t *testing.T, loc string, data []byte, offsets []int64) {
	ctx := context.Background()
	for _, size := range []int64{333, 4096, 100000, scanBufferSize, int64(len(data))} {
		var got []int64
		for start := int64(0); start < int64(len(data)); start += size {
			end := min(start+size, int64(len(data)))
			_, err := ScanRange(ctx, loc, start, end, func(off int64, line []byte) error {
				next := int64(len(data))
				if k := bytes.IndexByte(data[off:], '\n'); k >= 0 {
					next = off + int64(k)
				}
				if !bytes.Equal(line, data[off:next]) {
					t.Fatalf("size %d: line at %d: wrong bytes", size, off)
				}
				got = append(got, off)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(offsets) {
			t.Fatalf("size %d: %d lines visited, want %d", size, len(got), len(offsets))
		}
		// ScanHeads visits the same lines with their lengths and first 10 bytes.
		var heads []int64
		for start := int64(0); start < int64(len(data)); start += size {
			end := min(start+size, int64(len(data)))
			_, err := ScanHeads(ctx, loc, start, end, 10, func(off, length int64, head []byte) error {
				next := int64(len(data))
				if k := bytes.IndexByte(data[off:], '\n'); k >= 0 {
					next = off + int64(k)
				}
				if length != next-off || !bytes.Equal(head, data[off:min(next, off+10)]) {
					t.Fatalf("size %d: ScanHeads line at %d: length %d head %q, want %d %q", size, off, length, head, next-off, data[off:min(next, off+10)])
				}
				heads = append(heads, off)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(heads) != len(offsets) {
			t.Fatalf("size %d: ScanHeads visited %d lines, want %d", size, len(heads), len(offsets))
		}
		for i := range got {
			if got[i] != offsets[i] {
				t.Fatalf("size %d: line %d at offset %d, want %d", size, i, got[i], offsets[i])
			}
		}
	}
	line, err := ReadLine(ctx, loc, offsets[3], offsets[4]-offsets[3]-1, nil)
	if err != nil || !bytes.Equal(line, data[offsets[3]:offsets[4]-1]) {
		t.Fatalf("ReadLine: %v", err)
	}
	lr, err := OpenLines(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	var buf []byte
	for i := 0; i+1 < len(offsets); i++ {
		want := data[offsets[i] : offsets[i+1]-1]
		calls := 0
		buf, err = lr.Line(ctx, offsets[i], int64(len(want)), buf, func(line []byte) error {
			calls++
			if !bytes.Equal(line, want) {
				t.Errorf("LineReader line %d: %d bytes, want %d", i, len(line), len(want))
			}
			return nil
		})
		if err != nil || calls != 1 {
			t.Fatalf("LineReader line %d: %v (%d calls)", i, err, calls)
		}
	}
	sentinel := errors.New("stop")
	if _, err := lr.Line(ctx, offsets[1], 5, nil, func([]byte) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("LineReader: fn's error %v not returned", err)
	}
	if _, err := lr.Line(ctx, int64(len(data))-3, 10, nil, func([]byte) error { return nil }); err == nil {
		t.Error("LineReader: a line past the end of the file gave no error")
	}
}

// TestFloat16 checks the conversion exhaustively on all halves (widening then narrowing is
// the identity) and on random float32s against the documented bound and round-to-nearest.
func TestFloat16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads are not preserved
		}
		if got := Float16Bits(Float16Value(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, Float16Value(uint16(h)), got)
		}
	}
	// Known encodings (IEEE 754 binary16 tables): 1 = 0x3c00, 65504 = 0x7bff, 2^-24 = 0x0001.
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65519, 0x7bff}, {65520, 0x7c00}, {0x1p-24, 0x0001},
		{0x1p-25, 0x0000}, {0x1.8p-25, 0x0001}, {1 + 0x1p-11, 0x3c00}, {1 + 3*0x1p-11, 0x3c02}} {
		if got := Float16Bits(c.f); got != c.h {
			t.Errorf("Float16Bits(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200000; i++ {
		x := math.Float32frombits(rng.Uint32())
		if x != x || math.Abs(float64(x)) >= 65520 {
			continue
		}
		h := Float16Bits(x)
		y := float64(Float16Value(h))
		err := math.Abs(y - float64(x))
		// The bound of doc.go: half an ulp, relative 2^-11 or absolute 2^-25.
		if bound := math.Max(math.Abs(float64(x))*0x1p-11, 0x1p-25); err > bound {
			t.Fatalf("x=%g: |%g - x| = %g > %g", x, y, err, bound)
		}
		// Nearest: neither neighbour of h is closer.
		for _, nb := range []uint16{h + 1, h - 1} {
			if nb&0x7fff >= 0x7c00 || nb&0x8000 != h&0x8000 {
				continue
			}
			if e := math.Abs(float64(Float16Value(nb)) - float64(x)); e < err {
				t.Fatalf("x=%g: %#04x is closer than %#04x", x, nb, h)
			}
		}
	}
	if _, err := Float32ToFloat16(Float32Bytes([]float32{1, 70000}), nil); !errors.Is(err, ErrFloat16Range) {
		t.Errorf("70000 to float16: %v, want ErrFloat16Range", err)
	}
}

// TestMeanFC checks the float32 sequential mean on values whose sums are exact.
func TestMeanFC(t *testing.T) {
	feats := Float32Bytes([]float32{1, 2, 3, 4, 5, 6}) // 3 boxes × 2
	got := MeanFC(feats, 3, nil)
	if got[0] != 3 || got[1] != 4 { // (1+3+5)/3, (2+4+6)/3: exact in float32
		t.Fatalf("MeanFC = %v, want [3 4]", got)
	}
}

func TestNPZ(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	in := randRaw(rng, 42, 12, 16, false)
	dir := t.TempDir()
	fc := Float32Bytes(MeanFC(in.Features, 12, nil))
	for _, key := range []string{"feat", "z", "other"} {
		npz, err := EncodeNPZ(map[string][]byte{key: EncodeNPY("<f4", []int{12, 16}, in.Features)})
		if err != nil {
			t.Fatal(err)
		}
		files := NPZFiles{Att: filepath.Join(dir, key+"_att", "42.npz"), FC: filepath.Join(dir, key+"_fc", "42.npy"), Box: filepath.Join(dir, key+"_box", "42.npy")}
		for loc, data := range map[string][]byte{files.Att: npz, files.FC: EncodeNPY("<f4", []int{16}, fc), files.Box: EncodeNPY("<f4", []int{12, 4}, in.Boxes)} {
			if err := blobio.WriteAll(ctx, loc, data); err != nil {
				t.Fatal(err)
			}
		}
		var out Raw
		err = ReadNPZ(ctx, 42, files, Limits{Dim: 16, MinBoxes: 10, MaxBoxes: 100}, &out)
		if key == "other" {
			if !errors.Is(err, ErrMissingKey) {
				t.Errorf("npz without feat or z: %v, want ErrMissingKey", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if out.NumBoxes != 12 || !bytes.Equal(out.Features, in.Features) || !bytes.Equal(out.Boxes, in.Boxes) || !bytes.Equal(out.FC, fc) {
			t.Errorf("key %s: npz round trip differs", key)
		}
		if err := out.Check(Limits{Dim: 16, MinBoxes: 10, MaxBoxes: 100}); err != nil {
			t.Error(err)
		}
		files.Box = filepath.Join(dir, "missing.npy")
		if err := ReadNPZ(ctx, 42, files, Limits{Dim: 16, MinBoxes: 10, MaxBoxes: 100}, &out); !errors.Is(err, ErrMissingFile) {
			t.Errorf("missing box file: %v, want ErrMissingFile", err)
		}
	}
}

// writeStore writes raws into a store of n shards under dir with the given options and the
// index, as the features stage lays it out.
func writeStore(t *testing.T, dir string, raws []*Raw, n int, o WriterOptions) {
	t.Helper()
	ctx := context.Background()
	byShard := make([][]*Raw, n)
	for _, r := range raws {
		s := shard.Of(r.ImageID, n)
		byShard[s] = append(byShard[s], r)
	}
	var index []IndexEntry
	for s, rs := range byShard {
		sort.Slice(rs, func(i, j int) bool { return rs[i].ImageID < rs[j].ImageID })
		w, err := blobio.NewWriter(ctx, filepath.Join(dir, shard.Name(FeaturesTable, s, n)))
		if err != nil {
			t.Fatal(err)
		}
		o.Shard, o.NumShards = s, n
		fw, err := NewWriter(w, o)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if err := fw.Write(r); err != nil {
				t.Fatal(err)
			}
			index = append(index, IndexEntry{ImageID: r.ImageID, Shard: int32(s), Row: int64(i)})
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(index, func(i, j int) bool { return index[i].ImageID < index[j].ImageID })
	if err := WriteIndex(ctx, filepath.Join(dir, IndexName), index); err != nil {
		t.Fatal(err)
	}
}

// checkRecord compares a record read from a store with its source: bit-identical for
// float32, within the documented float16 bound otherwise.
func checkRecord(t *testing.T, got *Record, want *Raw, dt DType) {
	t.Helper()
	k := want.NumBoxes
	if got.ImageID != want.ImageID || got.Width != want.Width || got.Height != want.Height || got.NumBoxes != k {
		t.Fatalf("image %d: header %d %dx%d K=%d, want %d %dx%d K=%d", want.ImageID, got.ImageID, got.Width, got.Height, got.NumBoxes, want.ImageID, want.Width, want.Height, k)
	}
	if !bytes.Equal(Float32Bytes(got.Boxes), want.Boxes) {
		t.Fatalf("image %d: boxes differ", want.ImageID)
	}
	wf := Float32s(want.Features, nil)
	if len(got.Features) != len(wf) {
		t.Fatalf("image %d: %d feature values, want %d", want.ImageID, len(got.Features), len(wf))
	}
	if dt == DTypeFloat32 {
		if !bytes.Equal(Float32Bytes(got.Features), want.Features) {
			t.Fatalf("image %d: features not bit-identical", want.ImageID)
		}
	} else {
		for i, x := range wf {
			// The float16 bound documented in doc.go.
			if d, b := math.Abs(float64(got.Features[i])-float64(x)), math.Max(math.Abs(float64(x))*0x1p-11, 0x1p-25); d > b {
				t.Fatalf("image %d: feature %d: %g vs %g: error %g > bound %g", want.ImageID, i, got.Features[i], x, d, b)
			}
		}
	}
	wantFC := want.FC
	if wantFC == nil {
		wantFC = Float32Bytes(MeanFC(want.Features, k, nil))
	}
	if !bytes.Equal(Float32Bytes(got.FC), wantFC) {
		t.Fatalf("image %d: fc differs", want.ImageID)
	}
	if !bytes.Equal(Int64Bytes(got.ObjectIDs), want.ObjectIDs) || !bytes.Equal(Int64Bytes(got.AttrIDs), want.AttrIDs) ||
		(want.ObjectConf != nil && !bytes.Equal(Float32Bytes(got.ObjectConf), want.ObjectConf)) ||
		(want.AttrConf != nil && !bytes.Equal(Float32Bytes(got.AttrConf), want.AttrConf)) ||
		(want.ObjectConf == nil) != (got.ObjectConf == nil) {
		t.Fatalf("image %d: object/attribute columns differ", want.ImageID)
	}
}

// TestStoreRoundTrip writes records (with and without object columns, plus the real fixture
// rows when present) in every encoding and dtype, and reads them back by id and by shard.
func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	const d = 32
	var raws []*Raw
	for i := 0; i < 40; i++ {
		raws = append(raws, randRaw(rng, int64(rng.IntN(1_000_000)*10+i), 10+rng.IntN(20), d, i%2 == 0))
	}
	for _, c := range []struct {
		enc Encoding
		dt  DType
	}{{EncodingBlob, DTypeFloat32}, {EncodingList, DTypeFloat32}, {EncodingBlob, DTypeFloat16}} {
		t.Run(string(c.enc)+"-"+string(c.dt), func(t *testing.T) {
			dir := t.TempDir()
			writeStore(t, dir, raws, 3, WriterOptions{Encoding: c.enc, DType: c.dt, Dim: d, RowsPerGroup: 4})
			s, err := OpenStore(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Len() != len(raws) || s.Dim() != d || s.NumShards() != 3 {
				t.Fatalf("store: %d images, dim %d, %d shards", s.Len(), s.Dim(), s.NumShards())
			}
			for _, r := range raws {
				got, err := s.Get(ctx, r.ImageID)
				if err != nil {
					t.Fatal(err)
				}
				checkRecord(t, got, r, c.dt)
			}
			if _, err := s.Get(ctx, -1); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(-1): %v, want ErrNotFound", err)
			}
			byID := map[int64]*Raw{}
			for _, r := range raws {
				byID[r.ImageID] = r
			}
			seen := 0
			for i := 0; i < 3; i++ {
				sr, err := s.Shard(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				last := int64(math.MinInt64)
				for {
					rec, err := sr.Next()
					if err != nil {
						if err.Error() != "EOF" {
							t.Fatal(err)
						}
						break
					}
					if rec.ImageID <= last || shard.Of(rec.ImageID, 3) != i {
						t.Fatalf("shard %d: image %d after %d", i, rec.ImageID, last)
					}
					last = rec.ImageID
					checkRecord(t, rec, byID[rec.ImageID], c.dt)
					seen++
				}
				sr.Close()
				info, err := ReadShardInfo(ctx, s.ShardLocation(i))
				if err != nil {
					t.Fatal(err)
				}
				if info.Stats.Rows != info.Rows || info.Meta.Encoding != c.enc || info.Stats.NaNCount != 0 {
					t.Errorf("shard %d info: %+v", i, info)
				}
			}
			if seen != len(raws) {
				t.Fatalf("iterated %d records, want %d", seen, len(raws))
			}
		})
	}
}

// TestStoreFixtureRows stores the real rows (both layouts) and reads them back
// bit-identically in both encodings.
func TestStoreFixtureRows(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"anderson_layout_2rows.tsv", "lxmert_layout_2rows.tsv"} {
		var raws []*Raw
		for _, l := range readFixture(t, name) {
			r := &Raw{}
			if _, err := ParseTSV(l, LayoutAuto, r); err != nil {
				t.Fatal(err)
			}
			raws = append(raws, r)
		}
		for _, c := range []struct {
			enc Encoding
			dt  DType
		}{{EncodingBlob, DTypeFloat32}, {EncodingList, DTypeFloat32}, {EncodingBlob, DTypeFloat16}} {
			dir := t.TempDir()
			writeStore(t, dir, raws, 2, WriterOptions{Encoding: c.enc, DType: c.dt, Dim: 2048})
			s, err := OpenStore(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range raws {
				got, err := s.Get(ctx, r.ImageID)
				if err != nil {
					t.Fatal(err)
				}
				checkRecord(t, got, r, c.dt)
			}
			s.Close()
		}
	}
}

func TestWriterOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Dim: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(randRaw(rng, 5, 10, 8, false)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(randRaw(rng, 5, 10, 8, false)); err == nil {
		t.Error("a repeated image id was accepted")
	}
	if err := w.Write(randRaw(rng, 9, 10, 16, false)); !errors.Is(err, ErrDim) {
		t.Errorf("wrong D: %v, want ErrDim", err)
	}
	if _, err := NewWriter(&buf, WriterOptions{Dim: 8, Encoding: EncodingList, DType: DTypeFloat16}); err == nil {
		t.Error("list + float16 accepted")
	}
}
