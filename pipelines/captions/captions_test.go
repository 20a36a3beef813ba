package captions

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/internal/treetest"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/transforms/postag"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/vocab"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// runWorld runs the stage's pipeline on w into dir/out with p.
func runWorld(t *testing.T, w world, out string, p Params) (*Stats, error) {
	t.Helper()
	p.Dataset = w.dataset
	return Run(context.Background(), Locations{Dataset: w.dataset, Entities: w.entities, ClassNames: w.classNames, SplitIDs: w.splitIDs, Out: out}, p)
}

func TestRunSmall(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	out := filepath.Join(w.dir, "out")
	st, err := runWorld(t, w, out, params(func(p *Params) { p.WordCountThreshold = 1 }))
	if err != nil {
		t.Fatal(err)
	}
	// Expected counts from the hand-made world in helpers_test.go.
	if st.Images != 4 || st.Captions != 8 || st.Records != (RecordCount{Read: 8, Written: 8}) || st.RawOnly != 1 || st.Truncated != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.Splits["train"] != (SplitCount{Images: 3, Captions: 6}) || st.Splits["val"] != (SplitCount{Images: 1, Captions: 2}) {
		t.Errorf("splits %+v", st.Splits)
	}

	// Vocabulary: train words counted more than once, recounted here from the input.
	v, err := captionstable.ReadVocab(ctx, filepath.Join(out, captionstable.VocabFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := captionstable.ReadCaptions(ctx, filepath.Join(out, captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var trainRefs [][][]string
	var trainIDs []int64
	for _, r := range rows {
		if r.Split == "train" {
			full := strings.Fields(r.Raw)
			if r.ImageID == 102 && r.CaptionIdx == 1 {
				full = strings.Fields("a brown dog plays with a ball") // the raw-only caption, tokenised
			}
			for _, w := range full {
				counts[w]++
			}
			if k := slices.Index(trainIDs, r.ImageID); k < 0 {
				trainIDs = append(trainIDs, r.ImageID)
				trainRefs = append(trainRefs, [][]string{full})
			} else {
				trainRefs[k] = append(trainRefs[k], full)
			}
		}
	}
	var kept []string
	for w, n := range counts {
		if n > 1 {
			kept = append(kept, w)
		}
	}
	sort.Strings(kept)
	if want := append(append([]string{""}, kept...), vocab.UNK); !slices.Equal(v.IxToWord, want) {
		t.Errorf("vocabulary %q, want %q", v.IxToWord, want)
	}
	if st.VocabSize != v.Size() {
		t.Errorf("stats vocab_size %d, vocab %d", st.VocabSize, v.Size())
	}

	// Every caption once, in its shard, consistent columns.
	seen := map[[2]int64]bool{}
	var unk, toks int64
	for _, sh := range []int{0, 1, 2, 3} {
		part, err := captionstable.ReadShard(ctx, filepath.Join(out, shard.Name(captionstable.CaptionsTable, sh, 4)))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range part {
			if shard.Of(r.ImageID, 4) != sh {
				t.Errorf("image %d in shard %d", r.ImageID, sh)
			}
			if i > 0 && part[i-1].Compare(&r) >= 0 {
				t.Errorf("shard %d rows out of order", sh)
			}
			k := [2]int64{r.ImageID, int64(r.CaptionIdx)}
			if seen[k] {
				t.Errorf("caption %v twice", k)
			}
			seen[k] = true
			n := len(r.Tokens)
			if n > 16 || int(r.Length) != n || len(r.POS) != n || len(r.NounMask) != n || len(r.Labels) != n {
				t.Errorf("%v: lengths %d %d %d %d %d", k, r.Length, n, len(r.POS), len(r.NounMask), len(r.Labels))
				continue
			}
			for j, w := range r.Tokens {
				want := v.ID(w)
				if r.Labels[j] != want {
					t.Errorf("%v: label %d of %q, want %d", k, r.Labels[j], w, want)
				}
				if r.NounMask[j] != (postag.IsNoun(r.POS[j]) && v.Known(w)) {
					t.Errorf("%v: noun mask of %q/%s", k, w, r.POS[j])
				}
				if !v.Known(w) {
					unk++
				}
				toks++
			}
		}
	}
	if len(seen) != 8 || st.Tokens != toks || st.UNKTokens != unk {
		t.Errorf("%d captions, tokens %d/%d, unk %d/%d", len(seen), st.Tokens, toks, st.UNKTokens, unk)
	}

	// Document frequencies equal eval/caption.BuildDocFreq over the same references (UNK, <eos>).
	for i := range trainRefs {
		for j := range trainRefs[i] {
			var r []string
			for _, w := range trainRefs[i][j] {
				if !v.Known(w) {
					w = vocab.UNK
				}
				r = append(r, w)
			}
			trainRefs[i][j] = append(r, captionstable.EOS)
		}
	}
	want, err := caption.BuildDocFreq(trainRefs)
	if err != nil {
		t.Fatal(err)
	}
	df, err := captionstable.ReadDocFreq(ctx, filepath.Join(out, captionstable.DocFreqFile))
	if err != nil {
		t.Fatal(err)
	}
	if df.NumImages != 3 || len(df.NGrams) != len(want.NGrams) {
		t.Fatalf("df: %d images, %d n-grams; want 3, %d", df.NumImages, len(df.NGrams), len(want.NGrams))
	}
	for g, n := range want.NGrams {
		if df.NGrams[g] != n {
			t.Errorf("df[%q] = %d, want %d", g, df.NGrams[g], n)
		}
	}

	// Grounding references of the hand-made Entities files.
	refs, err := captionstable.ReadGroundingRefs(ctx, filepath.Join(out, captionstable.GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 9 || st.Grounding == nil || st.Grounding.Records != (RecordCount{Read: 9, Written: 9}) {
		t.Fatalf("%d refs, stats %+v", len(refs), st.Grounding)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Compare(&refs[j]) < 0 })
	r0 := refs[0] // [/EN#1/people A man]: two boxes (one shared with chain 2), XML minus 1
	if r0.ImageID != 101 || r0.ChainID != 1 || r0.HeadWord != "man" || r0.Class != "man" || r0.FirstWord != 0 ||
		!slices.Equal(r0.Boxes, []captionstable.Box{{X1: 10, Y1: 20, X2: 99, Y2: 199}, {X1: 30, Y1: 40, X2: 59, Y2: 79}}) || r0.Width != 500 || r0.Split != "train" {
		t.Errorf("ref 0: %+v", r0)
	}
	r3 := refs[3] // [/EN#1/people Two men]: men → man
	if r3.CaptionIdx != 1 || r3.HeadWord != "men" || r3.Class != "man" || r3.HeadIndex != 1 {
		t.Errorf("ref 3: %+v", r3)
	}
	r5 := refs[5] // [/EN#4/scene the beach]: scene, no box
	if !r5.Scene || !r5.NoBox || len(r5.Boxes) != 0 || r5.FirstWord != 5 || r5.Class != "beach" {
		t.Errorf("ref 5: %+v", r5)
	}
	r7 := refs[7] // zebra: nobndbox, not a class
	if !r7.NoBox || r7.Class != "" || r7.Split != "val" {
		t.Errorf("ref 7: %+v", r7)
	}
	r8 := refs[8] // chain 0 notvisual
	if !r8.NotVisual || r8.NoBox || len(r8.Boxes) != 0 {
		t.Errorf("ref 8: %+v", r8)
	}
	if st.Grounding.NotVisual != 1 || st.Grounding.NoBox != 2 || st.Grounding.Scene != 1 || st.Grounding.WithClass != 8 {
		t.Errorf("grounding stats %+v", st.Grounding)
	}
	rj, err := rejects.Read(ctx, filepath.Join(out, rejects.Table))
	if err != nil || len(rj) != 0 {
		t.Errorf("rejects %v, %v", rj, err)
	}

	// Deterministic: a second run writes the same bytes.
	out2 := filepath.Join(w.dir, "out2")
	if _, err := runWorld(t, w, out2, params(func(p *Params) { p.WordCountThreshold = 1 })); err != nil {
		t.Fatal(err)
	}
	treetest.Equal(t, treetest.Read(t, out, nil), treetest.Read(t, out2, nil))
}
