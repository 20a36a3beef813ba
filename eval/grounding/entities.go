package grounding

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EntitiesOptions configure [ReadEntities]. The zero value keeps every box of a chain and uses
// [NounLemmatizer].
type EntitiesOptions struct {
	// UnionBoxes replaces a chain's boxes by their union (one box per word); false keeps them all
	// and a hit is IoU > 0.5 with any of them.
	UnionBoxes bool
	// Lemmatizer maps phrase words to class names; nil means NounLemmatizer.
	Lemmatizer Lemmatizer
}

// ReadEntities reads grounding references from a Flickr30k Entities folder (Sentences/<id>.txt and
// Annotations/<id>.xml) for the given image ids. Captions are the sentence words with the phrase
// markup removed, lower-cased and split on white space (punctuation tokens stay, as in the files). A
// word is an annotated object word when it lies in a phrase whose chain has at least one box (chain
// 0 / notvisual, <nobndbox> and <scene>-only chains have none) and the word, or its lemma, is one of
// classes; its class is that class word and its boxes the chain's boxes. XML coordinates are
// converted to 0-based by subtracting 1, as the usual Python parser does.
//
// GVD's own reference (flickr30k_cleaned_class.json, from Neural Baby Talk's preprocessing) was
// produced with CoreNLP lemmas and one box per word; results on it can differ slightly.
func ReadEntities(dir string, classes []string, ids []int64, opts EntitiesOptions) (*References, error) {
	lem := opts.Lemmatizer
	if lem == nil {
		lem = NounLemmatizer{}
	}
	classSet := make(map[string]bool, len(classes))
	for _, c := range classes {
		classSet[c] = true
	}
	refs := &References{Images: make([]ImageRef, 0, len(ids))}
	for _, id := range ids {
		name := strconv.FormatInt(id, 10)
		boxes, err := readEntitiesXML(filepath.Join(dir, "Annotations", name+".xml"))
		if err != nil {
			return nil, err
		}
		if opts.UnionBoxes {
			for chain, bs := range boxes {
				u := bs[0]
				for _, b := range bs[1:] {
					u = Box{min(u[0], b[0]), min(u[1], b[1]), max(u[2], b[2]), max(u[3], b[3])}
				}
				boxes[chain] = []Box{u}
			}
		}
		caps, err := readEntitiesSentences(filepath.Join(dir, "Sentences", name+".txt"), boxes, classSet, lem)
		if err != nil {
			return nil, err
		}
		refs.Images = append(refs.Images, ImageRef{ImageID: id, Captions: caps})
	}
	if err := refs.Validate(); err != nil {
		return nil, err
	}
	return refs, nil
}

// readEntitiesXML returns the boxes of each chain id of an annotation file.
func readEntitiesXML(path string) (map[string][]Box, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	defer f.Close()
	var ann struct {
		Objects []struct {
			Names  []string `xml:"name"`
			BndBox *struct {
				XMin string `xml:"xmin"`
				YMin string `xml:"ymin"`
				XMax string `xml:"xmax"`
				YMax string `xml:"ymax"`
			} `xml:"bndbox"`
		} `xml:"object"`
	}
	dec := xml.NewDecoder(f)
	if err := dec.Decode(&ann); err != nil {
		return nil, fmt.Errorf("grounding: %s: %w", path, err)
	}
	boxes := map[string][]Box{}
	for i, o := range ann.Objects {
		if o.BndBox == nil {
			continue // <nobndbox> or <scene>
		}
		var b Box
		for k, s := range []string{o.BndBox.XMin, o.BndBox.YMin, o.BndBox.XMax, o.BndBox.YMax} {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: object %d: coordinate %q: %v", ErrInput, path, i, s, err)
			}
			b[k] = v - 1
		}
		for _, n := range o.Names {
			n = strings.TrimSpace(n)
			boxes[n] = append(boxes[n], b)
		}
	}
	return boxes, nil
}

// readEntitiesSentences parses the phrase markup of a Sentences file.
func readEntitiesSentences(path string, boxes map[string][]Box, classes map[string]bool, lem Lemmatizer) ([]Caption, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	defer f.Close()
	var caps []Caption
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var cap Caption
		chain := "" // chain of the open phrase; "" outside phrases
		inPhrase := false
		for _, tok := range strings.Fields(text) {
			if strings.HasPrefix(tok, "[/EN#") {
				if inPhrase {
					return nil, fmt.Errorf("%w: %s:%d: nested phrase at %q", ErrInput, path, line, tok)
				}
				parts := strings.Split(strings.TrimPrefix(tok, "[/EN#"), "/")
				if len(parts) < 2 || parts[0] == "" {
					return nil, fmt.Errorf("%w: %s:%d: malformed phrase tag %q", ErrInput, path, line, tok)
				}
				chain, inPhrase = parts[0], true
				continue
			}
			closes := false
			if inPhrase && strings.HasSuffix(tok, "]") {
				tok, closes = strings.TrimSuffix(tok, "]"), true
			}
			w := strings.ToLower(tok)
			if inPhrase && chain != "0" && len(boxes[chain]) > 0 {
				cls := ""
				if classes[w] {
					cls = w
				} else if l := lem.Lemma(w); classes[l] {
					cls = l
				}
				if cls != "" {
					cap.Words = append(cap.Words, Word{Class: cls, Index: len(cap.Tokens), Boxes: boxes[chain]})
				}
			}
			cap.Tokens = append(cap.Tokens, w)
			if closes {
				inPhrase, chain = false, ""
			}
		}
		if inPhrase {
			return nil, fmt.Errorf("%w: %s:%d: unclosed phrase", ErrInput, path, line)
		}
		caps = append(caps, cap)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("grounding: %s: %w", path, err)
	}
	return caps, nil
}
