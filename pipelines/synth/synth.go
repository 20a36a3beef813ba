// Package synth is the stage that writes the synthetic grounded world (internal/synth) into the
// artifact store, so that the demo's later stages read it like any real dataset.
package synth

import (
	"context"
	"fmt"
	"io"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/progress"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines/engine"
)

// Params configure the synthetic world (config section "synth"). Zero values take the
// generator's defaults (internal/synth.Options).
type Params struct {
	Images   int   `yaml:"images" json:"images"`
	Seed     int64 `yaml:"seed" json:"seed"`
	FeatDim  int   `yaml:"feat_dim" json:"feat_dim"`
	Boxes    int   `yaml:"boxes" json:"boxes"`
	TSVFiles int   `yaml:"tsv_files" json:"tsv_files"`
	NoImages bool  `yaml:"no_images" json:"no_images"`
}

// Options converts the parameters to generator options.
func (p Params) Options() gen.Options {
	return gen.Options{Images: p.Images, Seed: p.Seed, FeatDim: p.FeatDim, Boxes: p.Boxes, TSVFiles: p.TSVFiles, NoImages: p.NoImages}
}

// Stage returns the synth stage.
func Stage(p Params) (*engine.Stage, error) {
	if err := p.Options().Validate(); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return &engine.Stage{
		Name:          "synth",
		Description:   "write the synthetic grounded world (Karpathy JSON, Flickr30k Entities, bottom-up TSV, images)",
		Version:       "1",
		SchemaVersion: "1",
		Params:        p,
		Run: func(ctx context.Context, r *engine.Run) error {
			rep := progress.New(r.Log, "[synth] images", "images", int64(p.Options().Images))
			sum, err := gen.Generate(ctx, p.Options(), Sink(r.Out), func(done, total int) { rep.Set(int64(done)) })
			if err != nil {
				return err
			}
			rep.Done()
			r.Logf("%d images, %d captions, %d objects, %d MB", sum.Images, sum.Captions, sum.Objects, sum.Bytes>>20)
			return nil
		},
	}, nil
}

// Sink returns a generator sink that writes files under the location dir, each atomically.
func Sink(dir string) gen.Sink { return blobSink{dir: dir} }

type blobSink struct{ dir string }

func (s blobSink) Create(name string) (io.WriteCloser, error) {
	w, err := blobio.NewWriter(context.Background(), blobio.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	return abortable{w}, nil
}

// abortable lets the generator discard a half-written file instead of committing it.
type abortable struct{ *blobio.Writer }

func (a abortable) Abort() error { a.Writer.Abort(); return nil }
