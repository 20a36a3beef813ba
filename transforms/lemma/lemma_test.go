package lemma

import "testing"

func TestMatch(t *testing.T) {
	// A few entries of GVD's class list (fixtures gvd/flickr30k_class_name.txt), chosen for their forms.
	c := NewClasses([]string{"man", "person", "dog", "puppy", "horse", "bus", "glass", "sunglass", "outfits", "graffitus", "knife", "jeans", "box"})
	for i, tc := range []struct {
		word, class string
		ok          bool
	}{
		{"man", "man", true},             // 0
		{"men", "man", true},             // 1: irregular
		{"people", "person", true},       // 2
		{"puppies", "puppy", true},       // 3: -ies
		{"horses", "horse", true},        // 4: -s after a failed -es candidate
		{"buses", "bus", true},           // 5: -es
		{"bus", "bus", true},             // 6
		{"glasses", "glass", true},       // 7
		{"sunglasses", "sunglass", true}, // 8
		{"outfit", "outfits", true},      // 9: plural class
		{"outfits", "outfits", true},     // 10
		{"graffiti", "graffitus", true},  // 11
		{"knives", "knife", true},        // 12: -ves
		{"jeans", "jeans", true},         // 13
		{"boxes", "box", true},           // 14
		{"cat", "", false},               // 15
		{"is", "", false},                // 16
		{"", "", false},                  // 17
	} {
		got, ok := c.Match(tc.word)
		if got != tc.class || ok != tc.ok {
			t.Errorf("%d: Match(%q) = %q, %v; want %q, %v", i, tc.word, got, ok, tc.class, tc.ok)
		}
	}
	var nilC *Classes
	if _, ok := nilC.Match("man"); ok {
		t.Error("nil Classes matched")
	}
}
