package scan

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/groundcap/groundcap/pipelines/internal/matching"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// IsTrain reports whether a captions row belongs to the training data (train, or restval as the
// original code uses it).
func IsTrain(split string) bool { return split == "train" || split == "restval" }

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
	feats *matching.FeatureCache

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
