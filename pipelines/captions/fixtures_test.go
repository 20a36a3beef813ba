package captions

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/fixtures"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
)

// fixturesDir returns the shared fixtures directory or skips the test.
func fixturesDir(t *testing.T) string {
	t.Helper()
	return fixtures.Dir(t, "flickr30k_entities/Sentences")
}

// TestFlickr30kEntitiesFixtures parses the 40 real Flickr30k Entities images (Karpathy/GVD val
// split) with GVD's class list and split ids: zero rejects, every phrase written.
func TestFlickr30kEntitiesFixtures(t *testing.T) {
	ctx := context.Background()
	fx := fixturesDir(t)
	ents := filepath.Join(fx, "flickr30k_entities")
	files, err := filepath.Glob(filepath.Join(ents, "Sentences", "*.txt"))
	if err != nil || len(files) != 40 {
		t.Fatalf("%d Sentences files, want 40 (%v)", len(files), err)
	}
	// A Karpathy-style dataset for these images, built from the Sentences lines: markup removed,
	// lower-cased, punctuation dropped (the form of Karpathy's tokens).
	markup := regexp.MustCompile(`\[/EN#[^ ]+ |\]`)
	var images []img
	phrases := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		im := img{Filename: strings.TrimSuffix(filepath.Base(f), ".txt") + ".jpg", Split: "val"}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			phrases += strings.Count(line, "[/EN#")
			var tk []string
			for _, w := range strings.Fields(markup.ReplaceAllString(line, "")) {
				if isWord(w) {
					tk = append(tk, strings.ToLower(w))
				}
			}
			im.Sentences = append(im.Sentences, sent{Tokens: tk, Raw: markup.ReplaceAllString(line, "")})
		}
		images = append(images, im)
	}
	dir := t.TempDir()
	dataset := filepath.Join(dir, "dataset_flickr30k.json")
	writeJSON(t, dataset, map[string]any{"images": images})
	loc := Locations{Dataset: dataset, Entities: ents, ClassNames: filepath.Join(fx, "gvd", "flickr30k_class_name.txt"),
		SplitIDs: filepath.Join(fx, "gvd", "split_ids_flickr30k_entities.json"), Out: filepath.Join(dir, "out")}
	st, err := Run(ctx, loc, params(func(p *Params) { p.Dataset = dataset }))
	if err != nil {
		t.Fatal(err)
	}
	g := st.Grounding
	if st.Records.Rejected != 0 || g.Records.Rejected != 0 || st.RejectsRows != 0 {
		t.Errorf("rejects: captions %+v, phrases %+v", st.Records, g.Records)
	}
	if st.Images != 40 || st.Captions != 200 || st.Splits["val"].Images != 40 || g.Images != 40 || g.Sentences != 200 || g.Records.Written != int64(phrases) {
		t.Errorf("stats: %d images, %d captions, splits %+v; grounding %+v; %d phrases in the files", st.Images, st.Captions, st.Splits, g, phrases)
	}
	refs, err := captionstable.ReadGroundingRefs(ctx, filepath.Join(loc.Out, captionstable.GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	var boxed, classed int
	for _, r := range refs {
		if len(r.Boxes) > 0 {
			boxed++
		}
		if r.Class != "" {
			classed++
		}
		if r.Width <= 0 || r.Height <= 0 {
			t.Errorf("image %d: size %dx%d", r.ImageID, r.Width, r.Height)
		}
		for _, b := range r.Boxes {
			if b.X1 < 0 || b.Y1 < 0 || b.X2 >= r.Width || b.Y2 >= r.Height {
				t.Errorf("image %d chain %d: box %+v outside %dx%d", r.ImageID, r.ChainID, b, r.Width, r.Height)
			}
		}
	}
	t.Logf("%d phrases: %d boxed, %d with a grounding class, %d not visual, %d without box", len(refs), boxed, classed, g.NotVisual, g.NoBox)
}
