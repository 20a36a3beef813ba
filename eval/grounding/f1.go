package grounding

import (
	"fmt"
	"sort"

	"github.com/groundcap/groundcap/eval/bootstrap"
)

// Mode selects GVD's F1 variant.
type Mode int

const (
	// ModeAll (F1_all) counts hallucinated and missed object words as errors.
	ModeAll Mode = iota
	// ModeLoc (F1_loc) counts only object words present on both sides: localisation errors only.
	ModeLoc
)

// String returns "all" or "loc".
func (m Mode) String() string {
	switch m {
	case ModeAll:
		return "all"
	case ModeLoc:
		return "loc"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "all" or "loc".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "all":
		return ModeAll, nil
	case "loc":
		return ModeLoc, nil
	}
	return 0, fmt.Errorf("grounding: unknown mode %q (want all or loc)", s)
}

// F1Result is the outcome of [F1].
type F1Result struct {
	Mode      Mode
	Precision float64
	Recall    float64
	// F1 = 2PR/(P+R); 0 when P+R = 0 (the reference divides by zero and prints nan).
	F1 float64
	// NumClasses is the number of classes annotated in the captions of images with a prediction,
	// the denominator of both means.
	NumClasses int
	// PerClass has one row per class of NumClasses, by descending NumRecall then class name.
	PerClass []ClassScore
	// NumImages is the number of reference images, NumPredicted those with a prediction;
	// IgnoredPredictions lists submission images outside the references, which the reference
	// ignores (sorted).
	NumImages, NumPredicted int
	IgnoredPredictions      []int64
}

// F1 computes GVD's precision, recall and F1 of grounded object words in generated captions
// (grd_eval): the one prediction of each image is compared with each of its ground-truth
// captions. lem gives lemmas for the "word annotated elsewhere" rule; nil means [NounLemmatizer].
//
// Precision, per predicted (class, box) and GT caption: if the class is annotated in the caption,
// a hit against its first annotated occurrence; else if the class's lemma is the lemma of a
// non-annotated token of the caption, skipped; else (hallucination) a miss in ModeAll only. Recall,
// per annotated word of every reference image: a miss if the image has no prediction; a hit test
// against the first predicted box of the class if predicted; else a miss in ModeAll only. P and R
// are sums of per-class means divided by the number of classes annotated in the predicted images'
// captions.
func F1(refs *References, sub Submission, mode Mode, lem Lemmatizer) (*F1Result, error) {
	c, err := F1Counts(refs, sub, mode, lem)
	if err != nil {
		return nil, err
	}
	res := &F1Result{Mode: mode, NumImages: len(refs.Images), NumPredicted: c.NumPredicted, IgnoredPredictions: c.IgnoredPredictions}
	st := NewF1Statistic(c.PerImage)
	w := make([]float64, len(c.PerImage))
	for i := range w {
		w[i] = 1
	}
	t := st.sums(w)
	for _, n := range t.annotated {
		if n > 0 {
			res.NumClasses++
		}
	}
	if res.NumClasses == 0 {
		return nil, fmt.Errorf("%w: no annotated object word in the captions of the %d predicted images", ErrInput, res.NumPredicted)
	}
	res.Precision, res.Recall, res.F1 = st.prf(t)
	for j, name := range st.names {
		if t.annotated[j] > 0 {
			res.PerClass = append(res.PerClass, ClassScore{Class: name, Precision: rate(t.precHits[j], t.precN[j]), Recall: rate(t.recHits[j], t.recN[j]),
				NumPrec: int(t.precN[j]), NumRecall: int(t.recN[j])})
		}
	}
	sort.SliceStable(res.PerClass, func(i, j int) bool { return res.PerClass[i].NumRecall > res.PerClass[j].NumRecall })
	return res, nil
}

// ClassCount is what one image contributes to one class of GVD's F1 (or, with only the recall
// fields, of the attention accuracy): its precision and recall decisions and whether the class is
// annotated in the image's captions while the image has a prediction (such classes make the
// denominator of both class means).
type ClassCount struct {
	Class     string `json:"class"`
	PrecHits  int    `json:"prec_hits,omitempty"`
	PrecN     int    `json:"prec_n,omitempty"`
	RecHits   int    `json:"rec_hits,omitempty"`
	RecN      int    `json:"rec_n,omitempty"`
	Annotated bool   `json:"annotated,omitempty"`
}

