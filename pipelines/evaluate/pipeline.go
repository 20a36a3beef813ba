package evaluate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/training/blas"
	"github.com/groundcap/groundcap/training/updown"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/shardcheck"
)

func init() {
	register.DoFn3x1[context.Context, int, func(int), error](&decodeShardFn{})
	register.Emitter1[int]()
}

// DecodesTable is the directory of the decode shards.
const DecodesTable = "decodes"

// Decode is one row of the decodes table: one image's generated caption with its attention.
type Decode struct {
	ImageID int64 `parquet:"image_id" json:"image_id"`
	// Caption is the generated words joined by spaces; Tokens the words.
	Caption string   `parquet:"caption" json:"caption"`
	Tokens  []string `parquet:"tokens,list" json:"tokens"`
	// Ended says whether the model emitted the end token; LogProb is the sequence's log-probability.
	Ended   bool    `parquet:"ended" json:"ended"`
	LogProb float64 `parquet:"log_prob" json:"log_prob"`
	// Regions is the image's number of regions K; Width and Height its size (0: unknown).
	Regions int32 `parquet:"regions" json:"regions"`
	Width   int32 `parquet:"width" json:"width"`
	Height  int32 `parquet:"height" json:"height"`
	// Attended[i] is the region of largest β when word i was generated; Boxes its box (4 values
	// x1 y1 x2 y2 per word).
	Attended []int32   `parquet:"attended,list" json:"attended"`
	Boxes    []float32 `parquet:"boxes,list" json:"boxes"`
	// Beta is β, len(Tokens) × Regions float32 little-endian, row-major.
	Beta []byte `parquet:"beta" json:"-"`
}

// Compare orders rows by image id.
func (d *Decode) Compare(o *Decode) int { return cmp.Compare(d.ImageID, o.ImageID) }

// Box returns the attended box of word i.
func (d *Decode) Box(i int) [4]float32 {
	return [4]float32{d.Boxes[4*i], d.Boxes[4*i+1], d.Boxes[4*i+2], d.Boxes[4*i+3]}
}

// Config is everything Build needs: resolved locations and settings.
type Config struct {
	Model     string // captioner checkpoint
	Captions  string // captions table directory
	Vocab     string // vocab.json
	Features  string // feature store directory
	Out       string // output directory
	NumShards int
	// Splits are decoded one after the other, each into <split>/decodes.
	Splits      []string
	BeamSize    int
	DecodeBatch int
	BLAS        string
}

// Build adds the decoding pipeline to s: one element per shard, each decoded and written by one
// call of a DoFn that holds the model. It panics on a malformed Config.
func Build(s beam.Scope, cfg Config) {
	s = s.Scope("evaluate.Build")
	if cfg.NumShards < 1 || cfg.BeamSize < 1 || cfg.DecodeBatch < 1 || cfg.Out == "" || cfg.Model == "" || len(cfg.Splits) == 0 {
		panic(fmt.Sprintf("evaluate: Build: bad config %+v", cfg))
	}
	shards := make([]int, cfg.NumShards)
	for i := range shards {
		shards[i] = i
	}
	// Reshuffle spreads the shards over workers (each loads the model once in Setup).
	done := beam.ParDo(s, &decodeShardFn{Config: cfg}, beam.Reshuffle(s, beam.CreateList(s, shards)))
	shardcheck.All(s, "evaluate", done, cfg.NumShards)
}

// decodeShardFn decodes the splits' images of one shard.
type decodeShardFn struct {
	Config Config

	model *updown.Model
	words []string
}

// Setup installs the BLAS backend and loads the model and vocabulary once per DoFn instance.
func (f *decodeShardFn) Setup(ctx context.Context) error {
	if _, err := blas.Use(f.Config.BLAS); err != nil {
		return fmt.Errorf("evaluate: blas: %w", err)
	}
	m, _, err := captioning.LoadModel(ctx, f.Config.Model)
	if err != nil {
		return err
	}
	voc, err := captionstable.ReadVocab(ctx, f.Config.Vocab)
	if err != nil {
		return err
	}
	if len(voc.IxToWord)-1 != m.Config().VocabSize {
		return fmt.Errorf("evaluate: %s has %d words, the model %s was trained for %d", f.Config.Vocab, len(voc.IxToWord)-1, f.Config.Model, m.Config().VocabSize)
	}
	f.model, f.words = m, voc.IxToWord
	return nil
}

// ProcessElement decodes and writes shard sh of every split, except those an earlier attempt
// wrote, and reports it done.
func (f *decodeShardFn) ProcessElement(ctx context.Context, sh int, done func(int)) error {
	for _, split := range f.Config.Splits {
		if err := f.process(ctx, split, sh); err != nil {
			return err
		}
	}
	done(sh)
	return nil
}

