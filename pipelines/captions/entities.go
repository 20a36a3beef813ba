package captions

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
)

// phrase is one annotated phrase of an Entities sentence.
type phrase struct {
	Chain     int64
	Types     []string
	Words     []string // lower-cased words of the phrase, punctuation removed
	FirstWord int      // index of its first word in the sentence's tokens
}

// entitySentence is one parsed line of Sentences/<id>.txt.
type entitySentence struct {
	Tokens  []string // lower-cased words of the line, punctuation removed
	Phrases []phrase
}

// isWord reports whether a token has a letter or digit (punctuation-only tokens are dropped, as
// Karpathy's tokens drop them).
func isWord(t string) bool {
	for _, r := range t {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// parseSentence parses one line of the Flickr30k Entities markup:
//
//	[/EN#2784/people A woman] in [/EN#2786/clothing a red shirt] plays …
//
// Phrases do not nest. Words are split on white space, lower-cased, and tokens without a letter or
// digit dropped; word indices count the kept tokens.
func parseSentence(line string) (entitySentence, error) {
	var s entitySentence
	if !utf8.ValidString(line) {
		return s, fmt.Errorf("non-UTF-8 text")
	}
	fields := strings.Fields(line)
	var cur *phrase
	for _, f := range fields {
		if strings.HasPrefix(f, "[") {
			if cur != nil {
				return s, fmt.Errorf("nested phrase at %q", f)
			}
			hdr := f[1:]
			if !strings.HasPrefix(hdr, "/EN#") {
				return s, fmt.Errorf("bad phrase header %q (want [/EN#<chain>/<type>)", f)
			}
			parts := strings.Split(hdr[len("/EN#"):], "/")
			if len(parts) < 2 {
				return s, fmt.Errorf("bad phrase header %q: no entity type", f)
			}
			chain, err := strconv.ParseInt(parts[0], 10, 64)
			if err != nil || chain < 0 {
				return s, fmt.Errorf("bad chain id in %q", f)
			}
			for _, t := range parts[1:] {
				if t == "" {
					return s, fmt.Errorf("empty entity type in %q", f)
				}
			}
			cur = &phrase{Chain: chain, Types: parts[1:], FirstWord: -1}
			continue
		}
		word, closes := f, false
		if cur != nil && strings.HasSuffix(f, "]") {
			word, closes = strings.TrimSuffix(f, "]"), true
		}
		if strings.ContainsAny(word, "[]") {
			return s, fmt.Errorf("stray bracket in %q", f)
		}
		if isWord(word) {
			if cur != nil {
				if cur.FirstWord < 0 {
					cur.FirstWord = len(s.Tokens)
				}
				cur.Words = append(cur.Words, strings.ToLower(word))
			}
			s.Tokens = append(s.Tokens, strings.ToLower(word))
		}
		if closes {
			if cur.FirstWord < 0 {
				return s, fmt.Errorf("phrase of chain %d has no words", cur.Chain)
			}
			s.Phrases = append(s.Phrases, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return s, fmt.Errorf("phrase of chain %d is not closed", cur.Chain)
	}
	return s, nil
}

// annotation is the parsed Annotations/<id>.xml.
type annotation struct {
	Width, Height int32
	Chains        map[int64]*chain
}

// chain is what the XML says about one entity chain.
type chain struct {
	Boxes []captionstable.Box
	NoBox bool // an object of the chain is flagged nobndbox
	Scene bool // an object of the chain is flagged scene
}

type xmlAnnotation struct {
	XMLName xml.Name `xml:"annotation"`
	Size    struct {
		Width  string `xml:"width"`
		Height string `xml:"height"`
	} `xml:"size"`
	Objects []struct {
		Names  []string `xml:"name"`
		BndBox *struct {
			Xmin string `xml:"xmin"`
			Ymin string `xml:"ymin"`
			Xmax string `xml:"xmax"`
			Ymax string `xml:"ymax"`
		} `xml:"bndbox"`
		NoBndBox string `xml:"nobndbox"`
		Scene    string `xml:"scene"`
	} `xml:"object"`
}

func atoi32(s, what string) (int32, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an integer", what, s)
	}
	return int32(v), nil
}

func isSet(s string) bool { s = strings.TrimSpace(s); return s != "" && s != "0" }

// parseAnnotation parses an Annotations XML file.
func parseAnnotation(data []byte) (*annotation, error) {
	var x xmlAnnotation
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&x); err != nil {
		return nil, fmt.Errorf("malformed XML: %v", err)
	}
	a := &annotation{Chains: map[int64]*chain{}}
	var err error
	if x.Size.Width != "" {
		if a.Width, err = atoi32(x.Size.Width, "width"); err != nil {
			return nil, err
		}
		if a.Height, err = atoi32(x.Size.Height, "height"); err != nil {
			return nil, err
		}
	}
	for i, o := range x.Objects {
		if len(o.Names) == 0 {
			return nil, fmt.Errorf("object %d has no <name>", i)
		}
		var box *captionstable.Box
		if o.BndBox != nil {
			b := captionstable.Box{}
			for _, f := range []struct {
				s   string
				dst *int32
				n   string
			}{{o.BndBox.Xmin, &b.X1, "xmin"}, {o.BndBox.Ymin, &b.Y1, "ymin"}, {o.BndBox.Xmax, &b.X2, "xmax"}, {o.BndBox.Ymax, &b.Y2, "ymax"}} {
				v, err := atoi32(f.s, fmt.Sprintf("object %d %s", i, f.n))
				if err != nil {
					return nil, err
				}
				*f.dst = v - 1
			}
			if b.X2 < b.X1 || b.Y2 < b.Y1 {
				return nil, fmt.Errorf("object %d: empty box %+v", i, b)
			}
			box = &b
		}
		for _, n := range o.Names {
			id, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("object %d: chain id %q is not an integer", i, n)
			}
			c := a.Chains[id]
			if c == nil {
				c = &chain{}
				a.Chains[id] = c
			}
			if box != nil {
				c.Boxes = append(c.Boxes, *box)
			}
			c.NoBox = c.NoBox || isSet(o.NoBndBox)
			c.Scene = c.Scene || isSet(o.Scene)
		}
	}
	return a, nil
}
