package caption

import (
	"slices"
	"testing"
)

// TestSplitPy checks the byte-level splitter against Python's str.split() (pyFields) and its
// report of whether str.split(" ") gives the same tokens (what ROUGE-L splits on).
func TestSplitPy(t *testing.T) {
	for i, s := range []string{
		"a man rides a horse", // 0 plain
		"",                    // 1 empty: split() is [], split(" ") is [""]
		" a b",                // 2 leading space
		"a b ",                // 3 trailing space
		"a  b",                // 4 double space
		"a\tb",                // 5 tab
		"a\x1cb c",            // 6 ASCII separator Python splits on
		"a\u00a0b c",          // 7 no-break space (non-ASCII white space)
		"caf\u00e9 au lait",   // 8 non-ASCII word, single spaces
		"a\u2003b",            // 9 em space
		"   ",                 // 10 spaces only
		"x",                   // 11 one token
	} {
		got, simple := splitPy(s, nil)
		want := pyFields(s)
		if !slices.Equal(got, want) {
			t.Errorf("%d: splitPy(%q) = %q, want %q", i, s, got, want)
		}
		if wantSimple := rougeSplit(s, want) == nil; simple != wantSimple {
			t.Errorf("%d: splitPy(%q) simple = %v, want %v", i, s, simple, wantSimple)
		}
	}
}
