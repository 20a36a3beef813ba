package grounding

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// RefsFormat is the "format" field of groundcap's grounding-reference JSON.
const RefsFormat = "groundcap.grounding-refs/v1"

type refsJSON struct {
	Format string         `json:"format"`
	Images []imageRefJSON `json:"images"`
}

type imageRefJSON struct {
	ImageID  int64         `json:"image_id"`
	Captions []captionJSON `json:"captions"`
}

type captionJSON struct {
	Tokens []string   `json:"tokens"`
	Words  []wordJSON `json:"words"`
}

type wordJSON struct {
	Class string `json:"class"`
	Index int    `json:"index"`
	Boxes []Box  `json:"boxes"`
}

// Write writes r as groundcap grounding-reference JSON:
//
//	{"format": "groundcap.grounding-refs/v1", "images": [{"image_id": 1000092795, "captions": [
//	  {"tokens": ["two", "young", "guys", …], "words": [{"class": "guy", "index": 2,
//	   "boxes": [[x1, y1, x2, y2], …]}, …]}, …]}, …]}
func (r *References) Write(w io.Writer) error {
	out := refsJSON{Format: RefsFormat, Images: make([]imageRefJSON, len(r.Images))}
	for i, img := range r.Images {
		ij := imageRefJSON{ImageID: img.ImageID, Captions: make([]captionJSON, len(img.Captions))}
		for c, cap := range img.Captions {
			cj := captionJSON{Tokens: cap.Tokens, Words: make([]wordJSON, len(cap.Words))}
			for k, wd := range cap.Words {
				cj.Words[k] = wordJSON{wd.Class, wd.Index, wd.Boxes}
			}
			ij.Captions[c] = cj
		}
		out.Images[i] = ij
	}
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return fmt.Errorf("grounding: writing references: %w", err)
	}
	return nil
}

// ReadReferences reads grounding references from groundcap's JSON ([References.Write]) or GVD's
// flickr30k_cleaned_class.json ({"annotations": [{"image_id", "captions": [{"tokens",
// "process_clss", "process_idx", "process_bnd_box"}]}]}, one box per word). A non-nil ids keeps
// only those images (GVD's split ids), in the file's order.
func ReadReferences(path string, ids []int64) (*References, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	return ParseReferences(data, path, ids)
}

// ParseReferences is [ReadReferences] on the file's bytes (read from any store); path names the
// file in errors.
func ParseReferences(data []byte, path string, ids []int64) (*References, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("grounding: %s: not a JSON object: %w", path, err)
	}
	var refs *References
	switch {
	case probe["format"] != nil:
		var j refsJSON
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, fmt.Errorf("grounding: %s: %w", path, err)
		}
		if j.Format != RefsFormat {
			return nil, fmt.Errorf("grounding: %s: format %q, want %q", path, j.Format, RefsFormat)
		}
		refs = &References{Images: make([]ImageRef, len(j.Images))}
		for i, ij := range j.Images {
			img := ImageRef{ImageID: ij.ImageID, Captions: make([]Caption, len(ij.Captions))}
			for c, cj := range ij.Captions {
				cap := Caption{Tokens: cj.Tokens, Words: make([]Word, len(cj.Words))}
				for k, wj := range cj.Words {
					cap.Words[k] = Word{wj.Class, wj.Index, wj.Boxes}
				}
				img.Captions[c] = cap
			}
			refs.Images[i] = img
		}
	case probe["annotations"] != nil:
		var anns []struct {
			ImageID  json.Number `json:"image_id"`
			Captions []struct {
				Tokens []string `json:"tokens"`
				Clss   []string `json:"process_clss"`
				Idx    []int    `json:"process_idx"`
				Boxes  []Box    `json:"process_bnd_box"`
			} `json:"captions"`
		}
		if err := json.Unmarshal(probe["annotations"], &anns); err != nil {
			return nil, fmt.Errorf("grounding: %s: annotations: %w", path, err)
		}
		refs = &References{Images: make([]ImageRef, len(anns))}
		for i, a := range anns {
			id, err := strconv.ParseInt(a.ImageID.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("grounding: %s: annotations[%d]: image_id %q: %w", path, i, a.ImageID, err)
			}
			img := ImageRef{ImageID: id, Captions: make([]Caption, len(a.Captions))}
			for c, ac := range a.Captions {
				if len(ac.Clss) != len(ac.Idx) || len(ac.Clss) != len(ac.Boxes) {
					return nil, fmt.Errorf("%w: %s: annotations[%d] caption %d: %d process_clss, %d process_idx, %d process_bnd_box", ErrInput, path, i, c, len(ac.Clss), len(ac.Idx), len(ac.Boxes))
				}
				cap := Caption{Tokens: ac.Tokens, Words: make([]Word, len(ac.Clss))}
				for k := range ac.Clss {
					cap.Words[k] = Word{Class: ac.Clss[k], Index: ac.Idx[k], Boxes: []Box{ac.Boxes[k]}}
				}
				img.Captions[c] = cap
			}
			refs.Images[i] = img
		}
	default:
		return nil, fmt.Errorf("grounding: %s: neither groundcap grounding references (\"format\") nor GVD annotations (\"annotations\")", path)
	}
	if ids != nil {
		refs = refs.Subset(ids)
	}
	if err := refs.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return refs, nil
}

