// Package alignments owns the align stages' output that the captioners read: the alignments
// table (Row: a caption's word-region attention α and matching score), its names in the stage's
// output, and its reader and attention encoding.
package alignments

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/transforms/parquetshard"
)

// Table names inside the stage's output directory.
const (
	Table        = "alignments"
	RejectsTable = "rejects"
)

// MetaAttention is the footer metadata key that describes the attention column.
const MetaAttention = "groundcap.attention"

// AttentionDoc is its value.
const AttentionDoc = "float32 little-endian, shape (len(noun_positions), regions), row-major; rows sum to 1"

// Row is one row of the alignments table: one caption aligned with its image.
type Row struct {
	ImageID    int64 `parquet:"image_id" json:"image_id"`
	CaptionIdx int32 `parquet:"caption_idx" json:"caption_idx"`
	// NounPositions are the caption's word positions that enter the score and the attention:
	// its noun positions (POS-SCAN), or all positions when it has no noun or the teacher is
	// plain SCAN.
	NounPositions []int32 `parquet:"noun_positions,list" json:"noun_positions"`
	// Regions is K, the image's number of regions.
	Regions int32 `parquet:"regions" json:"regions"`
	// Attention is α, len(NounPositions) × Regions float32, little-endian, row-major.
	Attention []byte `parquet:"attention" json:"attention"`
	// Score is S(image, caption).
	Score float32 `parquet:"score" json:"score"`
}

// Compare orders rows by image id, then caption index.
func (r *Row) Compare(o *Row) int {
	if c := cmp.Compare(r.ImageID, o.ImageID); c != 0 {
		return c
	}
	return cmp.Compare(r.CaptionIdx, o.CaptionIdx)
}

// Alpha decodes the attention matrix (len(NounPositions) × Regions, row-major).
func (r *Row) Alpha() ([]float32, error) {
	n := len(r.NounPositions) * int(r.Regions)
	if len(r.Attention) != 4*n {
		return nil, fmt.Errorf("alignments: image %d caption %d: attention has %d bytes, want 4 × %d positions × %d regions",
			r.ImageID, r.CaptionIdx, len(r.Attention), len(r.NounPositions), r.Regions)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.Attention[4*i:]))
	}
	return out, nil
}

// EncodeAttention encodes α (len(NounPositions) × Regions, row-major) as the attention column:
// float32 little-endian; Row.Alpha decodes it.
func EncodeAttention(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// ShardLocation returns the location of alignments shard i of n under the stage output dir.
func ShardLocation(dir string, i, n int) string { return blobio.Join(dir, shard.Name(Table, i, n)) }

// ReadShard reads one alignments shard file (rows sorted by image id, caption index).
func ReadShard(ctx context.Context, loc string) ([]Row, error) {
	rows, err := parquetshard.Read[Row](ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("alignments: %w", err)
	}
	return rows, nil
}

// ReadAll reads the whole table: loc is the table directory (…/alignments) or one shard file.
func ReadAll(ctx context.Context, loc string) ([]Row, error) {
	rows, err := parquetshard.ReadAll[Row](ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("alignments: %w", err)
	}
	return rows, nil
}

// Key identifies a caption.
type Key struct {
	ImageID    int64
	CaptionIdx int32
}

// Lookup indexes rows by caption; it fails on a caption that appears twice.
func Lookup(rows []Row) (map[Key]*Row, error) {
	m := make(map[Key]*Row, len(rows))
	for i := range rows {
		k := Key{rows[i].ImageID, rows[i].CaptionIdx}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("alignments: image %d caption %d aligned twice", k.ImageID, k.CaptionIdx)
		}
		m[k] = &rows[i]
	}
	return m, nil
}
