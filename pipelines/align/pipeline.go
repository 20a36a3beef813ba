package align

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/parquet-go/parquet-go"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/progress"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/matching"
	"github.com/groundcap/groundcap/training/blas"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/shardcheck"
)

func init() {
	register.DoFn3x1[context.Context, int, func(int), error](&alignShardFn{})
	register.Emitter1[int]()
}

// Config is everything Build needs, resolved by the stage (or a test): locations and settings.
type Config struct {
	Captions    string // captions table directory
	Features    string // feature store directory
	Model       string // model checkpoint
	Out         string // output directory
	NumShards   int
	Splits      []string
	BatchImages int
	BLAS        string
	Device      string // the device setting (gpu.Open); "" or cpu: none
	Teacher     string // recorded in the shards' footers
}

// Build adds the alignment pipeline to s: one element per shard, each aligned and written by
// one call of a DoFn that holds the model. It panics on a malformed Config.
func Build(s beam.Scope, cfg Config) {
	s = s.Scope("align.Build")
	if cfg.NumShards < 1 || cfg.BatchImages < 1 || cfg.Out == "" || cfg.Model == "" {
		panic(fmt.Sprintf("align: Build: bad config %+v", cfg))
	}
	shards := make([]int, cfg.NumShards)
	for i := range shards {
		shards[i] = i
	}
	// Reshuffle spreads the shards over workers (each loads the model once in Setup).
	done := beam.ParDo(s, &alignShardFn{Config: cfg}, beam.Reshuffle(s, beam.CreateList(s, shards)))
	shardcheck.All(s, "align", done, cfg.NumShards)
}

// alignShardFn aligns one shard: KV-free input, the shard number.
type alignShardFn struct {
	Config Config

	model   *tscan.Model
	text    *models.Text // how the model reads captions (its checkpoint's)
	release func() error // brings the model back from its device, closes the device
}

// Setup installs the BLAS backend and loads the model once per DoFn instance, on the device
// when the config names one.
func (f *alignShardFn) Setup(ctx context.Context) error {
	if _, err := blas.Use(f.Config.BLAS); err != nil {
		return fmt.Errorf("align: blas: %w", err)
	}
	m, err := models.LoadMatching(ctx, f.Config.Model)
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	text, err := models.TextOf(m)
	if err != nil {
		return fmt.Errorf("align: %s: %w", f.Config.Model, err)
	}
	release, err := matching.UseDevice(f.Config.Device, func(format string, args ...any) { log.Infof(ctx, "align: "+format, args...) }, m)
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	f.model, f.text, f.release = m, text, release
	return nil
}

// Teardown releases the model's device.
func (f *alignShardFn) Teardown() error {
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.release = nil
	return err
}

// ProcessElement aligns and writes shard sh, unless an earlier attempt wrote it, and reports
// it done.
func (f *alignShardFn) ProcessElement(ctx context.Context, sh int, done func(int)) error {
	if err := f.process(ctx, sh); err != nil {
		return err
	}
	done(sh)
	return nil
}

func (f *alignShardFn) process(ctx context.Context, sh int) error {
	cfg := f.Config
	name := shard.Name(alignments.Table, sh, cfg.NumShards)
	out := blobio.Join(cfg.Out, name)
	if ok, err := blobio.Exists(ctx, out); err != nil {
		return fmt.Errorf("align: %w", err)
	} else if ok {
		log.Infof(ctx, "align: %s exists (an earlier attempt wrote it), skipped", name)
		return nil
	}
	capName := shard.Name(captionstable.CaptionsTable, sh, cfg.NumShards)
	rows, err := captionstable.ReadShard(ctx, blobio.Join(cfg.Captions, capName[len(captionstable.CaptionsTable)+1:]))
	if err != nil {
		return err
	}
	rows = slices.DeleteFunc(rows, func(r captionstable.Row) bool { return !slices.Contains(cfg.Splits, r.Split) })
	fr, err := feat.OpenShard(ctx, blobio.Join(cfg.Features, shard.Name(feat.FeaturesTable, sh, cfg.NumShards)))
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	start := time.Now()
	rep := progress.New(matching.LogWriter(func(format string, args ...any) { log.Infof(ctx, format, args...) }), "align: "+name, "captions", int64(len(rows)))
	al := &Aligner{Model: f.model, Text: f.text, BatchImages: cfg.BatchImages, Source: capName, Progress: rep.Add}
	aligned, rej, err := al.Align(rows, fr)
	if cerr := fr.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("align: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("align: shard %d: %w", sh, err)
	}
	// Rejects first: an existing alignments shard then implies its rejects shard exists.
	if err := writeRejects(ctx, blobio.Join(cfg.Out, shard.Name(alignments.RejectsTable, sh, cfg.NumShards)), rej); err != nil {
		return err
	}
	opts := parquetshard.Options{NoStatistics: []string{"attention"}, Metadata: map[string]string{alignments.MetaAttention: alignments.AttentionDoc, "groundcap.teacher": cfg.Teacher}}
	if err := parquetshard.Write(ctx, out, aligned, func(a, b *alignments.Row) int { return a.Compare(b) }, opts); err != nil {
		return fmt.Errorf("align: %w", err)
	}
	el := time.Since(start)
	log.Infof(ctx, "align: %s: %d captions aligned, %d rejected in %s (%.1f captions/s)", name, len(aligned), len(rej), el.Round(time.Millisecond), float64(len(aligned))/el.Seconds())
	return nil
}

