package captions

import (
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// Format is the layout of the caption file.
type Format string

// Formats of the caption file.
const (
	FormatAuto  Format = "auto"  // by extension: .jsonl and .ndjson are JSON Lines, others JSON
	FormatJSON  Format = "json"  // one Karpathy document: {"images": [...]}
	FormatJSONL Format = "jsonl" // one image object per line
)

// UnmarshalText parses a format name (auto, json or jsonl); an empty name stays empty.
func (f *Format) UnmarshalText(b []byte) error {
	return config.ParseEnum(f, b, "captions: unknown format", "", FormatAuto, FormatJSON, FormatJSONL)
}

// Validate reports a format that is none of auto, json and jsonl (one set in code rather than
// parsed, or empty) as a *config.FieldError of the format key.
func (f Format) Validate() error {
	return config.CheckEnum("format", f, FormatAuto, FormatJSON, FormatJSONL)
}

// Defaults of Params.
const (
	DefaultMaxLength          = 16
	DefaultWordCountThreshold = 5
	DefaultNumShards          = 4
)

// Params configure the captions stage (config section "captions"); DefaultParams gives the
// defaults. Input references (dataset, entities, class_names, split_ids) enter the cache key by
// their content digests, not as parameters.
type Params struct {
	// Dataset is the Karpathy-format caption file (dataset_coco.json / dataset_flickr30k.json
	// layout, or JSON Lines of image objects): "@stage/path" or a location. Required.
	Dataset string `yaml:"dataset" key:"-" check:"the Karpathy caption file"`
	// Format of Dataset: auto (by extension: .jsonl and .ndjson are JSON Lines), json or jsonl.
	Format Format `yaml:"format"`
	// Entities is an optional Flickr30k Entities directory (Sentences/, Annotations/); when set the
	// stage writes the grounding_refs table.
	Entities string `yaml:"entities" key:"-"`
	// ClassNames is an optional grounding class list, one class per line (GVD's
	// flickr30k_class_name.txt); phrases' head nouns are matched against it.
	ClassNames string `yaml:"class_names" key:"-"`
	// SplitIDs is an optional JSON object {"train": [ids], "val": [...], "test": [...]} (GVD's
	// split_ids_flickr30k_entities.json); an image it names takes that split.
	SplitIDs string `yaml:"split_ids" key:"-"`
	// MaxLength truncates captions to this many tokens.
	MaxLength int `yaml:"max_length" check:"≥ 1"`
	// WordCountThreshold: train words counted at most this often map to UNK.
	WordCountThreshold int `yaml:"word_count_threshold" check:"≥ 0"`
	// MatchWordCountThreshold: the matching vocabulary (match_vocab.json) keeps the matching
	// tokens of the train, restval and val captions counted at least this often (SCAN's
	// vocab.py).
	MatchWordCountThreshold int `yaml:"match_word_count_threshold" check:"≥ 1"`
	// NumShards is the number of shards of the captions and grounding_refs tables.
	NumShards int `yaml:"num_shards" check:"1..100000"`
	// MaxRejectFraction is the largest fraction of caption records (and, separately, of entity
	// phrase records) that may be rejected before the stage fails.
	MaxRejectFraction float64 `yaml:"max_reject_fraction" check:"0..1"`
	// Seed is accepted for uniformity with other stages; the stage draws no random numbers, so it
	// does not enter the cache key.
	Seed int64 `yaml:"seed" key:"-"`
}

// DefaultParams returns the defaults: format auto, captions truncated to 16 tokens, words seen
// at most 5 times map to UNK, matching words seen at least 4 times kept, 4 shards, no rejects
// allowed.
func DefaultParams() Params {
	return Params{Format: FormatAuto, MaxLength: DefaultMaxLength, WordCountThreshold: DefaultWordCountThreshold,
		MatchWordCountThreshold: vocab.DefaultMatchingThreshold, NumShards: DefaultNumShards}
}

// Validate returns the first bad field: a *config.FieldError naming its key (bounds: the check
// tags; format: Format.Validate).
func (p Params) Validate() error { return config.Prefix("captions", p.validate()) }

func (p Params) validate() error {
	if err := config.Check(p); err != nil {
		return err
	}
	switch {
	case p.ClassNames != "" && p.Entities == "":
		return config.Invalid("class_names", p.ClassNames, "unset without entities (classes are matched to entity phrases)")
	}
	return nil
}
