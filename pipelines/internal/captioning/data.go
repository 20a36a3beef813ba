package captioning

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/training/checkpoint"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// Split is one split's images (sorted by id) with their captions rows (sorted by caption index).
type Split struct {
	Images []int64
	Rows   [][]*captionstable.Row
}

// NumCaptions returns the number of captions of the split.
func (s *Split) NumCaptions() int {
	n := 0
	for _, r := range s.Rows {
		n += len(r)
	}
	return n
}

// SelectSplit gathers the rows of the given splits by image. maxImages > 0 keeps the first so
// many images by id. A row without labels is an error naming it.
func SelectSplit(rows []captionstable.Row, splits []string, maxImages int) (*Split, error) {
	by := map[int64][]*captionstable.Row{}
	for i := range rows {
		r := &rows[i]
		if !slices.Contains(splits, r.Split) {
			continue
		}
		if len(r.Labels) == 0 {
			return nil, fmt.Errorf("captioning: captions row image %d caption %d has no labels", r.ImageID, r.CaptionIdx)
		}
		by[r.ImageID] = append(by[r.ImageID], r)
	}
	s := &Split{}
	for id := range by {
		s.Images = append(s.Images, id)
	}
	slices.Sort(s.Images)
	if maxImages > 0 && len(s.Images) > maxImages {
		s.Images = s.Images[:maxImages]
	}
	for _, id := range s.Images {
		rs := by[id]
		sort.Slice(rs, func(i, j int) bool { return rs[i].CaptionIdx < rs[j].CaptionIdx })
		s.Rows = append(s.Rows, rs)
	}
	return s, nil
}

// AlphaSource gives the teacher's attention for the supervised words of an image's captions.
type AlphaSource interface {
	// Alphas returns, per caption row, the supervised positions (a matching model's: the tagged
	// nouns of the row's noun mask; GTBoxes': the annotated words) and α for them,
	// len(pos) × rec.NumBoxes row-major.
	Alphas(rec *feat.Record, rows []*captionstable.Row) (pos [][]int, alpha [][]float32, err error)
}

