package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/pqcheck"
	"github.com/groundcap/groundcap/internal/shard"
)

// Names inside a store directory.
const (
	// FeaturesTable is the table (directory) of the feature shards.
	FeaturesTable = "features"
	// RejectsTable is the table of rejected records.
	RejectsTable = "rejects"
	// IndexName is the index file: image_id → shard, row.
	IndexName = "index.parquet"
)

// ErrNotFound is returned (wrapped) by Store.Get for an image id the store does not hold.
var ErrNotFound = errors.New("features: image not in the store")

// Record is one image's features as read from a store.
type Record struct {
	ImageID       int64
	Width, Height int32 // 0 when unknown
	NumBoxes      int
	Dim           int
	Boxes         []float32 // NumBoxes×4: x1 y1 x2 y2
	Features      []float32 // NumBoxes×Dim, row-major (float16 storage is widened exactly)
	FC            []float32 // Dim: mean over boxes
	// The optional LXMERT columns; nil when the source had none.
	ObjectIDs  []int64
	ObjectConf []float32
	AttrIDs    []int64
	AttrConf   []float32
}

// IndexEntry locates one image: its shard and its row within the shard (0-based).
type IndexEntry struct {
	ImageID int64 `parquet:"image_id"`
	Shard   int32 `parquet:"shard"`
	Row     int64 `parquet:"row"`
}

// WriteIndex writes the index (sorted by image_id) to loc.
func WriteIndex(ctx context.Context, loc string, entries []IndexEntry) error {
	w, err := blobio.NewWriter(ctx, loc)
	if err != nil {
		return fmt.Errorf("features: index: %w", err)
	}
	pw := parquet.NewGenericWriter[IndexEntry](w, parquet.CreatedBy("groundcap", "1", ""), parquet.MaxRowsPerRowGroup(1<<20))
	if _, err := pw.Write(entries); err != nil {
		w.Abort()
		return fmt.Errorf("features: index %s: %w", loc, err)
	}
	if err := pw.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("features: index %s: %w", loc, err)
	}
	return w.Close()
}

// ReadIndex reads an index written by WriteIndex and checks that it is sorted and unique.
func ReadIndex(ctx context.Context, loc string) ([]IndexEntry, error) {
	f, err := openParquet(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[IndexEntry](f.file)
	defer r.Close()
	out := make([]IndexEntry, f.file.NumRows())
	n, err := r.Read(out)
	if err != nil && !(err == io.EOF && int64(n) == f.file.NumRows()) {
		return nil, fmt.Errorf("features: index %s: %w", loc, err)
	}
	for i := 1; i < len(out); i++ {
		if out[i].ImageID <= out[i-1].ImageID {
			return nil, fmt.Errorf("features: index %s: row %d: image %d after %d (not sorted or duplicated)", loc, i, out[i].ImageID, out[i-1].ImageID)
		}
	}
	return out, nil
}

// pfile is an open Parquet object.
type pfile struct {
	loc  string
	b    *blob.Bucket
	file *parquet.File
	// starts[i] is the first row of row group i; starts[len] the row count.
	starts []int64
}

// blobReaderAt reads an object by ranges.
type blobReaderAt struct {
	ctx context.Context
	b   *blob.Bucket
	key string
	loc string
}

func (r *blobReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rr, err := r.b.NewRangeReader(r.ctx, r.key, off, int64(len(p)), nil)
	if err != nil {
		return 0, fmt.Errorf("features: %s: %w", r.loc, err)
	}
	n, err := io.ReadFull(rr, p)
	if cerr := rr.Close(); err == nil {
		err = cerr
	}
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// readBufferSize is the read size of Parquet column readers (each read is one range request).
const readBufferSize = 1 << 20

func openParquet(ctx context.Context, loc string) (*pfile, error) {
	b, key, err := blobio.Open(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		b.Close()
		if blobio.IsNotExist(err) {
			return nil, fmt.Errorf("features: %s: %w", loc, blobio.ErrNotExist)
		}
		return nil, fmt.Errorf("features: %s: %w", loc, err)
	}
	f, err := openFile(&blobReaderAt{ctx: ctx, b: b, key: key, loc: loc}, attrs.Size)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("features: %s: %w", loc, err)
	}
	p := &pfile{loc: loc, b: b, file: f}
	var n int64
	for _, rg := range f.RowGroups() {
		p.starts = append(p.starts, n)
		n += rg.NumRows()
	}
	p.starts = append(p.starts, n)
	return p, nil
}

// openFile opens a Parquet file once its tail has shown a footer of plausible size.
func openFile(r io.ReaderAt, size int64) (*parquet.File, error) {
	if err := pqcheck.Footer(r, size); err != nil {
		return nil, err
	}
	return parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.ReadBufferSize(readBufferSize))
}

