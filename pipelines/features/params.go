// Package features is the features stage: it materialises bottom-up region features (TSV in the
// Anderson or LXMERT layout, or self-critical's npz/npy files) into groundcap's sharded Parquet
// feature store (see package github.com/groundcap/groundcap/features for the format and the
// reader API).
//
// # Pipeline
//
// Build lays out a Beam pipeline in two passes that never put feature arrays through a shuffle:
//
//  1. TSV files are cut into line-aligned byte ranges (byte_range_size) that are scanned in
//     parallel; each line yields a small LineRef (file, offset, length, image id) keyed by
//     shard.Of(image_id, num_shards). npz directories are listed instead.
//  2. After a GroupByKey of the refs, one DoFn per shard sorts them by image id, rejects
//     duplicates, and reads, decodes, checks and encodes the rows with a pool of goroutines
//     (memory: a few rows per goroutine plus one row group), writing the shard through
//     blobio (temporary name, then commit). A shard that exists already (an earlier attempt
//     finished it) is skipped: reruns after a crash resume and give the same bytes.
//
// Rejected records go to rejects/part-…parquet (rejects.Reject rows) of the same shard; the
// stage then writes index.parquet, reconciles counts (read = written + rejected), records
// per-shard statistics and the index summary in the manifest, and fails when more than
// max_reject_fraction of the records were rejected.
package features

import (
	"fmt"

	feat "github.com/groundcap/groundcap/features"
)

// Params configure the features stage (config section "features"). Zero values are the
// documented defaults. Input references and the tuning knobs that do not change the output
// (byte_range_size, workers) are not part of the cache key.
type Params struct {
	// Inputs are references to TSV files, directories of TSV files, or npz/npy roots (a
	// directory holding <name>_att/, <name>_fc/ and <name>_box/), e.g. "@synth/features".
	// Required.
	Inputs []string `yaml:"inputs" json:"-"`
	// Layout is auto (default: by field count, npz by directory shape), anderson, lxmert or npz.
	Layout string `yaml:"layout" json:"layout"`
	// Encoding of the array columns: blob (default) or list.
	Encoding string `yaml:"encoding" json:"encoding"`
	// DType of the features column: float32 (default) or float16 (blob only).
	DType string `yaml:"dtype" json:"dtype"`
	// NumShards is the number of output shards (default 4); it must equal the captions stage's.
	NumShards int `yaml:"num_shards" json:"num_shards"`
	// RowsPerGroup is the maximum rows per Parquet row group (default 64).
	RowsPerGroup int `yaml:"rows_per_group" json:"rows_per_group"`
	// MaxRejectFraction is the largest fraction of records that may be rejected (default 0).
	MaxRejectFraction float64 `yaml:"max_reject_fraction" json:"max_reject_fraction"`
	// MinBoxes and MaxBoxes bound num_boxes (defaults 10 and 100).
	MinBoxes int `yaml:"min_boxes" json:"min_boxes"`
	MaxBoxes int `yaml:"max_boxes" json:"max_boxes"`
	// FeatDim is the feature dimension D; 0 (default) reads it from the first records.
	FeatDim int `yaml:"feat_dim" json:"feat_dim"`
	// ByteRangeSize is the size of the TSV byte ranges scanned in parallel (default 64 MiB).
	ByteRangeSize int64 `yaml:"byte_range_size" json:"-"`
	// Workers is the number of decoding goroutines per shard writer (default: GOMAXPROCS).
	Workers int `yaml:"workers" json:"-"`
	// Captions optionally references the captions stage's table (e.g. "@captions/captions");
	// image ids it holds that the features lack are listed in the stats.
	Captions string `yaml:"captions" json:"-"`
	// Dataset optionally references a Karpathy dataset JSON (e.g. "@synth/dataset.json") for
	// the same check when there is no captions table.
	Dataset string `yaml:"dataset" json:"-"`

	// failShard (tests only) is 1 + the shard whose writer fails half-way, leaving a temporary
	// file as a killed process would; 0: never.
	failShard int
}

// Defaults of Params.
const (
	DefaultNumShards     = 4
	DefaultRowsPerGroup  = feat.DefaultRowsPerGroup
	DefaultMinBoxes      = 10
	DefaultMaxBoxes      = 100
	DefaultByteRangeSize = 64 << 20
)

func (p Params) withDefaults() Params {
	if p.Layout == "" {
		p.Layout = string(feat.LayoutAuto)
	}
	if p.Encoding == "" {
		p.Encoding = string(feat.EncodingBlob)
	}
	if p.DType == "" {
		p.DType = string(feat.DTypeFloat32)
	}
	if p.NumShards == 0 {
		p.NumShards = DefaultNumShards
	}
	if p.RowsPerGroup == 0 {
		p.RowsPerGroup = DefaultRowsPerGroup
	}
	if p.MinBoxes == 0 {
		p.MinBoxes = DefaultMinBoxes
	}
	if p.MaxBoxes == 0 {
		p.MaxBoxes = DefaultMaxBoxes
	}
	if p.ByteRangeSize == 0 {
		p.ByteRangeSize = DefaultByteRangeSize
	}
	return p
}

// Validate checks the parameters (after defaults) and names the bad field.
func (p Params) Validate() error {
	if len(p.Inputs) == 0 {
		return fmt.Errorf("features: inputs: at least one TSV file, directory or npz root is required")
	}
	for i, in := range p.Inputs {
		if in == "" {
			return fmt.Errorf("features: inputs[%d]: empty reference", i)
		}
	}
	if _, err := feat.ParseLayout(p.Layout); err != nil {
		return fmt.Errorf("features: layout: %w", err)
	}
	enc, err := feat.ParseEncoding(p.Encoding)
	if err != nil {
		return fmt.Errorf("features: encoding: %w", err)
	}
	dt, err := feat.ParseDType(p.DType)
	if err != nil {
		return fmt.Errorf("features: dtype: %w", err)
	}
	if dt == feat.DTypeFloat16 && enc != feat.EncodingBlob {
		return fmt.Errorf("features: dtype: float16 needs encoding blob (parquet-go has no FLOAT16 list type)")
	}
	switch {
	case p.NumShards < 1:
		return fmt.Errorf("features: num_shards: %d, want ≥ 1", p.NumShards)
	case p.RowsPerGroup < 1:
		return fmt.Errorf("features: rows_per_group: %d, want ≥ 1", p.RowsPerGroup)
	case p.MaxRejectFraction < 0 || p.MaxRejectFraction > 1:
		return fmt.Errorf("features: max_reject_fraction: %g, want 0..1", p.MaxRejectFraction)
	case p.MinBoxes < 1:
		return fmt.Errorf("features: min_boxes: %d, want ≥ 1", p.MinBoxes)
	case p.MaxBoxes < p.MinBoxes:
		return fmt.Errorf("features: max_boxes: %d, less than min_boxes %d", p.MaxBoxes, p.MinBoxes)
	case p.FeatDim < 0:
		return fmt.Errorf("features: feat_dim: %d, want ≥ 0 (0: read from the data)", p.FeatDim)
	case p.ByteRangeSize < 4096:
		return fmt.Errorf("features: byte_range_size: %d, want ≥ 4096", p.ByteRangeSize)
	case p.Workers < 0:
		return fmt.Errorf("features: workers: %d, want ≥ 0", p.Workers)
	case p.Captions != "" && p.Dataset != "":
		return fmt.Errorf("features: captions and dataset: give one of them, not both")
	}
	return nil
}
