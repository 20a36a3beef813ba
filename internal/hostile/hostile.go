// Package hostile makes hostile inputs for tests of decoders: small files that declare or
// inflate to far more than a well-formed record can take.
package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"strings"
)

// chunk is how many zero bytes one repeated piece of the deflate stream stands for.
const chunk = 64 << 20

// NPZBomb returns a well-formed .npz archive (as numpy.savez_compressed writes it) holding
// one member, key.npy, a float32 array of shape (rows, cols) of zeros, the archive's sizes and
// CRC-32 all honest. Deflate shrinks zeros about a thousandfold, so (1000000, 2048) — 8 GB of
// values — is an archive of about 8 MB. It compresses only ~70 MB: the stream repeats one
// piece that stands for 64 MiB of zeros.
func NPZBomb(key string, rows, cols int) ([]byte, error) {
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	npyHeader := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	npyHeader = append(npyHeader, h...)
	data := int64(rows) * int64(cols) * 4

	var stream bytes.Buffer
	fw, err := flate.NewWriter(&stream, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	// The header and 1 MiB of zeros; then one piece for 64 MiB of zeros: every later copy is
	// preceded by zeros too, so it decodes the same (deflate looks back at most 32 KiB).
	write := func(n int64) ([]byte, error) {
		start := stream.Len()
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := fw.Write(zeros[:k]); err != nil {
				return nil, err
			}
			n -= k
		}
		if err := fw.Flush(); err != nil {
			return nil, err
		}
		return bytes.Clone(stream.Bytes()[start:]), nil
	}
	if _, err := fw.Write(npyHeader); err != nil {
		return nil, err
	}
	lead := min(data, int64(len(zeros)))
	if _, err := write(lead); err != nil {
		return nil, err
	}
	rest := data - lead
	var piece []byte
	if rest >= chunk {
		if piece, err = write(chunk); err != nil {
			return nil, err
		}
		for k := rest/chunk - 1; k > 0; k-- {
			stream.Write(piece)
		}
	}
	if _, err := write(rest % chunk); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}

	crc := crc32.Update(0, crc32.IEEETable, npyHeader)
	for n := data; n > 0; n -= int64(len(zeros)) {
		crc = crc32.Update(crc, crc32.IEEETable, zeros[:min(n, int64(len(zeros)))])
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: key + ".npy", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(stream.Len()), UncompressedSize64: uint64(int64(len(npyHeader)) + data)})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(stream.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