// DecodesOf returns the directory of a split's decode shards inside the output.
func DecodesOf(split string) string { return split + "/" + DecodesTable }

func (f *decodeShardFn) process(ctx context.Context, split string, sh int) error {
	cfg := f.Config
	name := shard.Name(DecodesOf(split), sh, cfg.NumShards)
	out := blobio.Join(cfg.Out, name)
	if ok, err := blobio.Exists(ctx, out); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	} else if ok {
		log.Infof(ctx, "evaluate: %s exists (an earlier attempt wrote it), skipped", name)
		return nil
	}
	start := time.Now()
	ids, err := splitImages(ctx, cfg, split, sh)
	if err != nil {
		return err
	}
	fr, err := feat.OpenShard(ctx, blobio.Join(cfg.Features, shard.Name(feat.FeaturesTable, sh, cfg.NumShards)))
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	rows, err := f.decodeShard(fr, ids)
	if cerr := fr.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("evaluate: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("evaluate: %s split, shard %d: %w", split, sh, err)
	}
	opts := parquetshard.Options{NoStatistics: []string{"caption", "tokens.list.element", "beta"}}
	if err := parquetshard.Write(ctx, out, rows, func(a, b *Decode) int { return a.Compare(b) }, opts); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	el := time.Since(start)
	log.Infof(ctx, "evaluate: %s: %d images decoded in %s (%.1f images/s)", name, len(rows), el.Round(time.Millisecond), float64(len(rows))/el.Seconds())
	return nil
}

// splitImages returns the sorted ids of the split's images in captions shard sh.
func splitImages(ctx context.Context, cfg Config, split string, sh int) ([]int64, error) {
	capName := shard.Name(captionstable.CaptionsTable, sh, cfg.NumShards)
	rows, err := captionstable.ReadShard(ctx, blobio.Join(cfg.Captions, strings.TrimPrefix(capName, captionstable.CaptionsTable+"/")))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, r := range rows {
		if r.Split == split && (len(ids) == 0 || ids[len(ids)-1] != r.ImageID) {
			ids = append(ids, r.ImageID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// FeatureReader yields feature records in increasing image id order (features.ShardReader).
type FeatureReader interface {
	Next() (*feat.Record, error)
}

// decodeShard decodes the images ids (sorted) whose features come from fr in image id order.
func (f *decodeShardFn) decodeShard(fr FeatureReader, ids []int64) ([]Decode, error) {
	return DecodeImages(f.model, f.words, f.Config.BeamSize, f.Config.DecodeBatch, fr, ids)
}

// DecodeImages decodes the images ids (sorted) with beam width k, batch images per call, reading
// their features from fr (in increasing image id order; other images are skipped). words[i] is
// the word of id i. An image without features is an error.
func DecodeImages(m *updown.Model, words []string, k, batch int, fr FeatureReader, ids []int64) ([]Decode, error) {
	var out []Decode
	var recs []*feat.Record
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		im := &updown.Images{}
		for _, r := range recs {
			im.Feats = append(im.Feats, r.Features)
			im.NumBoxes = append(im.NumBoxes, r.NumBoxes)
		}
		caps, err := m.Beam(im, k)
		if err != nil {
			return err
		}
		for i, c := range caps {
			out = append(out, decodeRow(recs[i], c, words))
		}
		recs = recs[:0]
		return nil
	}
	next := 0
	for next < len(ids) {
		r, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if ids[next] < r.ImageID {
			return nil, fmt.Errorf("image %d of the split has no region features", ids[next])
		}
		if r.ImageID != ids[next] {
			continue
		}
		next++
		recs = append(recs, r)
		if len(recs) == batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if next < len(ids) {
		return nil, fmt.Errorf("image %d of the split has no region features", ids[next])
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeRow converts a decoded caption of image rec.
func decodeRow(rec *feat.Record, c updown.Caption, words []string) Decode {
	d := Decode{ImageID: rec.ImageID, Ended: c.Ended, LogProb: c.LogProb, Regions: int32(rec.NumBoxes),
		Width: rec.Width, Height: rec.Height, Tokens: make([]string, len(c.Tokens)), Attended: make([]int32, len(c.Tokens)),
		Boxes: make([]float32, 0, 4*len(c.Tokens)), Beta: make([]byte, 0, 4*len(c.Tokens)*rec.NumBoxes)}
	for i, t := range c.Tokens {
		d.Tokens[i] = words[t]
		beta := c.Beta[i]
		best := 0
		for k, b := range beta {
			if b > beta[best] {
				best = k
			}
		}
		d.Attended[i] = int32(best)
		d.Boxes = append(d.Boxes, rec.Boxes[4*best:4*best+4]...)
		d.Beta = append(d.Beta, feat.Float32Bytes(beta)...)
	}
	d.Caption = strings.Join(d.Tokens, " ")
	return d
}
