package features

import (
	"bytes"
	"errors"
	"testing"

	"github.com/groundcap/groundcap/internal/hostile"
)

// The fuzz targets of the decoders of region features. Their seeds are added here and kept in
// testdata/fuzz/<target>; 'go test' runs them as tests, 'make fuzz' fuzzes each for a while.

// isRecordError reports whether err is one of the errors that make a record a reject.
func isRecordError(err error) bool {
	for _, e := range []error{ErrFields, ErrImageID, ErrNumber, ErrBase64, ErrLength, ErrNumBoxes, ErrDim,
		ErrNonFinite, ErrBox, ErrMissingKey, ErrMissingFile, ErrNPY, ErrFloat16Range, ErrTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func FuzzParseNPY(f *testing.F) {
	f.Add(EncodeNPY("<f4", []int{2, 3}, make([]byte, 24)))
	f.Add(EncodeNPY("<i8", []int{4}, make([]byte, 32)))
	f.Add(EncodeNPY("<f4", []int{0, 2048}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseNPY(b)
		if err != nil {
			if !errors.Is(err, ErrNPY) {
				t.Fatalf("error %v is not ErrNPY", err)
			}
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if item := map[string]int{"<f4": 4, "<i4": 4, "<f8": 8, "<i8": 8, "<f2": 2}[a.Descr]; len(a.Data) != n*item {
			t.Fatalf("shape %v of %s with %d data bytes", a.Shape, a.Descr, len(a.Data))
		}
	})
}

// fuzzNPZLimit is the values bound of FuzzNPZArray.
const fuzzNPZLimit = 1 << 16

func FuzzNPZArray(f *testing.F) {
	for _, arrays := range []map[string][]byte{
		{"feat": EncodeNPY("<f4", []int{3, 4}, make([]byte, 48))},
		{"z": EncodeNPY("<f4", []int{2, 2}, make([]byte, 16)), "other": EncodeNPY("<i8", []int{1}, make([]byte, 8))},
	} {
		npz, err := EncodeNPZ(arrays)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(npz)
	}
	bomb, err := hostile.NPZBomb("feat", 1000, 64) // 256 KB of values: past the limit
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bomb)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, _, err := NPZArray(b, fuzzNPZLimit, "feat", "z")
		if err != nil {
			if !isRecordError(err) {
				t.Fatalf("error %v is not a record error", err)
			}
			return
		}
		if len(a.Data) > fuzzNPZLimit {
			t.Fatalf("%d data bytes past the limit %d", len(a.Data), fuzzNPZLimit)
		}
	})
}

func FuzzParseTSV(f *testing.F) {
	r := &Raw{ImageID: 7, Width: 10, Height: 8, NumBoxes: 2, Boxes: Float32Bytes([]float32{0, 0, 1, 1, 2, 2, 3, 3}),
		Features: Float32Bytes([]float32{1, 2, 3, 4, 5, 6})}
	f.Add(AppendTSV(nil, r, LayoutAnderson))
	r.ObjectIDs, r.ObjectConf, r.AttrIDs, r.AttrConf = Int64Bytes([]int64{1, 2}), Float32Bytes([]float32{.5, .25}), Int64Bytes([]int64{3, 4}), Float32Bytes([]float32{1, 0})
	f.Add(AppendTSV(nil, r, LayoutLXMERT))
	f.Add([]byte("COCO_val2014_000000000042\t8\t10\t\t\t\t\t0\t\t\r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Raw
		layout, err := ParseTSV(line, LayoutAuto, &r)
		if err != nil {
			if !isRecordError(err) {
				t.Fatalf("error %v is not a record error", err)
			}
			return
		}
		var back Raw
		if _, err := ParseTSV(AppendTSV(nil, &r, layout), layout, &back); err != nil {
			t.Fatalf("the record written back does not parse: %v", err)
		}
		if back.ImageID != r.ImageID || back.Width != r.Width || back.Height != r.Height || back.NumBoxes != r.NumBoxes ||
			!bytes.Equal(back.Boxes, r.Boxes) || !bytes.Equal(back.Features, r.Features) || !bytes.Equal(back.ObjectIDs, r.ObjectIDs) ||
			!bytes.Equal(back.ObjectConf, r.ObjectConf) || !bytes.Equal(back.AttrIDs, r.AttrIDs) || !bytes.Equal(back.AttrConf, r.AttrConf) {
			t.Fatalf("round trip differs: %+v, back %+v", r, back)
		}
	})
}

func FuzzShardMeta(f *testing.F) {
	var buf bytes.Buffer
	fw, err := NewWriter(&buf, WriterOptions{Encoding: EncodingBlob, DType: DTypeFloat32, Dim: 2, RowsPerGroup: 2, Shard: 0, NumShards: 1})
	if err != nil {
		f.Fatal(err)
	}
	r := &Raw{ImageID: 3, NumBoxes: 1, Boxes: Float32Bytes([]float32{0, 0, 1, 1}), Features: Float32Bytes([]float32{1, 2})}
	row, err := fw.Prepare(r)
	if err == nil {
		err = fw.WriteRow(row)
	}
	if err == nil {
		err = fw.Close()
	}
	if err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := openFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		p := &pfile{loc: "fuzz", file: file}
		_, _, _ = p.meta()
	})
}
