package caption

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
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
	// BleuStats are the image's BLEU sufficient statistics (the corpus BLEU sums them).
	BleuStats BleuStats
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
	idx := newNgramIndex(len(hyps))
	hs := make([]sentence, len(hyps))
	rs := make([][]sentence, len(hyps))
	for i, h := range hyps {
		hs[i] = idx.addText(h)
		rs[i] = make([]sentence, len(refs[i]))
		for j, r := range refs[i] {
			rs[i][j] = idx.addText(r)
		}
	}
	idx.internNgrams(append([][]sentence{hs}, rs...), workers)

	// Document frequency of every n-gram over the images' reference sets.
	var df [maxN][]int32
	{
		var stamp [maxN][]int32
		for n := range maxN {
			df[n] = make([]int32, idx.size[n])
			stamp[n] = make([]int32, idx.size[n])
		}
		for i := range rs {
			mark := int32(i + 1)
			for _, r := range rs[i] {
				for n := range maxN {
					st, d := stamp[n], df[n]
					for _, g := range r.grams[n] {
						if st[g] != mark {
							st[g] = mark
							d[g]++
						}
					}
				}
			}
		}
	}
	// idf[d] = ln N − ln max(1, d): the tf-idf factor of an n-gram in d images' references.
	refLen := math.Log(float64(len(hs)))
	idf := make([]float64, len(hs)+1)
	for d := range idf {
		idf[d] = refLen - math.Log(math.Max(1, float64(d)))
	}

	res := &Result{PerImage: make([]ImageScore, len(hs)), NumImages: len(hs)}
	stats := make([]BleuStats, len(hs))
	parallel(len(hs), workers, func(lo, hi int) {
		w := &workspace{}
		for i := lo; i < hi; i++ {
			w.load(hs[i], rs[i], &df, idf)
			st := w.bleu()
			stats[i] = st
			res.PerImage[i].BleuStats = st
			m := &res.PerImage[i].Metrics
			m.Bleu = st.scores()
			m.RougeL = w.rouge(hs[i], rs[i])
			m.CIDErD = w.cider()
		}
	})
	var total BleuStats
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

// localSlot is a slot of the workspace's per-image table: (order, global id) key and local id+1.
type localSlot struct {
	key uint64
	id  int32
}

// lsent is one sentence of the current image in local ids.
type lsent struct {
	words int
	grams [maxN][]int32
}

// workspace is one goroutine's scratch space for one image at a time: the n-grams of the image's
// sentences get small local ids (a table that stays in the CPU cache), and the per-n-gram arrays
// are indexed by them.
type workspace struct {
	slots []localSlot
	shift uint    // 64 − log2(len(slots))
	used  []int32 // occupied slots, to clear them
	buf   []int32 // backing store of the sentences' local ids
	hyp   lsent
	refs  []lsent
	// Per local id:
	idf    []float64 // ln N − ln max(1, df)
	cnt    []int32
	maxRef []int32
	weight []float64 // the hypothesis's tf-idf weight
	// Scratch:
	refLens []int
	ids     []int32
	row     []int32
	hypVec  vec
	refVec  vec
}

// load maps the n-grams of h and refs to local ids and fetches their document frequencies.
func (w *workspace) load(h sentence, refs []sentence, df *[maxN][]int32, idf []float64) {
	total := 0
	for n := range maxN {
		total += len(h.grams[n])
		for _, r := range refs {
			total += len(r.grams[n])
		}
	}
	if size := tableSize(total); len(w.slots) < size {
		w.slots = make([]localSlot, size)
		w.shift = uint(64 - bits.TrailingZeros(uint(size)))
	}
	for _, s := range w.used {
		w.slots[s] = localSlot{}
	}
	w.used = w.used[:0]
	w.idf = w.idf[:0]
	if cap(w.buf) < total {
		w.buf = make([]int32, 0, total)
	}
	w.buf = w.buf[:0]
	w.hyp = w.local(h, df, idf)
	w.refs = w.refs[:0]
	for _, r := range refs {
		w.refs = append(w.refs, w.local(r, df, idf))
	}
	n := len(w.idf)
	if cap(w.cnt) < n {
		w.cnt = make([]int32, n, 2*n)
		w.maxRef = make([]int32, n, 2*n)
		w.weight = make([]float64, n, 2*n)
	}
	w.cnt, w.maxRef, w.weight = w.cnt[:n], w.maxRef[:n], w.weight[:n]
	clear(w.cnt)
	clear(w.maxRef)
	clear(w.weight)
}

