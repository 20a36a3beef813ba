package features

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/hostile"
)

// allocated returns the bytes f allocates (runtime.MemStats.TotalAlloc).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestNPZBomb (issue 16, finding 9): an 8 MB bu_att/1.npz whose feat.npy declares 1,000,000 ×
// 2048 float32 (8 GB of zeros) is ErrTooLarge without being inflated: reading it through ReadNPZ
// allocates less than the limits allow one record, and NPZArray given the archive's bytes
// allocates nothing near the declared size.
func TestNPZBomb(t *testing.T) {
	ctx := context.Background()
	bomb, err := hostile.NPZBomb("feat", 1000000, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := NPZFiles{Att: filepath.Join(dir, "bu_att", "1.npz"), Box: filepath.Join(dir, "bu_box", "1.npy")}
	if err := blobio.WriteAll(ctx, files.Att, bomb); err != nil {
		t.Fatal(err)
	}
	if err := blobio.WriteAll(ctx, files.Box, EncodeNPY("<f4", []int{36, 4}, make([]byte, 36*16))); err != nil {
		t.Fatal(err)
	}
	lim := Limits{Dim: 2048, MinBoxes: 10, MaxBoxes: 100}
	const bound = 16 << 20 // the largest record within lim is 100 × 2048 × 4 = 800 KiB
	var r Raw
	if n := allocated(func() { err = ReadNPZ(ctx, 1, files, lim, &r) }); !errors.Is(err, ErrTooLarge) || n > bound {
		t.Errorf("ReadNPZ of the bomb: %v after allocating %d bytes; want ErrTooLarge within %d", err, n, bound)
	}
	// Given the bytes, NPZArray refuses by the member's declared size, before inflating.
	if n := allocated(func() { _, _, err = NPZArray(bomb, lim.MaxFeatureBytes(), "feat") }); !errors.Is(err, ErrTooLarge) || n > bound {
		t.Errorf("NPZArray of the bomb: %v after allocating %d bytes; want ErrTooLarge within %d", err, n, bound)
	}
	if !strings.Contains(err.Error(), "8192000128") {
		t.Errorf("error %q does not say how large the member is", err)
	}
}

// TestNPYBounds: a .npy file whose shape overflows or exceeds its bytes is an error, and
// _box and _fc files larger than the limits are ErrTooLarge.
func TestNPYBounds(t *testing.T) {
	for i, shape := range []string{"(4611686018427387904, 4)", "(3037000500, 3037000500)", "(1000000, 2048)"} {
		h := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }\n"
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
		b = append(append(b, h...), make([]byte, 64)...)
		if _, err := ParseNPY(b); !errors.Is(err, ErrNPY) {
			t.Errorf("%d: shape %s over 64 bytes: %v, want ErrNPY", i, shape, err)
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	lim := Limits{Dim: 8, MinBoxes: 1, MaxBoxes: 10}
	in := &Raw{NumBoxes: 10, Features: make([]byte, 10*8*4), Boxes: make([]byte, 10*16)}
	npz, err := EncodeNPZ(map[string][]byte{"feat": EncodeNPY("<f4", []int{10, 8}, in.Features)})
	if err != nil {
		t.Fatal(err)
	}
	files := NPZFiles{Att: filepath.Join(dir, "a.npz"), Box: filepath.Join(dir, "box.npy"), FC: filepath.Join(dir, "fc.npy")}
	write := func(loc string, b []byte) {
		if err := blobio.WriteAll(ctx, loc, b); err != nil {
			t.Fatal(err)
		}
	}
	write(files.Att, npz)
	write(files.Box, EncodeNPY("<f4", []int{10, 4}, in.Boxes))
	write(files.FC, EncodeNPY("<f4", []int{8}, make([]byte, 32)))
	var r Raw
	if err := ReadNPZ(ctx, 1, files, lim, &r); err != nil {
		t.Fatalf("within the limits: %v", err)
	}
	write(files.Box, EncodeNPY("<f4", []int{1 << 16, 4}, make([]byte, 16<<16)))
	if err := ReadNPZ(ctx, 1, files, lim, &r); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a _box file of 65536 boxes: %v, want ErrTooLarge", err)
	}
	write(files.Box, EncodeNPY("<f4", []int{10, 4}, in.Boxes))
	write(files.FC, bytes.Repeat([]byte{0}, 1<<20))
	if err := ReadNPZ(ctx, 1, files, lim, &r); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 1 MiB _fc file: %v, want ErrTooLarge", err)
	}
}

// TestMaxTSVLine: the longest line of a record within the limits is within MaxTSVLine, in
// both layouts.
func TestMaxTSVLine(t *testing.T) {
	lim := Limits{Dim: 2048, MinBoxes: 10, MaxBoxes: 100}
	k := lim.MaxBoxes
	r := &Raw{ImageID: 1<<62 + 12345, Width: 1 << 30, Height: 1 << 30, NumBoxes: k, Boxes: make([]byte, 16*k), Features: make([]byte, 4*k*lim.Dim),
		ObjectIDs: make([]byte, 8*k), ObjectConf: make([]byte, 4*k), AttrIDs: make([]byte, 8*k), AttrConf: make([]byte, 4*k)}
	for _, l := range []Layout{LayoutAnderson, LayoutLXMERT} {
		if n := int64(len(AppendTSV(nil, r, l))); n > lim.MaxTSVLine() {
			t.Errorf("%s: a line of %d bytes within the limits, MaxTSVLine %d", l, n, lim.MaxTSVLine())
		}
	}
	r.NumBoxes++
	r.Features = append(r.Features, make([]byte, 4*lim.Dim)...)
	if n := int64(len(AppendTSV(nil, r, LayoutAnderson))); n <= lim.MaxTSVLine() {
		t.Errorf("a line of %d boxes (%d bytes) is within MaxTSVLine %d", r.NumBoxes, n, lim.MaxTSVLine())
	}
}

// TestScanHeadsLongLines: through a store that is not memory-mapped (mem://), ScanHeads hands
// over the first headSize bytes of lines longer than its read buffer, not just the first buffer.
func TestScanHeadsLongLines(t *testing.T) {
	ctx := context.Background()
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	lines := []string{long('a', 3<<20), "short", long('b', scanBufferSize+7)}
	loc := "mem://scanheads/long.tsv"
	if err := blobio.WriteAll(ctx, loc, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	size := int64(len(strings.Join(lines, "\n")) + 1)
	for _, head := range []int{4 << 20, 3<<20 - 1, 100} {
		var got []string
		if _, err := ScanHeads(ctx, loc, 0, size, head, func(_, length int64, b []byte) error {
			if int(length) != len(lines[len(got)]) {
				t.Errorf("head %d: line %d: length %d, want %d", head, len(got), length, len(lines[len(got)]))
			}
			got = append(got, string(b))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if want := l[:min(len(l), head)]; got[i] != want {
				t.Errorf("head %d: line %d: %d bytes, want the first %d", head, i, len(got[i]), len(want))
			}
		}
	}
}
