package postag

import (
	"bufio"
	"encoding/json"
	"github.com/groundcap/groundcap/internal/fixtures"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// fixturesDir returns the shared fixtures directory or skips the test.
func fixturesDir(t *testing.T) string {
	t.Helper()
	return fixtures.Dir(t, "")
}

// TestAgreesWithNLTK checks the tags of 1014 generated Flickr30k captions against the tags
// nltk.pos_tag (NLTK 3.8.1, averaged perceptron) gave them; the issue asks for >= 99.5%.
func TestAgreesWithNLTK(t *testing.T) {
	path := filepath.Join(fixturesDir(t), "pos", "nltk_tagged_captions.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("fixture absent: %v", err)
	}
	defer f.Close()
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tg := New(m)
	sc := bufio.NewScanner(f)
	var total, agree, line int
	var tags []string
	for sc.Scan() {
		line++
		var r struct {
			Tokens   []string `json:"tokens"`
			Tags     []string `json:"tags"`
			NounMask []int    `json:"noun_mask"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		tags = tg.Tag(r.Tokens, tags)
		if len(tags) != len(r.Tokens) {
			t.Fatalf("line %d: %d tags for %d tokens", line, len(tags), len(r.Tokens))
		}
		for i := range tags {
			total++
			if tags[i] == r.Tags[i] {
				agree++
			} else {
				t.Logf("line %d: %q tagged %s, NLTK %s", line, r.Tokens[i], tags[i], r.Tags[i])
			}
			mask := IsNoun(tags[i]) && r.Tokens[i] != "unk"
			if tags[i] == r.Tags[i] && mask != (r.NounMask[i] == 1) {
				t.Errorf("line %d token %d: noun mask %v, fixture %d", line, i, mask, r.NounMask[i])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if line != 1014 {
		t.Fatalf("read %d captions, the fixture has 1014", line)
	}
	rate := float64(agree) / float64(total)
	t.Logf("agreement with NLTK: %d/%d = %.4f", agree, total, rate)
	if rate < 0.995 {
		t.Errorf("agreement %.4f < 0.995", rate)
	}
}

func TestTagKeepsTokens(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tg := New(m)
	for i, tc := range []struct {
		tokens []string
		want   []string // copied from the fixture pos/nltk_tagged_captions.jsonl (nltk.pos_tag)
	}{
		{ // 0: fixture line 2
			[]string{"a", "woman", "and", "a", "woman", "is", "sleeping", "on", "a", "couch"},
			[]string{"DT", "NN", "CC", "DT", "NN", "VBZ", "VBG", "IN", "DT", "NN"},
		},
		{ // 1: fixture line 3
			[]string{"a", "young", "girl", "in", "a", "brown", "shirt", "is", "holding", "a", "crowd", "of", "flowers"},
			[]string{"DT", "JJ", "NN", "IN", "DT", "JJ", "NN", "VBZ", "VBG", "DT", "NN", "IN", "NNS"},
		},
		{ // 2: empty input
			nil, nil,
		},
	} {
		got := tg.Tag(tc.tokens, nil)
		if len(got) != len(tc.want) {
			t.Fatalf("%d: %d tags for %d tokens", i, len(got), len(tc.tokens))
		}
		for k := range got {
			if got[k] != tc.want[k] {
				t.Errorf("%d: %q: got %s want %s", i, tc.tokens[k], got[k], tc.want[k])
			}
		}
	}
	// Tokens that prose's tokenizer would split or special-case get exactly one tag each.
	odd := []string{"t-shirt", "n't", ":)", "-", "1999", "3rd", "", "café"}
	if got := tg.Tag(odd, nil); len(got) != len(odd) {
		t.Fatalf("%d tags for %d tokens", len(got), len(odd))
	}
}

func TestNormalize(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"t-shirt", "!HYPHEN"}, // 0
		{"-lrb-", "-lrb-"},     // 1: leading hyphen is not !HYPHEN
		{"1999", "!YEAR"},      // 2
		{"12345", "!DIGITS"},   // 3
		{"3rd", "!DIGITS"},     // 4
		{"Dog", "dog"},         // 5
		{"", ""},               // 6
	} {
		if got := normalize(tc.in); got != tc.want {
			t.Errorf("%d: normalize(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
	}
	if got := lastRunes("café", 3); got != "afé" {
		t.Errorf("lastRunes = %q", got)
	}
}

func TestTagFn(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	// Tags copied from the fixture pos/nltk_tagged_captions.jsonl (lines 1 and 2).
	in := beam.ParDo(s, splitFn, beam.Create(s,
		"a|a group of people are standing on a pile of a unk",
		"b|a woman and a woman is sleeping on a couch"))
	out := beam.ParDo(s, joinFn, Tag(s, in))
	passert.Equals(s, out, "a|DT NN IN NNS VBP VBG IN DT NN IN DT NN", "b|DT NN CC DT NN VBZ VBG IN DT NN")
	ptest.RunAndValidate(t, p)
}
