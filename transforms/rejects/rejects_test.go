package rejects

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for i, tc := range []struct {
		read, written, rejected int64
		max                     float64
		want                    string // "" = no error
	}{
		{10, 10, 0, 0, ""},                      // 0
		{10, 9, 1, 0.1, ""},                     // 1
		{10, 9, 1, 0, "more than max_reject"},   // 2
		{10, 8, 1, 0.5, "do not reconcile"},     // 3
		{0, 0, 0, 0, ""},                        // 4
		{100, 97, 3, 0.02, "3 of 100 captions"}, // 5
	} {
		err := Check("captions", tc.read, tc.written, tc.rejected, tc.max)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%d: got %v, want %q", i, err, tc.want)
		}
	}
}
