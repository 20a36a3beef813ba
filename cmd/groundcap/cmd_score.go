package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/atomicfile"
)

// scoreOptions are the flags of 'groundcap score'.
type scoreOptions struct {
	Refs      string
	Preds     string
	Tokenize  bool
	Split     string
	Partial   bool
	Out       string
	MeteorJar string
	SpiceJar  string
	Java      string
}

func (o *scoreOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Refs, "refs", "", "references: COCO annotation file or Karpathy dataset file (required)")
	fs.StringVar(&o.Preds, "preds", "", "predictions: COCO results file [{\"image_id\", \"caption\"}] (required)")
	fs.BoolVar(&o.Tokenize, "tokenize", true, "PTB-tokenise both sides as coco-caption does; --tokenize=false for pre-tokenised captions\n(with a Karpathy file, its \"tokens\" are used)")
	fs.StringVar(&o.Split, "split", "", "split of a Karpathy dataset file (train, val, test, restval)")
	fs.BoolVar(&o.Partial, "partial", false, "allow reference images without a prediction (only predicted images are scored)")
	fs.StringVar(&o.Out, "out", "", "write corpus and per-image scores as JSON to this file")
	fs.StringVar(&o.MeteorJar, "meteor-jar", "", "meteor-1.5.jar to compute METEOR (needs java); otherwise METEOR is not computed")
	fs.StringVar(&o.SpiceJar, "spice-jar", "", "spice-1.0.jar to compute SPICE (needs java); otherwise SPICE is not computed")
	fs.StringVar(&o.Java, "java", "", "java executable for the jars (default: java in PATH)")
}

func newScoreCommand(g *globalOptions) *command {
	var opts scoreOptions
	return &command{
		Name:  "score",
		Short: "score captions with BLEU-1..4, ROUGE-L, CIDEr-D (coco-caption exact), METEOR/SPICE via jars",
		Usage: "groundcap score --refs ANN.json --preds RESULTS.json [--tokenize=true|false] [--split S] [--partial] [--out m.json] [--meteor-jar J] [--spice-jar J]",
		Long: "Computes the coco-caption metrics exactly as pycocoevalcap does (same tokenisation, same quirks).\n" +
			"A prediction for an image not in the references is an error, as are two predictions for one image\n" +
			"and (without --partial) a reference image without prediction. METEOR and SPICE run only with their\n" +
			"jars and are otherwise reported as \"not computed\". Prints a table; --out writes JSON with per-image scores.",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, args []string) error {
			if opts.Refs == "" || opts.Preds == "" {
				return usageError{"--refs and --preds are required"}
			}
			if len(args) > 0 {
				return usageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			return runScore(ctx, opts, g)
		},
	}
}

func runScore(ctx context.Context, opts scoreOptions, g *globalOptions) error {
	refs, err := caption.ReadReferences(opts.Refs, caption.ReadOptions{Split: opts.Split, Tokens: !opts.Tokenize})
	if err != nil {
		return err
	}
	preds, err := caption.ReadPredictions(opts.Preds)
	if err != nil {
		return err
	}
	res, err := caption.Score(refs, preds, caption.Options{
		PreTokenized: !opts.Tokenize,
		Partial:      opts.Partial,
		External:     caption.External{MeteorJar: opts.MeteorJar, SpiceJar: opts.SpiceJar, Java: opts.Java, Context: ctx},
	})
	if err != nil {
		if errors.Is(err, caption.ErrInput) && !opts.Partial {
			return fmt.Errorf("%w (use --partial to score only predicted images)", err)
		}
		return err
	}
	if err := res.WriteTable(g.Stdout); err != nil {
		return err
	}
	if opts.Out != "" {
		return writeJSONFile(opts.Out, res)
	}
	return nil
}

// writeJSONFile writes v as indented JSON to path atomically (temporary file, then rename).
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, append(data, '\n')); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
