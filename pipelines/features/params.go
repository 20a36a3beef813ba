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
	"github.com/groundcap/groundcap/internal/config"
)

// Params configure the features stage (config section "features"); DefaultParams gives the
// defaults. Input references and the tuning knobs that do not change the output
// (byte_range_size, workers) are not part of the cache key.
type Params struct {
	// Inputs are references to TSV files, directories of TSV files, or npz/npy roots (a
	// directory holding <name>_att/, <name>_fc/ and <name>_box/), e.g. "@synth/features".
	// Required.
	Inputs []string `yaml:"inputs" key:"-" check:"at least one TSV file, directory or npz root"`
	// Layout is auto (by field count, npz by directory shape), anderson, lxmert or npz.
	Layout feat.Layout `yaml:"layout"`
	// Encoding of the array columns: blob or list.
	Encoding feat.Encoding `yaml:"encoding"`
	// DType of the features column: float32 or float16 (blob only).
	DType feat.DType `yaml:"dtype"`
	// NumShards is the number of output shards; it must equal the captions stage's (checked when
	// the config is loaded).
	NumShards int `yaml:"num_shards" check:"≥ 1"`
	// RowsPerGroup is the maximum rows per Parquet row group.
	RowsPerGroup int `yaml:"rows_per_group" check:"≥ 1"`
	// MaxRejectFraction is the largest fraction of records that may be rejected.
	MaxRejectFraction float64 `yaml:"max_reject_fraction" check:"0..1"`
	// MinBoxes and MaxBoxes bound num_boxes.
	MinBoxes int `yaml:"min_boxes" check:"≥ 1"`
	MaxBoxes int `yaml:"max_boxes"`
	// FeatDim is the feature dimension D; 0 reads it from the first records.
	FeatDim int `yaml:"feat_dim" check:"≥ 0; 0: read from the data"`
	// ByteRangeSize is the size of the TSV byte ranges scanned in parallel.
	ByteRangeSize int64 `yaml:"byte_range_size" key:"-" check:"≥ 4096"`
	// Workers is the number of decoding goroutines per shard writer (0: GOMAXPROCS).
	Workers int `yaml:"workers" key:"-" check:"≥ 0; 0: GOMAXPROCS"`
	// Captions optionally references the captions stage's table (e.g. "@captions/captions");
	// image ids it holds that the features lack are listed in the stats.
	Captions string `yaml:"captions" key:"-"`
	// Dataset optionally references a Karpathy dataset JSON (e.g. "@synth/dataset.json") for
	// the same check when there is no captions table.
	Dataset string `yaml:"dataset" key:"-"`
}

// Defaults of Params.
const (
	DefaultNumShards     = 4
	DefaultRowsPerGroup  = feat.DefaultRowsPerGroup
	DefaultMinBoxes      = 10
	DefaultMaxBoxes      = 100
	DefaultByteRangeSize = 64 << 20
)

// DefaultParams returns the defaults: layout auto, blob encoding, float32, 4 shards of row
// groups of DefaultRowsPerGroup, 10..100 boxes, D read from the data, 64 MiB TSV ranges.
func DefaultParams() Params {
	return Params{Layout: feat.LayoutAuto, Encoding: feat.EncodingBlob, DType: feat.DTypeFloat32, NumShards: DefaultNumShards,
		RowsPerGroup: DefaultRowsPerGroup, MinBoxes: DefaultMinBoxes, MaxBoxes: DefaultMaxBoxes, ByteRangeSize: DefaultByteRangeSize}
}

// Validate returns the first bad field: a *config.FieldError naming its key (bounds: the check
// tags; layout, encoding and dtype: their types' Validate).
func (p Params) Validate() error { return config.Prefix("features", p.validate()) }

func (p Params) validate() error {
	if err := config.Check(p); err != nil {
		return err
	}
	for i, in := range p.Inputs {
		if in == "" {
			return config.Invalid(fmt.Sprintf("inputs[%d]", i), in, "a reference")
		}
	}
	switch {
	case p.DType == feat.DTypeFloat16 && p.Encoding != feat.EncodingBlob:
		return config.Invalid("dtype", p.DType, "float32 with encoding list (parquet-go has no FLOAT16 list type)")
	case p.MaxBoxes < p.MinBoxes:
		return config.Invalid("max_boxes", p.MaxBoxes, fmt.Sprintf("≥ min_boxes, %d", p.MinBoxes))
	case p.Captions != "" && p.Dataset != "":
		return config.Invalid("dataset", p.Dataset, "unset when captions is given (give one of them)")
	}
	return nil
}
