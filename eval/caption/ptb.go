package caption

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Punctuation lists the tokens coco-caption's PTBTokenizer wrapper removes after tokenising, an
// exact, case-sensitive match. "-lrb-" and its kin survive: -lowerCase has already lower-cased them.
var Punctuation = []string{"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}

// isPunct reports whether tok is one of Punctuation.
func isPunct(tok string) bool {
	switch tok {
	case "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";":
		return true
	}
	return false
}

// TokenizeString is [Tokenize] joined with single spaces: the caption string coco-caption scores.
func TokenizeString(caption string) string {
	return strings.Join(Tokenize(caption), " ")
}

// Tokenize tokenises one raw caption as coco-caption does: Stanford PTBTokenizer with -preserveLines
// -lowerCase (the caption's newlines become spaces), then removal of the tokens in [Punctuation].
//
// It is a rule-based Go re-implementation of the PTB rules that occur in captions, not a port of
// CoreNLP's lexer. It splits off punctuation, brackets (written -lrb- -rrb- -lsb- -rsb- -lcb- -rcb-,
// which survive the filter as in coco-caption), quotes, the contractions n't 's 're 've 'll 'd 'm
// (and cannot → can not, gonna → gon na, gotta → got ta, wanna → wan na, gimme → gim me, lemme → lem
// me, 'tis → 't is), currency and # signs and %; keeps numbers with , . : inside (1,000 3.5 10:30),
// hyphenated words, words with internal apostrophes (o'clock) and abbreviations with their period
// (mr. dr. st. u.s. a.m.); escapes / and * as \/ and \* (CoreNLP 3.4.1's PTB3 escaping); maps curly
// quotes and apostrophes to ASCII ones, … to ... and en/em dashes to --.
//
// Known differences from CoreNLP: URLs, e-mail addresses, emoticons, SGML/XML tags, phone numbers,
// fractions and other special tokens that CoreNLP recognises are split by the generic rules here;
// its list of abbreviations is larger than this one (an unknown abbreviation loses its period, which
// is then removed as punctuation); Unicode normalisation beyond quotes, dashes and the ellipsis
// (e.g. of non-breaking hyphens or full-width characters) is not done; a lone single quote is always
// treated as a quote, never as an apostrophe.
func Tokenize(caption string) []string { return tokenize(caption, true) }

// TokenizeKeepPunct is [Tokenize] without the removal of punctuation: every PTB token of the
// caption, lower-cased (".", ",", ";" … kept). It is the text of the matching model in the
// original POS-SCAN code, whose vocabulary comes from nltk.word_tokenize of the lower-cased
// captions (Treebank rules: the same splits for captions, except that nltk writes an opening
// double quote as two backquotes where this writes two single quotes, and does not escape / and
// *).
func TokenizeKeepPunct(caption string) []string { return tokenize(caption, false) }

func tokenize(caption string, dropPunct bool) []string {
	caption = ptbNormalise.Replace(caption)
	var raw []string
	for _, chunk := range strings.FieldsFunc(caption, unicode.IsSpace) {
		raw = splitChunk(chunk, raw)
	}
	out := raw[:0]
	for _, t := range raw {
		t = strings.ToLower(t)
		if (dropPunct && isPunct(t)) || t == "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

var ptbNormalise = strings.NewReplacer(
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'",
	"\u201c", "\"", "\u201d", "\"", "\u201e", "\"", "\u00ab", "\"", "\u00bb", "\"",
	"\u2026", "...", "\u2013", "--", "\u2014", "--", "\u2015", "--",
)

// hardSep reports whether the byte at s[i] always separates tokens; , and : separate unless between
// digits.
func hardSep(s string, i int) bool {
	switch s[i] {
	case '(', ')', '[', ']', '{', '}', '"', ';', '!', '?':
		return true
	case ',', ':':
		return !(i > 0 && i+1 < len(s) && isDigit(s[i-1]) && isDigit(s[i+1]))
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

var bracket = map[byte]string{'(': "-LRB-", ')': "-RRB-", '[': "-LSB-", ']': "-RSB-", '{': "-LCB-", '}': "-RCB-", '"': "''"}

// splitChunk appends the tokens of a white-space-free chunk.
func splitChunk(s string, out []string) []string {
	start := 0
	for i := 0; i < len(s); i++ {
		if !hardSep(s, i) {
			continue
		}
		out = splitWord(s[start:i], out)
		if b, ok := bracket[s[i]]; ok {
			out = append(out, b)
		} else {
			out = append(out, s[i:i+1])
		}
		start = i + 1
	}
	return splitWord(s[start:], out)
}

// abbreviations keep their final period.
var abbreviations = map[string]bool{
	"mr.": true, "mrs.": true, "ms.": true, "dr.": true, "st.": true, "jr.": true, "sr.": true,
	"mt.": true, "ft.": true, "vs.": true, "etc.": true, "inc.": true, "co.": true, "corp.": true,
	"ltd.": true, "prof.": true, "gen.": true, "sgt.": true, "capt.": true, "lt.": true, "ave.": true,
	"blvd.": true, "rd.": true, "no.": false, "jan.": true, "feb.": true, "aug.": true, "sept.": true,
	"oct.": true, "nov.": true, "dec.": true,
}

// isAbbrev reports whether w (ending in '.') keeps its period: a known abbreviation, letters with
// periods (u.s., a.m.) or a single capital initial (J.).
func isAbbrev(w string) bool {
	if abbreviations[strings.ToLower(w)] {
		return true
	}
	if len(w) == 2 && w[0] >= 'A' && w[0] <= 'Z' {
		return true
	}
	if len(w) < 4 {
		return false
	}
	for i := 0; i < len(w); i += 2 {
		if i+1 >= len(w) || !isLetter(w[i]) || w[i+1] != '.' {
			return false
		}
	}
	return true
}

func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// specialSplits are CoreNLP's split words, keyed by lower case: the length of the first part.
var specialSplits = map[string]int{"cannot": 3, "gonna": 3, "gotta": 3, "wanna": 3, "gimme": 3, "lemme": 3}

// splitWord splits leading and trailing punctuation and contractions off a chunk without hard
// separators.
func splitWord(s string, out []string) []string {
	// Leading punctuation.
	for s != "" {
		switch {
		case strings.HasPrefix(s, "``") || strings.HasPrefix(s, "''") || strings.HasPrefix(s, "--") || strings.HasPrefix(s, "..."):
			n := 2
			if s[0] == '.' {
				n = 3
			}
			out = append(out, s[:n])
			s = s[n:]
			continue
		case s[0] == '\'':
			ls := strings.ToLower(s)
			if isContraction(ls) || ls == "'tis" || ls == "'twas" {
				if len(ls) > 2 && strings.HasPrefix(ls, "'t") && (ls == "'tis" || ls == "'twas") {
					out = append(out, s[:2])
					s = s[2:]
					continue
				}
				out = append(out, s)
				return out
			}
			out = append(out, "`")
			s = s[1:]
			continue
		case s[0] == '`' || s[0] == '$' || s[0] == '#' || s[0] == ',' || s[0] == ':' || s[0] == '%' || s[0] == '&' && len(s) > 1:
			out = append(out, escapePTB(s[:1]))
			s = s[1:]
			continue
		case s[0] == '-' && !(len(s) > 1 && isDigit(s[1])):
			out = append(out, "-")
			s = s[1:]
			continue
		case s[0] == '.' && !(len(s) > 1 && isDigit(s[1])):
			out = append(out, ".")
			s = s[1:]
			continue
		}
		break
	}
	// Trailing punctuation, collected in reverse.
	var tail []string
	for s != "" {
		last := s[len(s)-1]
		switch {
		case strings.HasSuffix(s, "..."):
			tail = append(tail, "...")
			s = s[:len(s)-3]
			continue
		case strings.HasSuffix(s, "--"):
			tail = append(tail, "--")
			s = s[:len(s)-2]
			continue
		case last == '.':
			if isAbbrev(s) {
				break
			}
			tail = append(tail, ".")
			s = s[:len(s)-1]
			continue
		case last == ',' || last == ':' || last == '%' || last == '-':
			tail = append(tail, s[len(s)-1:])
			s = s[:len(s)-1]
			continue
		case last == '\'' || last == '`':
			if len(s) > 1 && (s[len(s)-2] == '\'' || s[len(s)-2] == '`') {
				tail = append(tail, "''")
				s = s[:len(s)-2]
			} else {
				tail = append(tail, "'")
				s = s[:len(s)-1]
			}
			continue
		}
		break
	}
	if s != "" {
		out = splitContraction(s, out)
	}
	for i := len(tail) - 1; i >= 0; i-- {
		out = append(out, tail[i])
	}
	return out
}

var contractions = []string{"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}

func isContraction(ls string) bool {
	for _, c := range contractions {
		if ls == c {
			return true
		}
	}
	return false
}

// splitContraction splits clitics off a word and escapes it.
func splitContraction(s string, out []string) []string {
	ls := strings.ToLower(s)
	if n, ok := specialSplits[ls]; ok {
		return append(out, s[:n], s[n:])
	}
	for _, c := range contractions {
		if len(ls) > len(c) && strings.HasSuffix(ls, c) {
			stem := s[:len(s)-len(c)]
			r, _ := utf8.DecodeLastRuneInString(stem)
			if c == "n't" || unicode.IsLetter(r) || unicode.IsDigit(r) {
				return append(out, escapePTB(stem), s[len(s)-len(c):])
			}
		}
	}
	return append(out, escapePTB(s))
}

// escapePTB applies PTB3's escaping of / and *.
func escapePTB(s string) string {
	if strings.ContainsAny(s, "/*") {
		s = strings.NewReplacer("/", "\\/", "*", "\\*").Replace(s)
	}
	return s
}
