package caption

import (
	"fmt"
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
// "tokens"}]}, …]}; the image id is "cocoid" when present, else the integer in the file name). The
// file is decoded as a stream; errors name the file, line and column.
func ReadReferences(path string, opts ReadOptions) (map[int64][]string, error) {
	j, err := openJSON(path)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	if err := j.begin('{', top("top level")); err != nil {
		return nil, fmt.Errorf("%w (want a COCO annotation file or a Karpathy dataset file)", err)
	}
	var coco, karpathy map[int64][]string
	// karpathyErr is the first problem of "images" read as a Karpathy file; it matters only when
	// the file has no "annotations" (a COCO file's "images" list has no sentences).
	var karpathyErr error
	for {
		name, ok, err := j.member()
		if !ok {
			if err != nil {
				return nil, err
			}
			break
		}
		switch name {
		case "annotations":
			if coco, err = readCOCORefs(j); err != nil {
				return nil, err
			}
		case "images":
			if karpathy, karpathyErr, err = readKarpathy(j, opts); err != nil {
				return nil, err
			}
		default:
			if err := j.skip(); err != nil {
				return nil, err
			}
		}
	}
	if err := j.end(); err != nil {
		return nil, err
	}
	switch {
	case coco != nil:
		if opts.Split != "" {
			return nil, fmt.Errorf("caption: %s: a split (%q) applies only to Karpathy dataset files, this is a COCO annotation file", path, opts.Split)
		}
		return coco, nil
	case karpathy != nil:
		if karpathyErr != nil {
			return nil, karpathyErr
		}
		if len(karpathy) == 0 {
			return nil, fmt.Errorf("caption: %s: no images in split %q", path, opts.Split)
		}
		return karpathy, nil
	}
	return nil, fmt.Errorf("caption: %s: neither a COCO annotation file (\"annotations\") nor a Karpathy dataset file (\"images\")", path)
}

// readCOCORefs reads the "annotations" list of a COCO annotation file.
func readCOCORefs(j *jsonFile) (map[int64][]string, error) {
	if err := j.begin('[', top("annotations")); err != nil {
		return nil, err
	}
	refs := make(map[int64][]string)
	for i := 0; ; i++ {
		more, err := j.more()
		if err != nil {
			return nil, err
		}
		if !more {
			return refs, nil
		}
		id, caption, err := readIDCaption(j, item("annotations", i))
		if err != nil {
			return nil, err
		}
		refs[id] = append(refs[id], caption)
	}
}

// readIDCaption reads one {"image_id", "caption"} object (other members are skipped), as COCO
// annotations and results hold them.
func readIDCaption(j *jsonFile, where loc) (id int64, caption string, err error) {
	start := j.dec.InputOffset()
	if err := j.begin('{', where); err != nil {
		return 0, "", err
	}
	var haveID, haveCaption bool
	for {
		name, ok, err := j.member()
		if !ok {
			if err != nil {
				return 0, "", err
			}
			break
		}
		switch name {
		case "image_id":
			id, err = j.id(where.at("image_id"))
			haveID = true
		case "caption":
			caption, err = j.str(where.at("caption"))
			haveCaption = true
		default:
			err = j.skip()
		}
		if err != nil {
			return 0, "", err
		}
	}
	if !haveID || !haveCaption {
		return 0, "", j.errAt(start, "%s: missing image_id or caption", where)
	}
	return id, caption, nil
}

// lateError is an error formatted only if it is returned (its position costs a second read).
type lateError struct {
	j   *jsonFile
	off int64
	msg string
}

func (e *lateError) Error() string { return e.j.errAt(e.off, "%s", e.msg).Error() }

// readKarpathy reads the "images" list of a Karpathy dataset file, keeping the images of
// opts.Split (all when empty). Problems that only a Karpathy file has (no image id) come back as
// kerr; err is a problem of the JSON itself.
func readKarpathy(j *jsonFile, opts ReadOptions) (refs map[int64][]string, kerr, err error) {
	if err := j.begin('[', top("images")); err != nil {
		return nil, nil, err
	}
	refs = make(map[int64][]string)
	for i := 0; ; i++ {
		more, err := j.more()
		if err != nil {
			return nil, nil, err
		}
		if !more {
			return refs, kerr, nil
		}
		where := item("images", i)
		start := j.dec.InputOffset()
		if err := j.begin('{', where); err != nil {
			return nil, nil, err
		}
		var filename, split string
		var cocoID int64
		var haveCocoID bool
		var caps []string
		for {
			name, ok, err := j.member()
			if !ok {
				if err != nil {
					return nil, nil, err
				}
				break
			}
			switch name {
			case "filename":
				filename, err = j.str(where.at("filename"))
			case "cocoid":
				cocoID, err = j.id(where.at("cocoid"))
				haveCocoID = true
			case "split":
				split, err = j.str(where.at("split"))
			case "sentences":
				caps, err = readSentences(j, where, opts.Tokens, caps[:0])
			default:
				err = j.skip()
			}
			if err != nil {
				return nil, nil, err
			}
		}
		if kerr != nil || (opts.Split != "" && split != opts.Split) {
			continue
		}
		id := cocoID
		if !haveCocoID {
			stem := strings.TrimSuffix(filepath.Base(filename), filepath.Ext(filename))
			if id, err = strconv.ParseInt(stem, 10, 64); err != nil {
				kerr = &lateError{j, start, fmt.Sprintf("%s (%q): no image id: neither a cocoid nor an integer file name", where, filename)}
				continue
			}
		}
		if _, dup := refs[id]; dup {
			kerr = &lateError{j, start, fmt.Sprintf("%s: image id %d appears twice", where, id)}
			continue
		}
		refs[id] = append([]string(nil), caps...)
	}
}

// readSentences reads a Karpathy image's "sentences" list into dst: each sentence's "raw" text, or
// its "tokens" joined by spaces when tokens is set.
func readSentences(j *jsonFile, img loc, tokens bool, dst []string) ([]string, error) {
	if err := j.begin('[', img.at("sentences")); err != nil {
		return nil, err
	}
	var toks []string
	for k := 0; ; k++ {
		more, err := j.more()
		if err != nil {
			return nil, err
		}
		if !more {
			return dst, nil
		}
		w := img.at("sentences").elem(k)
		if err := j.begin('{', w); err != nil {
			return nil, err
		}
		var raw string
		toks = toks[:0]
		for {
			name, ok, err := j.member()
			if !ok {
				if err != nil {
					return nil, err
				}
				break
			}
			switch {
			case name == "raw" && !tokens:
				raw, err = j.str(w.at("raw"))
			case name == "tokens" && tokens:
				if err = j.begin('[', w.at("tokens")); err != nil {
					return nil, err
				}
				for {
					more, err := j.more()
					if err != nil {
						return nil, err
					}
					if !more {
						break
					}
					t, err := j.str(w.at("tokens"))
					if err != nil {
						return nil, err
					}
					toks = append(toks, t)
				}
			default:
				err = j.skip()
			}
			if err != nil {
				return nil, err
			}
		}
		if tokens {
			dst = append(dst, strings.Join(toks, " "))
		} else {
			dst = append(dst, raw)
		}
	}
}

// ReadPredictions reads a COCO results file ([{"image_id", "caption"}, …]), decoded as a stream. Two
// predictions for one image are an error listing the ids.
func ReadPredictions(path string) (map[int64]string, error) {
	j, err := openJSON(path)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	if err := j.begin('[', top("top level")); err != nil {
		return nil, fmt.Errorf("%w (want a COCO results list [{\"image_id\", \"caption\"}])", err)
	}
	preds := make(map[int64]string)
	var dups []int64
	for i := 0; ; i++ {
		more, err := j.more()
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		id, caption, err := readIDCaption(j, item("entry", i))
		if err != nil {
			return nil, err
		}
		if _, dup := preds[id]; dup {
			dups = append(dups, id)
			continue
		}
		preds[id] = caption
	}
	if err := j.end(); err != nil {
		return nil, err
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("%w: %s: %d image(s) have more than one prediction: %s", ErrInput, path, len(dups), listIDs(dups))
	}
	return preds, nil
}
