package features

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
)

// TestClassifyRejectsEveryDataError checks that each error the features package classifies a
// bad record with (the 14 the stage once listed by hand, and duplicate ids) makes a rejects
// row's reason when a decoder wraps it, and that other errors fail the stage naming the source.
func TestClassifyRejectsEveryDataError(t *testing.T) {
	for i, e := range []error{feat.ErrFields, feat.ErrImageID, feat.ErrNumber, feat.ErrBase64, feat.ErrLength,
		feat.ErrNumBoxes, feat.ErrDim, feat.ErrNonFinite, feat.ErrBox, feat.ErrMissingKey, feat.ErrMissingFile,
		feat.ErrNPY, feat.ErrFloat16Range, feat.ErrTooLarge, feat.ErrDuplicate} {
		err := fmt.Errorf("record 12: %w: detail", e)
		rej, fatal := classify("src.tsv", err)
		if fatal != nil || rej != err.Error() {
			t.Errorf("%d: classify(%v) = %q, %v; want the reject reason %q", i, err, rej, fatal, err.Error())
		}
	}
	for i, e := range []error{errors.New("connection reset"), fmt.Errorf("read: %w", fs.ErrPermission),
		&blobio.StoreError{Op: "read", Loc: "file:///x", Err: errors.New("EIO")}} {
		rej, fatal := classify("src.tsv", e)
		if rej != "" || !errors.Is(fatal, e) || !strings.HasPrefix(fatal.Error(), "features: src.tsv: ") {
			t.Errorf("%d: classify(%v) = %q, %v; want a stage failure naming src.tsv", i, e, rej, fatal)
		}
	}
	if rej, fatal := classify("src.tsv", nil); rej != "" || fatal != nil {
		t.Errorf("classify(nil) = %q, %v", rej, fatal)
	}
}
