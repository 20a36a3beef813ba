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

// Defs lists every stage in the order of the chain. Add one line per stage package.
func Defs() []Def {
	return []Def{
		{Name: "synth", Short: "write the synthetic grounded world into the artifact store", Build: func(c *config.Config) (*engine.Stage, error) {
			var p synth.Params
			if err := c.Decode("synth", &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections["synth"]; !ok {
				return nil, nil // real data: no synthetic world
			}
			if p.Seed == 0 {
				p.Seed = c.Seed
			}
			return synth.Stage(p)
		}},
		{Name: "captions", Short: "tokenise, POS-tag and encode captions; vocabulary, CIDEr-D document frequencies, grounding references (Beam)", Build: func(c *config.Config) (*engine.Stage, error) {
			p := captions.Params{}
			if err := c.Decode("captions", &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections["captions"]; !ok {
				return nil, nil
			}
			if p.Seed == 0 {
				p.Seed = c.Seed
			}
			return captions.Stage(p)
		}},
		{Name: "features", Short: "materialise bottom-up region features (TSV, npz) into the sharded Parquet feature store (Beam)", Build: func(c *config.Config) (*engine.Stage, error) {
			p := features.Params{}
			if err := c.Decode("features", &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections["features"]; !ok {
				return nil, nil
			}
			return features.Stage(p)
		}},
		{Name: scan.NamePOS, Short: "train the POS-SCAN matching model (val R@K each epoch, best checkpoint, curve)", Build: func(c *config.Config) (*engine.Stage, error) { return scanDef(c, scan.NamePOS) }},
		{Name: scan.NamePlain, Short: "train plain SCAN (no POS restriction) for comparison with POS-SCAN", Build: func(c *config.Config) (*engine.Stage, error) { return scanDef(c, scan.NamePlain) }},
		{Name: "align", Short: "word-region attention and matching score of every training caption from the matching model (Beam)", Build: func(c *config.Config) (*engine.Stage, error) {
			var p align.Params
			if err := c.Decode("align", &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections["align"]; !ok {
				return nil, nil
			}
			return align.Stage(p)
		}},
		{Name: align.NamePlain, Short: "the same alignments from plain SCAN (teacher scan-plain), for the XE+KL(SCAN) captioner (Beam)", Build: func(c *config.Config) (*engine.Stage, error) {
			p := align.Params{Teacher: scan.NamePlain}
			if err := c.Decode(align.NamePlain, &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections[align.NamePlain]; !ok {
				return nil, nil
			}
			return align.StageNamed(align.NamePlain, p)
		}},
		{Name: scaneval.Name, Short: "attention accuracy and R@K of SCAN vs POS-SCAN against the grounding references, with a random-region baseline", Build: func(c *config.Config) (*engine.Stage, error) {
			var p scaneval.Params
			if err := c.Decode(scaneval.Name, &p); err != nil {
				return nil, err
			}
			if _, ok := c.Sections[scaneval.Name]; !ok {
				return nil, nil
			}
			return scaneval.Stage(p)
		}},
		{Name: captionxe.NameBase, Short: "train the Up-Down captioner with cross-entropy (baseline, no distillation)", Build: func(c *config.Config) (*engine.Stage, error) { return captionXEDef(c, captionxe.NameBase) }},
		{Name: captionxe.NameSCAN, Short: "train the Up-Down captioner with XE + KL(α‖β) distilled from SCAN", Build: func(c *config.Config) (*engine.Stage, error) { return captionXEDef(c, captionxe.NameSCAN) }},
		{Name: captionxe.NamePOSSCAN, Short: "train the Up-Down captioner with XE + KL(α‖β) distilled from POS-SCAN", Build: func(c *config.Config) (*engine.Stage, error) { return captionXEDef(c, captionxe.NamePOSSCAN) }},
		{Name: captionscst.NameBase, Short: "self-critical training of caption-xe (reward CIDEr-D + POS-SCAN score)", Build: func(c *config.Config) (*engine.Stage, error) { return captionSCSTDef(c, captionscst.NameBase) }},
		{Name: captionscst.NameSCAN, Short: "self-critical training of caption-xe-scan (reward CIDEr-D + SCAN score)", Build: func(c *config.Config) (*engine.Stage, error) { return captionSCSTDef(c, captionscst.NameSCAN) }},
		{Name: captionscst.NamePOSSCAN, Short: "self-critical training of caption-xe-posscan (reward CIDEr-D + POS-SCAN score)", Build: func(c *config.Config) (*engine.Stage, error) { return captionSCSTDef(c, captionscst.NamePOSSCAN) }},
		evaluateEntry(captionxe.NameBase),
		evaluateEntry(captionxe.NameSCAN),
		evaluateEntry(captionxe.NamePOSSCAN),
		evaluateEntry(captionscst.NameBase),
		evaluateEntry(captionscst.NameSCAN),
		evaluateEntry(captionscst.NamePOSSCAN),
		{Name: report.Name, Short: "the paper-style comparison table of every captioner variant and the matching models (report.md)", Build: reportDef},
	}
}

// scanDef builds the scan or scan-plain stage from its config section (off when absent).
func scanDef(c *config.Config, name string) (*engine.Stage, error) {
	var p scan.Params
	if err := c.Decode(name, &p); err != nil {
		return nil, err
	}
	if _, ok := c.Sections[name]; !ok {
		return nil, nil
	}
	if p.Seed == 0 {
		p.Seed = c.Seed
	}
	return scan.StageNamed(name, p)
}

// captionXEDef builds a caption-xe instance from its config section (off when absent).
func captionXEDef(c *config.Config, name string) (*engine.Stage, error) {
	var p captionxe.Params
	if err := c.Decode(name, &p); err != nil {
		return nil, err
	}
	if _, ok := c.Sections[name]; !ok {
		return nil, nil
	}
	if p.Seed == 0 {
		p.Seed = c.Seed
	}
	return captionxe.Stage(name, p)
}

// captionSCSTDef builds a caption-scst instance from its config section (off when absent).
func captionSCSTDef(c *config.Config, name string) (*engine.Stage, error) {
	var p captionscst.Params
	if err := c.Decode(name, &p); err != nil {
		return nil, err
	}
	if _, ok := c.Sections[name]; !ok {
		return nil, nil
	}
	if p.Seed == 0 {
		p.Seed = c.Seed
	}
	return captionscst.Stage(name, p)
}

// evaluateEntry is the registry entry of the evaluate instance of a captioner stage.
func evaluateEntry(captioner string) Def {
	name := evaluate.NameOf(captioner)
	return Def{Name: name, Short: "decode the test split with " + captioner + ": BLEU, ROUGE-L, CIDEr-D, grounding F1, attention pictures (Beam)",
		Build: func(c *config.Config) (*engine.Stage, error) { return evaluateDef(c, name) }}
}

// evaluateDef builds an evaluate instance from its config section (off when absent).
func evaluateDef(c *config.Config, name string) (*engine.Stage, error) {
	var p evaluate.Params
	if err := c.Decode(name, &p); err != nil {
		return nil, err
	}
	if _, ok := c.Sections[name]; !ok {
		return nil, nil
	}
	return evaluate.Stage(name, p)
}

// reportDef builds the report stage from its config section (off when absent).
func reportDef(c *config.Config) (*engine.Stage, error) {
	var p report.Params
	if err := c.Decode(report.Name, &p); err != nil {
		return nil, err
	}
	if _, ok := c.Sections[report.Name]; !ok {
		return nil, nil
	}
	return report.Stage(p)
}
