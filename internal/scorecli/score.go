// Package scorecli holds the scoring subcommands, 'groundcap score' and 'groundcap
// score-grounding': their flags, checks and output. The complete command (cmd/groundcap) and the
// launcher (cmd/groundcap-launcher, installed as bin/groundcap) both run them; the launcher links
// nothing else, so that a scoring process does not pay for the package initialisation of Beam,
// the cloud SDKs and the NLP and plotting libraries (tens of milliseconds before main).
package scorecli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/atomicfile"
)

// Command is one scoring subcommand; the complete CLI wraps it into its own command type.
type Command struct {
	Name  string
	Short string // one line for 'groundcap help'
	Usage string
	Long  string
	// AddFlags registers the command's flags.
	AddFlags func(fs *flag.FlagSet)
	// Run runs the command with the positional arguments left after flag parsing; a
	// UsageError means the command line is wrong (exit status 2).
	Run func(ctx context.Context, args []string) error
}

// UsageError is an error in the command line.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// scoreOptions are the flags of 'groundcap score'.
type scoreOptions struct {
	Refs      string
	Preds     string
	Tokenize  bool
	Split     string
	Partial   bool
	Out       string
	PerImage  bool
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
	fs.StringVar(&o.Out, "out", "", "write the corpus scores as JSON to this file (with --per-image, each image's scores too)")
	fs.BoolVar(&o.PerImage, "per-image", false, "with --out, add every image's scores to the JSON")
	fs.StringVar(&o.MeteorJar, "meteor-jar", "", "meteor-1.5.jar to compute METEOR (needs java); otherwise METEOR is not computed")
	fs.StringVar(&o.SpiceJar, "spice-jar", "", "spice-1.0.jar to compute SPICE (needs java); otherwise SPICE is not computed")
	fs.StringVar(&o.Java, "java", "", "java executable for the jars (default: java in PATH)")
}

// Score returns 'groundcap score', which prints its table on stdout.
func Score(stdout io.Writer) *Command {
	var opts scoreOptions
	return &Command{
		Name:  "score",
		Short: "score captions with BLEU-1..4, ROUGE-L, CIDEr-D (coco-caption exact), METEOR/SPICE via jars",
		Usage: "groundcap score --refs ANN.json --preds RESULTS.json [--tokenize=true|false] [--split S] [--partial] [--out m.json [--per-image]] [--meteor-jar J] [--spice-jar J]",
		Long: "Computes the coco-caption metrics exactly as pycocoevalcap does (same tokenisation, same quirks).\n" +
			"A prediction for an image not in the references is an error, as are two predictions for one image\n" +
			"and (without --partial) a reference image without prediction. METEOR and SPICE run only with their\n" +
			"jars and are otherwise reported as \"not computed\". Prints a table; --out writes the scores as JSON\n" +
			"(per image too with --per-image). Both files are decoded as streams.",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, args []string) error {
			if opts.Refs == "" || opts.Preds == "" {
				return UsageError{"--refs and --preds are required"}
			}
			if len(args) > 0 {
				return UsageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			return runScore(ctx, opts, stdout)
		},
	}
}

func runScore(ctx context.Context, opts scoreOptions, stdout io.Writer) error {
	if opts.PerImage && opts.Out == "" {
		return UsageError{"--per-image needs --out"}
	}
	defer shortLivedGC()()
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
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	if opts.Out != "" {
		if !opts.PerImage {
			res.PerImage = nil
		}
		return writeJSONFile(opts.Out, res)
	}
	return nil
}

// shortLivedGC tunes the garbage collector for a command that allocates a bounded working set and
// exits: no collection until the heap reaches half the machine's memory or 4 GiB (whichever is
// less), since collecting a heap that is about to be freed whole only costs time. The returned
// function restores the previous settings. GOGC or GOMEMLIMIT in the environment leave the
// collector as they set it.
func shortLivedGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := int64(4 << 30)
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(info), "MemTotal: %d kB", &kb); err == nil && kb > 0 {
			limit = min(limit, kb<<10/2)
		}
	}
	oldLimit := debug.SetMemoryLimit(limit)
	oldPercent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
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
