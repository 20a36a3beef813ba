package captionstable

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// ReadShard reads the rows of one captions shard file (sorted by image id, caption index).
func ReadShard(ctx context.Context, loc string) ([]Row, error) {
	rows, err := parquetshard.Read[Row](ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	return rows, nil
}

// ReadCaptions reads the whole captions table: loc is the table directory (…/captions) or one
// shard file; shards are read in order.
func ReadCaptions(ctx context.Context, loc string) ([]Row, error) {
	rows, err := parquetshard.ReadAll[Row](ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	return rows, nil
}

// ReadGroundingRefs reads the grounding_refs table: loc is the table directory or one shard file.
func ReadGroundingRefs(ctx context.Context, loc string) ([]GroundingRef, error) {
	rows, err := parquetshard.ReadAll[GroundingRef](ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	return rows, nil
}

// ReadGroundingReference reads a grounding reference file (GVD's flickr30k_cleaned_class.json or
// groundcap's grounding-reference JSON, eval/grounding.ParseReferences) from loc and keeps the
// images whose id is in ids (a split's images), as GVD's script does; name is the file as the
// config gives it, for errors. A file that holds none of ids is an error.
func ReadGroundingReference(ctx context.Context, loc, name string, ids []int64) (*grounding.References, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	refs, err := grounding.ParseReferences(data, name, ids)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	if len(refs.Images) == 0 {
		return nil, fmt.Errorf("captionstable: grounding reference %s holds none of the split's %d images", name, len(ids))
	}
	return refs, nil
}

// SplitIDs returns the sorted image ids of split's rows.
func SplitIDs(rows []Row, split string) []int64 {
	var ids []int64
	for _, r := range rows {
		if r.Split == split {
			ids = append(ids, r.ImageID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// ReadVocab reads vocab.json.
func ReadVocab(ctx context.Context, loc string) (*vocab.Vocab, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	var v vocab.Vocab
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("captionstable: %s: %w", loc, err)
	}
	return &v, nil
}

// ReadMatchVocab reads match_vocab.json (the matching model's vocabulary).
func ReadMatchVocab(ctx context.Context, loc string) (*vocab.Matching, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	var m vocab.Matching
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("captionstable: %s: %w", loc, err)
	}
	return &m, nil
}

// ReadDocFreq reads cider_df.json (eval/caption's DocFreq format).
func ReadDocFreq(ctx context.Context, loc string) (*caption.DocFreq, error) {
	r, err := blobio.NewReader(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captionstable: %w", err)
	}
	defer r.Close()
	return caption.ReadDocFreq(r, loc)
}

// NumShards returns the shard count of a sharded table directory, checking that every shard
// 0..n−1 is present.
func NumShards(ctx context.Context, table string) (int, error) {
	files, err := parquetshard.Tables(ctx, table)
	if err != nil {
		return 0, fmt.Errorf("captionstable: %w", err)
	}
	n := -1
	have := map[int]bool{}
	for _, f := range files {
		i, m, ok := feat.ParseShardName(path.Base(f))
		if !ok || (n >= 0 && m != n) {
			return 0, fmt.Errorf("captionstable: %s: not a shard of a %d-shard table", f, n)
		}
		n = m
		have[i] = true
	}
	for i := 0; i < n; i++ {
		if !have[i] {
			return 0, fmt.Errorf("captionstable: %s: shard %d of %d is missing", table, i, n)
		}
	}
	return n, nil
}

// References of the captions and features stages' outputs.
const (
	CaptionsRef = "@captions/captions"
	FeaturesRef = "@features"
)

// Data are the captions table and the feature store that a stage reads side by side, shard by
// shard (NumShardsWith checks that they are sharded alike). Stage parameters embed it inline
// (keys captions and features); as input references they enter a stage's key by their
// content, not their text.
type Data struct {
	// Captions is the captions table.
	Captions string `yaml:"captions" key:"-"`
	// Features is the feature store; it must have as many shards as the captions table.
	Features string `yaml:"features" key:"-"`
}

// DefaultData references the captions and features stages' outputs.
func DefaultData() Data { return Data{Captions: CaptionsRef, Features: FeaturesRef} }

// NumShardsWith returns the number of shards of a captions table after checking that the
// feature store at features (feat.OpenStore) has as many: the stages that read a shard's
// captions and features side by side (a shard number names the same images in both) need the
// two stages to have sharded alike.
func NumShardsWith(ctx context.Context, table, features string) (int, error) {
	n, err := NumShards(ctx, table)
	if err != nil {
		return 0, err
	}
	store, err := feat.OpenStore(ctx, features)
	if err != nil {
		return 0, fmt.Errorf("captionstable: %w", err)
	}
	nf := store.NumShards()
	if err := store.Close(); err != nil {
		return 0, fmt.Errorf("captionstable: %w", err)
	}
	if nf != n {
		return 0, fmt.Errorf("captionstable: the captions table %s has %d shards and the feature store %s %d: give both stages the same num_shards", table, n, features, nf)
	}
	return n, nil
}