// Counts are the per-image class counts of [F1Counts] or [AccuracyCounts].
type Counts struct {
	// PerImage has one entry per reference image, in the references' order; each lists the
	// image's classes by name.
	PerImage [][]ClassCount
	// NumPredicted and IgnoredPredictions as in [F1Result].
	NumPredicted       int
	IgnoredPredictions []int64
}

// F1Counts computes the decisions of [F1] image by image: the per-image sufficient statistics
// from which [F1Statistic] recomputes F1 for any weighting of the images (a bootstrap replicate).
func F1Counts(refs *References, sub Submission, mode Mode, lem Lemmatizer) (*Counts, error) {
	if mode != ModeAll && mode != ModeLoc {
		return nil, fmt.Errorf("grounding: F1: invalid mode %d", int(mode))
	}
	if err := refs.Validate(); err != nil {
		return nil, err
	}
	if lem == nil {
		lem = NounLemmatizer{}
	}
	out := &Counts{PerImage: make([][]ClassCount, len(refs.Images))}
	inRefs := make(map[int64]bool, len(refs.Images))
	for _, img := range refs.Images {
		inRefs[img.ImageID] = true
	}
	for id, preds := range sub {
		if !inRefs[id] {
			out.IgnoredPredictions = append(out.IgnoredPredictions, id)
			continue
		}
		if len(preds) != 1 {
			return nil, fmt.Errorf("%w: submission image %d has %d entries, want one grounded caption per image", ErrInput, id, len(preds))
		}
		if err := preds[0].validate(id, 0); err != nil {
			return nil, err
		}
	}
	sort.Slice(out.IgnoredPredictions, func(i, j int) bool { return out.IgnoredPredictions[i] < out.IgnoredPredictions[j] })

	lemmaOf := map[string]string{}
	lemma := func(w string) string {
		l, ok := lemmaOf[w]
		if !ok {
			l = lem.Lemma(w)
			lemmaOf[w] = l
		}
		return l
	}
	for i, img := range refs.Images {
		cls := map[string]*ClassCount{}
		get := func(c string) *ClassCount {
			if cls[c] == nil {
				cls[c] = &ClassCount{Class: c}
			}
			return cls[c]
		}
		preds, ok := sub[img.ImageID]
		if ok {
			out.NumPredicted++
			p := preds[0]
			for _, cap := range img.Captions {
				first := map[string]int{} // class → position in cap.Words of its smallest index
				annotated := map[int]bool{}
				for k, w := range cap.Words {
					get(w.Class).Annotated = true
					annotated[w.Index] = true
					if j, ok := first[w.Class]; !ok || w.Index < cap.Words[j].Index {
						first[w.Class] = k
					}
				}
				exclude := map[string]bool{}
				for i, tok := range cap.Tokens {
					if !annotated[i] && tok != "" {
						exclude[lemma(tok)] = true
					}
				}
				for k, c := range p.Classes {
					if j, ok := first[c]; ok {
						cc := get(c)
						cc.PrecN++
						if hit(p.Boxes[k], cap.Words[j].Boxes) {
							cc.PrecHits++
						}
					} else if exclude[lemma(c)] {
						// not penalised: the object word is in the caption but not annotated
					} else if mode == ModeAll {
						get(c).PrecN++ // hallucinated object
					}
				}
			}
		}
		for _, cap := range img.Captions {
			for _, w := range cap.Words {
				switch {
				case !ok:
					get(w.Class).RecN++ // image not grounded
				case indexOf(preds[0].Classes, w.Class) >= 0:
					cc := get(w.Class)
					cc.RecN++
					if hit(preds[0].Boxes[indexOf(preds[0].Classes, w.Class)], w.Boxes) {
						cc.RecHits++
					}
				case mode == ModeAll:
					get(w.Class).RecN++ // object not grounded
				}
			}
		}
		out.PerImage[i] = sortedCounts(cls)
	}
	return out, nil
}

// sortedCounts returns the counts by class name.
func sortedCounts(m map[string]*ClassCount) []ClassCount {
	out := make([]ClassCount, 0, len(m))
	for _, c := range sortedKeys(m) {
		out = append(out, *m[c])
	}
	return out
}

