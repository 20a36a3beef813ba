package align

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/groundcap/groundcap/internal/beamrun"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/rejects"
)

// Input names of the stage.
const (
	InputModel    = "model"
	InputCaptions = "captions"
	InputFeatures = "features"
)

// Stage names: the alignments of the POS-SCAN teacher (the default) and of plain SCAN.
const (
	Name      = "align"
	NamePlain = "align-plain"
)

// Stage returns the align stage.
func Stage(p Params) (*engine.Stage, error) { return StageNamed(Name, p) }

// StageNamed returns an align stage under another name, so that several teachers' alignments
// can live side by side (align: POS-SCAN, align-plain: SCAN).
func StageNamed(name string, p Params) (*engine.Stage, error) {
	p = p.resolve()
	return declare.Stage(p, engine.Stage{
		Name:          name,
		Description:   "word-region attention and matching score of every training caption from the matching model (Beam)",
		Version:       "1",
		SchemaVersion: "1",
		Inputs: []engine.Input{
			{Name: InputModel, Ref: p.Model},
			{Name: InputCaptions, Ref: p.Captions},
			{Name: InputFeatures, Ref: p.Features},
		},
		Run: func(ctx context.Context, r *engine.Run) error { return run(ctx, r, p) },
	})
}

func run(ctx context.Context, r *engine.Run, p Params) error {
	cfg := Config{Captions: r.Input(InputCaptions), Features: r.Input(InputFeatures), Model: r.Input(InputModel), Out: r.Out,
		Splits: p.Splits, BatchImages: p.BatchImages, BLAS: string(p.BLAS), Device: string(p.Device), Teacher: string(p.Teacher)}
	n, err := captionstable.NumShardsWith(ctx, cfg.Captions, cfg.Features)
	if err != nil {
		return fmt.Errorf("align: %w", err)
	}
	cfg.NumShards = n
	r.Logf("aligning the %v captions of %d shards with %s (teacher %s, %d images per call, blas %s, device %s)", p.Splits, n, p.Model, p.Teacher, p.BatchImages, p.BLAS, p.Device)
	pl := beam.NewPipeline()
	Build(pl.Root(), cfg)
	if err := beamrun.Run(ctx, pl, "align", ""); err != nil {
		return fmt.Errorf("align: pipeline: %w", err)
	}
	// Reconcile from what is on storage (shards of earlier attempts included).
	var read, written, rejected int64
	for i := 0; i < n; i++ {
		rows, err := captionstable.ReadShard(ctx, blobio.Join(cfg.Captions, path.Base(shard.Name(captionstable.CaptionsTable, i, n))))
		if err != nil {
			return err
		}
		for _, row := range rows {
			if slices.Contains(p.Splits, row.Split) {
				read++
			}
		}
		for _, t := range []string{alignments.Table, alignments.RejectsTable} {
			name := shard.Name(t, i, n)
			k, err := parquetshard.NumRows(ctx, r.Output(name))
			if err != nil {
				return fmt.Errorf("align: %w", err)
			}
			r.SetRows(name, k)
			if t == alignments.Table {
				written += k
			} else {
				rejected += k
			}
		}
	}
	if err := rejects.Check("captions", read, written, rejected, p.MaxRejectFraction); err != nil {
		return fmt.Errorf("align: %w", err)
	}
	r.SetInfo("align", map[string]any{"teacher": p.Teacher, "captions": written, "rejected": rejected, "num_shards": n, "splits": p.Splits})
	r.Logf("%d captions aligned, %d rejected", written, rejected)
	return nil
}
