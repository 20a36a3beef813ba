// Package captionscst is the self-critical (SCST) stage of the Up-Down captioner: it starts from
// an XE stage's last checkpoint (weights and Adam moments), and per image draws multinomial
// samples against a greedy baseline, with the reward r = w_cider·CIDEr-D(sample; the captions
// stage's train document frequencies) + w_match·S(I, sample), S the matching model's score
// computed in-process (the sampled words POS-tagged with transforms/postag for POS-SCAN's noun
// mask). The val score after every epoch (selection, as in caption-xe) keeps the best model; as
// in the original, the XE model's best score is carried in (carry_best): its best.ckpt, scored
// on val before training, stays best.ckpt unless an SCST epoch scores higher.
//
// # Instances
//
// One package, eight stages with their own config sections:
//
//   - caption-scst: from caption-xe (the Up-Down baseline), POS-SCAN's score as the matching
//     reward;
//   - caption-scst-scan: from caption-xe-scan, SCAN's score as the matching reward;
//   - caption-scst-posscan: from caption-xe-posscan, POS-SCAN's score as the matching reward:
//     the paper's best model (KL(POS-SCAN) + SCST with CIDEr-D and the matching score; the
//     original's reward code loads its POS-SCAN checkpoint);
//   - caption-scst-cider, caption-scst-cider-scan, caption-scst-cider-posscan: from caption-xe,
//     caption-xe-scan and caption-xe-posscan with CIDEr-D alone as the reward (matcher none),
//     the paper's "+ SCST" rows;
//   - caption-scst-gt, caption-scst-cider-gt (optional): from caption-xe-gt (attention
//     supervised with the ground-truth boxes), with CIDEr-D + POS-SCAN's score and with
//     CIDEr-D alone: the paper's "XE + 0.1NLL(GT) + SCST(CIDEr+POS-SCAN)" and
//     "+ SCST(CIDEr)" rows of Table 2.
//
// Any instance's matcher can be set; matcher: none gives CIDEr-D SCST.
//
// # Outputs
//
// best.ckpt, last.ckpt, history.json, metrics.json (Metrics) and curves.png, as caption-xe
// writes them (captioning.Run, on pipelines/trainrun: the same work directory and resume).
package captionscst

import (
	"strings"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/training/updown"
)

// From returns the XE stage an instance starts from.
func From(name string) string {
	switch name {
	case models.CaptionSCSTSCAN, models.CaptionSCSTCIDErSCAN:
		return models.CaptionXESCAN
	case models.CaptionSCSTPOSSCAN, models.CaptionSCSTCIDErPOSSCAN:
		return models.CaptionXEPOSSCAN
	case models.CaptionSCSTGT, models.CaptionSCSTCIDErGT:
		return models.CaptionXEGT
	}
	return models.CaptionXE
}

// DefaultMatcher returns the matching model of an instance's reward (none: CIDEr-D alone).
func DefaultMatcher(name string) models.Teacher {
	switch name {
	case models.CaptionSCSTSCAN:
		return models.SCAN
	case models.CaptionSCSTCIDEr, models.CaptionSCSTCIDErSCAN, models.CaptionSCSTCIDErPOSSCAN, models.CaptionSCSTCIDErGT:
		return models.None
	}
	return models.POSSCAN
}

// Params configure a caption-scst stage instance (config sections caption-scst,
// caption-scst-scan, caption-scst-posscan); DefaultParams gives the defaults, the original
// code's. The training configuration is embedded (updown.SCSTConfig).
type Params struct {
	// Init is the starting checkpoint ("@<XE instance>/last.ckpt": caption-xe for caption-scst
	// and caption-scst-cider, caption-xe-scan for the -scan instances, caption-xe-posscan for
	// the -posscan ones, caption-xe-gt for the -gt ones). The architecture comes from it.
	Init string `yaml:"init" key:"-"`
	// CarryBest carries the XE model's best val score into SCST, as the original carries
	// best_val_score in its infos: InitBest is scored on val (Settings.Selection) and stays
	// best.ckpt unless an SCST epoch scores higher. False: best.ckpt is SCST's best epoch.
	CarryBest bool `yaml:"carry_best"`
	// InitBest is the XE model whose score is carried ("": best.ckpt beside init when init is
	// a stage's last.ckpt, "@<stage>/last.ckpt").
	InitBest string `yaml:"init_best" key:"-"`
	// Settings are every captioner's inputs, splits, backend and cache.
	captioning.Settings `yaml:",inline"`

	// Matcher is the matching model of the reward: scan (POS-SCAN), scan-plain (SCAN) or none
	// (scan-plain for caption-scst-scan, none for the caption-scst-cider instances, scan
	// otherwise); none sets w_match to 0.
	Matcher models.Teacher `yaml:"matcher"`
	// MatcherModel is its checkpoint ("": "@<matcher>/model.ckpt").
	MatcherModel string `yaml:"matcher_model" key:"-"`

	// SCSTConfig is the training (batches of 29 images, 80 epochs, lr 5e-5, 5 samples per image of at most 20 words,
	// reward 1·CIDEr-D + 1·S, w_match 0 switching the matcher off) and its seed.
	updown.SCSTConfig `yaml:",inline"`

	// TrainImages keeps the first so many training images by id (0: all).
	TrainImages int `yaml:"train_images" check:"≥ 0; 0: all"`
}

// DefaultParams returns the defaults of the named instance.
func DefaultParams(name string) Params {
	return Params{Init: "@" + From(name) + "/" + models.LastFile, CarryBest: true, Settings: captioning.DefaultSettings(), Matcher: DefaultMatcher(name),
		SCSTConfig: updown.DefaultSCSTConfig()}
}

// resolve settles what depends on other keys: w_match 0 and matcher none mean each other, and
// the matcher's checkpoint defaults to its best model.
func (p Params) resolve() Params {
	if !p.CarryBest {
		p.InitBest = ""
	} else if dir, ok := strings.CutSuffix(p.Init, "/"+models.LastFile); p.InitBest == "" && ok && strings.HasPrefix(dir, "@") {
		p.InitBest = dir + "/" + models.BestFile
	}
	if p.WMatch == 0 {
		p.Matcher = models.None
	}
	if p.Matcher == models.None {
		p.MatcherModel, p.WMatch = "", 0
	} else if p.MatcherModel == "" {
		p.MatcherModel = p.Matcher.Model()
	}
	return p
}

// validate reports the first bad field of resolved parameters: a *config.FieldError by its key
// (bounds: the check tags, those of Settings and SCSTConfig).
func (p Params) validate() error {
	switch {
	case !p.Matcher.Valid(true):
		return config.Invalid("matcher", p.Matcher, "scan, scan-plain or none")
	case p.WCider == 0 && p.WMatch == 0:
		return config.Invalid("w_cider", p.WCider, "> 0 when w_match is 0 or matcher none (the reward would be 0)")
	case p.CarryBest && p.InitBest == "":
		return config.Invalid("init_best", p.InitBest, "the XE model whose val score is carried (needed with carry_best when init is not a stage's "+models.LastFile+")")
	}
	return config.Check(p)
}