func rate(hits, n float64) float64 {
	if n == 0 {
		return 0
	}
	return hits / n
}

// F1Statistic is GVD's F1 as a function of image weights (an eval/bootstrap.Statistic): the
// per-class precision and recall decisions of the images summed with their weights, per-class
// means, their sums over the classes divided by the number of classes annotated in the weighted
// predicted images, F1 = 2PR/(P+R). With every weight 1 it is [F1]'s F1.
type F1Statistic struct {
	names []string // classes, sorted
	units [][]indexed
}

type indexed struct {
	class int
	c     ClassCount
}

// NewF1Statistic indexes per-image counts ([Counts.PerImage]).
func NewF1Statistic(perImage [][]ClassCount) F1Statistic {
	idx := map[string]int{}
	for _, cs := range perImage {
		for _, c := range cs {
			idx[c.Class] = 0
		}
	}
	st := F1Statistic{names: sortedKeys(idx), units: make([][]indexed, len(perImage))}
	for j, n := range st.names {
		idx[n] = j
	}
	for i, cs := range perImage {
		for _, c := range cs {
			st.units[i] = append(st.units[i], indexed{idx[c.Class], c})
		}
	}
	return st
}

// Units returns the number of images.
func (f F1Statistic) Units() int { return len(f.units) }

// Value returns F1 of the weighted images.
func (f F1Statistic) Value(w []float64) float64 {
	_, _, f1 := f.PRF(w)
	return f1
}

// PRF returns precision, recall and F1 of the weighted images (0 when no class is annotated).
func (f F1Statistic) PRF(w []float64) (p, r, f1 float64) { return f.prf(f.sums(w)) }

type classSums struct {
	precHits, precN, recHits, recN, annotated []float64
}

func (f F1Statistic) sums(w []float64) classSums {
	k := len(f.names)
	t := classSums{make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)}
	for i, cs := range f.units {
		if w[i] == 0 {
			continue
		}
		for _, x := range cs {
			t.precHits[x.class] += w[i] * float64(x.c.PrecHits)
			t.precN[x.class] += w[i] * float64(x.c.PrecN)
			t.recHits[x.class] += w[i] * float64(x.c.RecHits)
			t.recN[x.class] += w[i] * float64(x.c.RecN)
			if x.c.Annotated {
				t.annotated[x.class] += w[i]
			}
		}
	}
	return t
}

