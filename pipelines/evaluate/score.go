package evaluate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/transforms/lemma"
)

// Results returns the COCO results of decodes (sorted by image id).
func Results(decodes []Decode) []evalresults.Result {
	out := make([]evalresults.Result, len(decodes))
	for i, d := range decodes {
		out[i] = evalresults.Result{ImageID: d.ImageID, Caption: d.Caption}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ImageID < out[j].ImageID })
	return out
}

// References returns the reference captions of the split's images for eval/caption.Score: each
// row's raw caption (its tokens joined when it has none), PTB-tokenised there as coco-caption
// does.
func References(rows []captionstable.Row, split string) map[int64][]string {
	type ref struct {
		idx int32
		s   string
	}
	by := map[int64][]ref{}
	for _, r := range rows {
		if r.Split != split {
			continue
		}
		by[r.ImageID] = append(by[r.ImageID], ref{r.CaptionIdx, r.Reference()})
	}
	out := make(map[int64][]string, len(by))
	for id, rs := range by {
		sort.Slice(rs, func(i, j int) bool { return rs[i].idx < rs[j].idx })
		for _, r := range rs {
			out[id] = append(out[id], r.s)
		}
	}
	return out
}

// Predictions returns the results as eval/caption's predictions map.
func Predictions(res []evalresults.Result) map[int64]string {
	out := make(map[int64]string, len(res))
	for _, r := range res {
		out[r.ImageID] = r.Caption
	}
	return out
}

// ScoresOf converts eval/caption's corpus metrics.
func ScoresOf(m caption.Metrics) evalresults.CaptionScores {
	return evalresults.CaptionScores{Bleu1: m.Bleu[0], Bleu2: m.Bleu[1], Bleu3: m.Bleu[2], Bleu4: m.Bleu[3], RougeL: m.RougeL, CIDEr: m.CIDErD}
}

// GroundingReferences builds the split's grounding references from the captions and
// grounding_refs tables: every image of the split that has grounding rows, with its captions by
// caption index and, per caption, the head word of every boxed phrase with a class, at its
// token index. Head words past the captions' max_length truncation are left out and counted.
func GroundingReferences(rows []captionstable.Row, refs []captionstable.GroundingRef, split string) (*grounding.References, int) {
	type capKey struct {
		img int64
		c   int32
	}
	words := map[capKey][]captionstable.GroundingRef{}
	annotated := map[int64]bool{}
	for _, g := range refs {
		if g.Split != split {
			continue
		}
		annotated[g.ImageID] = true
		if !g.Scored() {
			continue
		}
		k := capKey{g.ImageID, g.CaptionIdx}
		words[k] = append(words[k], g)
	}
	by := map[int64][]captionstable.Row{}
	for _, r := range rows {
		if r.Split == split && annotated[r.ImageID] {
			by[r.ImageID] = append(by[r.ImageID], r)
		}
	}
	ids := make([]int64, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := &grounding.References{}
	truncated := 0
	for _, id := range ids {
		rs := by[id]
		sort.Slice(rs, func(i, j int) bool { return rs[i].CaptionIdx < rs[j].CaptionIdx })
		im := grounding.ImageRef{ImageID: id}
		for _, r := range rs {
			ws := words[capKey{id, r.CaptionIdx}]
			sort.Slice(ws, func(i, j int) bool { return ws[i].PhraseIdx < ws[j].PhraseIdx })
			c, n := captionstable.GroundingCaption(&r, ws)
			truncated += n
			im.Captions = append(im.Captions, c)
		}
		out.Images = append(out.Images, im)
	}
	return out, truncated
}

// ClassesOfRefs returns the sorted classes named in grounding references.
func ClassesOfRefs(refs []captionstable.GroundingRef) []string {
	var out []string
	for _, g := range refs {
		if g.Class != "" {
			out = append(out, g.Class)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ClassesOfReferences returns the sorted classes annotated in grounding references.
func ClassesOfReferences(refs *grounding.References) []string {
	var out []string
	for _, img := range refs.Images {
		for _, c := range img.Captions {
			for _, w := range c.Words {
				out = append(out, w.Class)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseClassList parses a class list: one class per line, blank lines skipped; name is used in
// errors.
func ParseClassList(data []byte, name string) ([]string, error) {
	var out []string
	seen := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		c := strings.TrimSpace(line)
		if c == "" {
			continue
		}
		if strings.ContainsAny(c, " \t") {
			return nil, fmt.Errorf("evaluate: %s:%d: class %q is not a single word", name, i+1, c)
		}
		if prev, dup := seen[c]; dup {
			return nil, fmt.Errorf("evaluate: %s:%d: class %q already on line %d", name, i+1, c, prev)
		}
		seen[c] = i + 1
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("evaluate: %s: no class", name)
	}
	return out, nil
}

// Submission grounds the generated words: for every word that names a class, its class, index
// and attended box. Every decoded image gets an entry (possibly empty), so an image without a
// grounded word still counts as predicted.
func Submission(decodes []Decode, classes *lemma.Classes) grounding.Submission {
	sub := grounding.Submission{}
	for _, d := range decodes {
		p := grounding.Prediction{Classes: []string{}, IdxInSent: []int{}, Boxes: []grounding.Box{}}
		for i, w := range d.Tokens {
			c, ok := classes.Match(w)
			if !ok {
				continue
			}
			b := d.Box(i)
			p.Classes = append(p.Classes, c)
			p.IdxInSent = append(p.IdxInSent, i)
			p.Boxes = append(p.Boxes, grounding.Box{float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3])})
		}
		sub[d.ImageID] = []grounding.Prediction{p}
	}
	return sub
}

// EncodeSubmission writes a submission in GVD's JSON format (grounding.EncodeSubmission).
func EncodeSubmission(sub grounding.Submission) ([]byte, error) {
	return grounding.EncodeSubmission(sub, "bottom-up region features; POS-SCAN / SCAN matching models (groundcap)")
}

// F1Of converts eval/grounding's result.
func F1Of(r *grounding.F1Result) evalresults.F1Scores {
	return evalresults.F1Scores{Precision: r.Precision, Recall: r.Recall, F1: r.F1, Classes: r.NumClasses, PerClass: r.PerClass}
}
