package features

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Encoding names how the array columns are stored.
type Encoding string

// The encodings of the array columns.
const (
	// EncodingBlob stores each array as one BYTE_ARRAY of little-endian values.
	EncodingBlob Encoding = "blob"
	// EncodingList stores each array as a Parquet LIST (of FLOAT, or INT64 for ids).
	EncodingList Encoding = "list"
)

// DType names the storage type of the features column.
type DType string

// The storage types of the features column.
const (
	DTypeFloat32 DType = "float32"
	DTypeFloat16 DType = "float16"
)

// Key-value metadata keys of a feature shard.
const (
	// MetaKey holds the JSON Meta: encoding, dimension, dtype and shape of every array column.
	MetaKey = "groundcap.features"
	// StatsKey holds the JSON ShardStats.
	StatsKey = "groundcap.features.stats"
	// FormatVersion is Meta.Format of the files this package writes.
	FormatVersion = "groundcap-features/1"
)

// Meta describes a feature shard; it is stored as JSON under MetaKey.
type Meta struct {
	Format    string                `json:"format"`
	Encoding  Encoding              `json:"encoding"`
	Dim       int                   `json:"dim"`
	Shard     int                   `json:"shard"`
	NumShards int                   `json:"num_shards"`
	Columns   map[string]ColumnMeta `json:"columns"`
}

// ColumnMeta gives an array column's element type and shape; "num_boxes" in a shape stands for
// the row's num_boxes.
type ColumnMeta struct {
	DType string   `json:"dtype"`
	Shape []string `json:"shape"`
}

// ShardStats summarises one shard; it is stored as JSON under StatsKey.
type ShardStats struct {
	Shard int `json:"shard"`
	// Rows is the number of images written.
	Rows int64 `json:"rows"`
	// Read, Rejected and SourceRecords are set by the writing stage: records routed to this
	// shard, those rejected, and the records counted in all sources while scanning them.
	Read          int64 `json:"read"`
	Rejected      int64 `json:"rejected"`
	SourceRecords int64 `json:"source_records"`
	Boxes         int64 `json:"boxes"`
	// Min, Max and Mean are over every stored feature value (for float32 storage Mean is
	// computed from per-row, per-dimension float32 sums); NaNCount counts stored NaN or Inf
	// values (0 unless the checks were bypassed).
	Min      float64 `json:"feature_min"`
	Max      float64 `json:"feature_max"`
	Mean     float64 `json:"feature_mean"`
	NaNCount int64   `json:"nan_count"`
	sum      float64
	values   int64
}

// blobRow is the Parquet row of the blob encoding.
type blobRow struct {
	ImageID    int64  `parquet:"image_id"`
	ImageW     int32  `parquet:"image_w"`
	ImageH     int32  `parquet:"image_h"`
	NumBoxes   int32  `parquet:"num_boxes"`
	Boxes      []byte `parquet:"boxes"`
	Features   []byte `parquet:"features"`
	FC         []byte `parquet:"fc"`
	ObjectIDs  []byte `parquet:"object_ids,optional"`
	ObjectConf []byte `parquet:"object_conf,optional"`
	AttrIDs    []byte `parquet:"attr_ids,optional"`
	AttrConf   []byte `parquet:"attr_conf,optional"`
}

// listRow is the Parquet row of the list encoding.
type listRow struct {
	ImageID    int64     `parquet:"image_id"`
	ImageW     int32     `parquet:"image_w"`
	ImageH     int32     `parquet:"image_h"`
	NumBoxes   int32     `parquet:"num_boxes"`
	Boxes      []float32 `parquet:"boxes,list"`
	Features   []float32 `parquet:"features,list"`
	FC         []float32 `parquet:"fc,list"`
	ObjectIDs  []int64   `parquet:"object_ids,optional,list"`
	ObjectConf []float32 `parquet:"object_conf,optional,list"`
	AttrIDs    []int64   `parquet:"attr_ids,optional,list"`
	AttrConf   []float32 `parquet:"attr_conf,optional,list"`
}

