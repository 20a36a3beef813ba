package vocab

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestBuildMatching(t *testing.T) {
	// Counts chosen around both thresholds: "dog" 4 (matching keeps: ≥ 4; captioner drops: ≤ 5),
	// "man" 6 (both keep), "cat" 3 (both drop), "." 9 (matching only: the captioner's tokens have
	// no punctuation).
	c := Counts{Words: map[string]int64{"dog": 4, "man": 6, "cat": 3, ".": 9}}
	m := BuildMatching(c, DefaultMatchingThreshold)
	want := []string{Pad, Start, End, Unk, ".", "dog", "man"}
	if !slices.Equal(m.IxToWord, want) {
		t.Fatalf("words %q, want %q", m.IxToWord, want)
	}
	capv := Build(c, 5)
	if capv.Known("dog") || !m.Known("dog") {
		t.Errorf("dog (4 counts): captioner known %v, matching known %v; want false, true", capv.Known("dog"), m.Known("dog"))
	}
	if m.Known("cat") || m.ID("cat") != UnkID || m.Known(Start) {
		t.Errorf("cat or <start> known, or cat not <unk>")
	}
	ids, mask := m.EncodeCaption([]string{"a", "man", "."}, []bool{false, true, false}, nil)
	if want := []int32{StartID, UnkID, m.ID("man"), m.ID("."), EndID}; !slices.Equal(ids, want) {
		t.Errorf("EncodeCaption ids %v, want %v", ids, want)
	}
	if want := []bool{false, false, true, false, false}; !slices.Equal(mask, want) {
		t.Errorf("EncodeCaption mask %v, want %v", mask, want)
	}
	ids, mask = m.EncodeSentence([]string{"dog", "UNK"}, []bool{true, false}, nil)
	if want := []int32{StartID, m.ID("dog"), UnkID, m.ID("."), EndID}; !slices.Equal(ids, want) {
		t.Errorf("EncodeSentence ids %v, want %v", ids, want)
	}
	if want := []bool{false, true, false, false, false}; !slices.Equal(mask, want) {
		t.Errorf("EncodeSentence mask %v, want %v", mask, want)
	}
	if _, mask := m.EncodeCaption([]string{"man"}, nil, nil); mask != nil {
		t.Errorf("nil nouns gave mask %v", mask)
	}
}

func TestMatchingJSON(t *testing.T) {
	m := BuildMatching(Counts{Words: map[string]int64{"dog": 4, "man": 6}}, 4)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Matching
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.IxToWord, m.IxToWord) || back.Threshold != 4 || back.ID("man") != m.ID("man") {
		t.Errorf("round trip: %+v, want %+v", back, m)
	}
	for i, bad := range []string{
		`{"word2idx": {"<pad>": 0}, "idx": 2}`,                                               // 0 count mismatch
		`{"word2idx": {"<start>": 0, "<pad>": 1, "<end>": 2, "<unk>": 3}, "idx": 4}`,         // 1 specials swapped
		`{"word2idx": {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3, "x": 9}, "idx": 5}`, // 2 id out of range
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%d: %s accepted", i, bad)
		}
	}
}
