// Package matching is what the stages that train or use a matching model share beyond its
// checkpoint (artifacts/models): the region-feature cache, retrieval evaluation sets and
// scoring, and moving models onto a device.
package matching

import (
	"context"
	"fmt"
	"sort"
	"sync"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// Retrieval sizes a retrieval evaluation (R@K in both directions): the scan stages' validation
// and scan-eval's, embedded inline in both stages' params.
type Retrieval struct {
	// CaptionsPerImage is the number of captions per image (5, SCAN's).
	CaptionsPerImage int `yaml:"captions_per_image" check:"≥ 1"`
	// EvalImages and EvalCaptions size the image × caption blocks of scoring; they bound memory
	// and do not change results.
	EvalImages   int `yaml:"eval_images" key:"-" check:"≥ 1"`
	EvalCaptions int `yaml:"eval_captions" key:"-" check:"≥ 1"`
}

// DefaultRetrieval returns 5 captions per image scored in blocks of 8 images × 128 captions.
func DefaultRetrieval() Retrieval {
	return Retrieval{CaptionsPerImage: 5, EvalImages: 8, EvalCaptions: 128}
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags).
func (r Retrieval) Validate() error { return config.Check(r) }

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
		return nil, fmt.Errorf("matching: features of image %d: %w", id, err)
	}
	if r.NumBoxes < 1 {
		return nil, fmt.Errorf("matching: features of image %d: no regions", id)
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

// EvalSet is a retrieval evaluation set: images (sorted by id) and PerImage captions each, the
// captions of image i at PerImage·i … PerImage·i+PerImage−1.
type EvalSet struct {
	Images   []int64
	PerImage int
	Rows     []captionstable.Row
	Captions []tscan.Caption
	// Excluded counts the images of the split with fewer than PerImage captions (left out).
	Excluded int
}

// NewEvalSet selects the images of split that have at least perImage captions and keeps their
// first perImage captions by caption index, read as text reads a caption.
func NewEvalSet(rows []captionstable.Row, split string, perImage int, text *models.Text) (*EvalSet, error) {
	by := map[int64][]captionstable.Row{}
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