// bigColumns get no page statistics or column-chunk bounds (min/max of a 300 KB blob or of
// millions of floats is useless and costly).
var bigColumns = []string{"boxes", "features", "fc", "object_ids", "object_conf", "attr_ids", "attr_conf"}

// WriterOptions configure a shard Writer.
type WriterOptions struct {
	Encoding Encoding
	DType    DType
	// Dim is the feature dimension D every row must have.
	Dim int
	// RowsPerGroup is the maximum number of rows per row group (the unit of memory when
	// reading); 0 means DefaultRowsPerGroup.
	RowsPerGroup int
	// Shard and NumShards are recorded in the metadata.
	Shard, NumShards int
}

// DefaultRowsPerGroup is the row-group size when WriterOptions.RowsPerGroup is 0: 64 images of
// 36×2048 float32 are about 19 MB.
const DefaultRowsPerGroup = 64

// Writer writes one feature shard. Rows must come in increasing image_id order. Close must be
// called; it writes the footer (with the stats) and reports errors.
type Writer struct {
	opts  WriterOptions
	blob  *parquet.GenericWriter[blobRow]
	list  *parquet.GenericWriter[listRow]
	stats ShardStats
	last  int64
}

// Row is an image prepared for writing by Writer.Prepare.
type Row struct {
	blob  blobRow
	list  listRow
	boxes int64
	min   float64
	max   float64
	sum   float64
	nan   int64
	n     int64
	id    int64
}

// ImageID returns the row's image id.
func (r *Row) ImageID() int64 { return r.id }

// NewWriter starts a shard on w (which the caller closes after Writer.Close).
func NewWriter(w io.Writer, o WriterOptions) (*Writer, error) {
	if o.Encoding == "" {
		o.Encoding = EncodingBlob
	}
	if o.DType == "" {
		o.DType = DTypeFloat32
	}
	if o.RowsPerGroup <= 0 {
		o.RowsPerGroup = DefaultRowsPerGroup
	}
	if o.Dim <= 0 {
		return nil, fmt.Errorf("features: writer: dim %d", o.Dim)
	}
	if o.Encoding == EncodingList && o.DType == DTypeFloat16 {
		return nil, fmt.Errorf("features: writer: dtype float16 needs the blob encoding (Parquet lists of float16 have no logical type in parquet-go)")
	}
	opts := []parquet.WriterOption{
		parquet.MaxRowsPerRowGroup(int64(o.RowsPerGroup)),
		parquet.CreatedBy("groundcap", "1", ""),
		// Smaller than one image's features (36×2048 float32 = 288 KiB): each array value is
		// flushed as its own page, so the column buffer never grows and copies (1 MiB pages
		// cost ~12 % of the stage's throughput).
		parquet.PageBufferSize(256 << 10),
		parquet.WriteBufferSize(0),
	}
	for _, c := range bigColumns {
		path := c
		if o.Encoding == EncodingList {
			opts = append(opts, parquet.SkipPageBounds(c, "list", "element"), parquet.SkipPageStatistics(c, "list", "element"))
		} else {
			opts = append(opts, parquet.SkipPageBounds(path), parquet.SkipPageStatistics(path))
		}
	}
	wr := &Writer{opts: o, last: math.MinInt64}
	wr.stats.Shard = o.Shard
	meta, err := json.Marshal(wr.Meta())
	if err != nil {
		return nil, fmt.Errorf("features: writer: %w", err)
	}
	if o.Encoding == EncodingBlob {
		wr.blob = parquet.NewGenericWriter[blobRow](w, opts...)
		wr.blob.SetKeyValueMetadata(MetaKey, string(meta))
	} else {
		wr.list = parquet.NewGenericWriter[listRow](w, opts...)
		wr.list.SetKeyValueMetadata(MetaKey, string(meta))
	}
	return wr, nil
}

