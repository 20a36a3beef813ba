package captions

import (
	"fmt"

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

// Defaults of Params.
const (
	DefaultMaxLength          = 16
	DefaultWordCountThreshold = 5
	DefaultNumShards          = 4
)

// Params configure the captions stage (config section "captions"). Zero values are the documented
// defaults. Input references (dataset, entities, class_names, split_ids) enter the cache key by
// their content digests, not as parameters.
type Params struct {
	// Dataset is the Karpathy-format caption file (dataset_coco.json / dataset_flickr30k.json
	// layout, or JSON Lines of image objects): "@stage/path" or a location. Required.
	Dataset string `yaml:"dataset" json:"-"`
	// Format of Dataset: auto (default), json or jsonl.
	Format Format `yaml:"format" json:"format"`
	// Entities is an optional Flickr30k Entities directory (Sentences/, Annotations/); when set the
	// stage writes the grounding_refs table.
	Entities string `yaml:"entities" json:"-"`
	// ClassNames is an optional grounding class list, one class per line (GVD's
	// flickr30k_class_name.txt); phrases' head nouns are matched against it.
	ClassNames string `yaml:"class_names" json:"-"`
	// SplitIDs is an optional JSON object {"train": [ids], "val": [...], "test": [...]} (GVD's
	// split_ids_flickr30k_entities.json); an image it names takes that split.
	SplitIDs string `yaml:"split_ids" json:"-"`
	// MaxLength truncates captions to this many tokens (default 16).
	MaxLength int `yaml:"max_length" json:"max_length"`
	// WordCountThreshold: train words counted at most this often map to UNK (default 5).
	WordCountThreshold int `yaml:"word_count_threshold" json:"word_count_threshold"`
	// MatchWordCountThreshold: the matching vocabulary (match_vocab.json) keeps the matching
	// tokens of the train, restval and val captions counted at least this often (default 4,
	// SCAN's vocab.py).
	MatchWordCountThreshold int `yaml:"match_word_count_threshold" json:"match_word_count_threshold"`
	// NumShards is the number of shards of the captions and grounding_refs tables (default 4).
	NumShards int `yaml:"num_shards" json:"num_shards"`
	// MaxRejectFraction is the largest fraction of caption records (and, separately, of entity
	// phrase records) that may be rejected before the stage fails (default 0: none).
	MaxRejectFraction float64 `yaml:"max_reject_fraction" json:"max_reject_fraction"`
	// Seed is accepted for uniformity with other stages; the stage draws no random numbers, so it
	// does not enter the cache key.
	Seed int64 `yaml:"seed" json:"-"`
}

func (p Params) withDefaults() Params {
	if p.Format == "" {
		p.Format = FormatAuto
	}
	if p.MaxLength == 0 {
		p.MaxLength = DefaultMaxLength
	}
	if p.WordCountThreshold == 0 {
		p.WordCountThreshold = DefaultWordCountThreshold
	}
	if p.MatchWordCountThreshold == 0 {
		p.MatchWordCountThreshold = vocab.DefaultMatchingThreshold
	}
	if p.NumShards == 0 {
		p.NumShards = DefaultNumShards
	}
	return p
}

// Resolved returns p with its defaults applied, as the stage uses it.
func (p Params) Resolved() Params { return p.withDefaults() }

// Validate reports the first bad field (after defaults), naming its config key.
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Dataset == "":
		return fmt.Errorf("captions: dataset: missing (the Karpathy caption file)")
	case p.Format != FormatAuto && p.Format != FormatJSON && p.Format != FormatJSONL:
		return fmt.Errorf("captions: format: %q (want auto, json or jsonl)", p.Format)
	case p.MaxLength < 1:
		return fmt.Errorf("captions: max_length: %d (want >= 1)", p.MaxLength)
	case p.WordCountThreshold < 0:
		return fmt.Errorf("captions: word_count_threshold: %d (want >= 0)", p.WordCountThreshold)
	case p.MatchWordCountThreshold < 1:
		return fmt.Errorf("captions: match_word_count_threshold: %d (want >= 1)", p.MatchWordCountThreshold)
	case p.NumShards < 1 || p.NumShards > 100000:
		return fmt.Errorf("captions: num_shards: %d (want 1..100000)", p.NumShards)
	case p.MaxRejectFraction < 0 || p.MaxRejectFraction > 1:
		return fmt.Errorf("captions: max_reject_fraction: %g (want 0..1)", p.MaxRejectFraction)
	case p.ClassNames != "" && p.Entities == "":
		return fmt.Errorf("captions: class_names: given without entities (classes are matched to entity phrases)")
	}
	return nil
}
