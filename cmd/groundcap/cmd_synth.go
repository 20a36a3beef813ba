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
	fs.IntVar(&o.Params.Images, "images", 0, "number of images (0: the generator's default, 2000)")
	fs.Int64Var(&o.Params.Seed, "seed", 0, "seed (0: the generator's default, 1)")
	fs.IntVar(&o.Params.FeatDim, "feat-dim", 0, "region feature dimension D (0: 2048)")
	fs.IntVar(&o.Params.Boxes, "boxes", 0, "region proposals per image K (0: 36)")
	fs.IntVar(&o.Params.TSVFiles, "tsv-files", 0, "number of feature TSV files (0: the generator's default)")
	fs.BoolVar(&o.Params.NoImages, "no-images", false, "skip rendering images/<id>.png")
}

func newSynthCommand(g *globalOptions) *command {
	var opts synthOptions
	return &command{
		Name:  "synth",
		Short: "write the synthetic grounded world (real formats) to a directory",
		Usage: "groundcap synth --out DIR [--images N] [--seed S] [--feat-dim D] [--boxes K]\n       groundcap synth [--config F] [--force]   (the experiment's cached synth stage)",
		Long: "Writes dataset.json (Karpathy split format), Sentences/ and Annotations/ (Flickr30k Entities),\n" +
			"features/part-*.tsv (bottom-up TSV, original layout), images/<id>.png, class_names.txt,\n" +
			"split_ids.json and truth.json. Same flags, same bytes. Without --out, runs the experiment's\n" +
			"cached 'synth' stage (its parameters come from the config's synth section).",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			if opts.Out == "" {
				if opts.Params != (synth.Params{}) {
					return usageError{"--images, --seed, --feat-dim, --boxes, --tsv-files and --no-images need --out; the stage takes its parameters from the config"}
				}
				return runStage(ctx, "synth", opts.stageOptions, g)
			}
			return runSynth(ctx, opts, g)
		},
	}
}

func runSynth(ctx context.Context, opts synthOptions, g *globalOptions) error {
	o := opts.Params.Options()
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
