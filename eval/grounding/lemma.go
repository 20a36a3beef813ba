package grounding

import "strings"

// Lemmatizer maps a word to its lemma.
type Lemmatizer interface {
	Lemma(word string) string
}

// NounLemmatizer is a rule-based English noun lemmatiser standing in for the CoreNLP lemma
// annotator that GVD's evaluation calls on single words. It lower-cases, maps irregular plurals
// (men, women, children, feet, teeth, mice, geese, oxen, lice, knives, wives, leaves, wolves, …,
// and compounds in -men/-women), leaves invariant nouns alone (people, sheep, deer, fish, series,
// species, …) and strips regular plural endings: -ies → -y, -sses/-shes/-ches/-xes/-zzes → drop -es,
// -oes → -o (but shoes, toes, canoes → -oe), otherwise a final -s (but not -ss, -us, -is).
//
// Where it may differ from CoreNLP: CoreNLP tags the word first, so verbs and adjectives get verb
// and adjective lemmas (playing → play, was → be, better → good); this lemmatiser treats every word
// as a noun and only removes plural endings. It also does not know every irregular or
// Latin/Greek plural (cacti, fungi, criteria), nor plural-only nouns CoreNLP keeps (it turns jeans
// into jean and pants into pant, as CoreNLP usually does). In GVD's F1 the lemma decides only
// whether a predicted class word that is not annotated in a GT caption occurs there unannotated;
// class words are nouns, so differences on verbs rarely matter.
type NounLemmatizer struct{}

var irregularNouns = map[string]string{
	"men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
	"mice": "mouse", "geese": "goose", "oxen": "ox", "lice": "louse", "dice": "die",
	"knives": "knife", "wives": "wife", "lives": "life", "leaves": "leaf", "loaves": "loaf",
	"wolves": "wolf", "calves": "calf", "halves": "half", "shelves": "shelf", "thieves": "thief",
	"scarves": "scarf", "elves": "elf", "selves": "self", "hooves": "hoof", "sheaves": "sheaf",
	"brethren": "brother", "criteria": "criterion", "phenomena": "phenomenon", "cacti": "cactus",
	"fungi": "fungus", "indices": "index", "matrices": "matrix", "people": "people",
	"buses": "bus", "lenses": "lens", "gases": "gas", "atlases": "atlas", "canvases": "canvas",
	"circuses": "circus", "octopuses": "octopus", "walruses": "walrus", "campuses": "campus",
	"bonuses": "bonus", "viruses": "virus", "cactuses": "cactus", "choruses": "chorus",
	"irises": "iris", "tennis": "tennis", "menus": "menu", "emus": "emu", "gnus": "gnu",
	"tutus": "tutu", "gurus": "guru", "bikinis": "bikini", "taxis": "taxi", "skis": "ski",
	"kiwis": "kiwi", "safaris": "safari", "alibis": "alibi", "yetis": "yeti", "sushis": "sushi",
	"moves": "move",
}

var invariantNouns = map[string]bool{
	"sheep": true, "deer": true, "fish": true, "series": true, "species": true, "aircraft": true,
	"police": true, "news": true, "clothes": true, "scissors": true, "mathematics": true,
	"physics": true, "politics": true, "gymnastics": true, "athletics": true, "this": true,
	"his": true, "its": true, "was": true, "has": true, "is": true, "us": true, "as": true,
	"yes": true, "always": true, "perhaps": true, "across": true, "towards": true, "upstairs": true,
	"downstairs": true, "outdoors": true, "indoors": true, "overseas": true, "whereas": true,
	"swiss": true, "chaos": true, "canvas": true, "gas": true, "bus": true, "lens": true,
}

// oeNouns are nouns whose singular ends in -oe.
var oeNouns = map[string]bool{"shoe": true, "toe": true, "canoe": true, "hoe": true, "oboe": true, "floe": true,
	"sloe": true, "roe": true, "doe": true, "foe": true, "tiptoe": true, "horseshoe": true, "snowshoe": true,
	"overshoe": true, "mistletoe": true}

// iesKeep are nouns whose singular ends in -ie.
var iesKeep = map[string]bool{
	"movies": true, "cookies": true, "pies": true, "ties": true, "lies": true, "hippies": true,
	"rookies": true, "zombies": true, "calories": true, "brownies": true, "goalies": true,
	"selfies": true, "hoodies": true, "beanies": true, "smoothies": true, "genies": true,
	"collies": true, "bookies": true, "aussies": true, "magpies": true, "prairies": true,
	"eyries": true, "budgies": true, "veggies": true, "sweeties": true, "nighties": true,
	"birdies": true, "freebies": true, "cutie": true, "dies": true, "specie": true,
}

// chesKeep are nouns whose singular ends in -che.
var chesKeep = map[string]bool{
	"mustaches": true, "moustaches": true, "headaches": true, "avalanches": true, "niches": true,
	"caches": true, "cliches": true, "quiches": true, "psyches": true, "creches": true,
}

// Lemma returns the singular of a lower-cased noun, or the lower-cased word itself.
func (NounLemmatizer) Lemma(word string) string {
	w := strings.ToLower(word)
	if l, ok := irregularNouns[w]; ok {
		return l
	}
	if invariantNouns[w] || len(w) <= 3 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "women"):
		return w[:len(w)-5] + "woman"
	case strings.HasSuffix(w, "men") && !isMenSingular(w):
		return w[:len(w)-3] + "man"
	case strings.HasSuffix(w, "ies"):
		if iesKeep[w] {
			return w[:len(w)-1]
		}
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "oes"):
		if oeNouns[w[:len(w)-1]] {
			return w[:len(w)-1]
		}
		return w[:len(w)-2]
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zzes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ches"):
		if chesKeep[w] {
			return w[:len(w)-1]
		}
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:len(w)-1]
	}
	return w
}

// isMenSingular reports whether a word ending in -men is singular (specimen, abdomen, …).
func isMenSingular(w string) bool {
	switch w {
	case "specimen", "abdomen", "omen", "semen", "stamen", "hymen", "regimen", "acumen", "amen", "yemen":
		return true
	}
	return false
}
