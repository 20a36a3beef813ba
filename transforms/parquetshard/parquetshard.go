// Package parquetshard writes and reads the sharded Parquet tables of groundcap's stages: one file
// per shard (internal/shard names and assigns them), written atomically through blobio, rows sorted
// so a shard's bytes depend only on its rows, row groups bounded, and page statistics off for the
// columns where they only cost space (long strings, lists of strings).
//
// Write and Read are plain generic functions; stages call them from their own shard DoFns, which
// group rows by shard first (beam.GroupByKey on shard.Of(image id, n)). WriteFn is such a DoFn
// for stages whose rows need no other processing.
package parquetshard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/pqcheck"
)

// DefaultMaxRowsPerRowGroup bounds the rows of a row group when Options leave it 0: small enough
// that a reader holds one row group of caption rows in a few MB, large enough for good encoding.
const DefaultMaxRowsPerRowGroup = 64 * 1024

// Options configure Write.
type Options struct {
	// MaxRowsPerRowGroup bounds row groups (0: DefaultMaxRowsPerRowGroup).
	MaxRowsPerRowGroup int64
	// NoStatistics lists column paths (dot-separated, as in the schema: "raw", "tokens.list.element")
	// whose page statistics are not written: large byte-array columns, where min/max values only
	// bloat the page index.
	NoStatistics []string
	// CreatedBy names the writer in the file footer (default "groundcap"); it is fixed so the bytes
	// do not depend on the build.
	CreatedBy string
	// Metadata is written as footer key/value metadata, in sorted key order.
	Metadata map[string]string
}

func (o Options) writerOptions() []parquet.WriterOption {
	n := o.MaxRowsPerRowGroup
	if n <= 0 {
		n = DefaultMaxRowsPerRowGroup
	}
	by := o.CreatedBy
	if by == "" {
		by = "groundcap"
	}
	opts := []parquet.WriterOption{
		parquet.MaxRowsPerRowGroup(n),
		parquet.CreatedBy(by, "", ""),
	}
	for _, c := range o.NoStatistics {
		opts = append(opts, parquet.SkipPageStatistics(splitPath(c)...), parquet.SkipPageBounds(splitPath(c)...))
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, o.Metadata[k]))
	}
	return opts
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

// Write sorts rows with cmp (a stable sort; nil keeps the given order) and writes them as one
// Parquet file at loc. The file appears only when every row and the footer were written and the
// store committed it (blobio's writer Close); on error nothing is left at loc.
func Write[T any](ctx context.Context, loc string, rows []T, cmp func(a, b *T) int, opts Options) error {
	if cmp != nil {
		sort.SliceStable(rows, func(i, j int) bool { return cmp(&rows[i], &rows[j]) < 0 })
	}
	w, err := blobio.NewWriter(ctx, loc)
	if err != nil {
		return fmt.Errorf("parquetshard: %w", err)
	}
	if err := encode(w, rows, opts); err != nil {
		w.Abort()
		return fmt.Errorf("parquetshard: write %s: %w", loc, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("parquetshard: commit %s: %w", loc, err)
	}
	return nil
}

// Encode writes rows (in the given order) as a Parquet file to w.
func Encode[T any](w io.Writer, rows []T, opts Options) error { return encode(w, rows, opts) }

func encode[T any](w io.Writer, rows []T, opts Options) error {
	pw := parquet.NewGenericWriter[T](w, opts.writerOptions()...)
	const batch = 1024
	for i := 0; i < len(rows); i += batch {
		j := min(i+batch, len(rows))
		if _, err := pw.Write(rows[i:j]); err != nil {
			return err
		}
	}
	return pw.Close()
}

// Read reads every row of the Parquet file at loc.
func Read[T any](ctx context.Context, loc string) ([]T, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("parquetshard: %w", err)
	}
	if err := pqcheck.Footer(bytes.NewReader(data), int64(len(data))); err != nil {
		return nil, fmt.Errorf("parquetshard: %s: %w", loc, err)
	}
	rows, err := parquet.Read[T](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("parquetshard: read %s: %w", loc, err)
	}
	return rows, nil
}

