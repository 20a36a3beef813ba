package pipelines

import (
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/features"
	"github.com/groundcap/groundcap/pipelines/report"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scaneval"
	"github.com/groundcap/groundcap/pipelines/synth"
)

// Defs lists every stage in the order of the chain: one line per stage (instance), and the
// captioner stages (models.XECaptioners, models.SCSTCaptioners) and their evaluate instances
// from the lists that name them.
func Defs() []Def {
	defs := []Def{
		stageDef("synth", "write the synthetic grounded world into the artifact store",
			defaults(synth.DefaultParams), func(p *synth.Params, s int64) { p.Seed = s }, unnamed(synth.Stage)),
		stageDef("captions", "tokenise, POS-tag and encode captions; vocabulary, CIDEr-D document frequencies, grounding references (Beam)",
			defaults(captions.DefaultParams), func(p *captions.Params, s int64) { p.Seed = s }, unnamed(captions.Stage)),
		stageDef("features", "materialise bottom-up region features (TSV, npz) into the sharded Parquet feature store (Beam)",
			defaults(features.DefaultParams), nil, unnamed(features.Stage)),
		stageDef(scan.NamePOS, "train the POS-SCAN matching model (val R@K each epoch, best checkpoint, curve)",
			scan.DefaultParams, scanSeed, scan.StageNamed),
		stageDef(scan.NamePlain, "train plain SCAN (no POS restriction) for comparison with POS-SCAN",
			scan.DefaultParams, scanSeed, scan.StageNamed),
		stageDef(align.Name, "word-region attention and matching score of every training caption from the matching model (Beam)",
			align.DefaultParams, nil, align.StageNamed),
		stageDef(align.NamePlain, "the same alignments from plain SCAN (teacher scan-plain), for the XE+KL(SCAN) captioner (Beam)",
			align.DefaultParams, nil, align.StageNamed),
		stageDef(scanevalresults.Name, "attention accuracy and R@K of SCAN vs POS-SCAN against the grounding references, with a random-region baseline",
			defaults(scaneval.DefaultParams), nil, unnamed(scaneval.Stage)),
	}
	for _, c := range models.XECaptioners() {
		defs = append(defs, stageDef(c, models.Short(c), captionxe.DefaultParams, xeSeed, captionxe.Stage))
	}
	for _, c := range models.SCSTCaptioners() {
		defs = append(defs, stageDef(c, models.Short(c), captionscst.DefaultParams, scstSeed, captionscst.Stage))
	}
	for _, c := range models.Captioners() {
		defs = append(defs, evaluateDef(c))
	}
	return append(defs, reportDef())
}

// stageDef makes the registry entry of a stage whose parameters decode from the config section
// called name over the defaults of the instance. The stage is off when the config has no such
// section. seed, when not nil, sets the parameter that takes the experiment seed unless the
// section gives its own.
func stageDef[P any](name, short string, defaults func(name string) P, seed func(p *P, seed int64), build func(name string, p P) (*engine.Stage, error)) Def {
	return Def{Name: name, Short: short,
		Params: func(c *config.Config) (any, error) {
			if _, ok := c.Sections[name]; !ok {
				return nil, nil
			}
			p := defaults(name)
			if seed != nil {
				seed(&p, c.Seed)
			}
			if err := c.Decode(name, &p); err != nil {
				return nil, err
			}
			return p, nil
		},
		Stage: func(p any) (*engine.Stage, error) { return build(name, p.(P)) },
	}
}

// defaults adapts the defaults of a stage that has a single instance (its name is fixed).
func defaults[P any](f func() P) func(string) P {
	return func(string) P { return f() }
}

// unnamed adapts the constructor of a stage that has a single instance.
func unnamed[P any](f func(P) (*engine.Stage, error)) func(string, P) (*engine.Stage, error) {
	return func(_ string, p P) (*engine.Stage, error) { return f(p) }
}

func scanSeed(p *scan.Params, s int64)        { p.Seed = uint64(s) }
func xeSeed(p *captionxe.Params, s int64)     { p.XEConfig.Seed = uint64(s) }
func scstSeed(p *captionscst.Params, s int64) { p.SCSTConfig.Seed = uint64(s) }

// evaluateDef is the registry entry of the evaluate instance of a captioner stage.
func evaluateDef(captioner string) Def {
	return stageDef(evalresults.NameOf(captioner),
		"decode the test split with "+captioner+": BLEU, ROUGE-L, CIDEr-D, grounding F1, attention pictures (Beam)",
		evaluate.DefaultParams, nil, evaluate.Stage)
}

// reportDef is the report's registry entry: its default rows, pairs and curves are those of the
// stages the config has (report.DefaultParamsFor), so that a config without, say, the
// CIDEr-D-only SCST stages gets a report of the others.
func reportDef() Def {
	d := stageDef(report.Name, "the paper-style comparison table of every captioner variant and the matching models (report.md)",
		defaults(report.DefaultParams), nil, unnamed(report.Stage))
	d.Params = func(c *config.Config) (any, error) {
		if _, ok := c.Sections[report.Name]; !ok {
			return nil, nil
		}
		p := report.DefaultParamsFor(func(stage string) bool { _, ok := c.Sections[stage]; return ok })
		if err := c.Decode(report.Name, &p); err != nil {
			return nil, err
		}
		return p, nil
	}
	return d
}

// checkShards fails when the captions and features stages would shard differently: later stages
// read a shard's captions and features side by side (internal/shard numbers both).
func checkShards(c *config.Config, params map[string]any) error {
	cp, ok1 := params["captions"].(captions.Params)
	fp, ok2 := params["features"].(features.Params)
	if !ok1 || !ok2 || cp.NumShards == fp.NumShards {
		return nil
	}
	return c.Locate("features", config.Invalid("num_shards", fp.NumShards,
		fmt.Sprintf("%d, captions.num_shards: later stages read the captions and features of a shard side by side", cp.NumShards)))
}
