package caption

import (
	"strings"
	"testing"
)

// Expected outputs are hand-derived from the PTB tokenisation rules (Stanford PTBTokenizer,
// -preserveLines -lowerCase) followed by coco-caption's punctuation filter.
func TestTokenize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"A man riding a wave on top of a surfboard.", "a man riding a wave on top of a surfboard"},         // 0
		{"Two dogs, one brown; playing!", "two dogs one brown playing"},                                     // 1
		{"The man's hat isn't red.", "the man 's hat is n't red"},                                           // 2
		{"A dog (brown) runs", "a dog -lrb- brown -rrb- runs"},                                              // 3 -lrb- survives
		{"a {b} [c]", "a -lcb- b -rcb- -lsb- c -rsb-"},                                                      // 4
		{`He said "hello" to me`, "he said hello to me"},                                                    // 5
		{"I can't, we cannot; they won't", "i ca n't we can not they wo n't"},                               // 6
		{"1,000 people at 10:30 pay $5.50 or 20%", "1,000 people at 10:30 pay $ 5.50 or 20 %"},              // 7
		{"Mr. Smith lives in the U.S.", "mr. smith lives in the u.s."},                                      // 8
		{"A t-shirt -- very nice...", "a t-shirt very nice"},                                                // 9
		{"The dogs' toys", "the dogs toys"},                                                                 // 10 possessive plural
		{"It’s a “fancy” quote…", "it 's a fancy quote"},                                                    // 11 curly quotes
		{"We're gonna go, you'll see, I'd say I'm done", "we 're gon na go you 'll see i 'd say i 'm done"}, // 12
		{"and/or 5*3", `and\/or 5\*3`},                                                                      // 13
		{"  multiple   spaces\tand\nnewline ", "multiple spaces and newline"},                               // 14
		{"", ""},                             // 15
		{"?!.", ""},                          // 16 only punctuation
		{"a 'quoted' word", "a quoted word"}, // 17
		{"o'clock", "o'clock"},               // 18
		{"Hello-", "hello"},                  // 19
		{"red,white", "red white"},           // 20
		{"#1 fan", "# 1 fan"},                // 21
	}
	for i, c := range cases {
		if got := TokenizeString(c.in); got != c.want {
			t.Errorf("%d %q: got %q, want %q", i, c.in, got, c.want)
		}
	}
}

func TestPunctuationFilter(t *testing.T) {
	for _, p := range Punctuation {
		if !isPunct(p) {
			t.Errorf("%q in Punctuation but not filtered", p)
		}
	}
	for _, keep := range []string{"-lrb-", "-lcb-", "'s", "n't", "a"} {
		if isPunct(keep) {
			t.Errorf("%q filtered", keep)
		}
	}
	if len(Punctuation) != 17 || strings.Join(Punctuation, " ") != "'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;" {
		t.Errorf("Punctuation = %q, want coco-caption's 17 tokens", Punctuation)
	}
}

// TestScoreTokenizes: with tokenisation on, punctuation and case do not change the scores.
func TestScoreTokenizes(t *testing.T) {
	refs := map[int64][]string{1: {"A man rides a horse.", "Someone riding a horse!"}, 2: {"Two dogs play.", "Dogs playing in grass."}}
	raw := map[int64]string{1: "A MAN, riding a horse.", 2: "Two dogs playing!"}
	clean := map[int64]string{1: "a man riding a horse", 2: "two dogs playing"}
	cleanRefs := map[int64][]string{1: {"a man rides a horse", "someone riding a horse"}, 2: {"two dogs play", "dogs playing in grass"}}
	a, err := Score(refs, raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Score(cleanRefs, clean, Options{PreTokenized: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Corpus != b.Corpus {
		t.Errorf("tokenised %+v != pre-tokenised %+v", a.Corpus, b.Corpus)
	}
}

func TestTokenizeKeepPunct(t *testing.T) {
	for i, c := range []struct{ in, want string }{
		{"Two young guys look at the yard.", "two young guys look at the yard ."}, // 0
		{"A man, in a red hat; sits!", "a man , in a red hat ; sits !"},           // 1
		{"The dog's toy isn't here...", "the dog 's toy is n't here ..."},         // 2
	} {
		if got := strings.Join(TokenizeKeepPunct(c.in), " "); got != c.want {
			t.Errorf("%d: %q → %q, want %q", i, c.in, got, c.want)
		}
		// Without the punctuation tokens it is Tokenize.
		var kept []string
		for _, w := range TokenizeKeepPunct(c.in) {
			if !isPunct(w) {
				kept = append(kept, w)
			}
		}
		if got, want := strings.Join(kept, " "), TokenizeString(c.in); got != want {
			t.Errorf("%d: punctuation removed %q, Tokenize %q", i, got, want)
		}
	}
}
