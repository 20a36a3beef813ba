// Package blobio opens storage locations given as URLs and reads and writes whole objects through
// gocloud.dev/blob.
//
// A location is a URL naming one object or one prefix ("directory"): file:///abs/path,
// mem://name/path, gs://bucket/path, s3://bucket/path. A plain path (absolute or relative) means
// file://. Writes are atomic per object: an object becomes visible only when its writer's Close
// returns nil (fileblob writes a temporary file beside the target and renames it; cloud stores
// commit on Close).
//
// mem:// buckets live as long as the process and are shared by name, so mem://x written by one
// stage can be read by the next one in the same process (tests and dry runs).
package blobio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob" // s3://
	"gocloud.dev/gcerrors"

	"github.com/groundcap/groundcap/internal/atomicfile"
)

// ErrNotExist is returned (wrapped) when a location names nothing.
var ErrNotExist = errors.New("blobio: does not exist")

// Normalize turns a plain path into a file:// URL with an absolute path and cleans the path of
// every URL; the result is the canonical spelling of the location.
func Normalize(loc string) (string, error) {
	if loc == "" {
		return "", errors.New("blobio: empty location")
	}
	if !strings.Contains(loc, "://") {
		abs, err := filepath.Abs(loc)
		if err != nil {
			return "", fmt.Errorf("blobio: %q: %w", loc, err)
		}
		return "file://" + filepath.ToSlash(abs), nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("blobio: bad location %q: %w", loc, err)
	}
	switch u.Scheme {
	case "file", "mem", "gs", "s3":
	default:
		if !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) {
			return "", fmt.Errorf("blobio: unsupported scheme %q in %q (want file, mem, gs or s3)", u.Scheme, loc)
		}
	}
	p := u.Path
	if p != "" {
		trail := strings.HasSuffix(p, "/")
		p = path.Clean(p)
		if trail && p != "/" {
			p += "/"
		}
	}
	u.Path = p
	return u.String(), nil
}

// Join appends slash-separated elements to a location.
func Join(loc string, elem ...string) string {
	if len(elem) == 0 {
		return loc
	}
	i := strings.Index(loc, "://")
	if i < 0 {
		return filepath.Join(append([]string{loc}, elem...)...)
	}
	rest := loc[i+3:]
	q := ""
	if k := strings.IndexByte(rest, '?'); k >= 0 {
		rest, q = rest[:k], rest[k:]
	}
	joined := path.Join(append([]string{rest}, elem...)...)
	return loc[:i+3] + joined + q
}

var (
	memMu      sync.Mutex
	memBuckets = map[string]*blob.Bucket{}
)

// Open opens the bucket that holds loc and returns it with loc's key inside it (no leading slash;
// "" for a bucket root). The caller must Close the bucket.
func Open(ctx context.Context, loc string) (*blob.Bucket, string, error) {
	n, err := Normalize(loc)
	if err != nil {
		return nil, "", err
	}
	u, err := url.Parse(n)
	if err != nil {
		return nil, "", fmt.Errorf("blobio: bad location %q: %w", loc, err)
	}
	key := strings.TrimPrefix(u.Path, "/")
	switch u.Scheme {
	case "file":
		b, err := fileblob.OpenBucket("/", &fileblob.Options{
			Metadata:  fileblob.MetadataDontWrite,
			NoTempDir: true,
			CreateDir: true,
		})
		if err != nil {
			return nil, "", &StoreError{Op: "open", Loc: loc, Err: err}
		}
		return b, key, nil
	case "mem":
		memMu.Lock()
		defer memMu.Unlock()
		b, ok := memBuckets[u.Host]
		if !ok {
			b = memblob.OpenBucket(nil)
			memBuckets[u.Host] = b
		}
		return noClose(b), key, nil
	default:
		if u.Scheme == "gs" {
			if err := checkGCSCredentials(ctx); err != nil {
				return nil, "", &StoreError{Op: "open", Loc: loc, Err: err}
			}
		}
		b, err := blob.OpenBucket(ctx, u.Scheme+"://"+u.Host)
		if err != nil {
			return nil, "", &StoreError{Op: "open", Loc: loc, Err: err}
		}
		return b, key, nil
	}
}

// noClose returns a prefixed view of a shared bucket whose Close leaves the shared bucket open.
func noClose(b *blob.Bucket) *blob.Bucket { return blob.PrefixedBucket(b, "") }

// ReadAll reads a whole object.
func ReadAll(ctx context.Context, loc string) ([]byte, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		return nil, wrap("read", loc, err)
	}
	return data, nil
}

// ErrTooLarge is returned (wrapped) by ReadAllLimit for an object larger than the limit.
var ErrTooLarge = errors.New("blobio: object larger than the limit")

// ReadAllLimit reads a whole object of at most limit bytes. A larger object fails with
// ErrTooLarge before its bytes are read when the store knows the size (every store does), and
// after limit+1 bytes otherwise, so what it allocates is bounded by limit.
func ReadAllLimit(ctx context.Context, loc string, limit int64) ([]byte, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, wrap("read", loc, err)
	}
	defer r.Close()
	if size := r.Size(); size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d: %w", loc, size, limit, ErrTooLarge)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(r.Size(), 0)))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, wrap("read", loc, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", loc, limit, ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// WriteAll writes a whole object atomically.
