package caption

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadOptions configure [ReadReferences].
type ReadOptions struct {
	// Split selects the images of one split ("train", "val", "test", "restval") of a Karpathy
	// dataset file; empty takes every image. It is an error for a COCO annotation file.
	Split string
	// Tokens takes a Karpathy file's pre-tokenised "tokens" (joined by spaces) instead of its "raw"
	// sentences. Use it with Options.PreTokenized.
	Tokens bool
}

// ReadReferences reads reference captions from a COCO annotation file ({"annotations": [{"image_id",
// "caption"}, …]}) or a Karpathy dataset file ({"images": [{"filename", "split", "sentences": [{"raw",
// "tokens"}]}, …]}; the image id is "cocoid" when present, else the integer in the file name).
func ReadReferences(path string, opts ReadOptions) (map[int64][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("caption: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("caption: %s: not a JSON object: %w", path, err)
	}
	if raw, ok := probe["annotations"]; ok {
		if opts.Split != "" {
			return nil, fmt.Errorf("caption: %s: a split (%q) applies only to Karpathy dataset files, this is a COCO annotation file", path, opts.Split)
		}
		return readCOCORefs(path, raw)
	}
	if raw, ok := probe["images"]; ok {
		return readKarpathy(path, raw, opts)
	}
	return nil, fmt.Errorf("caption: %s: neither a COCO annotation file (\"annotations\") nor a Karpathy dataset file (\"images\")", path)
}

func readCOCORefs(path string, raw json.RawMessage) (map[int64][]string, error) {
	var anns []struct {
		ImageID *json.Number `json:"image_id"`
		Caption *string      `json:"caption"`
	}
	if err := decodeNumbers(raw, &anns); err != nil {
		return nil, fmt.Errorf("caption: %s: annotations: %w", path, err)
	}
	refs := make(map[int64][]string)
	for i, a := range anns {
		if a.ImageID == nil || a.Caption == nil {
			return nil, fmt.Errorf("caption: %s: annotations[%d]: missing image_id or caption", path, i)
		}
		id, err := parseID(*a.ImageID)
		if err != nil {
			return nil, fmt.Errorf("caption: %s: annotations[%d]: %w", path, i, err)
		}
		refs[id] = append(refs[id], *a.Caption)
	}
	return refs, nil
}

func readKarpathy(path string, raw json.RawMessage, opts ReadOptions) (map[int64][]string, error) {
	var imgs []struct {
		Filename  string       `json:"filename"`
		CocoID    *json.Number `json:"cocoid"`
		Split     string       `json:"split"`
		Sentences []struct {
			Raw    string   `json:"raw"`
			Tokens []string `json:"tokens"`
		} `json:"sentences"`
	}
	if err := decodeNumbers(raw, &imgs); err != nil {
		return nil, fmt.Errorf("caption: %s: images: %w", path, err)
	}
	refs := make(map[int64][]string)
	for i, img := range imgs {
		if opts.Split != "" && img.Split != opts.Split {
			continue
		}
		var id int64
		var err error
		if img.CocoID != nil {
			id, err = parseID(*img.CocoID)
		} else {
			stem := strings.TrimSuffix(filepath.Base(img.Filename), filepath.Ext(img.Filename))
			id, err = strconv.ParseInt(stem, 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("caption: %s: images[%d] (%q): no image id: %w", path, i, img.Filename, err)
		}
		if _, dup := refs[id]; dup {
			return nil, fmt.Errorf("caption: %s: images[%d]: image id %d appears twice", path, i, id)
		}
		caps := make([]string, len(img.Sentences))
		for j, s := range img.Sentences {
			if opts.Tokens {
				caps[j] = strings.Join(s.Tokens, " ")
			} else {
				caps[j] = s.Raw
			}
		}
		refs[id] = caps
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("caption: %s: no images in split %q", path, opts.Split)
	}
	return refs, nil
}

// ReadPredictions reads a COCO results file ([{"image_id", "caption"}, …]). Two predictions for one
// image are an error listing the ids.
func ReadPredictions(path string) (map[int64]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("caption: %w", err)
	}
	var res []struct {
		ImageID *json.Number `json:"image_id"`
		Caption *string      `json:"caption"`
	}
	if err := decodeNumbers(data, &res); err != nil {
		return nil, fmt.Errorf("caption: %s: want a COCO results list [{\"image_id\", \"caption\"}]: %w", path, err)
	}
	preds := make(map[int64]string, len(res))
	var dups []int64
	for i, r := range res {
		if r.ImageID == nil || r.Caption == nil {
			return nil, fmt.Errorf("caption: %s: entry %d: missing image_id or caption", path, i)
		}
		id, err := parseID(*r.ImageID)
		if err != nil {
			return nil, fmt.Errorf("caption: %s: entry %d: %w", path, i, err)
		}
		if _, dup := preds[id]; dup {
			dups = append(dups, id)
			continue
		}
		preds[id] = *r.Caption
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("%w: %s: %d image(s) have more than one prediction: %s", ErrInput, path, len(dups), listIDs(dups))
	}
	return preds, nil
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// parseID accepts an integer image id (as a JSON number or numeric string).
func parseID(n json.Number) (int64, error) {
	id, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("image_id %q is not an integer", n.String())
	}
	return id, nil
}
