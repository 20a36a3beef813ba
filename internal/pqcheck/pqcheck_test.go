package pqcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type row struct {
	ID   int64     `parquet:"id"`
	Name string    `parquet:"name"`
	Vals []float32 `parquet:"vals,list"`
}

// sample writes a small Parquet file with parquet-go.
func sample(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	rows := []row{{1, "a", []float32{1, 2}}, {2, "bb", nil}, {3, "ccc", []float32{3}}}
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withFooter returns a Parquet file whose footer is footer (after a 4-byte "PAR1" head).
func withFooter(footer []byte) []byte {
	b := append([]byte("PAR1"), footer...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
	return append(b, "PAR1"...)
}

func TestFooterAcceptsParquetGo(t *testing.T) {
	b := sample(t)
	if err := Footer(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Footer of a parquet-go file: %v", err)
	}
}

func TestFooterRejects(t *testing.T) {
	good := sample(t)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", []byte("PAR1PAR1")},
		{"no magic", append(append([]byte{}, good[:len(good)-4]...), "PAR2"...)},
		{"footer past the file", func() []byte {
			b := append([]byte{}, good...)
			binary.LittleEndian.PutUint32(b[len(b)-8:], uint32(len(b)))
			return b
		}()},
		// field 1 (i32), then field 2 a list of structs declaring 2^31 elements in 6 bytes.
		{"list count past the footer", withFooter([]byte{0x15, 0x02, 0x19, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00})},
		// field 1 a binary declaring 1 GiB.
		{"string past the footer", withFooter([]byte{0x18, 0x80, 0x80, 0x80, 0x80, 0x04, 0x00})},
		{"unterminated struct", withFooter([]byte{0x15, 0x02})},
		{"unknown type", withFooter([]byte{0x1e, 0x00})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Footer(bytes.NewReader(tc.b), int64(len(tc.b)))
			if !errors.Is(err, ErrFooter) {
				t.Fatalf("Footer = %v, want ErrFooter", err)
			}
		})
	}
}

// FuzzFooter checks that Footer never panics and that whatever it accepts, parquet-go opens
// without allocating past what the file holds (the fuzzer's memory limit catches that).
func FuzzFooter(f *testing.F) {
	f.Add(sample(f))
	f.Add(withFooter([]byte{0x15, 0x02, 0x00}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := Footer(bytes.NewReader(b), int64(len(b))); err != nil {
			return
		}
		_, _ = parquet.OpenFile(bytes.NewReader(b), int64(len(b)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	})
}
