package pipelines

import (
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/align"
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

// Defs lists every stage in the order of the chain. Add one line per stage (instance).
func Defs() []Def {
	return []Def{
		stageDef("synth", "write the synthetic grounded world into the artifact store",
			synth.Params{}, func(p *synth.Params) *int64 { return &p.Seed }, unnamed(synth.Stage)),
		stageDef("captions", "tokenise, POS-tag and encode captions; vocabulary, CIDEr-D document frequencies, grounding references (Beam)",
			captions.Params{}, func(p *captions.Params) *int64 { return &p.Seed }, unnamed(captions.Stage)),
		stageDef("features", "materialise bottom-up region features (TSV, npz) into the sharded Parquet feature store (Beam)",
			features.Params{}, nil, unnamed(features.Stage)),
		stageDef(scan.NamePOS, "train the POS-SCAN matching model (val R@K each epoch, best checkpoint, curve)",
			scan.Params{}, scanSeed, scan.StageNamed),
		stageDef(scan.NamePlain, "train plain SCAN (no POS restriction) for comparison with POS-SCAN",
			scan.Params{}, scanSeed, scan.StageNamed),
		stageDef(align.Name, "word-region attention and matching score of every training caption from the matching model (Beam)",
			align.Params{}, nil, align.StageNamed),
		stageDef(align.NamePlain, "the same alignments from plain SCAN (teacher scan-plain), for the XE+KL(SCAN) captioner (Beam)",
			align.Params{Teacher: scan.NamePlain}, nil, align.StageNamed),
		stageDef(scaneval.Name, "attention accuracy and R@K of SCAN vs POS-SCAN against the grounding references, with a random-region baseline",
			scaneval.Params{}, nil, unnamed(scaneval.Stage)),
		stageDef(captionxe.NameBase, "train the Up-Down captioner with cross-entropy (baseline, no distillation)",
			captionxe.Params{}, xeSeed, captionxe.Stage),
		stageDef(captionxe.NameSCAN, "train the Up-Down captioner with XE + KL(α‖β) distilled from SCAN",
			captionxe.Params{}, xeSeed, captionxe.Stage),
		stageDef(captionxe.NamePOSSCAN, "train the Up-Down captioner with XE + KL(α‖β) distilled from POS-SCAN",
			captionxe.Params{}, xeSeed, captionxe.Stage),
		stageDef(captionscst.NameBase, "self-critical training of caption-xe (reward CIDEr-D + POS-SCAN score)",
			captionscst.Params{}, scstSeed, captionscst.Stage),
		stageDef(captionscst.NameSCAN, "self-critical training of caption-xe-scan (reward CIDEr-D + SCAN score)",
			captionscst.Params{}, scstSeed, captionscst.Stage),
		stageDef(captionscst.NamePOSSCAN, "self-critical training of caption-xe-posscan (reward CIDEr-D + POS-SCAN score)",
			captionscst.Params{}, scstSeed, captionscst.Stage),
		evaluateDef(captionxe.NameBase),
		evaluateDef(captionxe.NameSCAN),
		evaluateDef(captionxe.NamePOSSCAN),
		evaluateDef(captionscst.NameBase),
		evaluateDef(captionscst.NameSCAN),
		evaluateDef(captionscst.NamePOSSCAN),
		stageDef(report.Name, "the paper-style comparison table of every captioner variant and the matching models (report.md)",
			report.Params{}, nil, unnamed(report.Stage)),
	}
}

// stageDef makes the registry entry of a stage whose parameters decode from the config section
// called name, starting from defaults. The stage is off when the config has no such section. seed,
// when not nil, points at the parameter that takes the experiment seed when the section leaves it 0.
func stageDef[P any](name, short string, defaults P, seed func(*P) *int64, build func(name string, p P) (*engine.Stage, error)) Def {
	return Def{Name: name, Short: short, Build: func(c *config.Config) (*engine.Stage, error) {
		if _, ok := c.Sections[name]; !ok {
			return nil, nil
		}
		p := defaults
		if err := c.Decode(name, &p); err != nil {
			return nil, err
		}
		if seed != nil {
			if s := seed(&p); *s == 0 {
				*s = c.Seed
			}
		}
		return build(name, p)
	}}
}

// unnamed adapts the constructor of a stage that has a single instance (its name is fixed).
func unnamed[P any](f func(P) (*engine.Stage, error)) func(string, P) (*engine.Stage, error) {
	return func(_ string, p P) (*engine.Stage, error) { return f(p) }
}

func scanSeed(p *scan.Params) *int64        { return &p.Seed }
func xeSeed(p *captionxe.Params) *int64     { return &p.Seed }
func scstSeed(p *captionscst.Params) *int64 { return &p.Seed }

// evaluateDef is the registry entry of the evaluate instance of a captioner stage.
func evaluateDef(captioner string) Def {
	return stageDef(evaluate.NameOf(captioner),
		"decode the test split with "+captioner+": BLEU, ROUGE-L, CIDEr-D, grounding F1, attention pictures (Beam)",
		evaluate.Params{}, nil, evaluate.Stage)
}
