// Package rejects defines the dead-letter rows of groundcap's stages and the rule that counts
// reconcile: every record read is either written or rejected, and a stage fails when more than
// its max_reject_fraction of records were rejected.
package rejects

import "fmt"

// Reject is one rejected record: where it came from and why.
type Reject struct {
	Source  string `parquet:"source" json:"source"`     // input file (location)
	Record  string `parquet:"record" json:"record"`     // line number, record index or byte offset, as text
	ImageID int64  `parquet:"image_id" json:"image_id"` // 0 when unknown
	Reason  string `parquet:"reason" json:"reason"`
}

// Check verifies read = written + rejected and that rejected/read does not exceed maxFraction.
// what names the records ("captions", "feature rows").
func Check(what string, read, written, rejected int64, maxFraction float64) error {
	if read != written+rejected {
		return fmt.Errorf("rejects: %s do not reconcile: read %d, written %d, rejected %d", what, read, written, rejected)
	}
	if read > 0 && float64(rejected) > maxFraction*float64(read) {
		return fmt.Errorf("rejects: %d of %d %s rejected (%.4f%%), more than max_reject_fraction %g; see the rejects table",
			rejected, read, what, 100*float64(rejected)/float64(read), maxFraction)
	}
	return nil
}