// Subset returns the images of r whose ids are in ids, in r's order.
func (r *References) Subset(ids []int64) *References {
	keep := make(map[int64]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	out := &References{}
	for _, img := range r.Images {
		if keep[img.ImageID] {
			out.Images = append(out.Images, img)
		}
	}
	return out
}

// EncodeSubmission writes sub in GVD's submission format, images by id, one line each:
// {"results": {"<id>": [{"clss", "idx_in_sent", "bbox"}, …], …}, "external_data": {"used": true,
// "details": details}}. Boxes keep their float64 values (a float32 box's exact value).
func EncodeSubmission(sub Submission, details string) ([]byte, error) {
	ids := make([]int64, 0, len(sub))
	for id := range sub {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	type entry struct {
		Clss      []string `json:"clss"`
		IdxInSent []int    `json:"idx_in_sent"`
		BBox      []Box    `json:"bbox"`
	}
	var b bytes.Buffer
	b.WriteString("{\"results\": {")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",")
		}
		var es []entry
		for _, p := range sub[id] {
			es = append(es, entry{Clss: p.Classes, IdxInSent: p.IdxInSent, BBox: p.Boxes})
		}
		v, err := json.Marshal(es)
		if err != nil {
			return nil, fmt.Errorf("grounding: submission: %w", err)
		}
		b.WriteString("\n  " + strconv.Quote(strconv.FormatInt(id, 10)) + ": ")
		b.Write(v)
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("grounding: submission: %w", err)
	}
	b.WriteString("\n}, \"external_data\": {\"used\": true, \"details\": " + string(d) + "}}\n")
	return b.Bytes(), nil
}

// SubmissionMode says which of GVD's evaluations a submission is for, and so how many entries each
// image must have.
type SubmissionMode int

const (
	// GeneratedCaptions is F1_all / F1_loc on generated captions: exactly one entry per image (GVD's
	// grd_eval asserts it).
	GeneratedCaptions SubmissionMode = iota + 1
	// GroundTruthCaptions is the attention accuracy on ground-truth captions: exactly
	// [GroundTruthEntries] entries per image, one per Flickr30k caption (GVD's gt_grd_eval).
	GroundTruthCaptions
)

// GroundTruthEntries is the number of entries per image of a ground-truth-caption submission.
const GroundTruthEntries = 5

// entries returns the number of entries per image the mode requires.
func (m SubmissionMode) entries() (int, error) {
	switch m {
	case GeneratedCaptions:
		return 1, nil
	case GroundTruthCaptions:
		return GroundTruthEntries, nil
	}
	return 0, fmt.Errorf("grounding: invalid submission mode %d", int(m))
}

// String names the mode as the errors do.
func (m SubmissionMode) String() string {
	switch m {
	case GeneratedCaptions:
		return "generated-caption mode"
	case GroundTruthCaptions:
		return "ground-truth-caption mode"
	}
	return fmt.Sprintf("SubmissionMode(%d)", int(m))
}