func WriteAll(ctx context.Context, loc string, data []byte) error {
	w, err := NewWriter(ctx, loc)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// Writer writes one object; the object appears only when Close returns nil.
type Writer struct {
	loc    string
	bucket *blob.Bucket
	w      *blob.Writer
	cancel context.CancelFunc
}

// NewWriter starts writing loc. The caller must call Close (to commit) or Abort.
func NewWriter(ctx context.Context, loc string) (*Writer, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		cancel()
		b.Close()
		return nil, wrap("write", loc, err)
	}
	return &Writer{loc: loc, bucket: b, w: w, cancel: cancel}, nil
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, wrap("write", w.loc, err)
	}
	return n, nil
}

// Close commits the object and reports whether it was written.
func (w *Writer) Close() error {
	err := w.w.Close()
	w.cancel()
	if cerr := w.bucket.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap("write", w.loc, err)
	}
	return nil
}

// Abort discards the object being written.
func (w *Writer) Abort() {
	w.cancel()
	_ = w.w.Close() // cancelled: the object is not committed
	_ = w.bucket.Close()
}

// NewReader opens loc for reading. The caller must Close it.
func NewReader(ctx context.Context, loc string) (io.ReadCloser, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		b.Close()
		return nil, wrap("read", loc, err)
	}
	return &reader{Reader: r, b: b, loc: loc}, nil
}

// NewRangeReader reads length bytes of loc from offset (length < 0: to the end).
func NewRangeReader(ctx context.Context, loc string, offset, length int64) (io.ReadCloser, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	r, err := b.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		b.Close()
		return nil, wrap("read", loc, err)
	}
	return &reader{Reader: r, b: b, loc: loc}, nil
}

// reader reads one object; its errors other than io.EOF are *StoreError.
type reader struct {
	*blob.Reader
	b   *blob.Bucket
	loc string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = wrap("read", r.loc, err)
	}
	return n, err
}

// WriteTo implements io.WriterTo (io.Copy would use blob.Reader's, bypassing Read).
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{r})
}

func (r *reader) Close() error {
	err := r.Reader.Close()
	if cerr := r.b.Close(); err == nil {
		err = cerr
	}
	return err
}

// Object describes one stored object.
type Object struct {
	Name string // relative to the listed prefix, slash-separated
	Size int64
	// ModTime is the modification time in Unix nanoseconds (0 when the store has none).
	ModTime int64
}

// Stat returns the size and modification time of one object.
func Stat(ctx context.Context, loc string) (Object, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return Object{}, err
	}
	defer b.Close()
	a, err := b.Attributes(ctx, key)
	if err != nil {
		return Object{}, wrap("read", loc, err)
	}
	return Object{Name: path.Base(key), Size: a.Size, ModTime: a.ModTime.UnixNano()}, nil
}

// Exists reports whether loc names an object.
func Exists(ctx context.Context, loc string) (bool, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return false, err
	}
	defer b.Close()
	ok, err := b.Exists(ctx, key)
	if err != nil {
		return false, wrap("read", loc, err)
	}
	return ok, nil
}

// List returns every object under the prefix loc (treated as a directory), sorted by name,
// skipping the temporary files of unfinished writes (atomicfile.IsTemp).
func List(ctx context.Context, loc string) ([]Object, error) {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	prefix := strings.TrimSuffix(key, "/")
	if prefix != "" {
		prefix += "/"
	}
	for attempt := 1; ; attempt++ {
		out, err := list(ctx, b, prefix)
		switch {
		case err == nil:
			return out, nil
		case !IsNotExist(err):
			return nil, wrap("list", loc, err)
		case attempt == listAttempts:
			return nil, &StoreError{Op: "list", Loc: loc, Err: fmt.Errorf("files kept vanishing while listed (%d attempts): %w", attempt, err)}
		}
	}
}

// listAttempts bounds how often List starts over when a file vanishes while it lists.
const listAttempts = 8

// list lists the objects under prefix once. A "not found" error means that a file vanished
// between the directory read and the look at the file (fileblob: a temporary file renamed by a
// writer); fileblob then fails the whole page, so the listing must start over.
func list(ctx context.Context, b *blob.Bucket, prefix string) ([]Object, error) {
	var out []Object
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%w: %v", ErrNotExist, err)
			}
			return nil, err
		}
		if o.IsDir || atomicfile.IsTemp(o.Key) {
			continue
		}
		out = append(out, Object{Name: strings.TrimPrefix(o.Key, prefix), Size: o.Size, ModTime: o.ModTime.UnixNano()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes one object; a missing object is not an error.
func Delete(ctx context.Context, loc string) error {
	b, key, err := Open(ctx, loc)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return wrap("delete", loc, err)
	}
	return nil
}

// DeleteAll removes every object under the prefix loc.
func DeleteAll(ctx context.Context, loc string) error {
	objs, err := List(ctx, loc)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := Delete(ctx, Join(loc, o.Name)); err != nil {
			return err
		}
	}
	return nil
}

// SHA256 returns the hex SHA-256 and size of one object.
func SHA256(ctx context.Context, loc string) (string, int64, error) {
	r, err := NewReader(ctx, loc)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, wrap("read", loc, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// IsNotExist reports whether err says an object does not exist.
func IsNotExist(err error) bool {
	return errors.Is(err, ErrNotExist) || gcerrors.Code(err) == gcerrors.NotFound
}