// local returns s in local ids, giving new n-grams the next ids.
func (w *workspace) local(s sentence, df *[maxN][]int32, idf []float64) lsent {
	out := lsent{words: s.words}
	mask := uint64(len(w.slots) - 1)
	for n := range maxN {
		start := len(w.buf)
		for _, g := range s.grams[n] {
			key := uint64(n)<<32 | uint64(uint32(g))
			i := (key * 0x9E3779B97F4A7C15) >> w.shift
			for {
				sl := &w.slots[i]
				if sl.id == 0 {
					id := int32(len(w.idf))
					*sl = localSlot{key, id + 1}
					w.used = append(w.used, int32(i))
					w.idf = append(w.idf, idf[df[n][g]])
					w.buf = append(w.buf, id)
					break
				}
				if sl.key == key {
					w.buf = append(w.buf, sl.id-1)
					break
				}
				i = (i + 1) & mask
			}
		}
		out.grams[n] = w.buf[start:len(w.buf):len(w.buf)]
	}
	return out
}

// bleu returns the BLEU statistics of the loaded hypothesis against its references.
func (w *workspace) bleu() BleuStats {
	var st BleuStats
	h := &w.hyp
	cnt, mr := w.cnt, w.maxRef
	w.refLens = w.refLens[:0]
	for k := range w.refs {
		r := &w.refs[k]
		w.refLens = append(w.refLens, r.words)
		for n := range maxN {
			for _, g := range r.grams[n] {
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
		st.Correct[n] = float64(c)
		st.Guess[n] = float64(max(0, h.words-n))
	}
	st.TestLen = float64(h.words)
	st.RefLen = float64(closestRefLen(h.words, w.refLens))
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

// build fills v from s's n-grams (local ids), using cnt as zeroed scratch.
func (v *vec) build(s *lsent, cnt []int32, idf []float64) {
	for n := range maxN {
		v.ids[n] = v.ids[n][:0]
		v.w[n] = v.w[n][:0]
		for _, g := range s.grams[n] {
			if cnt[g] == 0 {
				v.ids[n] = append(v.ids[n], g)
			}
			cnt[g]++
		}
		var norm float64
		for _, g := range v.ids[n] {
			x := float64(cnt[g]) * idf[g]
			v.w[n] = append(v.w[n], x)
			norm += x * x
			cnt[g] = 0
		}
		v.norm[n] = math.Sqrt(norm)
	}
	v.length = float64(len(s.grams[1]))
}

// cider returns the CIDEr-D of the loaded hypothesis against its references.
func (w *workspace) cider() float64 {
	w.hypVec.build(&w.hyp, w.cnt, w.idf)
	hv := &w.hypVec
	hw := w.weight
	for n := range maxN {
		for k, g := range hv.ids[n] {
			hw[g] = hv.w[n][k]
		}
	}
	var score [maxN]float64
	for k := range w.refs {
		w.refVec.build(&w.refs[k], w.cnt, w.idf)
		rv := &w.refVec
		delta := hv.length - rv.length
		pen := math.Pow(math.E, -(delta*delta)/(2*ciderSigma*ciderSigma))
		for n := range maxN {
			var val float64
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
	avg := (score[0] + score[1] + score[2] + score[3]) / maxN
	avg /= float64(len(w.refs))
	return avg * 10
}
