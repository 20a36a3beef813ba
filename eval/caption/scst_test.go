package caption

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func splitAll(refs map[int64][]string, preds map[int64]string, ids []int64) ([][]string, [][][]string) {
	cands := make([][]string, len(ids))
	rs := make([][][]string, len(ids))
	for i, id := range ids {
		cands[i] = strings.Fields(preds[id])
		for _, r := range refs[id] {
			rs[i] = append(rs[i], strings.Fields(r))
		}
	}
	return cands, rs
}

// TestScorerMatchesCorpusCIDEr: with document frequencies built over the evaluated references, the
// SCST scorer must give pycocoevalcap's per-image CIDEr-D (values from nlgeval_expected.json).
func TestScorerMatchesCorpusCIDEr(t *testing.T) {
	cands, rs := splitAll(nlgevalRefs, nlgevalHyps, []int64{0, 1})
	df, err := BuildDocFreq(rs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(df, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ScoreWords(cands, rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.5171467420759928, 1.9672371692357238}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("%d: got %.17g, want %.17g", i, got[i], want[i])
		}
	}
}

// TestScorerMatchesScore cross-checks the id-based batch scorer against Score's CIDEr-D on a
// synthetic corpus (both implement the same formula through different code).
func TestScorerMatchesScore(t *testing.T) {
	refs, preds := syntheticCorpus(200, 5, 7)
	res, err := Score(refs, preds, Options{PreTokenized: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(res.PerImage))
	for i, p := range res.PerImage {
		ids[i] = p.ImageID
	}
	cands, rs := splitAll(refs, preds, ids)
	df, err := BuildDocFreq(rs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(df, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Candidates' words outside the references are not in the vocabulary: ScoreWords handles them;
	// for the id path, use only images whose candidate words are all known.
	cIDs := [][]int32{}
	prepared := []*Refs{}
	want := []float64{}
	for i := range cands {
		c, ok := toIDs(s, cands[i])
		if !ok {
			continue
		}
		var r [][]int32
		for _, ref := range rs[i] {
			x, _ := toIDs(s, ref)
			r = append(r, x)
		}
		p, err := s.PrepareRefs(r)
		if err != nil {
			t.Fatal(err)
		}
		cIDs = append(cIDs, c)
		prepared = append(prepared, p)
		want = append(want, res.PerImage[i].CIDErD)
	}
	if len(cIDs) < 20 {
		t.Fatalf("only %d candidates fully in vocabulary", len(cIDs))
	}
	for _, workers := range []int{1, 3} {
		got, err := s.ScoreBatch(nil, cIDs, prepared, workers)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !near(got[i], want[i]) {
				t.Fatalf("workers=%d candidate %d: got %.17g, want %.17g", workers, i, got[i], want[i])
			}
		}
	}
	words, err := s.ScoreWords(cands, rs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range words {
		if !near(words[i], res.PerImage[i].CIDErD) {
			t.Fatalf("ScoreWords %d: got %.17g, want %.17g", i, words[i], res.PerImage[i].CIDErD)
		}
	}
}

func toIDs(s *Scorer, ws []string) ([]int32, bool) {
	out := make([]int32, len(ws))
	for i, w := range ws {
		id, ok := s.ID(w)
		if !ok {
			return nil, false
		}
		out[i] = id
	}
	return out, true
}

func TestDocFreqRoundTrip(t *testing.T) {
	df, err := BuildDocFreq([][][]string{{{"a", "b", "<eos>"}, {"a", "c"}}, {{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Hand-counted: "a" in both images, "a b" in both, "b <eos>" only in image 0.
	for g, want := range map[string]int{"a": 2, "a b": 2, "b <eos>": 1, "a b <eos>": 1, "c": 1} {
		if df.NGrams[g] != want {
			t.Errorf("df[%q] = %d, want %d", g, df.NGrams[g], want)
		}
	}
	path := filepath.Join(t.TempDir(), "df.json")
	if err := df.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadDocFreqFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.NumImages != 2 || len(back.NGrams) != len(df.NGrams) {
		t.Fatalf("round trip: got %d images, %d n-grams", back.NumImages, len(back.NGrams))
	}
	var a, b bytes.Buffer
	if err := df.Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := back.Write(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("re-written table differs")
	}
}

func TestDocFreqErrors(t *testing.T) {
	if _, err := BuildDocFreq([][][]string{{{"a b"}}}); err == nil {
		t.Error("BuildDocFreq accepted a token with a space")
	}
	cases := []string{
		`{"format":"other","num_images":1,"ngrams":{}}`,                                   // 0 wrong format
		`{"format":"groundcap.cider-docfreq/v1","num_images":0,"ngrams":{}}`,              // 1 no images
		`{"format":"groundcap.cider-docfreq/v1","num_images":1,"ngrams":{"a":2}}`,         // 2 count > images
		`{"format":"groundcap.cider-docfreq/v1","num_images":1,"ngrams":{"a  b":1}}`,      // 3 empty token
		`{"format":"groundcap.cider-docfreq/v1","num_images":1,"ngrams":{"a b c d e":1}}`, // 4 5-gram
		`{"format":"groundcap.cider-docfreq/v1","num_images":1,"ngrams":{},"x":1}`,        // 5 unknown key
		`{"format":`, // 6 truncated
	}
	for i, c := range cases {
		if _, err := ReadDocFreq(strings.NewReader(c), "t.json"); err == nil || !strings.Contains(err.Error(), "t.json") {
			t.Errorf("%d: got %v, want an error naming t.json", i, err)
		}
	}
	if _, err := ReadDocFreqFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestScorerErrors(t *testing.T) {
	df := &DocFreq{NumImages: 3, NGrams: map[string]int{"a": 1, "b": 2, "a zz": 1}}
	s, err := NewScorer(df, []string{"<eos>", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Skipped != 1 { // "a zz": zz is not in the vocabulary
		t.Errorf("Skipped = %d, want 1", s.Skipped)
	}
	refs, err := s.PrepareRefs([][]int32{{1, 2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Score([]int32{1, 3}, refs); !errors.Is(err, ErrToken) {
		t.Errorf("id 3: got %v, want ErrToken", err)
	}
	if _, err := s.ScoreBatch(nil, [][]int32{{1}, {-1}}, []*Refs{refs, refs}, 1); !errors.Is(err, ErrToken) {
		t.Errorf("id -1: got %v, want ErrToken", err)
	}
	if _, err := s.ScoreBatch(nil, [][]int32{{1}}, nil, 1); err == nil {
		t.Error("ScoreBatch accepted mismatched lengths")
	}
	if _, err := s.PrepareRefs(nil); err == nil {
		t.Error("PrepareRefs accepted no references")
	}
	if _, err := NewScorer(df, []string{"a", "a"}); err == nil {
		t.Error("NewScorer accepted a duplicate word")
	}
	big := make([]string, MaxScorerVocab+1)
	for i := range big {
		big[i] = fmt.Sprint(i)
	}
	if _, err := NewScorer(df, big); err == nil {
		t.Error("NewScorer accepted a vocabulary over MaxScorerVocab")
	}
	// A perfect match of a 3-word candidate: hand-derived. N = 3, ref_len = ln 3. Weights:
	// "a" ln3 − ln1 = ln3, "b" ln3 − ln2, "<eos>" ln3 (df 0 → max(1,0)=1), n-grams of order 2, 3 ln3.
	// Identical vectors: orders 1..3 give Σ w² / (norm·norm) = 1 and δ = 0; a 3-token sentence has no
	// 4-gram, so order 4 gives 0. CIDEr-D = 10·(1+1+1+0)/4/1 = 7.5.
	v, err := s.Score([]int32{1, 2, 0}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if !near(v, 7.5) {
		t.Errorf("identical candidate: got %.17g, want 7.5", v)
	}
}

func TestTrimAtEnd(t *testing.T) {
	cases := []struct {
		in   []int32
		want int
	}{
		{[]int32{5, 6, 0, 0, 0}, 3}, // 0
		{[]int32{5, 6, 7}, 3},       // 1 no end token
		{[]int32{0, 4}, 1},          // 2
		{nil, 0},                    // 3
	}
	for i, c := range cases {
		if got := TrimAtEnd(c.in, 0); len(got) != c.want {
			t.Errorf("%d: got %v, want length %d", i, got, c.want)
		}
	}
}

// BenchmarkScorer measures SCST reward throughput: a table over 20,000 images × 5 references with a
// 40,000-word vocabulary; batches of 5,000 candidates (1,000 images × 5 samples), 16 tokens + end.
func BenchmarkScorer(b *testing.B) {
	const vocab = 40000
	rng := rand.New(rand.NewPCG(1, 1))
	zipf := rand.NewZipf(rng, 1.1, 1, vocab-1)
	seq := func() []int32 {
		n := 8 + rng.IntN(9)
		s := make([]int32, n+1)
		for i := range n {
			s[i] = int32(1 + zipf.Uint64()%(vocab-1))
		}
		return s // ends with 0, the end token
	}
	words := make([]string, vocab)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	words[0] = "<eos>"
	toWords := func(s []int32) []string {
		out := make([]string, len(s))
		for i, t := range s {
			out[i] = words[t]
		}
		return out
	}
	train := make([][][]string, 20000)
	for i := range train {
		for range 5 {
			train[i] = append(train[i], toWords(seq()))
		}
	}
	df, err := BuildDocFreq(train)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewScorer(df, words)
	if err != nil {
		b.Fatal(err)
	}
	const images, samples = 1000, 5
	refs := make([]*Refs, images*samples)
	cands := make([][]int32, images*samples)
	for i := range images {
		var rs [][]int32
		for range 5 {
			rs = append(rs, seq())
		}
		p, err := s.PrepareRefs(rs)
		if err != nil {
			b.Fatal(err)
		}
		for k := range samples {
			refs[i*samples+k] = p
			cands[i*samples+k] = seq()
		}
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("vocab=40000/batch=5000/workers=%d", workers), func(b *testing.B) {
			dst := make([]float64, len(cands))
			for b.Loop() {
				if _, err := s.ScoreBatch(dst, cands, refs, workers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(cands)*b.N)/b.Elapsed().Seconds(), "candidates/s")
		})
	}
}