// FeatureReader yields feature records in increasing image id order (features.ShardReader).
type FeatureReader interface {
	Next() (*feat.Record, error)
}

// Aligner aligns the captions of one shard with its features. Each caption is read as the
// captioner sees it (its labels, as the original's KL term decodes them: Text.Sentence) and its
// attention rows come back at the labels' positions.
type Aligner struct {
	Model *tscan.Model
	// Text is how Model reads a sentence (nil: the captioner's labels).
	Text        *models.Text
	BatchImages int
	// Source names the captions shard in rejects rows.
	Source string
	// Progress, if set, gets the number of captions of each model call once it is done.
	Progress func(captions int64)
}

// Align aligns every row (sorted by image id, caption index) with its image's features, read
// from feats in image id order; a caption whose image is absent from feats is rejected. Rows
// come back in the input order.
func (a *Aligner) Align(rows []captionstable.Row, feats FeatureReader) ([]alignments.Row, []rejects.Reject, error) {
	text := a.Text
	if text == nil {
		text = &models.Text{Mode: models.TextCaptioner}
	}
	var out []alignments.Row
	var rej []rejects.Reject
	var batch tscan.Batch
	var imageOf []int
	var pending []*captionstable.Row
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		res, err := a.Model.Align(batch, imageOf)
		if err != nil {
			return err
		}
		for j, r := range pending {
			al := text.SentenceAlignment(res[j], len(r.Labels))
			out = append(out, alignments.Row{ImageID: r.ImageID, CaptionIdx: r.CaptionIdx, NounPositions: al.Positions,
				Regions: int32(al.Regions), Attention: alignments.EncodeAttention(al.Attention), Score: al.Score})
		}
		if a.Progress != nil {
			a.Progress(int64(len(pending)))
		}
		batch, imageOf, pending = tscan.Batch{}, nil, nil
		return nil
	}
	var rec *feat.Record
	eof := false
	prev := int64(-1 << 63)
	for i := 0; i < len(rows); {
		id := rows[i].ImageID
		if id < prev {
			return nil, nil, fmt.Errorf("%s row %d: image %d after %d: rows are not sorted", a.Source, i, id, prev)
		}
		prev = id
		j := i
		for j < len(rows) && rows[j].ImageID == id {
			j++
		}
		for !eof && (rec == nil || rec.ImageID < id) {
			r, err := feats.Next()
			if errors.Is(err, io.EOF) {
				eof, rec = true, nil
				break
			}
			if err != nil {
				return nil, nil, err
			}
			if rec != nil && r.ImageID <= rec.ImageID {
				return nil, nil, fmt.Errorf("features: image %d after %d: shard not sorted", r.ImageID, rec.ImageID)
			}
			rec = r
		}
		if rec == nil || rec.ImageID != id {
			for k := i; k < j; k++ {
				rej = append(rej, rejects.Reject{Source: a.Source, Record: "caption " + strconv.Itoa(int(rows[k].CaptionIdx)),
					ImageID: id, Reason: "image has no region features in the feature store"})
			}
			i = j
			continue
		}
		batch.Feats = append(batch.Feats, rec.Features)
		for k := i; k < j; k++ {
			if len(rows[k].Labels) == 0 {
				return nil, nil, fmt.Errorf("%s: image %d caption %d has no labels", a.Source, rows[k].ImageID, rows[k].CaptionIdx)
			}
			c, err := text.Sentence(rows[k].Labels, rows[k].NounMask)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: image %d caption %d: %w", a.Source, rows[k].ImageID, rows[k].CaptionIdx, err)
			}
			batch.Captions = append(batch.Captions, c)
			imageOf = append(imageOf, len(batch.Feats)-1)
			pending = append(pending, &rows[k])
		}
		if len(batch.Feats) == a.BatchImages {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
		i = j
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	return out, rej, nil
}

// writeRejects writes one rejects shard (possibly empty).
func writeRejects(ctx context.Context, loc string, rows []rejects.Reject) error {
	w, err := blobio.NewWriter(ctx, loc)
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	pw := parquet.NewGenericWriter[rejects.Reject](w, parquet.CreatedBy("groundcap", "", ""))
	if len(rows) > 0 {
		if _, err := pw.Write(rows); err != nil {
			w.Abort()
			return fmt.Errorf("align: %s: %w", loc, err)
		}
	}
	if err := pw.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("align: %s: %w", loc, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("align: %s: %w", loc, err)
	}
	return nil
}
