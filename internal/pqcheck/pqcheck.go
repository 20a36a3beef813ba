// Package pqcheck checks a Parquet file's footer before a Parquet reader trusts it. parquet-go
// allocates what a file declares: the footer length (up to 4 GiB) and, while decoding the
// footer's Thrift structures, every list and string at its declared length. Footer checks that
// the footer fits the file and MaxFooter, and walks its Thrift structures checking that every
// declared length and element count fits the bytes that remain, so that decoding it allocates
// in proportion to its size.
package pqcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxFooter bounds a Parquet footer (the file metadata): groundcap's tables have footers of a
// few KiB to a few MiB.
const MaxFooter = 64 << 20

// ErrFooter is returned (wrapped) for a file whose tail is not a plausible Parquet footer.
var ErrFooter = errors.New("pqcheck: not a Parquet file or a damaged footer")

// Footer checks the footer of a Parquet file of size bytes: the "PAR1" magic, a footer length
// that fits the file and MaxFooter, and Thrift structures whose lengths and counts fit the
// footer. Its errors wrap ErrFooter, or are the reader's.
func Footer(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%w: %d bytes, fewer than the 12 of the smallest Parquet file", ErrFooter, size)
	}
	var tail [8]byte
	if err := readAt(r, tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("%w: the file does not end in PAR1 (encrypted footers are not read)", ErrFooter)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > MaxFooter {
		return fmt.Errorf("%w: it declares a footer of %d bytes in a file of %d (at most %d MiB are read)", ErrFooter, n, size, MaxFooter>>20)
	}
	footer := make([]byte, n)
	if err := readAt(r, footer, size-8-n); err != nil {
		return err
	}
	w := &walker{b: footer}
	if err := w.value(tStruct, 0); err != nil {
		return err
	}
	return nil
}

func readAt(r io.ReaderAt, p []byte, off int64) error {
	if n, err := r.ReadAt(p, off); n < len(p) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// maxDepth bounds the nesting of the footer's structures (Parquet's own is a few levels deep).
const maxDepth = 64

// Compact-protocol element types.
const (
	tBoolTrue  = 1
	tBoolFalse = 2
	tByte      = 3
	tI16       = 4
	tI32       = 5
	tI64       = 6
	tDouble    = 7
	tBinary    = 8
	tList      = 9
	tSet       = 10
	tMap       = 11
	tStruct    = 12
)

// walker reads a Thrift compact-protocol structure without building it, checking that every
// length and element count fits the bytes that remain.
type walker struct {
	b   []byte
	pos int
}

func (w *walker) fail(format string, args ...any) error {
	return fmt.Errorf("%w: footer byte %d: %s", ErrFooter, w.pos, fmt.Sprintf(format, args...))
}

func (w *walker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, w.fail("unexpected end")
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *walker) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, w.fail("varint longer than 10 bytes")
}

// count reads a length or element count and checks that n elements of at least min bytes each
// fit the rest of the footer.
func (w *walker) count(n uint64, min int) (int, error) {
	if rest := uint64(len(w.b) - w.pos); n > rest/uint64(min) {
		return 0, w.fail("%d elements of at least %d bytes in the %d bytes left", n, min, rest)
	}
	return int(n), nil
}

// minSize is the fewest bytes an element of type t takes.
func minSize(t byte) int {
	if t == tDouble {
		return 8
	}
	return 1
}

// value skips one value of type t.
func (w *walker) value(t byte, depth int) error {
	if depth > maxDepth {
		return w.fail("structures nested deeper than %d", maxDepth)
	}
	switch t {
	case tBoolTrue, tBoolFalse:
		return nil
	case tByte:
		_, err := w.byte()
		return err
	case tI16, tI32, tI64:
		_, err := w.varint()
		return err
	case tDouble:
		if _, err := w.count(8, 1); err != nil {
			return err
		}
		w.pos += 8
		return nil
	case tBinary:
		n, err := w.varint()
		if err != nil {
			return err
		}
		k, err := w.count(n, 1)
		w.pos += k
		return err
	case tList, tSet:
		h, err := w.byte()
		if err != nil {
			return err
		}
		n, et := uint64(h>>4), h&0x0f
		if n == 15 {
			if n, err = w.varint(); err != nil {
				return err
			}
		}
		k, err := w.count(n, minSize(et))
		if err != nil {
			return err
		}
		for range k {
			if et == tBoolTrue || et == tBoolFalse { // a list's booleans take a byte each
				if _, err := w.byte(); err != nil {
					return err
				}
				continue
			}
			if err := w.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tMap:
		n, err := w.varint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		k, err := w.count(n, 2)
		if err != nil {
			return err
		}
		for range k {
			if err := w.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tStruct:
		for {
			h, err := w.byte()
			if err != nil {
				return err
			}
			if h == 0 {
				return nil
			}
			if h>>4 == 0 { // a field id that is not a delta follows as a varint
				if _, err := w.varint(); err != nil {
					return err
				}
			}
			if err := w.value(h&0x0f, depth+1); err != nil {
				return err
			}
		}
	}
	return w.fail("unknown element type %d", t)
}
