// Package models owns the checkpoints the training stages publish and others read: the matching
// models' (stages scan and scan-plain) and the captioners'. It names their files, the teachers
// (a matching model named by the stage that trains it) and the captioner stages; it loads a
// matching model and says how the model reads a caption (Text, carried in its checkpoint).
package models

import (
	"fmt"
)

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

// Teacher names a matching model by the stage that trains it, or None.
type Teacher string

// Teachers.
const (
	// None is no matching model.
	None Teacher = "none"
	// POSSCAN is POS-SCAN, trained by the stage scan.
	POSSCAN Teacher = "scan"
	// SCAN is plain SCAN, trained by the stage scan-plain.
	SCAN Teacher = "scan-plain"
)

// UnmarshalText parses scan, scan-plain or none.
func (t *Teacher) UnmarshalText(b []byte) error {
	switch v := Teacher(b); v {
	case None, POSSCAN, SCAN:
		*t = v
		return nil
	}
	return fmt.Errorf("models: unknown matching model %q (want scan, scan-plain or none)", b)
}

// MarshalText returns the name.
func (t Teacher) MarshalText() ([]byte, error) { return []byte(t), nil }

// Valid reports whether t is POSSCAN or SCAN, or None when none is allowed.
func (t Teacher) Valid(none bool) bool {
	return t == POSSCAN || t == SCAN || none && t == None
}

// Model returns the input reference of the teacher's best model ("@scan/model.ckpt").
func (t Teacher) Model() string { return "@" + string(t) + "/" + MatchingFile }

// Captioner stages: the cross-entropy instances (without a teacher, distilled from SCAN, from
// POS-SCAN) and the self-critical ones that start from them (reward CIDEr-D and a matching
// score, or CIDEr-D alone).
const (
	CaptionXE        = "caption-xe"
	CaptionXESCAN    = "caption-xe-scan"
	CaptionXEPOSSCAN = "caption-xe-posscan"

	CaptionSCST        = "caption-scst"
	CaptionSCSTSCAN    = "caption-scst-scan"
	CaptionSCSTPOSSCAN = "caption-scst-posscan"

	CaptionSCSTCIDEr        = "caption-scst-cider"
	CaptionSCSTCIDErSCAN    = "caption-scst-cider-scan"
	CaptionSCSTCIDErPOSSCAN = "caption-scst-cider-posscan"
)

// XECaptioners lists the cross-entropy captioner stages, in chain order.
func XECaptioners() []string { return []string{CaptionXE, CaptionXESCAN, CaptionXEPOSSCAN} }

// SCSTCaptioners lists the self-critical captioner stages, in chain order.
func SCSTCaptioners() []string {
	return []string{CaptionSCST, CaptionSCSTSCAN, CaptionSCSTPOSSCAN, CaptionSCSTCIDEr, CaptionSCSTCIDErSCAN, CaptionSCSTCIDErPOSSCAN}
}

// Captioners lists every captioner stage, in chain order.
func Captioners() []string { return append(XECaptioners(), SCSTCaptioners()...) }