func (f F1Statistic) prf(t classSums) (p, r, f1 float64) {
	var sumP, sumR float64
	classes := 0
	for j := range f.names { // sorted: a fixed summation order
		sumP += rate(t.precHits[j], t.precN[j])
		sumR += rate(t.recHits[j], t.recN[j])
		if t.annotated[j] > 0 {
			classes++
		}
	}
	if classes == 0 {
		return 0, 0, 0
	}
	p, r = sumP/float64(classes), sumR/float64(classes)
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// AccuracyResult is the outcome of [AttentionAccuracy].
type AccuracyResult struct {
	// Accuracy is the mean over classes of the per-class localisation accuracy.
	Accuracy float64
	// PerClass rows hold the accuracy in Recall and the number of words in NumRecall, by
	// descending NumRecall then class name.
	PerClass []ClassScore
	// NumImages is the number of reference images; IgnoredPredictions as in [F1Result].
	NumImages          int
	IgnoredPredictions []int64
}

// AttentionAccuracy computes GVD's localisation accuracy on ground-truth captions (gt_grd_eval, the
// "attention accuracy" of the matching model in Table 1 of Zhou et al. 2020): for every annotated
// word of every caption, a hit when the submission's entry for that caption has the word's index in
// idx_in_sent and its box has IoU > 0.5 with the GT; a miss when the image or the index has no
// prediction. Each predicted image must have one entry per GT caption. The result is the mean over
// classes of per-class accuracies.
func AttentionAccuracy(refs *References, sub Submission) (*AccuracyResult, error) {
	c, err := AccuracyCounts(refs, sub)
	if err != nil {
		return nil, err
	}
	res := &AccuracyResult{NumImages: len(refs.Images), IgnoredPredictions: c.IgnoredPredictions}
	hits, n := map[string]int{}, map[string]int{}
	for _, cs := range c.PerImage {
		for _, x := range cs {
			hits[x.Class] += x.RecHits
			n[x.Class] += x.RecN
		}
	}
	if len(n) == 0 {
		return nil, fmt.Errorf("%w: no annotated object word in the references", ErrInput)
	}
	var sum float64
	for _, cl := range sortedKeys(n) {
		a := float64(hits[cl]) / float64(n[cl])
		sum += a
		res.PerClass = append(res.PerClass, ClassScore{Class: cl, Recall: a, NumRecall: n[cl]})
	}
	res.Accuracy = sum / float64(len(n))
	sort.SliceStable(res.PerClass, func(i, j int) bool { return res.PerClass[i].NumRecall > res.PerClass[j].NumRecall })
	return res, nil
}

// AccuracyCounts computes the decisions of [AttentionAccuracy] image by image: per reference
// image (references' order) and class, the annotated words (RecN) and those whose predicted box
// hits (RecHits). [AccuracyStatistic] recomputes the accuracy from them for any weighting of the
// images.
func AccuracyCounts(refs *References, sub Submission) (*Counts, error) {
	if err := refs.Validate(); err != nil {
		return nil, err
	}
	out := &Counts{PerImage: make([][]ClassCount, len(refs.Images))}
	inRefs := map[int64]bool{}
	for _, img := range refs.Images {
		inRefs[img.ImageID] = true
	}
	for id := range sub {
		if !inRefs[id] {
			out.IgnoredPredictions = append(out.IgnoredPredictions, id)
		}
	}
	sort.Slice(out.IgnoredPredictions, func(i, j int) bool { return out.IgnoredPredictions[i] < out.IgnoredPredictions[j] })
	for i, img := range refs.Images {
		cls := map[string]*ClassCount{}
		preds, ok := sub[img.ImageID]
		if ok {
			out.NumPredicted++
			if len(preds) != len(img.Captions) {
				return nil, fmt.Errorf("%w: submission image %d has %d entries, want one per ground-truth caption (%d)", ErrInput, img.ImageID, len(preds), len(img.Captions))
			}
		}
		for c, cap := range img.Captions {
			if ok {
				if err := preds[c].validate(img.ImageID, c); err != nil {
					return nil, err
				}
				if preds[c].IdxInSent == nil && len(preds[c].Classes) > 0 {
					return nil, fmt.Errorf("%w: submission image %d entry %d has no idx_in_sent", ErrInput, img.ImageID, c)
				}
			}
			for _, w := range cap.Words {
				cc := cls[w.Class]
				if cc == nil {
					cc = &ClassCount{Class: w.Class}
					cls[w.Class] = cc
				}
				cc.RecN++
				if !ok {
					continue
				}
				k := -1
				for i, x := range preds[c].IdxInSent {
					if x == w.Index {
						k = i
						break
					}
				}
				if k >= 0 && hit(preds[c].Boxes[k], w.Boxes) {
					cc.RecHits++
				}
			}
		}
		out.PerImage[i] = sortedCounts(cls)
	}
	return out, nil
}

// AccuracyStatistic is the attention accuracy as a function of image weights (an
// eval/bootstrap.Statistic): per class the weighted share of hits, then the mean over the
// classes with annotated words in the weighted sample.
func AccuracyStatistic(perImage [][]ClassCount) bootstrap.ClassMean {
	idx := map[string]int{}
	for _, cs := range perImage {
		for _, c := range cs {
			idx[c.Class] = 0
		}
	}
	for j, n := range sortedKeys(idx) {
		idx[n] = j
	}
	st := bootstrap.ClassMean{Classes: len(idx), PerUnit: make([][]bootstrap.Count, len(perImage))}
	for i, cs := range perImage {
		for _, c := range cs {
			st.PerUnit[i] = append(st.PerUnit[i], bootstrap.Count{Class: int32(idx[c.Class]), Hits: float64(c.RecHits), N: float64(c.RecN)})
		}
	}
	return st
}

// MarshalText writes the mode as "all" or "loc".
func (m Mode) MarshalText() ([]byte, error) {
	if m != ModeAll && m != ModeLoc {
		return nil, fmt.Errorf("grounding: invalid mode %d", int(m))
	}
	return []byte(m.String()), nil
}