// Meta returns the metadata the writer records.
func (w *Writer) Meta() Meta {
	d := strconv.Itoa(w.opts.Dim)
	return Meta{
		Format: FormatVersion, Encoding: w.opts.Encoding, Dim: w.opts.Dim,
		Shard: w.opts.Shard, NumShards: w.opts.NumShards,
		Columns: map[string]ColumnMeta{
			"boxes":       {DType: "float32", Shape: []string{"num_boxes", "4"}},
			"features":    {DType: string(w.opts.DType), Shape: []string{"num_boxes", d}},
			"fc":          {DType: "float32", Shape: []string{d}},
			"object_ids":  {DType: "int64", Shape: []string{"num_boxes"}},
			"object_conf": {DType: "float32", Shape: []string{"num_boxes"}},
			"attr_ids":    {DType: "int64", Shape: []string{"num_boxes"}},
			"attr_conf":   {DType: "float32", Shape: []string{"num_boxes"}},
		},
	}
}

// Prepare encodes a checked record (see Raw.Check) for writing: it computes fc when the
// record has none, converts to the storage dtype and encoding, and gathers statistics. It is
// safe to call from several goroutines. The row may keep references to r's arrays: do not
// modify r until the row is written.
func (w *Writer) Prepare(r *Raw) (*Row, error) {
	k := r.NumBoxes
	if k <= 0 || r.Dim() != w.opts.Dim || len(r.Features) != 4*k*w.opts.Dim {
		return nil, fmt.Errorf("%w: image %d: %d boxes, %d feature bytes, want D = %d", ErrDim, r.ImageID, k, len(r.Features), w.opts.Dim)
	}
	row := &Row{boxes: int64(k), id: r.ImageID}
	fc := r.FC
	var fcv []float32
	feats := r.Features
	if w.opts.DType == DTypeFloat16 {
		if fc == nil {
			fcv = MeanFC(r.Features, k, nil)
			fc = Float32Bytes(fcv)
		}
		var err error
		if feats, err = Float32ToFloat16(r.Features, nil); err != nil {
			return nil, fmt.Errorf("image %d: features: %w", r.ImageID, err)
		}
		row.featureStats(feats, w.opts.DType)
	} else {
		// One pass: per-dimension sums (fc) and the statistics.
		sums := row.columnStats(r.Features, k)
		if fc == nil {
			kf := float32(k)
			for j := range sums {
				sums[j] /= kf // as MeanFC: float32 sum over boxes, then float32 division
			}
			fcv, fc = sums, Float32Bytes(sums)
		}
	}
	if w.opts.Encoding == EncodingBlob {
		row.blob = blobRow{
			ImageID: r.ImageID, ImageW: r.Width, ImageH: r.Height, NumBoxes: int32(k),
			Boxes: r.Boxes, Features: feats, FC: fc,
			ObjectIDs: r.ObjectIDs, ObjectConf: r.ObjectConf, AttrIDs: r.AttrIDs, AttrConf: r.AttrConf,
		}
		return row, nil
	}
	if fcv == nil {
		fcv = Float32s(fc, nil)
	}
	row.list = listRow{
		ImageID: r.ImageID, ImageW: r.Width, ImageH: r.Height, NumBoxes: int32(k),
		Boxes: Float32s(r.Boxes, nil), Features: Float32s(feats, nil), FC: fcv,
		ObjectIDs: Int64s(r.ObjectIDs), AttrIDs: Int64s(r.AttrIDs),
	}
	if r.ObjectConf != nil {
		row.list.ObjectConf = Float32s(r.ObjectConf, nil)
	}
	if r.AttrConf != nil {
		row.list.AttrConf = Float32s(r.AttrConf, nil)
	}
	return row, nil
}

