package features

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/groundcap/groundcap/internal/blobio"
)

// NPY is one decoded .npy array.
type NPY struct {
	Descr string // NumPy dtype descriptor, e.g. "<f4"
	Shape []int
	Data  []byte // little-endian values, C order
}

var npyMagic = []byte("\x93NUMPY")

// npyHeaderMax bounds the header of an .npy file (NumPy's own reader refuses headers longer than
// 10000 bytes by default).
const npyHeaderMax = 1 << 16

// ParseNPY decodes a .npy file (format versions 1–3, C order). The data aliases b.
func ParseNPY(b []byte) (*NPY, error) {
	if len(b) < 10 || !bytes.Equal(b[:6], npyMagic) {
		return nil, fmt.Errorf("%w: no .npy magic", ErrNPY)
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, fmt.Errorf("%w: short header", ErrNPY)
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:])), 12
	default:
		return nil, fmt.Errorf("%w: unknown format version %d", ErrNPY, b[6])
	}
	if start+hlen > len(b) {
		return nil, fmt.Errorf("%w: header of %d bytes past the end", ErrNPY, hlen)
	}
	h := string(b[start : start+hlen])
	a := &NPY{Data: b[start+hlen:]}
	descr, ok := dictValue(h, "descr")
	if !ok {
		return nil, fmt.Errorf("%w: header %q has no descr", ErrNPY, h)
	}
	a.Descr = strings.Trim(descr, "'\"")
	if fo, _ := dictValue(h, "fortran_order"); fo != "False" {
		return nil, fmt.Errorf("%w: fortran_order %q, want False", ErrNPY, fo)
	}
	shape, ok := dictValue(h, "shape")
	if !ok || !strings.HasPrefix(shape, "(") || !strings.HasSuffix(shape, ")") {
		return nil, fmt.Errorf("%w: header %q has no shape", ErrNPY, h)
	}
	size := 1
	for _, p := range strings.Split(strings.Trim(shape, "()"), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad shape %s", ErrNPY, shape)
		}
		if n > 0 && size > len(b)/n {
			return nil, fmt.Errorf("%w: shape %s holds more values than the file has bytes (%d)", ErrNPY, shape, len(b))
		}
		a.Shape = append(a.Shape, n)
		size *= n
	}
	var item int
	switch a.Descr {
	case "<f4", "<i4":
		item = 4
	case "<f8", "<i8":
		item = 8
	case "<f2":
		item = 2
	default:
		return nil, fmt.Errorf("%w: dtype %s not supported (want little-endian float32)", ErrNPY, a.Descr)
	}
	if len(a.Data) != size*item {
		return nil, fmt.Errorf("%w: %d data bytes, want %d for shape %s of %s", ErrNPY, len(a.Data), size*item, shape, a.Descr)
	}
	return a, nil
}

// dictValue finds 'key': value in a Python dict literal and returns value as written (a
// quoted string, a word or a parenthesised tuple).
func dictValue(h, key string) (string, bool) {
	i := strings.Index(h, "'"+key+"'")
	if i < 0 {
		return "", false
	}
	rest := strings.TrimLeft(h[i+len(key)+2:], " ")
	if !strings.HasPrefix(rest, ":") {
		return "", false
	}
	rest = strings.TrimLeft(rest[1:], " ")
	switch {
	case strings.HasPrefix(rest, "("):
		j := strings.IndexByte(rest, ')')
		if j < 0 {
			return "", false
		}
		return rest[:j+1], true
	case strings.HasPrefix(rest, "'"):
		j := strings.IndexByte(rest[1:], '\'')
		if j < 0 {
			return "", false
		}
		return rest[:j+2], true
	}
	j := strings.IndexAny(rest, ",}")
	if j < 0 {
		return "", false
	}
	return strings.TrimSpace(rest[:j]), true
}

// EncodeNPY writes a float32 (descr "<f4") or int64 ("<i8") array as a version-1 .npy file,
// as numpy.save does.
func EncodeNPY(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	pad := 64 - (10+len(h)+1)%64
	if pad == 64 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	out := make([]byte, 0, 10+len(h)+len(data))
	out = append(out, npyMagic...)
	out = append(out, 1, 0, byte(len(h)), byte(len(h)>>8))
	out = append(out, h...)
	return append(out, data...)
}

// EncodeNPZ writes arrays (name → .npy bytes) as a deflate-compressed .npz, as
// numpy.savez_compressed does; names are written in sorted order.
func EncodeNPZ(arrays map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(arrays))
	for n := range arrays {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n + ".npy", Method: zip.Deflate})
		if err != nil {
			return nil, fmt.Errorf("features: npz: %w", err)
		}
		if _, err := w.Write(arrays[n]); err != nil {
			return nil, fmt.Errorf("features: npz: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("features: npz: %w", err)
	}
	return buf.Bytes(), nil
}

