package features

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/groundcap/groundcap/internal/blobio"
)

// Field counts of the two TSV layouts.
const (
	andersonFields = 6
	lxmertFields   = 10
)

// ParseImageID reads an image id field: an integer ("132417"), or a name that ends in one
// ("COCO_train2014_000000132417" → 132417), as the LXMERT files spell COCO ids.
func ParseImageID(s []byte) (int64, error) {
	if id, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		return id, nil
	}
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == len(s) {
		return 0, fmt.Errorf("%w: %q has no trailing number", ErrImageID, truncate(s))
	}
	id, err := strconv.ParseInt(string(s[i:]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrImageID, truncate(s), err)
	}
	return id, nil
}

// FirstField returns the bytes of a line up to its first tab (the whole line when it has none).
func FirstField(line []byte) []byte {
	if i := bytes.IndexByte(line, '\t'); i >= 0 {
		return line[:i]
	}
	return line
}

// ParseTSV decodes one TSV line (without or with its trailing "\n" / "\r\n") into r, reusing
// r's buffers. With LayoutAuto the layout is chosen by the field count; the layout used is
// returned. It checks the syntax only (fields, integers, base64, lengths of the id and
// confidence arrays); call Raw.Check for the values. Errors wrap one of the package's Err values.
func ParseTSV(line []byte, layout Layout, r *Raw) (Layout, error) {
	line = bytes.TrimRight(line, "\r\n")
	var f [lxmertFields][]byte
	n := 0 // number of fields, also beyond len(f)
	for rest := line; ; n++ {
		i := bytes.IndexByte(rest, '\t')
		if i < 0 {
			if n < len(f) {
				f[n] = rest
			}
			n++
			break
		}
		if n < len(f) {
			f[n] = rest[:i]
		}
		rest = rest[i+1:]
	}
	if layout == LayoutAuto {
		switch n {
		case andersonFields:
			layout = LayoutAnderson
		case lxmertFields:
			layout = LayoutLXMERT
		default:
			return layout, fmt.Errorf("%w: %d fields, want 6 (Anderson layout) or 10 (LXMERT layout)", ErrFields, n)
		}
	}
	want := andersonFields
	if layout == LayoutLXMERT {
		want = lxmertFields
	} else if layout != LayoutAnderson {
		return layout, fmt.Errorf("features: ParseTSV: layout %q is not a TSV layout", layout)
	}
	if n != want {
		return layout, fmt.Errorf("%w: %d fields, want %d (%s layout)", ErrFields, n, want, layout)
	}
	id, err := ParseImageID(f[0])
	if err != nil {
		return layout, err
	}
	r.ImageID = id
	var w, h, k int64
	var boxes, feats []byte
	if layout == LayoutAnderson {
		if w, err = parseInt("image_w", f[1]); err == nil {
			if h, err = parseInt("image_h", f[2]); err == nil {
				k, err = parseInt("num_boxes", f[3])
			}
		}
		boxes, feats = f[4], f[5]
		r.ObjectIDs, r.ObjectConf, r.AttrIDs, r.AttrConf = nil, nil, nil, nil
	} else {
		if h, err = parseInt("img_h", f[1]); err == nil {
			if w, err = parseInt("img_w", f[2]); err == nil {
				k, err = parseInt("num_boxes", f[7])
			}
		}
		if err == nil {
			if r.ObjectIDs, err = decode64("objects_id", f[3], r.ObjectIDs); err == nil {
				if r.ObjectConf, err = decode64("objects_conf", f[4], r.ObjectConf); err == nil {
					if r.AttrIDs, err = decode64("attrs_id", f[5], r.AttrIDs); err == nil {
						r.AttrConf, err = decode64("attrs_conf", f[6], r.AttrConf)
					}
				}
			}
		}
		boxes, feats = f[8], f[9]
	}
	if err != nil {
		return layout, err
	}
	if w < 0 || h < 0 || w > 1<<30 || h > 1<<30 {
		return layout, fmt.Errorf("%w: image size %d×%d", ErrNumber, w, h)
	}
	if k < 0 || k > 1<<20 {
		return layout, fmt.Errorf("%w: num_boxes %d", ErrNumBoxes, k)
	}
	r.Width, r.Height, r.NumBoxes = int32(w), int32(h), int(k)
	r.FC = nil
	if r.Boxes, err = decode64("boxes", boxes, r.Boxes); err != nil {
		return layout, err
	}
	if r.Features, err = decode64("features", feats, r.Features); err != nil {
		return layout, err
	}
	return layout, nil
}

func parseInt(name string, s []byte) (int64, error) {
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", ErrNumber, name, truncate(s))
	}
	return v, nil
}

// decode64 decodes standard base64 into dst's storage.
func decode64(name string, src, dst []byte) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(src))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := base64.StdEncoding.Decode(dst, src)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return dst[:0], fmt.Errorf("%w: %s (%d characters): bad input at character %d", ErrBase64, name, len(src), int64(ce))
		}
		return dst[:0], fmt.Errorf("%w: %s: %v", ErrBase64, name, err)
	}
	return dst[:m], nil
}