// ReadSubmission reads a GVD grounding submission: {"results": {"<image id>": [{"clss": [...],
// "idx_in_sent": [...], "bbox": [[x1, y1, x2, y2], ...]}, ...]}, "external_data": {...}}, and
// validates it as GVD's eval_grd_flickr30k_entities.py does: the number of entries per image that
// mode requires, four coordinates per box, as many classes as boxes (and idx_in_sent when given).
// Errors name the file and the image id and wrap [ErrInput] for such problems.
func ReadSubmission(path string, mode SubmissionMode) (Submission, error) {
	want, err := mode.entries()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	var j struct {
		Results map[string][]struct {
			Clss      []string    `json:"clss"`
			IdxInSent []int       `json:"idx_in_sent"`
			BBox      [][]float64 `json:"bbox"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("grounding: %s: %w", path, err)
	}
	if j.Results == nil {
		return nil, fmt.Errorf("grounding: %s: no \"results\" object", path)
	}
	sub := make(Submission, len(j.Results))
	var bad []int64
	for k, entries := range j.Results {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("grounding: %s: results key %q is not an integer image id", path, k)
		}
		if _, dup := sub[id]; dup {
			return nil, fmt.Errorf("grounding: %s: image %d appears twice in results", path, id)
		}
		if len(entries) != want {
			bad = append(bad, id)
		}
		preds := make([]Prediction, len(entries))
		for e, en := range entries {
			boxes := make([]Box, len(en.BBox))
			for b, c := range en.BBox {
				if len(c) != len(Box{}) {
					return nil, fmt.Errorf("%w: %s: image %d entry %d box %d has %d coordinates, want 4 (x1, y1, x2, y2)", ErrInput, path, id, e, b, len(c))
				}
				boxes[b] = Box(c)
			}
			preds[e] = Prediction{Classes: en.Clss, IdxInSent: en.IdxInSent, Boxes: boxes}
			if err := preds[e].validate(id, e); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		sub[id] = preds
	}
	if len(bad) > 0 {
		sort.Slice(bad, func(a, b int) bool { return bad[a] < bad[b] })
		id := bad[0]
		return nil, fmt.Errorf("%w: %s: %d image(s) do not have %d entries each (%s, as GVD's script asserts): image %d has %d (ids %s)", ErrInput, path, len(bad), want, mode, id, len(sub[id]), listIDs(bad))
	}
	return sub, nil
}

// maxListedIDs bounds the number of image ids an error message lists.
const maxListedIDs = 10

// listIDs returns the first ids of the sorted ids, comma-separated.
func listIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i == maxListedIDs {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// ReadClassList reads a class list (GVD's flickr30k_class_name.txt: one class per line).
func ReadClassList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	defer f.Close()
	var out []string
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		c := strings.TrimSpace(sc.Text())
		if c == "" {
			continue
		}
		if strings.ContainsAny(c, " \t") {
			return nil, fmt.Errorf("%w: %s:%d: class %q is not a single word", ErrInput, path, line, c)
		}
		if prev, dup := seen[c]; dup {
			return nil, fmt.Errorf("%w: %s:%d: class %q already on line %d", ErrInput, path, line, c, prev)
		}
		seen[c] = line
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("grounding: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no classes", ErrInput, path)
	}
	return out, nil
}

// ReadSplitIDs reads the ids of one split from GVD's split_ids_flickr30k_entities.json ({"train":
// ["<id>", …], "val": […], "test": […]}), sorted.
func ReadSplitIDs(path, split string) ([]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grounding: %w", err)
	}
	var m map[string][]json.Number
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("grounding: %s: %w", path, err)
	}
	raw, ok := m[split]
	if !ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("grounding: %s: no split %q (have %s)", path, split, strings.Join(keys, ", "))
	}
	ids := make([]int64, len(raw))
	for i, r := range raw {
		if ids[i], err = strconv.ParseInt(r.String(), 10, 64); err != nil {
			return nil, fmt.Errorf("grounding: %s: %s[%d] = %q is not an integer id", path, split, i, r)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}