// NPZArray returns the first of keys present in an .npz archive, decoded. It fails with
// ErrMissingKey when none is, and with ErrTooLarge, before decompressing anything, when the
// member's uncompressed size exceeds maxData bytes of values plus an .npy header (the archive
// records that size, and the zip reader fails a member that inflates past it).
func NPZArray(npz []byte, maxData int64, keys ...string) (*NPY, string, error) {
	zr, err := zip.NewReader(bytes.NewReader(npz), int64(len(npz)))
	if err != nil {
		return nil, "", fmt.Errorf("%w: not an npz archive: %v", ErrNPY, err)
	}
	files := map[string]*zip.File{}
	var have []string
	for _, f := range zr.File {
		k := strings.TrimSuffix(f.Name, ".npy")
		files[k] = f
		have = append(have, k)
	}
	for _, k := range keys {
		f, ok := files[k]
		if !ok {
			continue
		}
		if limit := uint64(maxData) + npyHeaderMax; maxData < 0 || f.UncompressedSize64 > limit {
			return nil, k, fmt.Errorf("%w: %s.npy inflates to %d bytes, more than the %d an array within the limits takes", ErrTooLarge, k, f.UncompressedSize64, limit)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, k, fmt.Errorf("%w: %s: %v", ErrNPY, k, err)
		}
		buf := bytes.NewBuffer(make([]byte, 0, f.UncompressedSize64))
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, k, fmt.Errorf("%w: %s: %v", ErrNPY, k, err)
		}
		a, err := ParseNPY(buf.Bytes())
		if err != nil {
			return nil, k, fmt.Errorf("%s: %w", k, err)
		}
		return a, k, nil
	}
	return nil, "", fmt.Errorf("%w: want one of %v, archive has %v", ErrMissingKey, keys, have)
}

// NPZFiles names the three per-image files of self-critical's layout.
type NPZFiles struct {
	Att string // <root>/<name>_att/<id>.npz (required)
	FC  string // <root>/<name>_fc/<id>.npy ("" when the set has no _fc directory)
	Box string // <root>/<name>_box/<id>.npy (required)
}

// ReadNPZ reads one image of self-critical's per-image layout into r: features from the npz
// key "feat" (fallback "z"), fc from the _fc file when given, boxes from the _box file. Image
// size is unknown (0). What it reads and inflates is bounded by lim (MaxFeatureBytes): a file
// or array larger than a record within the limits can be fails with ErrTooLarge before it is
// read. Errors wrap ErrMissingKey, ErrMissingFile, ErrNPY, ErrLength or ErrTooLarge.
func ReadNPZ(ctx context.Context, id int64, f NPZFiles, lim Limits, r *Raw) error {
	*r = Raw{ImageID: id}
	att, err := readLimit(ctx, f.Att, npzFileLimit(lim))
	if err != nil {
		return err
	}
	a, key, err := NPZArray(att, lim.MaxFeatureBytes(), "feat", "z")
	if err != nil {
		return err
	}
	if a.Descr != "<f4" || len(a.Shape) != 2 {
		return fmt.Errorf("%w: %s: %s %v, want float32 (K, D)", ErrNPY, key, a.Descr, a.Shape)
	}
	r.NumBoxes = a.Shape[0]
	r.Features = a.Data
	box, err := readNPY(ctx, f.Box, 16*int64(max(lim.MaxBoxes, 0)))
	if err != nil {
		return err
	}
	if box.Descr != "<f4" || len(box.Shape) != 2 || box.Shape[1] != 4 {
		return fmt.Errorf("%w: %s: %s %v, want float32 (K, 4)", ErrNPY, f.Box, box.Descr, box.Shape)
	}
	if box.Shape[0] != r.NumBoxes {
		return fmt.Errorf("%w: %s has %d boxes, %s has %d", ErrLength, f.Box, box.Shape[0], f.Att, r.NumBoxes)
	}
	r.Boxes = box.Data
	if f.FC != "" {
		fc, err := readNPY(ctx, f.FC, 4*lim.featDim())
		if err != nil {
			return err
		}
		if fc.Descr != "<f4" || len(fc.Shape) != 1 {
			return fmt.Errorf("%w: %s: %s %v, want float32 (D,)", ErrNPY, f.FC, fc.Descr, fc.Shape)
		}
		r.FC = fc.Data
	}
	return nil
}

// npzFileLimit bounds the size of an npz file: its features array (deflate can grow incompressible
// data a little), room for another array as large, and the archive's headers.
func npzFileLimit(lim Limits) int64 { return 2*(lim.MaxFeatureBytes()+npyHeaderMax) + 1<<20 }

// readLimit reads a whole file of at most limit bytes; a missing file is ErrMissingFile, a larger
// one ErrTooLarge.
func readLimit(ctx context.Context, loc string, limit int64) ([]byte, error) {
	data, err := blobio.ReadAllLimit(ctx, loc, limit)
	switch {
	case err == nil:
		return data, nil
	case blobio.IsNotExist(err):
		return nil, fmt.Errorf("%w: %s", ErrMissingFile, loc)
	case errors.Is(err, blobio.ErrTooLarge):
		return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return nil, fmt.Errorf("features: %w", err)
}

// readNPY reads an .npy file of at most maxData bytes of values.
func readNPY(ctx context.Context, loc string, maxData int64) (*NPY, error) {
	data, err := readLimit(ctx, loc, maxData+npyHeaderMax)
	if err != nil {
		return nil, err
	}
	a, err := ParseNPY(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return a, nil
}