func (p *pfile) Close() error { return p.b.Close() }

// meta decodes the shard metadata.
func (p *pfile) meta() (Meta, ShardStats, error) {
	var m Meta
	var st ShardStats
	v, ok := p.file.Lookup(MetaKey)
	if !ok {
		return m, st, fmt.Errorf("features: %s: no %s metadata (not a feature shard)", p.loc, MetaKey)
	}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return m, st, fmt.Errorf("features: %s: metadata %s: %w", p.loc, MetaKey, err)
	}
	if m.Format != FormatVersion {
		return m, st, fmt.Errorf("features: %s: format %q, want %q", p.loc, m.Format, FormatVersion)
	}
	if v, ok := p.file.Lookup(StatsKey); ok {
		if err := json.Unmarshal([]byte(v), &st); err != nil {
			return m, st, fmt.Errorf("features: %s: metadata %s: %w", p.loc, StatsKey, err)
		}
	}
	return m, st, nil
}

// ShardInfo is what a shard's footer says about it.
type ShardInfo struct {
	Meta      Meta
	Stats     ShardStats
	Rows      int64
	RowGroups int
	Size      int64
}

// ReadShardInfo reads a feature shard's footer.
func ReadShardInfo(ctx context.Context, loc string) (*ShardInfo, error) {
	p, err := openParquet(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	m, st, err := p.meta()
	if err != nil {
		return nil, err
	}
	return &ShardInfo{Meta: m, Stats: st, Rows: p.file.NumRows(), RowGroups: len(p.file.RowGroups()), Size: p.file.Size()}, nil
}

type idRow struct {
	ImageID int64 `parquet:"image_id"`
}

// ReadShardIDs reads the image_id column of a shard (or any Parquet file with an int64
// image_id column), in row order, without reading other columns.
func ReadShardIDs(ctx context.Context, loc string) ([]int64, error) {
	p, err := openParquet(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	out := make([]int64, 0, p.file.NumRows())
	buf := make([]idRow, 4096)
	for _, rg := range p.file.RowGroups() {
		r := parquet.NewGenericRowGroupReader[idRow](rg)
		for {
			n, err := r.Read(buf)
			for _, x := range buf[:n] {
				out = append(out, x.ImageID)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("features: %s: image_id: %w", loc, err)
			}
		}
		if err := r.Close(); err != nil {
			return nil, fmt.Errorf("features: %s: %w", loc, err)
		}
	}
	return out, nil
}

// Store reads a feature store. Get and Shard are safe to call from several goroutines.
type Store struct {
	ctx   context.Context
	loc   string
	n     int
	dim   int
	index []IndexEntry

	mu    sync.Mutex
	files map[int]*pfile
	metas map[int]Meta
}

// OpenStore opens the store at loc (the directory holding features/ and index.parquet). It
// reads the index (16 bytes per image) and nothing else; shards are opened on first use and
// their reads use ctx.
func OpenStore(ctx context.Context, loc string) (*Store, error) {
	objs, err := blobio.List(ctx, blobio.Join(loc, FeaturesTable))
	if err != nil {
		return nil, fmt.Errorf("features: open store %s: %w", loc, err)
	}
	n := -1
	have := map[string]bool{}
	for _, o := range objs {
		_, m, ok := ParseShardName(o.Name)
		if !ok {
			continue
		}
		if n >= 0 && m != n {
			return nil, fmt.Errorf("features: open store %s: shards of %d and %d", loc, n, m)
		}
		n = m
		have[FeaturesTable+"/"+o.Name] = true
	}
	if n < 1 {
		return nil, fmt.Errorf("features: open store %s: no %s/part-*.parquet shards", loc, FeaturesTable)
	}
	for i := 0; i < n; i++ {
		if name := shard.Name(FeaturesTable, i, n); !have[name] {
			return nil, fmt.Errorf("features: open store %s: %s is missing", loc, name)
		}
	}
	idx, err := ReadIndex(ctx, blobio.Join(loc, IndexName))
	if err != nil {
		return nil, fmt.Errorf("features: open store %s: %w", loc, err)
	}
	s := &Store{ctx: ctx, loc: loc, n: n, index: idx, files: map[int]*pfile{}, metas: map[int]Meta{}}
	_, m, err := s.shard(0)
	if err != nil {
		return nil, err
	}
	s.dim = m.Dim
	return s, nil
}

// NumShards returns the number of shards.
func (s *Store) NumShards() int { return s.n }

// Dim returns the feature dimension D.
func (s *Store) Dim() int { return s.dim }

// Len returns the number of images.
func (s *Store) Len() int { return len(s.index) }

// Index returns the index, sorted by image id (do not modify it).
func (s *Store) Index() []IndexEntry { return s.index }

// ShardLocation returns the location of shard i.
func (s *Store) ShardLocation(i int) string {
	return blobio.Join(s.loc, shard.Name(FeaturesTable, i, s.n))
}

func (s *Store) shard(i int) (*pfile, Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.files[i]; ok {
		return p, s.metas[i], nil
	}
	p, err := openParquet(s.ctx, s.ShardLocation(i))
	if err != nil {
		return nil, Meta{}, err
	}
	m, _, err := p.meta()
	if err != nil {
		p.Close()
		return nil, Meta{}, err
	}
	if m.NumShards != s.n || m.Shard != i || (s.dim != 0 && m.Dim != s.dim) {
		p.Close()
		return nil, Meta{}, fmt.Errorf("features: %s: metadata says shard %d of %d, dim %d; want shard %d of %d, dim %d", p.loc, m.Shard, m.NumShards, m.Dim, i, s.n, s.dim)
	}
	s.files[i], s.metas[i] = p, m
	return p, m, nil
}

// Get returns one image's features. It reads only the pages of that image's row (at most one
// row group). The error wraps ErrNotFound for an unknown id.
func (s *Store) Get(ctx context.Context, id int64) (*Record, error) {
	k := sort.Search(len(s.index), func(i int) bool { return s.index[i].ImageID >= id })
	if k == len(s.index) || s.index[k].ImageID != id {
		return nil, fmt.Errorf("%w: %d (%s)", ErrNotFound, id, s.loc)
	}
	e := s.index[k]
	p, m, err := s.shard(int(e.Shard))
	if err != nil {
		return nil, err
	}
	g := sort.Search(len(p.starts)-1, func(i int) bool { return p.starts[i+1] > e.Row })
	if g >= len(p.starts)-1 {
		return nil, fmt.Errorf("features: %s: index row %d of image %d is past the shard's %d rows", p.loc, e.Row, id, p.starts[len(p.starts)-1])
	}
	rr := newRowReader(p.file.RowGroups()[g], m)
	defer rr.Close()
	if err := rr.seek(e.Row - p.starts[g]); err != nil {
		return nil, fmt.Errorf("features: %s: row %d: %w", p.loc, e.Row, err)
	}
	rec, err := rr.next()
	if err != nil {
		return nil, fmt.Errorf("features: %s: row %d: %w", p.loc, e.Row, err)
	}
	if rec.ImageID != id {
		return nil, fmt.Errorf("features: %s: row %d holds image %d, the index says %d", p.loc, e.Row, rec.ImageID, id)
	}
	return rec, nil
}

// Shard iterates shard i in row order (increasing image id).
func (s *Store) Shard(ctx context.Context, i int) (*ShardReader, error) {
	if i < 0 || i >= s.n {
		return nil, fmt.Errorf("features: shard %d of %d", i, s.n)
	}
	p, m, err := s.shard(i)
	if err != nil {
		return nil, err
	}
	return &ShardReader{p: p, meta: m}, nil
}

// Close releases the open shards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for i, p := range s.files {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.files, i)
	}
	return first
}

