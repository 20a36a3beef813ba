package captions

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/transforms/vocab"
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
	st, err := Run(ctx, loc, params(func(p *Params) { p.Dataset, p.NumShards = loc.Dataset, 3 }))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := captionstable.ReadCaptions(ctx, filepath.Join(out, captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := captionstable.ReadGroundingRefs(ctx, filepath.Join(out, captionstable.GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		img int64
		cap int32
	}
	byCap := map[key]*captionstable.Row{}
	for i := range rows {
		k := key{rows[i].ImageID, rows[i].CaptionIdx}
		if byCap[k] != nil {
			t.Fatalf("caption %v twice", k)
		}
		byCap[k] = &rows[i]
	}
	refsAt := map[key][]captionstable.GroundingRef{}
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
				var got *captionstable.GroundingRef
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
	checkMatchingText(t, out, rows)
}

// checkMatchingText checks the matching model's text against counts recomputed from the rows:
// the matching vocabulary keeps exactly the matching tokens of train, restval and val captions
// counted at least 4 times; every row's match_ids are <start>, the tokens' ids, <end>; and on the
// synthetic world the matching text differs from the captioner's where it should (punctuation,
// captions longer than max_length, the lower threshold).
func checkMatchingText(t *testing.T, out string, rows []captionstable.Row) {
	t.Helper()
	mv, err := captionstable.ReadMatchVocab(context.Background(), filepath.Join(out, captionstable.MatchVocabFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := captionstable.ReadVocab(context.Background(), filepath.Join(out, captionstable.VocabFile))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var punct, longer int
	for _, r := range rows {
		if r.Split == "train" || r.Split == "restval" || r.Split == "val" {
			for _, w := range r.MatchTokens {
				counts[w]++
			}
		}
		if len(r.MatchIDs) != len(r.MatchTokens)+2 || r.MatchIDs[0] != vocab.StartID || r.MatchIDs[len(r.MatchIDs)-1] != vocab.EndID ||
			len(r.MatchNounMask) != len(r.MatchIDs) || r.MatchNounMask[0] || r.MatchNounMask[len(r.MatchNounMask)-1] {
			t.Fatalf("image %d caption %d: match ids %v mask %v for tokens %q", r.ImageID, r.CaptionIdx, r.MatchIDs, r.MatchNounMask, r.MatchTokens)
		}
		for k, w := range r.MatchTokens {
			if w != strings.ToLower(w) {
				t.Fatalf("image %d caption %d: matching token %q not lower-cased", r.ImageID, r.CaptionIdx, w)
			}
			if want := mv.ID(w); r.MatchIDs[k+1] != want {
				t.Fatalf("image %d caption %d: token %q id %d, vocabulary says %d", r.ImageID, r.CaptionIdx, w, r.MatchIDs[k+1], want)
			}
		}
		if slices.Contains(r.MatchTokens, ".") || slices.Contains(r.MatchTokens, ",") {
			punct++
		}
		if len(r.MatchTokens) > len(r.Tokens) {
			longer++
		}
	}
	var lowThreshold int
	for w, n := range counts {
		if got := mv.Known(w); got != (n >= vocab.DefaultMatchingThreshold) {
			t.Errorf("matching vocabulary: %q counted %d, known %v", w, n, got)
		}
		if (n == 4 || n == 5) && mv.Known(w) && !v.Known(w) {
			lowThreshold++
		}
	}
	if want := len(mv.IxToWord) - 4; want > len(counts) {
		t.Errorf("matching vocabulary has %d words, only %d distinct tokens counted", want, len(counts))
	}
	if punct == 0 || longer == 0 || lowThreshold == 0 {
		t.Errorf("matching text does not differ from the captioner's: %d captions with punctuation, %d longer, %d words kept only by the lower threshold",
			punct, longer, lowThreshold)
	}
	t.Logf("matching vocabulary %d ids (captioner %d); %d captions with punctuation, %d longer than the captioner's tokens, %d words kept only by threshold 4",
		mv.Size(), v.Size(), punct, longer, lowThreshold)
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
