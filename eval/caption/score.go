package caption

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Options configure [Score]. The zero value PTB-tokenises both sides, requires a prediction for
// every reference image, uses all CPUs and leaves METEOR and SPICE not computed.
type Options struct {
	// PreTokenized skips the PTB tokeniser: captions are already tokenised, tokens separated by
	// white space. False (the default) tokenises references and predictions with [Tokenize].
	PreTokenized bool
	// Partial allows reference images without a prediction; only images with a prediction are
	// scored (as pycocoevalcap does). False (the default) makes a missing prediction an error.
	Partial bool
	// Workers is the number of goroutines used for scoring; 0 means runtime.GOMAXPROCS(0). Results
	// do not depend on it.
	Workers int
	// External runs METEOR and SPICE; the zero value runs neither and reports them as not computed.
	External External
}

// Metrics are the coco-caption scores of one image or of the corpus.
type Metrics struct {
	Bleu   [4]float64 // Bleu_1 .. Bleu_4
	RougeL float64    // ROUGE_L
	CIDErD float64    // CIDEr (coco-caption's CIDEr is CIDEr-D)
	// METEOR and SPICE hold values only when computed by their jars (see Result.METEOR/SPICE).
	METEOR float64
	SPICE  float64
}

// ImageScore is one image's scores.
type ImageScore struct {
	ImageID int64
	Metrics
}

// ExternalStatus says whether an external metric was computed.
type ExternalStatus struct {
	Computed bool
	// Reason says why it was not computed (empty when computed).
	Reason string
}

// Result holds the corpus scores and per-image scores of [Score].
type Result struct {
	// Corpus: BLEU from summed statistics; ROUGE-L, CIDEr-D, METEOR (from the jar's own aggregate)
	// and SPICE as means over images.
	Corpus Metrics
	// PerImage holds one entry per scored image, in ascending ImageID order.
	PerImage []ImageScore
	// METEOR and SPICE report whether the Metrics fields of that name hold values.
	METEOR, SPICE ExternalStatus
	// NumImages is the number of scored images; NumMissing the number of reference images without
	// a prediction (0 unless Options.Partial).
	NumImages, NumMissing int
}

// ErrInput marks bad input to [Score]: a prediction for an unknown image, a missing prediction, an
// image without references. Test with errors.Is.
var ErrInput = errors.New("caption: bad input")

// maxListedIDs bounds the number of image ids an error message lists.
const maxListedIDs = 20