// ShardReader iterates the rows of one shard, holding at most one row group's pages.
type ShardReader struct {
	p     *pfile
	own   bool // the reader opened p and closes it
	meta  Meta
	group int
	rr    *rowReader
}

// OpenShard opens one shard file for iteration, without a store (e.g. a Beam stage reading
// shard i of its input). Close it.
func OpenShard(ctx context.Context, loc string) (*ShardReader, error) {
	p, err := openParquet(ctx, loc)
	if err != nil {
		return nil, err
	}
	m, _, err := p.meta()
	if err != nil {
		p.Close()
		return nil, err
	}
	return &ShardReader{p: p, own: true, meta: m}, nil
}

// Meta returns the shard's metadata.
func (r *ShardReader) Meta() Meta { return r.meta }

// Next returns the next record, or io.EOF after the last.
func (r *ShardReader) Next() (*Record, error) {
	groups := r.p.file.RowGroups()
	for {
		if r.rr == nil {
			if r.group >= len(groups) {
				return nil, io.EOF
			}
			r.rr = newRowReader(groups[r.group], r.meta)
		}
		rec, err := r.rr.next()
		if err == io.EOF {
			r.rr.Close()
			r.rr = nil
			r.group++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("features: %s: row group %d: %w", r.p.loc, r.group, err)
		}
		return rec, nil
	}
}

