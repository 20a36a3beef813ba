// Package synth is the stage that writes the synthetic grounded world (internal/synth) into the
// artifact store, so that the demo's later stages read it like any real dataset.
package synth

import (
	"context"
	"io"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/progress"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
)

// Params configure the synthetic world (config section "synth"): the generator's options.
type Params struct {
	gen.Options `yaml:",inline"`
}

// DefaultParams returns the generator's defaults.
func DefaultParams() Params { return Params{Options: gen.DefaultOptions()} }

// Stage returns the synth stage.
func Stage(p Params) (*engine.Stage, error) {
	return declare.Stage(p, engine.Stage{
		Name:          "synth",
		Description:   "write the synthetic grounded world (Karpathy JSON, Flickr30k Entities, bottom-up TSV, images)",
		Version:       "1",
		SchemaVersion: "1",
		Run: func(ctx context.Context, r *engine.Run) error {
			rep := progress.New(r.Log, "[synth] images", "images", int64(p.Images))
			sum, err := gen.Generate(ctx, p.Options, Sink(r.Out), func(done, total int) { rep.Set(int64(done)) })
			if err != nil {
				return err
			}
			rep.Done()
			r.Logf("%d images, %d captions, %d objects, %d MB", sum.Images, sum.Captions, sum.Objects, sum.Bytes>>20)
			return nil
		},
	})
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
