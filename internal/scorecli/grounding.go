package scorecli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/groundcap/groundcap/eval/grounding"
)

// groundingModes is the --mode enum of 'groundcap score-grounding'.
type groundingModes []grounding.Mode

func (m *groundingModes) String() string {
	switch len(*m) {
	case 1:
		return (*m)[0].String()
	}
	return "both"
}

func (m *groundingModes) Set(s string) error {
	if s == "both" {
		*m = groundingModes{grounding.ModeAll, grounding.ModeLoc}
		return nil
	}
	mode, err := grounding.ParseMode(s)
	if err != nil {
		return fmt.Errorf("want all, loc or both")
	}
	*m = groundingModes{mode}
	return nil
}

// scoreGroundingOptions are the flags of 'groundcap score-grounding'.
type scoreGroundingOptions struct {
	Refs       string
	Entities   string
	Classes    string
	SplitFile  string
	Split      string
	UnionBoxes bool
	Preds      string
	Modes      groundingModes
	Attention  bool
	Out        string
}

func (o *scoreGroundingOptions) AddFlags(fs *flag.FlagSet) {
	o.Modes = groundingModes{grounding.ModeAll, grounding.ModeLoc}
	fs.StringVar(&o.Refs, "refs", "", "grounding references: the captions stage's grounding_refs JSON or GVD's flickr30k_cleaned_class.json")
	fs.StringVar(&o.Entities, "entities", "", "instead of --refs: a Flickr30k Entities folder (Sentences/, Annotations/); needs --classes, --split-file, --split")
	fs.StringVar(&o.Classes, "classes", "", "class list, one class per line (GVD's flickr30k_class_name.txt)")
	fs.StringVar(&o.SplitFile, "split-file", "", "split ids (GVD's split_ids_flickr30k_entities.json)")
	fs.StringVar(&o.Split, "split", "", "split of --split-file to evaluate (e.g. val, test)")
	fs.BoolVar(&o.UnionBoxes, "union-boxes", false, "with --entities: one union box per chain instead of all its boxes")
	fs.StringVar(&o.Preds, "preds", "", "GVD grounding submission {\"results\": {id: [{clss, idx_in_sent, bbox}]}} (required)")
	fs.Var(&o.Modes, "mode", "F1 mode: all, loc or both")
	fs.BoolVar(&o.Attention, "attention", false, "ground-truth-caption mode: attention accuracy (five entries per image, one per caption, matched by idx_in_sent);\nwithout it, one entry per image (generated captions)")
	fs.StringVar(&o.Out, "out", "", "write the results as JSON to this file")
}

// ScoreGrounding returns 'groundcap score-grounding', which prints its results on stdout and
// notes on ignored images on stderr.
func ScoreGrounding(stdout, stderr io.Writer) *Command {
	var opts scoreGroundingOptions
	return &Command{
		Name:  "score-grounding",
		Short: "score grounding with GVD's F1_all / F1_loc or attention accuracy (Flickr30k Entities)",
		Usage: "groundcap score-grounding (--refs R.json | --entities DIR --classes C.txt) [--split-file F --split S] --preds SUB.json [--mode all|loc|both] [--attention] [--out g.json]",
		Long: "Computes eval_grd_flickr30k_entities.py's metrics: precision, recall and F1 of grounded object words\n" +
			"in generated captions (--mode), or with --attention the localisation accuracy on ground-truth captions.\n" +
			"Lemmas come from a rule-based noun lemmatiser instead of CoreNLP (see eval/grounding).",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, args []string) error {
			switch {
			case opts.Preds == "":
				return UsageError{"--preds is required"}
			case (opts.Refs == "") == (opts.Entities == ""):
				return UsageError{"give exactly one of --refs and --entities"}
			case opts.Entities != "" && (opts.Classes == "" || opts.SplitFile == "" || opts.Split == ""):
				return UsageError{"--entities needs --classes, --split-file and --split"}
			case (opts.SplitFile == "") != (opts.Split == ""):
				return UsageError{"--split-file and --split go together"}
			case len(args) > 0:
				return UsageError{fmt.Sprintf("unexpected arguments %q", args)}
			}
			return runScoreGrounding(ctx, opts, stdout, stderr)
		},
	}
}

func runScoreGrounding(ctx context.Context, opts scoreGroundingOptions, stdout, stderr io.Writer) error {
	var ids []int64
	if opts.SplitFile != "" {
		var err error
		if ids, err = grounding.ReadSplitIDs(opts.SplitFile, opts.Split); err != nil {
			return err
		}
	}
	var refs *grounding.References
	var err error
	if opts.Entities != "" {
		classes, err := grounding.ReadClassList(opts.Classes)
		if err != nil {
			return err
		}
		refs, err = grounding.ReadEntities(opts.Entities, classes, ids, grounding.EntitiesOptions{UnionBoxes: opts.UnionBoxes})
		if err != nil {
			return err
		}
	} else if refs, err = grounding.ReadReferences(opts.Refs, ids); err != nil {
		return err
	}
	mode := grounding.GeneratedCaptions
	if opts.Attention {
		mode = grounding.GroundTruthCaptions
	}
	sub, err := grounding.ReadSubmission(opts.Preds, mode)
	if err != nil {
		return err
	}
	out := map[string]any{}
	if opts.Attention {
		res, err := grounding.AttentionAccuracy(refs, sub)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "images %d, classes %d, attention accuracy %.4f\n", res.NumImages, len(res.PerClass), res.Accuracy)
		warnIgnored(stderr, res.IgnoredPredictions)
		if err := writeClassTable(stdout, res.PerClass); err != nil {
			return err
		}
		out["attention"] = res
	} else {
		for _, mode := range opts.Modes {
			res, err := grounding.F1(refs, sub, mode, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "mode %s: images %d (%d predicted), classes %d: precision %.4f  recall %.4f  F1_%s %.4f\n",
				mode, res.NumImages, res.NumPredicted, res.NumClasses, res.Precision, res.Recall, mode, res.F1)
			warnIgnored(stderr, res.IgnoredPredictions)
			out[mode.String()] = res
		}
	}
	if opts.Out != "" {
		return writeJSONFile(opts.Out, out)
	}
	return nil
}

func warnIgnored(w io.Writer, ids []int64) {
	if len(ids) > 0 {
		fmt.Fprintf(w, "note: %d submitted image(s) are not in the references and were ignored (as GVD does), e.g. %d\n", len(ids), ids[0])
	}
}

// maxTableRows bounds the per-class table printed on stdout (the JSON has every class).
const maxTableRows = 20

func writeClassTable(w io.Writer, rows []grounding.ClassScore) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "class\twords\taccuracy")
	for i, r := range rows {
		if i == maxTableRows {
			fmt.Fprintf(tw, "… (%d classes)\t\t\n", len(rows))
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4f\n", r.Class, r.NumRecall, r.Recall)
	}
	return tw.Flush()
}