func listIDs(ids []int64) string {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	for i, id := range ids {
		if i == maxListedIDs {
			fmt.Fprintf(&b, " … (%d in all)", len(ids))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// Score computes BLEU-1..4, ROUGE-L and CIDEr-D of preds (one caption per image id) against refs
// (the reference captions of each image id), as coco-caption's COCOEvalCap does, and METEOR and
// SPICE when opts.External names their jars. Every prediction must belong to a reference image; every
// reference image needs a prediction unless opts.Partial. Errors wrap [ErrInput] for such input
// problems.
func Score(refs map[int64][]string, preds map[int64]string, opts Options) (*Result, error) {
	var unknown, missing, empty []int64
	for id := range preds {
		r, ok := refs[id]
		if !ok {
			unknown = append(unknown, id)
		} else if len(r) == 0 {
			empty = append(empty, id)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %d prediction(s) for images not in the references: %s", ErrInput, len(unknown), listIDs(unknown))
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("%w: %d image(s) have no reference captions: %s", ErrInput, len(empty), listIDs(empty))
	}
	for id := range refs {
		if _, ok := preds[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 && !opts.Partial {
		return nil, fmt.Errorf("%w: %d reference image(s) have no prediction (allow with Partial): %s", ErrInput, len(missing), listIDs(missing))
	}
	if len(preds) == 0 {
		return nil, fmt.Errorf("%w: no predictions to score", ErrInput)
	}
	ids := make([]int64, 0, len(preds))
	for id := range preds {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	hyps := make([]string, len(ids))
	refLists := make([][]string, len(ids))
	for i, id := range ids {
		hyps[i] = preds[id]
		refLists[i] = refs[id]
	}
	if !opts.PreTokenized {
		hyps, refLists = tokenizeAll(hyps, refLists, opts.workers())
	}
	res := scoreTokenized(hyps, refLists, opts.workers())
	for i, id := range ids {
		res.PerImage[i].ImageID = id
	}
	res.NumMissing = len(missing)
	if err := opts.External.run(ids, hyps, refLists, res); err != nil {
		return nil, err
	}
	return res, nil
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// tokenizeAll PTB-tokenises every caption, in parallel.
func tokenizeAll(hyps []string, refs [][]string, workers int) ([]string, [][]string) {
	outH := make([]string, len(hyps))
	outR := make([][]string, len(refs))
	parallel(len(hyps), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			outH[i] = TokenizeString(hyps[i])
			rs := make([]string, len(refs[i]))
			for j, r := range refs[i] {
				rs[j] = TokenizeString(r)
			}
			outR[i] = rs
		}
	})
	return outH, outR
}

// parallel runs f over [0, n) split into contiguous chunks, one per worker.
func parallel(n, workers int, f func(lo, hi int)) {
	if workers < 1 {
		workers = 1
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// rougeSplit returns the literal split of s on " " when it differs from its whitespace split, nil
// otherwise.
func rougeSplit(s string, fields []string) []string {
	parts := strings.Split(s, " ")
	if len(parts) == len(fields) {
		same := true
		for i := range parts {
			if parts[i] != fields[i] {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	return parts
}

// scoreTokenized scores tokenised hypotheses (one per image) against their references.
func scoreTokenized(hyps []string, refs [][]string, workers int) *Result {
	hint := 0
	for i, h := range hyps {
		hint += len(h) / 5
		for _, r := range refs[i] {
			hint += len(r) / 5
		}
	}
	idx := newNgramIndex(hint)
	hs := make([]sentence, len(hyps))
	rs := make([][]sentence, len(hyps))
	for i, h := range hyps {
		f := pyFields(h)
		hs[i] = idx.add(f, rougeSplit(h, f))
		rs[i] = make([]sentence, len(refs[i]))
		for j, r := range refs[i] {
			f := pyFields(r)
			rs[i][j] = idx.add(f, rougeSplit(r, f))
		}
	}

	// Document frequency of every n-gram over the images' reference sets.
	var logDF [maxN][]float64
	{
		var df [maxN][]int32
		var stamp [maxN][]int32
		for n := range maxN {
			df[n] = make([]int32, idx.size[n])
			stamp[n] = make([]int32, idx.size[n])
		}
		for i := range rs {
			mark := int32(i + 1)
			for _, r := range rs[i] {
				for n := range maxN {
					for _, g := range r.grams[n] {
						if stamp[n][g] != mark {
							stamp[n][g] = mark
							df[n][g]++
						}
					}
				}
			}
		}
		for n := range maxN {
			logDF[n] = make([]float64, idx.size[n])
			for g, d := range df[n] {
				logDF[n][g] = math.Log(math.Max(1, float64(d)))
			}
		}
	}
	refLen := math.Log(float64(len(hs)))

	res := &Result{PerImage: make([]ImageScore, len(hs)), NumImages: len(hs)}
	stats := make([]bleuStats, len(hs))
	parallel(len(hs), workers, func(lo, hi int) {
		w := newWorkspace(idx.size)
		for i := lo; i < hi; i++ {
			st := w.bleu(hs[i], rs[i])
			stats[i] = st
			m := &res.PerImage[i].Metrics
			m.Bleu = st.scores()
			m.RougeL = w.rouge(hs[i], rs[i])
			m.CIDErD = w.cider(hs[i], rs[i], &logDF, refLen)
		}
	})
	var total bleuStats
	var sumR, sumC float64
	for i := range hs {
		total.add(stats[i])
		sumR += res.PerImage[i].RougeL
		sumC += res.PerImage[i].CIDErD
	}
	res.Corpus.Bleu = total.scores()
	res.Corpus.RougeL = sumR / float64(len(hs))
	res.Corpus.CIDErD = sumC / float64(len(hs))
	return res
}

// workspace is one goroutine's scratch space, indexed by n-gram id.
type workspace struct {
	cnt     [maxN][]int32
	maxRef  [maxN][]int32
	weight  [maxN][]float64 // hypothesis tf-idf weights
	touched [maxN][]int32
	row     []int32
	refVec  vec
	hypVec  vec
}

func newWorkspace(size [maxN]int32) *workspace {
	w := &workspace{}
	for n := range maxN {
		w.cnt[n] = make([]int32, size[n])
		w.maxRef[n] = make([]int32, size[n])
		w.weight[n] = make([]float64, size[n])
	}
	return w
}

// bleu returns the BLEU statistics of hypothesis h against refs.
func (w *workspace) bleu(h sentence, refs []sentence) bleuStats {
	var st bleuStats
	refLens := make([]int, 0, 8)
	for _, r := range refs {
		refLens = append(refLens, r.words)
		for n := range maxN {
			cnt, mr := w.cnt[n], w.maxRef[n]
			for _, g := range r.grams[n] {
				if cnt[g] == 0 && mr[g] == 0 {
					w.touched[n] = append(w.touched[n], g)
				}
				cnt[g]++
			}
			for _, g := range r.grams[n] {
				if cnt[g] > mr[g] {
					mr[g] = cnt[g]
				}
			}
			for _, g := range r.grams[n] {
				cnt[g] = 0
			}
		}
	}
	for n := range maxN {
		cnt, mr := w.cnt[n], w.maxRef[n]
		c := 0
		for _, g := range h.grams[n] {
			if cnt[g] < mr[g] {
				cnt[g]++
				c++
			}
		}
		for _, g := range h.grams[n] {
			cnt[g] = 0
		}
		for _, g := range w.touched[n] {
			mr[g] = 0
		}
		w.touched[n] = w.touched[n][:0]
		st.correct[n] = float64(c)
		st.guess[n] = float64(max(0, h.words-n))
	}
	st.testLen = float64(h.words)
	st.refLen = float64(closestRefLen(h.words, refLens))
	return st
}

func (w *workspace) rouge(h sentence, refs []sentence) float64 {
	need := len(h.rouge) + 1
	if cap(w.row) < need {
		w.row = make([]int32, need)
	}
	rr := make([][]int32, len(refs))
	for i, r := range refs {
		rr[i] = r.rouge
	}
	return rougeL(h.rouge, rr, w.row)
}

// vec is a sentence's tf-idf vector: distinct n-gram ids with their weights, per order.
type vec struct {
	ids    [maxN][]int32
	w      [maxN][]float64
	norm   [maxN]float64
	length float64 // number of bigrams, the reference code's 'length'
}

// build fills v from s's n-grams, using cnt as zeroed scratch.
func (v *vec) build(s sentence, cnt *[maxN][]int32, logDF *[maxN][]float64, refLen float64) {
	for n := range maxN {
		v.ids[n] = v.ids[n][:0]
		v.w[n] = v.w[n][:0]
		c := cnt[n]
		for _, g := range s.grams[n] {
			if c[g] == 0 {
				v.ids[n] = append(v.ids[n], g)
			}
			c[g]++
		}
		var norm float64
		for _, g := range v.ids[n] {
			x := float64(c[g]) * (refLen - logDF[n][g])
			v.w[n] = append(v.w[n], x)
			norm += x * x
			c[g] = 0
		}
		v.norm[n] = math.Sqrt(norm)
	}
	v.length = float64(len(s.grams[1]))
}

// cider returns the CIDEr-D of h against refs.
func (w *workspace) cider(h sentence, refs []sentence, logDF *[maxN][]float64, refLen float64) float64 {
	w.hypVec.build(h, &w.cnt, logDF, refLen)
	hv := &w.hypVec
	for n := range maxN {
		for k, g := range hv.ids[n] {
			w.weight[n][g] = hv.w[n][k]
		}
	}
	var score [maxN]float64
	for _, r := range refs {
		w.refVec.build(r, &w.cnt, logDF, refLen)
		rv := &w.refVec
		delta := hv.length - rv.length
		pen := math.Pow(math.E, -(delta*delta)/(2*ciderSigma*ciderSigma))
		for n := range maxN {
			var val float64
			hw := w.weight[n]
			for k, g := range rv.ids[n] {
				if x := hw[g]; x != 0 {
					y := rv.w[n][k]
					val += math.Min(x, y) * y
				}
			}
			if hv.norm[n] != 0 && rv.norm[n] != 0 {
				val /= hv.norm[n] * rv.norm[n]
			}
			score[n] += val * pen
		}
	}
	for n := range maxN {
		for _, g := range hv.ids[n] {
			w.weight[n][g] = 0
		}
	}
	avg := (score[0] + score[1] + score[2] + score[3]) / maxN
	avg /= float64(len(refs))
	return avg * 10
}
