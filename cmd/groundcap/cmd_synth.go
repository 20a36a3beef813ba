package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/progress"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines/synth"
)

// synthOptions are the flags of 'groundcap synth'.
type synthOptions struct {
	stageOptions
	Out    string
	Params synth.Params
}

func (o *synthOptions) AddFlags(fs *flag.FlagSet) {
	o.stageOptions.AddFlags(fs)
	fs.StringVar(&o.Out, "out", "", "write a standalone world to this directory or URL (without it: run the config's synth stage)")
	d := synth.DefaultParams()
	o.Params = d
	fs.IntVar(&o.Params.Images, "images", d.Images, "number of images")
	fs.IntVar(&o.Params.ValImages, "val-images", d.ValImages, "images of the val split (0: a tenth)")
	fs.IntVar(&o.Params.TestImages, "test-images", d.TestImages, "images of the test split (0: a tenth)")
	fs.Int64Var(&o.Params.Seed, "seed", d.Seed, "seed")
	fs.IntVar(&o.Params.FeatDim, "feat-dim", d.FeatDim, "region feature dimension D")
	fs.IntVar(&o.Params.Boxes, "boxes", d.Boxes, "region proposals per image K")
	fs.IntVar(&o.Params.TSVFiles, "tsv-files", d.TSVFiles, "number of feature TSV files")
	fs.BoolVar(&o.Params.NoImages, "no-images", d.NoImages, "skip rendering images/<id>.png")
}

func newSynthCommand(g *globalOptions) *command {
	var opts synthOptions
	return &command{
		Name:  "synth",
		Short: "write the synthetic grounded world (real formats) to a directory",
		Usage: "groundcap synth --out DIR [--images N] [--val-images V] [--test-images T] [--seed S] [--feat-dim D] [--boxes K]\n       groundcap synth [--config F] [--force]   (the experiment's cached synth stage)",
		Long: "Writes dataset.json (Karpathy split format), Sentences/ and Annotations/ (Flickr30k Entities),\n" +
			"features/part-*.tsv (bottom-up TSV, original layout), images/<id>.png, class_names.txt,\n" +
			"split_ids.json and truth.json. Same flags, same bytes. Without --out, runs the experiment's\n" +
			"cached 'synth' stage (its parameters come from the config's synth section).",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, _ []string) error {
			if opts.Out == "" {
				if opts.Params != synth.DefaultParams() {
					return usageError{"--images, --seed, --feat-dim, --boxes, --tsv-files and --no-images need --out; the stage takes its parameters from the config"}
				}
				return runStage(ctx, "synth", opts.stageOptions, g)
			}
			return runSynth(ctx, opts, g)
		},
	}
}

func runSynth(ctx context.Context, opts synthOptions, g *globalOptions) error {
	o := opts.Params.Options
	if err := o.Validate(); err != nil {
		return usageError{err.Error()}
	}
	out, err := blobio.Normalize(opts.Out)
	if err != nil {
		return err
	}
	rep := progress.New(g.Stderr, "synth", "images", int64(opts.Params.Images))
	sum, err := gen.Generate(ctx, o, synth.Sink(out), func(done, total int) { rep.Set(int64(done)) })
	if err != nil {
		return err
	}
	rep.Done()
	fmt.Fprintf(g.Stdout, "wrote %d images, %d captions, %d MB to %s\n", sum.Images, sum.Captions, sum.Bytes>>20, out)
	return nil
}