func truncate(s []byte) string {
	if len(s) > 40 {
		return string(s[:40]) + "…"
	}
	return string(s)
}

// scanBufferSize is the read buffer of ScanRange; longer lines are assembled from several reads.
const scanBufferSize = 1 << 20

// ScanRange calls fn for every line of loc that starts in the byte range [start, end), in
// order, with the line's byte offset and its bytes (without the "\n"; the slice is reused after
// fn returns). A line that starts in the range is read to its end even past end; a range that
// starts inside a line skips to the next line start. So consecutive ranges that tile a file
// visit every line exactly once. It returns the number of bytes read.
func ScanRange(ctx context.Context, loc string, start, end int64, fn func(offset int64, line []byte) error) (int64, error) {
	return scan(ctx, loc, start, end, -1, func(off, _ int64, line []byte) error { return fn(off, line) })
}

// ScanHeads is ScanRange for callers that need only the start of each line: fn gets the
// line's offset, its length (without the "\n") and at most its first headSize bytes, and long
// lines are never assembled in memory.
func ScanHeads(ctx context.Context, loc string, start, end int64, headSize int, fn func(offset, length int64, head []byte) error) (int64, error) {
	return scan(ctx, loc, start, end, headSize, fn)
}

// scan implements ScanRange (headSize < 0: whole lines) and ScanHeads. A local file is read
// through a memory mapping of the range (no copies); other stores through a buffered reader.
func scan(ctx context.Context, loc string, start, end int64, headSize int, fn func(offset, length int64, b []byte) error) (int64, error) {
	from := start
	if start > 0 {
		from = start - 1 // to see whether start is a line start
	}
	m, err := blobio.OpenMapped(loc)
	if err != nil {
		return 0, fmt.Errorf("features: %w", err)
	}
	if m != nil {
		defer m.Close()
		// The mapping runs to the end of the file (address space only): the range's last
		// line may end past end. Only the pages touched become resident.
		mp, err := m.MapLazy(from, m.Size()-from)
		if err != nil {
			return 0, fmt.Errorf("features: %w", err)
		}
		defer mp.Close()
		mp.Populate(end - from)
		return scanMapped(ctx, m, mp.Data, from, start, end, headSize, fn)
	}
	return scanReader(ctx, loc, from, start, end, headSize, fn)
}

// parallelScanMin is the smallest range that scanMapped cuts into pieces scanned in parallel
// (a variable for tests).
var parallelScanMin int64 = 8 << 20