// nounsOf returns the noun positions of a row.
func nounsOf(r *captionstable.Row) []int {
	var out []int
	for p, n := range r.NounMask {
		if n && p < len(r.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// selectNouns picks the rows of an alignment (positions × regions attention) at the caption's
// noun positions.
func selectNouns(r *captionstable.Row, positions []int32, regions int, att []float32, k int) ([]int, []float32, error) {
	if regions != k {
		return nil, nil, fmt.Errorf("captioning: image %d caption %d: alignment over %d regions, the image has %d", r.ImageID, r.CaptionIdx, regions, k)
	}
	nouns := nounsOf(r)
	out := make([]float32, 0, len(nouns)*k)
	for _, p := range nouns {
		t := slices.Index(positions, int32(p))
		if t < 0 {
			return nil, nil, fmt.Errorf("captioning: image %d caption %d: the alignment has no attention for the noun at position %d (positions %v)", r.ImageID, r.CaptionIdx, p, positions)
		}
		out = append(out, att[t*k:(t+1)*k]...)
	}
	return nouns, out, nil
}

// Precomputed reads α from the alignments table.
type Precomputed struct {
	rows map[alignments.Key]*alignments.Row
}

// NewPrecomputed indexes alignments rows.
func NewPrecomputed(rows []alignments.Row) (*Precomputed, error) {
	m, err := alignments.Lookup(rows)
	if err != nil {
		return nil, fmt.Errorf("captioning: %w", err)
	}
	return &Precomputed{rows: m}, nil
}

// Alphas implements AlphaSource.
func (p *Precomputed) Alphas(rec *feat.Record, rows []*captionstable.Row) ([][]int, [][]float32, error) {
	pos := make([][]int, len(rows))
	alpha := make([][]float32, len(rows))
	for c, r := range rows {
		a, ok := p.rows[alignments.Key{ImageID: r.ImageID, CaptionIdx: r.CaptionIdx}]
		if !ok {
			return nil, nil, fmt.Errorf("captioning: image %d caption %d has no row in the alignments table", r.ImageID, r.CaptionIdx)
		}
		att, err := a.Alpha()
		if err != nil {
			return nil, nil, fmt.Errorf("captioning: %w", err)
		}
		pos[c], alpha[c], err = selectNouns(r, a.NounPositions, int(a.Regions), att, rec.NumBoxes)
		if err != nil {
			return nil, nil, err
		}
	}
	return pos, alpha, nil
}

// Online computes α with the matching model, one image with all its captions per call (what
// the original code does in every training step).
type Online struct {
	Model *tscan.Model

	textOnce sync.Once
	text     *models.Text
	textErr  error
}

// Alphas implements AlphaSource. Each caption is read as the align stage reads it (the
// captioner's labels through the model's text input, models.Text.Sentence).
func (o *Online) Alphas(rec *feat.Record, rows []*captionstable.Row) ([][]int, [][]float32, error) {
	o.textOnce.Do(func() { o.text, o.textErr = models.TextOf(o.Model) })
	if o.textErr != nil {
		return nil, nil, fmt.Errorf("captioning: %w", o.textErr)
	}
	b := tscan.Batch{Feats: [][]float32{rec.Features}}
	imageOf := make([]int, len(rows))
	for _, r := range rows {
		if len(r.Labels) == 0 {
			return nil, nil, fmt.Errorf("captioning: captions row image %d caption %d has no labels", r.ImageID, r.CaptionIdx)
		}
		c, err := o.text.Sentence(r.Labels, r.NounMask)
		if err != nil {
			return nil, nil, fmt.Errorf("captioning: image %d caption %d: %w", r.ImageID, r.CaptionIdx, err)
		}
		b.Captions = append(b.Captions, c)
	}
	als, err := o.Model.Align(b, imageOf)
	if err != nil {
		return nil, nil, fmt.Errorf("captioning: online alignment of image %d: %w", rec.ImageID, err)
	}
	pos := make([][]int, len(rows))
	alpha := make([][]float32, len(rows))
	for c, r := range rows {
		a := o.text.SentenceAlignment(als[c], len(r.Labels))
		pos[c], alpha[c], err = selectNouns(r, a.Positions, a.Regions, a.Attention, rec.NumBoxes)
		if err != nil {
			return nil, nil, err
		}
	}
	return pos, alpha, nil
}

// Source implements updown.Source over a split: images with all their captions, region
// features from a cache, and α from an AlphaSource when distilling.
type Source struct {
	Ctx   context.Context
	Split *Split
	Feats *matching.FeatureCache
	// Alpha, when set, fills NounPos and Alpha of every batch.
	Alpha AlphaSource
}

// Len returns the number of images.
func (s *Source) Len() int { return len(s.Split.Images) }

// ImageID returns the id of image i.
func (s *Source) ImageID(i int) int64 { return s.Split.Images[i] }

// Record returns the region features of image i.
func (s *Source) Record(i int) (*feat.Record, error) {
	if i < 0 || i >= len(s.Split.Images) {
		return nil, fmt.Errorf("captioning: image index %d out of range [0, %d)", i, len(s.Split.Images))
	}
	return s.Feats.Get(s.Ctx, s.Split.Images[i])
}

// Batch loads images idx with all their captions (and α).
func (s *Source) Batch(idx []int) (*updown.Batch, error) {
	b := &updown.Batch{}
	for bi, i := range idx {
		rec, err := s.Record(i)
		if err != nil {
			return nil, err
		}
		b.Feats = append(b.Feats, rec.Features)
		b.NumBoxes = append(b.NumBoxes, rec.NumBoxes)
		rows := s.Split.Rows[i]
		for _, r := range rows {
			b.Captions = append(b.Captions, r.Labels)
			b.ImageOf = append(b.ImageOf, bi)
		}
		if s.Alpha != nil {
			pos, alpha, err := s.Alpha.Alphas(rec, rows)
			if err != nil {
				return nil, err
			}
			b.NounPos = append(b.NounPos, pos...)
			b.Alpha = append(b.Alpha, alpha...)
		}
	}
	return b, nil
}

// Inputs are the data every captioner stage reads.
type Inputs struct {
	Rows  []captionstable.Row
	Words []string // vocabulary words of ids 1..V
	UNK   int32    // the id of UNK (0: every word has its own id)
	Store *feat.Store
	Feats *matching.FeatureCache
}

// OpenInputs reads the captions table and vocabulary and opens the feature store (Close it).
func OpenInputs(ctx context.Context, captionsLoc, vocabLoc, featuresLoc string, cacheMB int) (*Inputs, error) {
	voc, err := captionstable.ReadVocab(ctx, vocabLoc)
	if err != nil {
		return nil, err
	}
	if len(voc.IxToWord) < 2 {
		return nil, fmt.Errorf("captioning: %s: the vocabulary has no words", vocabLoc)
	}
	rows, err := captionstable.ReadCaptions(ctx, captionsLoc)
	if err != nil {
		return nil, err
	}
	store, err := feat.OpenStore(ctx, featuresLoc)
	if err != nil {
		return nil, fmt.Errorf("captioning: %w", err)
	}
	return &Inputs{Rows: rows, Words: voc.IxToWord[1:], UNK: voc.UNKID, Store: store, Feats: matching.NewFeatureCache(store, int64(cacheMB)<<20)}, nil
}

// Close closes the feature store.
func (in *Inputs) Close() error { return in.Store.Close() }

// TrainedBy returns the stage that trained the captioner checkpoint at loc (its Meta's
// MetaStage; "" when it names none), without building the model.
func TrainedBy(ctx context.Context, loc string) (string, error) {
	c, err := readCheckpoint(ctx, loc)
	if err != nil {
		return "", err
	}
	return c.Meta[MetaStage], nil
}

func readCheckpoint(ctx context.Context, loc string) (*checkpoint.Checkpoint, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captioning: %w", err)
	}
	c, err := checkpoint.Unmarshal(loc, data)
	if err != nil {
		return nil, fmt.Errorf("captioning: %w", err)
	}
	return c, nil
}

// LoadModel reads an updown trainer checkpoint from a location and rebuilds the model; it also
// returns the checkpoint (weights and optimiser state for SCST's start).
func LoadModel(ctx context.Context, loc string) (*updown.Model, *checkpoint.Checkpoint, error) {
	c, err := readCheckpoint(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	// The trainer stores {"stage", "model", "xe"|"scst"}; the architecture is "model".
	var rc struct {
		Model updown.Config `json:"model"`
	}
	if err := json.Unmarshal(c.Config, &rc); err != nil {
		return nil, nil, fmt.Errorf("captioning: %s: configuration: %w", loc, err)
	}
	m, err := updown.New(rc.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("captioning: %s: %w", loc, err)
	}
	if err := m.SetTensors(c.Params); err != nil {
		return nil, nil, fmt.Errorf("captioning: %s: %w", loc, err)
	}
	return m, c, nil
}