// Close releases the reader.
func (r *ShardReader) Close() error {
	if r.rr != nil {
		r.rr.Close()
		r.rr = nil
	}
	if r.own {
		return r.p.Close()
	}
	return nil
}

// rowReader reads records from one row group in either encoding.
type rowReader struct {
	meta Meta
	blob *parquet.GenericReader[blobRow]
	list *parquet.GenericReader[listRow]
	bbuf [1]blobRow
	lbuf [1]listRow
}

func newRowReader(rg parquet.RowGroup, m Meta) *rowReader {
	r := &rowReader{meta: m}
	if m.Encoding == EncodingList {
		r.list = parquet.NewGenericRowGroupReader[listRow](rg)
	} else {
		r.blob = parquet.NewGenericRowGroupReader[blobRow](rg)
	}
	return r
}

func (r *rowReader) seek(row int64) error {
	if r.list != nil {
		return r.list.SeekToRow(row)
	}
	return r.blob.SeekToRow(row)
}

func (r *rowReader) Close() {
	if r.list != nil {
		r.list.Close()
	} else {
		r.blob.Close()
	}
}

func (r *rowReader) next() (*Record, error) {
	var n int
	var err error
	if r.list != nil {
		r.lbuf[0] = listRow{}
		n, err = r.list.Read(r.lbuf[:])
	} else {
		r.bbuf[0] = blobRow{}
		n, err = r.blob.Read(r.bbuf[:])
	}
	if n == 0 {
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	if r.list != nil {
		x := &r.lbuf[0]
		return r.check(&Record{ImageID: x.ImageID, Width: x.ImageW, Height: x.ImageH, NumBoxes: int(x.NumBoxes), Dim: r.meta.Dim,
			Boxes: x.Boxes, Features: x.Features, FC: x.FC,
			ObjectIDs: x.ObjectIDs, ObjectConf: x.ObjectConf, AttrIDs: x.AttrIDs, AttrConf: x.AttrConf})
	}
	x := &r.bbuf[0]
	rec := &Record{ImageID: x.ImageID, Width: x.ImageW, Height: x.ImageH, NumBoxes: int(x.NumBoxes), Dim: r.meta.Dim,
		Boxes: Float32s(x.Boxes, nil), FC: Float32s(x.FC, nil), ObjectIDs: Int64s(x.ObjectIDs)}
	if r.meta.Columns["features"].DType == string(DTypeFloat16) {
		rec.Features = Float16s(x.Features, nil)
	} else {
		rec.Features = Float32s(x.Features, nil)
	}
	rec.AttrIDs = Int64s(x.AttrIDs)
	if x.ObjectConf != nil {
		rec.ObjectConf = Float32s(x.ObjectConf, nil)
	}
	if x.AttrConf != nil {
		rec.AttrConf = Float32s(x.AttrConf, nil)
	}
	return r.check(rec)
}

// check verifies a record's array lengths against num_boxes and D.
func (r *rowReader) check(rec *Record) (*Record, error) {
	k, d := rec.NumBoxes, rec.Dim
	if len(rec.Boxes) != 4*k || len(rec.Features) != k*d || len(rec.FC) != d {
		return nil, fmt.Errorf("image %d: %d boxes, %d box values, %d feature values, %d fc values: inconsistent with D = %d",
			rec.ImageID, k, len(rec.Boxes), len(rec.Features), len(rec.FC), d)
	}
	for _, n := range []int{len(rec.ObjectIDs), len(rec.ObjectConf), len(rec.AttrIDs), len(rec.AttrConf)} {
		if n != 0 && n != k {
			return nil, fmt.Errorf("image %d: an object/attribute column has %d values, want num_boxes %d", rec.ImageID, n, k)
		}
	}
	return rec, nil
}

// ParseShardName returns i and n of a shard file name "…/part-0000i-of-0000n.parquet".
func ParseShardName(name string) (i, n int, ok bool) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	if _, err := fmt.Sscanf(base, "part-%05d-of-%05d.parquet", &i, &n); err != nil {
		return 0, 0, false
	}
	return i, n, true
}
