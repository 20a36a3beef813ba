// Package lemma maps caption words to grounding classes by their singular form (their lemma), the
// rule groundcap uses wherever a word is matched against a class list (GVD's 480 Flickr30k
// classes, the synthetic world's class_names.txt).
//
// # Rule
//
// A word w matches class c when, in this order:
//  1. w is c;
//  2. a singular candidate of w is c, or is the singular of c (class lists hold a few plurals:
//     "outfits", "papers", "goods");
//  3. w is the singular of c.
//
// Singular candidates, tried in order: an irregular plural's singular (men → man, people → person,
// feet → foot, knives → knife, graffiti → graffitus as in GVD's list, …); -ies → -y; -ves → -f and
// -fe; -es removed (buses, boxes, glasses); -s removed unless the word ends in -ss, -us or -is. Only
// candidates that are classes are accepted, so a wrong candidate ("hors" for horses) never
// matches anything. Lower-case input is expected.
package lemma

// irregular maps irregular plurals to their singular.
var irregular = map[string]string{
	"men": "man", "women": "woman", "children": "child", "people": "person", "feet": "foot",
	"teeth": "tooth", "mice": "mouse", "geese": "goose", "oxen": "ox", "knives": "knife",
	"wives": "wife", "lives": "life", "leaves": "leaf", "wolves": "wolf", "shelves": "shelf",
	"calves": "calf", "halves": "half", "loaves": "loaf", "scarves": "scarf", "thieves": "thief",
	"policemen": "policeman", "firemen": "fireman", "fishermen": "fisherman", "gentlemen": "gentleman",
	"businessmen": "businessman", "sportsmen": "sportsman", "workmen": "workman", "cameramen": "cameraman",
	"graffiti": "graffitus", "cacti": "cactus", "fungi": "fungus", "dice": "die",
}

// Singulars returns the singular candidates of w (w itself not included), most likely first.
func Singulars(w string) []string {
	var out []string
	if s, ok := irregular[w]; ok {
		out = append(out, s)
	}
	n := len(w)
	if n > 4 && w[n-3:] == "ies" {
		out = append(out, w[:n-3]+"y")
	}
	if n > 4 && w[n-3:] == "ves" {
		out = append(out, w[:n-3]+"f", w[:n-3]+"fe")
	}
	if n > 3 && w[n-2:] == "es" {
		out = append(out, w[:n-2])
	}
	if n > 2 && w[n-1] == 's' && w[n-2:] != "ss" && w[n-2:] != "us" && w[n-2:] != "is" {
		out = append(out, w[:n-1])
	}
	return out
}

// Classes matches words against a class list.
type Classes struct {
	set      map[string]bool
	singular map[string]string // singular candidate of a class -> the class
}

// NewClasses indexes a class list.
func NewClasses(names []string) *Classes {
	c := &Classes{set: map[string]bool{}, singular: map[string]string{}}
	for _, n := range names {
		c.set[n] = true
	}
	for _, n := range names {
		for _, s := range Singulars(n) {
			if _, taken := c.singular[s]; !taken && !c.set[s] {
				c.singular[s] = n
			}
		}
	}
	return c
}

// Len returns the number of classes.
func (c *Classes) Len() int { return len(c.set) }

// Match returns the class of word w and true, or "" and false when w names no class (see the
// package documentation for the rule).
func (c *Classes) Match(w string) (string, bool) {
	if c == nil || w == "" {
		return "", false
	}
	if c.set[w] {
		return w, true
	}
	for _, s := range Singulars(w) {
		if c.set[s] {
			return s, true
		}
		if cl, ok := c.singular[s]; ok {
			return cl, true
		}
	}
	if cl, ok := c.singular[w]; ok {
		return cl, true
	}
	return "", false
}
