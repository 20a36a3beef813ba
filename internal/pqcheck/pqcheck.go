// Package pqcheck checks a Parquet file's tail before a Parquet reader trusts it: the footer
// length the file declares bounds what the reader allocates for the footer.
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

// Footer reads the last 8 bytes of a Parquet file of size bytes and checks the "PAR1" magic and
// that the footer length fits the file and MaxFooter.
func Footer(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%w: %d bytes, fewer than the 12 of the smallest Parquet file", ErrFooter, size)
	}
	var tail [8]byte
	if n, err := r.ReadAt(tail[:], size-8); n < len(tail) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("%w: the file does not end in PAR1 (encrypted footers are not read)", ErrFooter)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > MaxFooter {
		return fmt.Errorf("%w: it declares a footer of %d bytes in a file of %d (at most %d MiB are read)", ErrFooter, n, size, MaxFooter>>20)
	}
	return nil
}
