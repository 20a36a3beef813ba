// Package models owns the checkpoints the training stages publish and others read: the matching
// models' (stages scan and scan-plain) and the captioners'. It names their files, the teachers
// (a matching model named by the stage that trains it, or the ground-truth boxes) and the
// captioner stages; it loads a matching model and says how the model reads a caption (Text,
// carried in its checkpoint).
package models

import "github.com/groundcap/groundcap/internal/config"

// File names of the checkpoints in a stage's output.
const (
	// MatchingFile is a matching-model stage's best model (by val rsum).
	MatchingFile = "model.ckpt"
	// BestFile is a captioner stage's best model (by val CIDEr-D).
	BestFile = "best.ckpt"
	// LastFile is a training stage's last state (weights and Adam moments): a captioner's
	// self-critical stage starts from the cross-entropy stage's.
	LastFile = "last.ckpt"
	// MatchingCurveFile is a matching-model stage's training curve.
	MatchingCurveFile = "curve.png"
	// CurvesFile is a captioner stage's training curves.
	CurvesFile = "curves.png"
)

// Teacher names the source of the attention a captioner is supervised with: a matching model by
// the stage that trains it, the ground-truth boxes (GT), or None.
type Teacher string

// Teachers.
const (
	// None is no matching model.
	None Teacher = "none"
	// POSSCAN is POS-SCAN, trained by the stage scan.
	POSSCAN Teacher = "scan"
	// SCAN is plain SCAN, trained by the stage scan-plain.
	SCAN Teacher = "scan-plain"
	// GT is no matching model: the attention given by the Flickr30k Entities boxes of the
	// captions' annotated words (the original's use_gt_box rows). Only the captioners' cross-entropy
	// stages take it; every stage that runs a matching model rejects it (Valid).
	GT Teacher = "gt"
)

// UnmarshalText parses scan, scan-plain, gt or none.
func (t *Teacher) UnmarshalText(b []byte) error {
	return config.ParseEnum(t, b, "models: unknown teacher", POSSCAN, SCAN, GT, None)
}

// MarshalText returns the name.
func (t Teacher) MarshalText() ([]byte, error) { return []byte(t), nil }

// Valid reports whether t is a matching model (POSSCAN or SCAN), or None when none is allowed;
// GT is not a matching model.
func (t Teacher) Valid(none bool) bool {
	return t == POSSCAN || t == SCAN || none && t == None
}

// Model returns the input reference of the teacher's best model ("@scan/model.ckpt").
func (t Teacher) Model() string { return "@" + string(t) + "/" + MatchingFile }

// Captioner stages: the cross-entropy instances (without a teacher, distilled from SCAN, from
// POS-SCAN, supervised with the ground-truth boxes) and the self-critical ones that start from
// them (reward CIDEr-D and a matching score, or CIDEr-D alone).
const (
	CaptionXE        = "caption-xe"
	CaptionXESCAN    = "caption-xe-scan"
	CaptionXEPOSSCAN = "caption-xe-posscan"
	CaptionXEGT      = "caption-xe-gt"

	CaptionSCST        = "caption-scst"
	CaptionSCSTSCAN    = "caption-scst-scan"
	CaptionSCSTPOSSCAN = "caption-scst-posscan"

	CaptionSCSTCIDEr        = "caption-scst-cider"
	CaptionSCSTCIDErSCAN    = "caption-scst-cider-scan"
	CaptionSCSTCIDErPOSSCAN = "caption-scst-cider-posscan"

	CaptionSCSTGT      = "caption-scst-gt"
	CaptionSCSTCIDErGT = "caption-scst-cider-gt"
)

// captioner is a captioner stage and its one line of help.
type captioner struct{ name, short string }

// xeCaptioners and scstCaptioners are the captioner stages in chain order.
var (
	xeCaptioners = []captioner{
		{CaptionXE, "train the Up-Down captioner with cross-entropy (baseline, no distillation)"},
		{CaptionXESCAN, "train the Up-Down captioner with XE + KL(α‖β) distilled from SCAN"},
		{CaptionXEPOSSCAN, "train the Up-Down captioner with XE + KL(α‖β) distilled from POS-SCAN"},
		{CaptionXEGT, "train the Up-Down captioner with XE + KL(α‖β), α from the Entities boxes (ground-truth supervision, optional)"},
	}
	scstCaptioners = []captioner{
		{CaptionSCST, "self-critical training of caption-xe (reward CIDEr-D + POS-SCAN score)"},
		{CaptionSCSTSCAN, "self-critical training of caption-xe-scan (reward CIDEr-D + SCAN score)"},
		{CaptionSCSTPOSSCAN, "self-critical training of caption-xe-posscan (reward CIDEr-D + POS-SCAN score)"},
		{CaptionSCSTCIDEr, "self-critical training of caption-xe (reward CIDEr-D alone)"},
		{CaptionSCSTCIDErSCAN, "self-critical training of caption-xe-scan (reward CIDEr-D alone)"},
		{CaptionSCSTCIDErPOSSCAN, "self-critical training of caption-xe-posscan (reward CIDEr-D alone)"},
		{CaptionSCSTGT, "self-critical training of caption-xe-gt (reward CIDEr-D + POS-SCAN score; optional)"},
		{CaptionSCSTCIDErGT, "self-critical training of caption-xe-gt (reward CIDEr-D alone; optional)"},
	}
)

func names(cs []captioner) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// XECaptioners lists the cross-entropy captioner stages, in chain order.
func XECaptioners() []string { return names(xeCaptioners) }

// SCSTCaptioners lists the self-critical captioner stages, in chain order.
func SCSTCaptioners() []string { return names(scstCaptioners) }

// Captioners lists every captioner stage, in chain order.
func Captioners() []string { return append(XECaptioners(), SCSTCaptioners()...) }

// Short returns the one line of help of a captioner stage (what it trains and from what), or ""
// for a name that is none.
func Short(stage string) string {
	for _, cs := range [][]captioner{xeCaptioners, scstCaptioners} {
		for _, c := range cs {
			if c.name == stage {
				return c.short
			}
		}
	}
	return ""
}
