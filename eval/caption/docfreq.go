package caption

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/groundcap/groundcap/internal/atomicfile"
)

// DocFreqFormat is the "format" field of a serialised [DocFreq].
const DocFreqFormat = "groundcap.cider-docfreq/v1"

// DocFreq is the document-frequency table of CIDEr-D for SCST rewards: for every n-gram (n = 1..4)
// of a reference corpus, the number of images whose references contain it, and the number of
// images (ref_len = ln NumImages).
//
// Serialised form (JSON, written by [DocFreq.Write], read by [ReadDocFreq]):
//
//	{"format": "groundcap.cider-docfreq/v1", "num_images": 113287,
//	 "ngrams": {"a": 100123, "a man": 40211, "a man riding a": 812, …}}
//
// An n-gram is its tokens joined by single spaces (tokens never contain white space); counts are
// positive and at most num_images. Keys are written in sorted order, so equal tables give equal bytes.
type DocFreq struct {
	NumImages int
	NGrams    map[string]int
}

// BuildDocFreq counts document frequencies over refs, indexed [image][reference][token]. It counts
// exactly the tokens it is given: to reproduce self-critical.pytorch's precomputed table, pass each
// training reference's tokens with out-of-vocabulary words replaced by the UNK token and the end
// token appended. Tokens must be non-empty and free of white space.
func BuildDocFreq(refs [][][]string) (*DocFreq, error) {
	d := &DocFreq{NumImages: len(refs), NGrams: make(map[string]int)}
	seen := make(map[string]int)
	for i, img := range refs {
		for j, r := range img {
			for k, t := range r {
				if t == "" || strings.IndexFunc(t, isPySpace) >= 0 {
					return nil, fmt.Errorf("caption: BuildDocFreq: image %d reference %d token %d: %q is empty or contains white space", i, j, k, t)
				}
			}
			for n := 1; n <= maxN; n++ {
				for s := 0; s+n <= len(r); s++ {
					g := strings.Join(r[s:s+n], " ")
					if seen[g] != i+1 {
						seen[g] = i + 1
						d.NGrams[g]++
					}
				}
			}
		}
	}
	return d, nil
}

type docFreqJSON struct {
	Format    string         `json:"format"`
	NumImages int            `json:"num_images"`
	NGrams    map[string]int `json:"ngrams"`
}

// Write writes d as JSON (see [DocFreq]).
func (d *DocFreq) Write(w io.Writer) error {
	if err := d.Validate(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(docFreqJSON{DocFreqFormat, d.NumImages, d.NGrams}); err != nil {
		return fmt.Errorf("caption: writing document frequencies: %w", err)
	}
	return nil
}

// WriteFile writes d to path atomically: to a temporary file in the same folder, then renamed.
func (d *DocFreq) WriteFile(path string) error {
	if err := atomicfile.WriteFile(path, d.Write); err != nil {
		return fmt.Errorf("caption: writing %s: %w", path, err)
	}
	return nil
}

// ErrDocFreq marks a malformed document-frequency table.
var ErrDocFreq = errors.New("caption: bad document-frequency table")

// Validate checks that d is well formed: at least one image, n-grams of 1..4 non-empty tokens
// separated by single spaces, counts in 1..NumImages.
func (d *DocFreq) Validate() error {
	if d.NumImages < 1 {
		return fmt.Errorf("%w: num_images = %d, want ≥ 1", ErrDocFreq, d.NumImages)
	}
	for g, c := range d.NGrams {
		parts := strings.Split(g, " ")
		if len(parts) > maxN {
			return fmt.Errorf("%w: n-gram %q has %d tokens, want ≤ %d", ErrDocFreq, g, len(parts), maxN)
		}
		for _, p := range parts {
			if p == "" || strings.IndexFunc(p, isPySpace) >= 0 {
				return fmt.Errorf("%w: n-gram %q has an empty token or white space other than single spaces", ErrDocFreq, g)
			}
		}
		if c < 1 || c > d.NumImages {
			return fmt.Errorf("%w: n-gram %q has count %d, want 1..%d", ErrDocFreq, g, c, d.NumImages)
		}
	}
	return nil
}

// ReadDocFreq reads a table written by [DocFreq.Write]; name is used in error messages.
func ReadDocFreq(r io.Reader, name string) (*DocFreq, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var j docFreqJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("caption: reading document frequencies %s: %w", name, err)
	}
	if j.Format != DocFreqFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrDocFreq, name, j.Format, DocFreqFormat)
	}
	d := &DocFreq{NumImages: j.NumImages, NGrams: j.NGrams}
	if d.NGrams == nil {
		d.NGrams = map[string]int{}
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// ReadDocFreqFile reads a table from a file.
func ReadDocFreqFile(path string) (*DocFreq, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("caption: %w", err)
	}
	defer f.Close()
	return ReadDocFreq(f, path)
}
