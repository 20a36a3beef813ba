package grounding

import (
	"fmt"
	"sort"
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
	if mode != ModeAll && mode != ModeLoc {
		return nil, fmt.Errorf("grounding: F1: invalid mode %d", int(mode))
	}
	if err := refs.Validate(); err != nil {
		return nil, err
	}
	if lem == nil {
		lem = NounLemmatizer{}
	}
	res := &F1Result{Mode: mode, NumImages: len(refs.Images)}
	inRefs := make(map[int64]bool, len(refs.Images))
	for _, img := range refs.Images {
		inRefs[img.ImageID] = true
	}
	for id, preds := range sub {
		if !inRefs[id] {
			res.IgnoredPredictions = append(res.IgnoredPredictions, id)
			continue
		}
		if len(preds) != 1 {
			return nil, fmt.Errorf("%w: submission image %d has %d entries, want one grounded caption per image", ErrInput, id, len(preds))
		}
		if err := preds[0].validate(id, 0); err != nil {
			return nil, err
		}
	}
	sort.Slice(res.IgnoredPredictions, func(i, j int) bool { return res.IgnoredPredictions[i] < res.IgnoredPredictions[j] })

	vocab := map[string]bool{}
	prec := map[string][]bool{}
	rec := map[string][]bool{}
	lemmaOf := map[string]string{}
	lemma := func(w string) string {
		l, ok := lemmaOf[w]
		if !ok {
			l = lem.Lemma(w)
			lemmaOf[w] = l
		}
		return l
	}
	for _, img := range refs.Images {
		preds, ok := sub[img.ImageID]
		if !ok {
			continue
		}
		res.NumPredicted++
		p := preds[0]
		for _, cap := range img.Captions {
			first := map[string]int{} // class → position in cap.Words of its smallest index
			annotated := map[int]bool{}
			for k, w := range cap.Words {
				vocab[w.Class] = true
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
			for k, cls := range p.Classes {
				if j, ok := first[cls]; ok {
					prec[cls] = append(prec[cls], hit(p.Boxes[k], cap.Words[j].Boxes))
				} else if exclude[lemma(cls)] {
					// not penalised: the object word is in the caption but not annotated
				} else if mode == ModeAll {
					prec[cls] = append(prec[cls], false) // hallucinated object
				}
			}
		}
	}
	for _, img := range refs.Images {
		preds, ok := sub[img.ImageID]
		for _, cap := range img.Captions {
			for _, w := range cap.Words {
				switch {
				case !ok:
					rec[w.Class] = append(rec[w.Class], false) // image not grounded
				case indexOf(preds[0].Classes, w.Class) >= 0:
					rec[w.Class] = append(rec[w.Class], hit(preds[0].Boxes[indexOf(preds[0].Classes, w.Class)], w.Boxes))
				case mode == ModeAll:
					rec[w.Class] = append(rec[w.Class], false) // object not grounded
				}
			}
		}
	}
	res.NumClasses = len(vocab)
	if res.NumClasses == 0 {
		return nil, fmt.Errorf("%w: no annotated object word in the captions of the %d predicted images", ErrInput, res.NumPredicted)
	}
	var sumP, sumR float64
	for _, c := range sortedKeys(prec) {
		sumP += mean(prec[c])
	}
	for _, c := range sortedKeys(rec) {
		sumR += mean(rec[c])
	}
	res.Precision = sumP / float64(res.NumClasses)
	res.Recall = sumR / float64(res.NumClasses)
	if res.Precision+res.Recall > 0 {
		res.F1 = 2 * res.Precision * res.Recall / (res.Precision + res.Recall)
	}
	for _, c := range sortedKeys(vocab) {
		res.PerClass = append(res.PerClass, ClassScore{Class: c, Precision: mean(prec[c]), Recall: mean(rec[c]), NumPrec: len(prec[c]), NumRecall: len(rec[c])})
	}
	sort.SliceStable(res.PerClass, func(i, j int) bool { return res.PerClass[i].NumRecall > res.PerClass[j].NumRecall })
	return res, nil
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
	if err := refs.Validate(); err != nil {
		return nil, err
	}
	res := &AccuracyResult{NumImages: len(refs.Images)}
	inRefs := map[int64]bool{}
	for _, img := range refs.Images {
		inRefs[img.ImageID] = true
	}
	for id := range sub {
		if !inRefs[id] {
			res.IgnoredPredictions = append(res.IgnoredPredictions, id)
		}
	}
	sort.Slice(res.IgnoredPredictions, func(i, j int) bool { return res.IgnoredPredictions[i] < res.IgnoredPredictions[j] })
	results := map[string][]bool{}
	for _, img := range refs.Images {
		preds, ok := sub[img.ImageID]
		if ok && len(preds) != len(img.Captions) {
			return nil, fmt.Errorf("%w: submission image %d has %d entries, want one per ground-truth caption (%d)", ErrInput, img.ImageID, len(preds), len(img.Captions))
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
				if !ok {
					results[w.Class] = append(results[w.Class], false)
					continue
				}
				k := -1
				for i, x := range preds[c].IdxInSent {
					if x == w.Index {
						k = i
						break
					}
				}
				results[w.Class] = append(results[w.Class], k >= 0 && hit(preds[c].Boxes[k], w.Boxes))
			}
		}
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("%w: no annotated object word in the references", ErrInput)
	}
	var sum float64
	for _, c := range sortedKeys(results) {
		a := mean(results[c])
		sum += a
		res.PerClass = append(res.PerClass, ClassScore{Class: c, Recall: a, NumRecall: len(results[c])})
	}
	res.Accuracy = sum / float64(len(results))
	sort.SliceStable(res.PerClass, func(i, j int) bool { return res.PerClass[i].NumRecall > res.PerClass[j].NumRecall })
	return res, nil
}

// MarshalText writes the mode as "all" or "loc".
func (m Mode) MarshalText() ([]byte, error) {
	if m != ModeAll && m != ModeLoc {
		return nil, fmt.Errorf("grounding: invalid mode %d", int(m))
	}
	return []byte(m.String()), nil
}