// columnStats computes in one pass the float32 sum over boxes of every dimension (in box
// order, as MeanFC) and the row's statistics: min, max, NaN/Inf count and the sum of the
// finite values (from the per-dimension sums, in float64).
func (r *Row) columnStats(feats []byte, k int) []float32 {
	sums := make([]float32, len(feats)/4/k)
	lo, hi := columnSums(feats, k, sums)
	var sum float64
	for _, v := range sums {
		sum += float64(v)
	}
	r.min, r.max, r.sum, r.nan, r.n = float64(lo), float64(hi), sum, 0, int64(len(feats)/4)
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		// A NaN or ±Inf value (or a float32 column sum that overflowed) made the sums
		// non-finite; recount the finite values exactly.
		r.featureStats(feats, DTypeFloat32)
	}
	return sums
}

// featureStats computes min, max, sum and the NaN/Inf count of the stored feature values.
func (r *Row) featureStats(b []byte, dt DType) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	var sum float64
	var bad, n int64
	if dt == DTypeFloat16 {
		for i := 0; i+2 <= len(b); i += 2 {
			h := binary.LittleEndian.Uint16(b[i:])
			if h&0x7c00 == 0x7c00 {
				bad++
				continue
			}
			x := Float16Value(h)
			sum += float64(x)
			lo, hi = min(lo, x), max(hi, x)
			n++
		}
	} else {
		for i := 0; i+4 <= len(b); i += 4 {
			u := binary.LittleEndian.Uint32(b[i:])
			if u&0x7f800000 == 0x7f800000 {
				bad++
				continue
			}
			x := math.Float32frombits(u)
			sum += float64(x)
			lo, hi = min(lo, x), max(hi, x)
			n++
		}
	}
	r.min, r.max, r.sum, r.nan, r.n = float64(lo), float64(hi), sum, bad, n
}

// WriteRow appends a prepared row; image ids must increase strictly.
func (w *Writer) WriteRow(r *Row) error {
	id := r.ImageID()
	if id <= w.last {
		return fmt.Errorf("features: writer: image %d after %d: rows must be in increasing image_id order", id, w.last)
	}
	var err error
	if w.blob != nil {
		_, err = w.blob.Write([]blobRow{r.blob})
	} else {
		_, err = w.list.Write([]listRow{r.list})
	}
	if err != nil {
		return fmt.Errorf("features: writer: image %d: %w", id, err)
	}
	w.last = id
	s := &w.stats
	if s.values == 0 || r.min < s.Min {
		s.Min = r.min
	}
	if s.values == 0 || r.max > s.Max {
		s.Max = r.max
	}
	s.Rows++
	s.Boxes += r.boxes
	s.sum += r.sum
	s.values += r.n
	s.NaNCount += r.nan
	return nil
}

// Write prepares r and writes it (Prepare then WriteRow); it does not call Raw.Check.
func (w *Writer) Write(r *Raw) error {
	row, err := w.Prepare(r)
	if err != nil {
		return fmt.Errorf("features: writer: %w", err)
	}
	return w.WriteRow(row)
}

// SetCounts records the stage's counts for this shard in its stats (see ShardStats).
func (w *Writer) SetCounts(read, rejected, sourceRecords int64) {
	w.stats.Read, w.stats.Rejected, w.stats.SourceRecords = read, rejected, sourceRecords
}

// Stats returns the statistics of the rows written so far.
func (w *Writer) Stats() ShardStats {
	s := w.stats
	if s.values > 0 {
		s.Mean = s.sum / float64(s.values)
	} else {
		s.Min, s.Max = 0, 0
	}
	return s
}

// Close writes the footer, with the stats under StatsKey. It does not close the underlying
// io.Writer.
func (w *Writer) Close() error {
	st, err := json.Marshal(w.Stats())
	if err != nil {
		return fmt.Errorf("features: writer: %w", err)
	}
	if w.blob != nil {
		w.blob.SetKeyValueMetadata(StatsKey, string(st))
		err = w.blob.Close()
	} else {
		w.list.SetKeyValueMetadata(StatsKey, string(st))
		err = w.list.Close()
	}
	if err != nil {
		return fmt.Errorf("features: writer: %w", err)
	}
	return nil
}
