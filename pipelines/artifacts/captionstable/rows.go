// Package captionstable owns the captions stage's outputs that later stages read: the captions
// table (Row), the grounding_refs table (GroundingRef), the captioner's and the matching model's
// vocabularies and the CIDEr-D document frequencies; their names in the stage's output, their
// record types and their readers.
package captionstable

import (
	"cmp"
	"strings"

	"github.com/groundcap/groundcap/eval/grounding"
)

// Output names under the stage's output directory.
const (
	CaptionsTable  = "captions"
	GroundingTable = "grounding_refs"
	VocabFile      = "vocab.json"
	MatchVocabFile = "match_vocab.json"
	DocFreqFile    = "cider_df.json"
)

// EOS is the end token appended to references in the CIDEr-D document-frequency table, as
// self-critical.pytorch's prepro_ngrams.py does.
const EOS = "<eos>"

// Box is a ground-truth box in 0-based pixel coordinates (the XML's 1-based values minus 1, as
// the usual Flickr30k Entities parser does); x2, y2 inclusive.
type Box struct {
	X1 int32 `parquet:"x1" json:"x1"`
	Y1 int32 `parquet:"y1" json:"y1"`
	X2 int32 `parquet:"x2" json:"x2"`
	Y2 int32 `parquet:"y2" json:"y2"`
}

// Row is one row of the captions table.
type Row struct {
	ImageID    int64    `parquet:"image_id" json:"image_id"`
	Split      string   `parquet:"split,dict" json:"split"`
	CaptionIdx int32    `parquet:"caption_idx" json:"caption_idx"`
	Raw        string   `parquet:"raw" json:"raw"`
	Tokens     []string `parquet:"tokens,list" json:"tokens"`       // truncated to max_length
	POS        []string `parquet:"pos,list" json:"pos"`             // Penn Treebank tag of each token
	NounMask   []bool   `parquet:"noun_mask,list" json:"noun_mask"` // tag NN/NNS/NNP/NNPS and word not UNK
	Labels     []int32  `parquet:"labels,list" json:"labels"`       // vocabulary ids (not padded)
	Length     int32    `parquet:"length" json:"length"`            // number of tokens
	// The matching model's text, as the original POS-SCAN code feeds SCAN: MatchTokens are the
	// whole caption's tokens with punctuation, lower-cased, not truncated; MatchIDs are
	// <start>, their ids in the matching vocabulary (match_vocab.json), <end>; MatchNounMask
	// marks the ids whose token is tagged NN/NNS/NNP/NNPS (tagged on MatchTokens), false at
	// <start> and <end>.
	MatchTokens   []string `parquet:"match_tokens,list" json:"match_tokens"`
	MatchIDs      []int32  `parquet:"match_ids,list" json:"match_ids"`
	MatchNounMask []bool   `parquet:"match_noun_mask,list" json:"match_noun_mask"`
}

// Reference returns the caption as a reference for coco-caption scoring: the raw caption, or its
// tokens joined by spaces when it has none (eval/caption PTB-tokenises it).
func (r *Row) Reference() string {
	if strings.TrimSpace(r.Raw) == "" {
		return strings.Join(r.Tokens, " ")
	}
	return r.Raw
}

// Compare orders rows by image id, then caption index.
func (r *Row) Compare(o *Row) int {
	if c := cmp.Compare(r.ImageID, o.ImageID); c != 0 {
		return c
	}
	return cmp.Compare(r.CaptionIdx, o.CaptionIdx)
}

// GroundingRef is one row of the grounding_refs table: one annotated phrase of one caption of
// Flickr30k Entities.
type GroundingRef struct {
	ImageID    int64  `parquet:"image_id" json:"image_id"`
	Split      string `parquet:"split,dict" json:"split"`
	CaptionIdx int32  `parquet:"caption_idx" json:"caption_idx"` // line of Sentences/<id>.txt
	PhraseIdx  int32  `parquet:"phrase_idx" json:"phrase_idx"`   // index of the phrase in its caption
	ChainID    int64  `parquet:"chain_id" json:"chain_id"`
	// Words are the phrase's lower-cased words (punctuation removed); FirstWord indexes the first
	// of them in the caption's tokens (the Entities sentence's lower-cased words without
	// punctuation, which equal Karpathy's tokens of the caption).
	Words     []string `parquet:"words,list" json:"words"`
	FirstWord int32    `parquet:"first_word" json:"first_word"`
	Types     []string `parquet:"types,list" json:"types"` // entity types: people, clothing, …
	// HeadWord is the phrase's last noun (by POS tag; its last word if it has no noun) and
	// HeadIndex its index in the caption's tokens; Class is the grounding class the head word's
	// lemma matches ("" when none, or when no class list was given).
	HeadWord  string `parquet:"head_word" json:"head_word"`
	HeadIndex int32  `parquet:"head_index" json:"head_index"`
	Class     string `parquet:"class,dict" json:"class"`
	// NotVisual marks chain 0 / type notvisual phrases (never boxed); NoBox a chain whose objects
	// are flagged nobndbox in the XML; Scene a chain flagged scene.
	NotVisual bool  `parquet:"not_visual" json:"not_visual"`
	NoBox     bool  `parquet:"no_box" json:"no_box"`
	Scene     bool  `parquet:"scene" json:"scene"`
	Boxes     []Box `parquet:"boxes,list" json:"boxes"` // every box of the chain, 0-based pixels
	Width     int32 `parquet:"width" json:"width"`      // image size from the XML
	Height    int32 `parquet:"height" json:"height"`
}

// Scored reports whether the phrase is scored in grounding: a visual phrase with a grounding
// class and boxes.
func (g *GroundingRef) Scored() bool {
	return g.Class != "" && !g.NotVisual && !g.NoBox && len(g.Boxes) > 0
}

// GroundingCaption returns a captions row as eval/grounding scores it against its scored
// grounding_refs rows refs (in phrase order): each phrase's head word at its token index, with
// every box of its chain. A second phrase with the same head index is left out; one whose head
// word lies past the row's tokens (cut at max_length) is left out and counted in truncated.
func GroundingCaption(r *Row, refs []GroundingRef) (c grounding.Caption, truncated int) {
	c.Tokens = r.Tokens
	seen := map[int]bool{}
	for _, g := range refs {
		idx := int(g.HeadIndex)
		if idx >= len(r.Tokens) {
			truncated++
			continue
		}
		if seen[idx] {
			continue
		}
		seen[idx] = true
		w := grounding.Word{Class: g.Class, Index: idx}
		for _, b := range g.Boxes {
			w.Boxes = append(w.Boxes, grounding.Box{float64(b.X1), float64(b.Y1), float64(b.X2), float64(b.Y2)})
		}
		c.Words = append(c.Words, w)
	}
	return c, truncated
}

// Compare orders rows by image id, caption index, phrase index.
func (g *GroundingRef) Compare(o *GroundingRef) int {
	if c := cmp.Compare(g.ImageID, o.ImageID); c != 0 {
		return c
	}
	if c := cmp.Compare(g.CaptionIdx, o.CaptionIdx); c != 0 {
		return c
	}
	return cmp.Compare(g.PhraseIdx, o.PhraseIdx)
}