// NumRows returns the row count recorded in the footer of the Parquet file at loc (for manifests
// of shards an earlier attempt finished).
func NumRows(ctx context.Context, loc string) (int64, error) {
	st, err := blobio.Stat(ctx, loc)
	if err != nil {
		return 0, fmt.Errorf("parquetshard: %w", err)
	}
	ra := &rangeReaderAt{ctx: ctx, loc: loc}
	if err := pqcheck.Footer(ra, st.Size); err != nil {
		return 0, fmt.Errorf("parquetshard: %s: %w", loc, err)
	}
	f, err := parquet.OpenFile(ra, st.Size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("parquetshard: open %s: %w", loc, err)
	}
	return f.NumRows(), nil
}

// rangeReaderAt reads byte ranges of a stored object (only the footer is read by NumRows).
type rangeReaderAt struct {
	ctx context.Context
	loc string
}

func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := blobio.NewRangeReader(r.ctx, r.loc, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	n, err := io.ReadFull(rc, p)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// Tables lists the shard files of a table directory (sorted), or returns loc itself when it names
// a file.
func Tables(ctx context.Context, loc string) ([]string, error) {
	objs, err := blobio.List(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("parquetshard: %w", err)
	}
	var out []string
	for _, o := range objs {
		if len(o.Name) > 8 && o.Name[len(o.Name)-8:] == ".parquet" {
			out = append(out, blobio.Join(loc, o.Name))
		}
	}
	if len(out) == 0 {
		if ok, err := blobio.Exists(ctx, loc); err == nil && ok {
			return []string{loc}, nil
		}
		return nil, fmt.Errorf("parquetshard: %s: no Parquet files: %w", loc, blobio.ErrNotExist)
	}
	return out, nil
}

// ReadAll reads every row of a table: loc is one Parquet file or a directory of shard files,
// read in name order.
func ReadAll[T any](ctx context.Context, loc string) ([]T, error) {
	files, err := Tables(ctx, loc)
	if err != nil {
		return nil, err
	}
	var all []T
	for _, f := range files {
		rows, err := Read[T](ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
	}
	return all, nil
}

// Row is the constraint of WriteFn's row types: a pointer to T that orders rows within a shard.
type Row[T any] interface {
	*T
	// Compare orders two rows (negative, zero, positive); shards are written in this order.
	Compare(*T) int
}

// Written reports one shard file a WriteFn wrote (or found already written).
type Written struct {
	Name string // relative to the output directory: shard.Name(table, i, n)
	Rows int64
}

// WriteFn is a DoFn that writes the rows of one shard as one Parquet file: it takes
// KV<shard int, rows iter<T>> (the output of a GroupByKey on the shard number) and emits a
// Written. A shard whose file already exists (an earlier attempt finished it) is not rewritten.
// Register each instantiation in the stage's init():
//
//	register.DoFn4x1[context.Context, int, func(*Row) bool, func(parquetshard.Written), error](&parquetshard.WriteFn[Row, *Row]{})
//	register.Emitter1[parquetshard.Written]()
type WriteFn[T any, PT Row[T]] struct {
	Dir       string  // output directory location
	Table     string  // table name, the directory of its shard files
	NumShards int     // number of shards
	Options   Options // writer options
}

// ProcessElement writes one shard.
func (f *WriteFn[T, PT]) ProcessElement(ctx context.Context, shardNum int, rows func(*T) bool, emit func(Written)) error {
	name := shardName(f.Table, shardNum, f.NumShards)
	loc := blobio.Join(f.Dir, name)
	if ok, err := blobio.Exists(ctx, loc); err != nil {
		return fmt.Errorf("parquetshard: %w", err)
	} else if ok {
		n, err := NumRows(ctx, loc)
		if err != nil {
			return err
		}
		emit(Written{Name: name, Rows: n})
		return nil
	}
	var all []T
	var r T
	for rows(&r) {
		all = append(all, r)
		r = *new(T)
	}
	if err := Write(ctx, loc, all, func(a, b *T) int { return PT(a).Compare(b) }, f.Options); err != nil {
		return err
	}
	emit(Written{Name: name, Rows: int64(len(all))})
	return nil
}
