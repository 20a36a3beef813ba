package features

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

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

// scan implements ScanRange (headSize < 0: whole lines) and ScanHeads.
func scan(ctx context.Context, loc string, start, end int64, headSize int, fn func(offset, length int64, b []byte) error) (int64, error) {
	from := start
	if start > 0 {
		from = start - 1 // to see whether start is a line start
	}
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
