package captions

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/internal/synth"
)

// TestSynthWorld runs the stage on a small synthetic world and checks it against the generator's
// ground truth (truth.json): every caption once with its tokens, and every object mention's
// grounding reference (head word, class, chain, boxes).
func TestSynthWorld(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	world := filepath.Join(dir, "world")
	if _, err := synth.Generate(ctx, synth.Options{Images: 60, Seed: 3, FeatDim: 16, Boxes: 10, TSVFiles: 1, NoImages: true}, synth.DirSink(world), nil); err != nil {
		t.Fatal(err)
	}
	var truth synth.Truth
	data, err := os.ReadFile(filepath.Join(world, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	loc := Locations{Dataset: filepath.Join(world, "dataset.json"), Entities: world, ClassNames: filepath.Join(world, "class_names.txt"),
		SplitIDs: filepath.Join(world, "split_ids.json"), Out: out}
	st, err := Run(ctx, loc, Params{Dataset: loc.Dataset, NumShards: 3})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadCaptions(ctx, filepath.Join(out, CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := ReadGroundingRefs(ctx, filepath.Join(out, GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		img int64
		cap int32
	}
	byCap := map[key]*Row{}
	for i := range rows {
		k := key{rows[i].ImageID, rows[i].CaptionIdx}
		if byCap[k] != nil {
			t.Fatalf("caption %v twice", k)
		}
		byCap[k] = &rows[i]
	}
	refsAt := map[key][]GroundingRef{}
	for _, r := range refs {
		k := key{r.ImageID, r.CaptionIdx}
		refsAt[k] = append(refsAt[k], r)
	}
	var captions, mentions, matched int
	for _, im := range truth.Images {
		for ci, c := range im.Captions {
			captions++
			k := key{im.ImageID, int32(ci)}
			r := byCap[k]
			if r == nil {
				t.Errorf("caption %v missing", k)
				continue
			}
			n := min(len(c.Tokens), 16)
			if r.Split != im.Split || !slices.Equal(r.Tokens, c.Tokens[:n]) {
				t.Errorf("caption %v: %s %q, truth %s %q", k, r.Split, r.Tokens, im.Split, c.Tokens)
			}
			for _, m := range c.Mentions {
				mentions++
				var got *GroundingRef
				for i, g := range refsAt[k] {
					if int(g.HeadIndex) == m.WordIndex {
						got = &refsAt[k][i]
					}
				}
				if got == nil {
					t.Errorf("caption %v: no phrase headed at word %d %q", k, m.WordIndex, m.Word)
					continue
				}
				var boxes [][4]int
				for _, b := range got.Boxes {
					boxes = append(boxes, [4]int{int(b.X1), int(b.Y1), int(b.X2), int(b.Y2)})
				}
				if got.HeadWord != m.Word || got.Class != m.Class || got.ChainID != int64(m.Chain) || !sameBoxes(boxes, m.Boxes) {
					t.Errorf("caption %v word %d: got %s/%s chain %d boxes %v; truth %s/%s chain %d boxes %v",
						k, m.WordIndex, got.HeadWord, got.Class, got.ChainID, boxes, m.Word, m.Class, m.Chain, m.Boxes)
					continue
				}
				matched++
			}
		}
	}
	if captions != len(rows) || int64(captions) != st.Captions || st.Records.Rejected != 0 || st.Grounding.Records.Rejected != 0 {
		t.Errorf("%d truth captions, %d rows, stats %+v", captions, len(rows), st.Records)
	}
	t.Logf("%d captions, %d mentions, %d grounding refs matched the truth", captions, mentions, matched)
}

// sameBoxes compares box lists as multisets.
func sameBoxes(a, b [][4]int) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && x == y {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
