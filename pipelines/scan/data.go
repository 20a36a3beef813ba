package scan

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/training/checkpoint"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// IsTrain reports whether a captions row belongs to the training data (train, or restval as the
// original code uses it).
func IsTrain(split string) bool { return split == "train" || split == "restval" }

// ModelCaption converts a captions row to the model's caption (labels and noun mask). It fails
// on a row without labels, naming the row.
func ModelCaption(r *captions.Row) (tscan.Caption, error) {
	if len(r.Labels) == 0 {
		return tscan.Caption{}, fmt.Errorf("scan: captions row image %d caption %d has no labels", r.ImageID, r.CaptionIdx)
	}
	if len(r.NounMask) != 0 && len(r.NounMask) != len(r.Labels) {
		return tscan.Caption{}, fmt.Errorf("scan: captions row image %d caption %d has %d labels but %d noun flags", r.ImageID, r.CaptionIdx, len(r.Labels), len(r.NounMask))
	}
	return tscan.Caption{IDs: r.Labels, Nouns: r.NounMask}, nil
}

// LoadModel reads a checkpoint (model.ckpt of a scan stage) from a location and rebuilds the model.
func LoadModel(ctx context.Context, loc string) (*tscan.Model, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	c, err := checkpoint.Unmarshal(loc, data)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	m, err := tscan.FromCheckpoint(c)
	if err != nil {
		return nil, fmt.Errorf("scan: %s: %w", loc, err)
	}
	return m, nil
}

// FeatureCache reads region features from a store and keeps them in memory up to a byte budget
// (features read beyond it are not kept). It is safe for concurrent use.
type FeatureCache struct {
	store  *feat.Store
	budget int64

	mu   sync.Mutex
	used int64
	recs map[int64]*feat.Record
}

// NewFeatureCache wraps an open store; budget is in bytes.
func NewFeatureCache(store *feat.Store, budget int64) *FeatureCache {
	return &FeatureCache{store: store, budget: budget, recs: map[int64]*feat.Record{}}
}

// Get returns an image's record (features K×D, boxes K×4).
func (c *FeatureCache) Get(ctx context.Context, id int64) (*feat.Record, error) {
	c.mu.Lock()
	r, ok := c.recs[id]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := c.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("scan: features of image %d: %w", id, err)
	}
	if r.NumBoxes < 1 {
		return nil, fmt.Errorf("scan: features of image %d: no regions", id)
	}
	size := int64(4 * (len(r.Features) + len(r.Boxes)))
	c.mu.Lock()
	if c.used+size <= c.budget {
		c.recs[id] = r
		c.used += size
	}
	c.mu.Unlock()
	return r, nil
}

// trainCaption is one training caption and its image.
type trainCaption struct {
	image int64
	cap   tscan.Caption
}

// batchSource implements training/scan.BatchSource over the training captions: the order of
// epoch e is a permutation drawn from PCG(seed, e), cut into batches of size batch.
type batchSource struct {
	caps  []trainCaption
	batch int
	seed  uint64
	feats *FeatureCache

	perm []int
	pos  int
}

// Start positions the source at epoch's first batch after skip.
func (s *batchSource) Start(epoch int, skip int64) error {
	s.perm = rand.New(rand.NewPCG(s.seed, uint64(epoch)+1)).Perm(len(s.caps))
	s.pos = int(skip) * s.batch
	if skip < 0 || s.pos > len(s.caps) {
		return fmt.Errorf("scan: epoch %d has %d batches, cannot skip %d", epoch, s.batches(), skip)
	}
	return nil
}

func (s *batchSource) batches() int { return (len(s.caps) + s.batch - 1) / s.batch }

// Next returns the next batch or io.EOF.
func (s *batchSource) Next(ctx context.Context) (tscan.Batch, error) {
	if s.pos >= len(s.caps) {
		return tscan.Batch{}, io.EOF
	}
	end := min(s.pos+s.batch, len(s.caps))
	var b tscan.Batch
	for _, k := range s.perm[s.pos:end] {
		tc := s.caps[k]
		r, err := s.feats.Get(ctx, tc.image)
		if err != nil {
			return tscan.Batch{}, err
		}
		b.Feats = append(b.Feats, r.Features)
		b.Captions = append(b.Captions, tc.cap)
	}
	s.pos = end
	return b, nil
}

// EvalSet is a retrieval evaluation set: images (sorted by id) and PerImage captions each, the
// captions of image i at PerImage·i … PerImage·i+PerImage−1.
type EvalSet struct {
	Images   []int64
	PerImage int
	Rows     []captions.Row
	Captions []tscan.Caption
	// Excluded counts the images of the split with fewer than PerImage captions (left out).
	Excluded int
}

// NewEvalSet selects the images of split that have at least perImage captions and keeps their
// first perImage captions by caption index, read as text reads a caption.
func NewEvalSet(rows []captions.Row, split string, perImage int, text *Text) (*EvalSet, error) {
	by := map[int64][]captions.Row{}
	for _, r := range rows {
		if r.Split == split {
			by[r.ImageID] = append(by[r.ImageID], r)
		}
	}
	ids := make([]int64, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	es := &EvalSet{PerImage: perImage}
	for _, id := range ids {
		rs := by[id]
		if len(rs) < perImage {
			es.Excluded++
			continue
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].CaptionIdx < rs[j].CaptionIdx })
		es.Images = append(es.Images, id)
		for k := range perImage {
			c, err := text.Caption(&rs[k])
			if err != nil {
				return nil, err
			}
			es.Rows = append(es.Rows, rs[k])
			es.Captions = append(es.Captions, c)
		}
	}
	return es, nil
}

// Similarities scores every image of feats against every caption of caps, row-major
// (len(feats)×len(caps)), in blocks of bi images × bj captions on the CPU; on a device the model
// encodes all images and captions once and picks its own blocks (tscan.Model.Scores). progress,
// if set, gets the pairs scored so far and in all after each block.
func Similarities(ctx context.Context, m *tscan.Model, feats [][]float32, caps []tscan.Caption, bi, bj int, progress func(done, total int64)) ([]float32, error) {
	opts := tscan.ScoreOptions{Images: bi, Captions: bj, Progress: progress}
	if m.Device() != nil {
		opts.Images, opts.Captions = 0, 0
	}
	return m.Scores(ctx, feats, caps, opts)
}

// Feats returns the region features of the set's images, in order.
func (es *EvalSet) Feats(ctx context.Context, fc *FeatureCache) ([][]float32, error) {
	out := make([][]float32, len(es.Images))
	for i, id := range es.Images {
		r, err := fc.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = r.Features
	}
	return out, nil
}