// scanMapped is scan over a mapping: data holds the file's bytes from offset from to its end.
// A large range is cut into one piece per CPU, found in parallel; fn still sees the lines in
// order, from one goroutine.
func scanMapped(ctx context.Context, m *blobio.MappedFile, data []byte, from, start, end int64, headSize int, fn func(offset, length int64, b []byte) error) (int64, error) {
	workers := runtime.GOMAXPROCS(0)
	if end-start < parallelScanMin || workers < 2 {
		var read int64
		err := m.Guard(func() error {
			var err error
			read, err = scanBytes(ctx, data, from, start, end, headSize, fn)
			return err
		})
		return read, err
	}
	type line struct {
		off, length int64
		b           []byte
	}
	pieces := make([][]line, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		s := start + (end-start)*int64(i)/int64(workers)
		e := start + (end-start)*int64(i+1)/int64(workers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Guard(func() error {
				lo := max(s-1, from) // scanBytes looks at the byte before a piece's start
				_, err := scanBytes(ctx, data[lo-from:], lo, s, e, headSize, func(off, length int64, b []byte) error {
					pieces[i] = append(pieces[i], line{off, length, b})
					return nil
				})
				return err
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	var read int64
	err := m.Guard(func() error {
		for _, p := range pieces {
			for _, l := range p {
				if err := fn(l.off, l.length, l.b); err != nil {
					return err
				}
				read = l.off + l.length - start
			}
		}
		return nil
	})
	return read, err
}

// scanBytes is scan over data, the bytes of the file from offset from to its end.
func scanBytes(ctx context.Context, data []byte, from, start, end int64, headSize int, fn func(offset, length int64, b []byte) error) (int64, error) {
	var pos int64 // in data
	if start > 0 {
		i := bytes.IndexByte(data, '\n') // data[0] is the byte before start
		if i < 0 {
			return int64(len(data)), nil
		}
		pos = int64(i) + 1
	}
	for from+pos < end && pos < int64(len(data)) {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		rest := data[pos:]
		length, n := int64(len(rest)), int64(len(rest))
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			length, n = int64(i), int64(i)+1
		}
		b := rest[:length]
		if headSize >= 0 && int64(len(b)) > int64(headSize) {
			b = b[:headSize]
		}
		if err := fn(from+pos, length, b); err != nil {
			return pos, err
		}
		pos += n
	}
	return pos, nil
}

// scanReader is scan through a buffered reader from offset from.
func scanReader(ctx context.Context, loc string, from, start, end int64, headSize int, fn func(offset, length int64, b []byte) error) (int64, error) {
	rc, err := blobio.NewRangeReader(ctx, loc, from, -1)
	if err != nil {
		return 0, fmt.Errorf("features: %w", err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, int(min(max(end-start, 64<<10), scanBufferSize)))
	pos := from
	var read int64
	if start > 0 {
		for {
			chunk, err := br.ReadSlice('\n')
			pos += int64(len(chunk))
			read += int64(len(chunk))
			if err == nil {
				break
			}
			if err == io.EOF {
				return read, nil
			}
			if err != bufio.ErrBufferFull {
				return read, fmt.Errorf("features: %s: %w", loc, err)
			}
		}
	}
	var long []byte
	for pos < end {
		if err := ctx.Err(); err != nil {
			return read, err
		}
		line, err := br.ReadSlice('\n')
		n := int64(len(line))
		if err == bufio.ErrBufferFull {
			if headSize < 0 {
				long = append(long[:0], line...)
			} else {
				long = append(long[:0], line[:min(len(line), headSize)]...)
			}
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				n += int64(len(line))
				if headSize < 0 {
					long = append(long, line...)
				} else if len(long) < headSize {
					long = append(long, line[:min(len(line), headSize-len(long))]...)
				}
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return read, fmt.Errorf("features: %s: offset %d: %w", loc, pos, err)
		}
		if n == 0 && err == io.EOF {
			break
		}
		read += n
		length := n
		if err == nil {
			length-- // the "\n"
		}
		b := line
		if headSize >= 0 && len(b) > headSize {
			b = b[:headSize]
		}
		if int64(len(b)) > length {
			b = b[:length]
		}
		if ferr := fn(pos, length, b); ferr != nil {
			return read, ferr
		}
		pos += n
		if err == io.EOF {
			break
		}
	}
	return read, nil
}

// LineReader reads lines of one TSV file by offset and length (as ScanRange reports them): a
// local file through memory mappings, with no copy; another store through range reads. It is
// safe for concurrent use.
type LineReader struct {
	loc string
	m   *blobio.MappedFile
}

// OpenLines opens loc for LineReader.Line.
func OpenLines(loc string) (*LineReader, error) {
	m, err := blobio.OpenMapped(loc)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return &LineReader{loc: loc, m: m}, nil
}

// Line calls fn with the line at offset (without its "\n"); the bytes are valid only during fn.
// buf is a read buffer for stores that are not mapped, returned for reuse.
func (lr *LineReader) Line(ctx context.Context, offset, length int64, buf []byte, fn func(line []byte) error) ([]byte, error) {
	if lr.m == nil {
		line, err := ReadLine(ctx, lr.loc, offset, length, buf)
		if err != nil {
			return line, err
		}
		return line, fn(line)
	}
	mp, err := lr.m.Map(offset, length)
	if err != nil {
		return buf, fmt.Errorf("features: %w", err)
	}
	defer mp.Close()
	if int64(len(mp.Data)) != length {
		return buf, fmt.Errorf("features: %s: offset %d: %d bytes, want %d: the file is shorter than when it was scanned", lr.loc, offset, len(mp.Data), length)
	}
	return buf, lr.m.Guard(func() error { return fn(mp.Data) })
}

// Close releases the file.
func (lr *LineReader) Close() error {
	if lr.m == nil {
		return nil
	}
	return lr.m.Close()
}

// ReadLine reads the line of loc at offset with the given length (as ScanRange reported them)
// into buf's storage.
func ReadLine(ctx context.Context, loc string, offset, length int64, buf []byte) ([]byte, error) {
	rc, err := blobio.NewRangeReader(ctx, loc, offset, length)
	if err != nil {
		return buf, fmt.Errorf("features: %w", err)
	}
	if int64(cap(buf)) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	_, err = io.ReadFull(rc, buf)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return buf, fmt.Errorf("features: %s: offset %d: %w", loc, offset, err)
	}
	return buf, nil
}

// AppendTSV appends r as one TSV line (with its "\n") in the given layout (LayoutAnderson or
// LayoutLXMERT; the LXMERT id is written as a plain integer) to dst, the inverse of ParseTSV.
// An LXMERT line gets r's object and attribute arrays (empty fields when r has none).
func AppendTSV(dst []byte, r *Raw, layout Layout) []byte {
	enc := base64.StdEncoding
	b64 := func(b []byte) {
		n := len(dst)
		m := enc.EncodedLen(len(b))
		dst = append(dst, make([]byte, m)...)
		enc.Encode(dst[n:n+m], b)
	}
	dst = strconv.AppendInt(dst, r.ImageID, 10)
	dst = append(dst, '\t')
	if layout == LayoutLXMERT {
		dst = strconv.AppendInt(dst, int64(r.Height), 10)
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, int64(r.Width), 10)
		for _, b := range [][]byte{r.ObjectIDs, r.ObjectConf, r.AttrIDs, r.AttrConf} {
			dst = append(dst, '\t')
			b64(b)
		}
	} else {
		dst = strconv.AppendInt(dst, int64(r.Width), 10)
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, int64(r.Height), 10)
	}
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, int64(r.NumBoxes), 10)
	dst = append(dst, '\t')
	b64(r.Boxes)
	dst = append(dst, '\t')
	b64(r.Features)
	return append(dst, '\n')
}
