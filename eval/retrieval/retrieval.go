// Package retrieval computes the image–text retrieval metrics of SCAN's evaluation (i2t and t2i with
// several captions per image): R@1, R@5, R@10 in both directions, median and mean rank, and rsum.
package retrieval

import (
	"fmt"
	"math"
	"sort"
)

// Result holds recalls in percent (as SCAN prints them) and 1-based median and mean ranks.
type Result struct {
	// Image → text: an image's rank is the best rank of any of its captions.
	I2T Recalls
	// Text → image: each caption's rank of its image.
	T2I Recalls
	// RSum = I2T.R1 + I2T.R5 + I2T.R10 + T2I.R1 + T2I.R5 + T2I.R10, SCAN's model-selection criterion.
	RSum float64
}

// Recalls are one direction's metrics.
type Recalls struct {
	R1, R5, R10 float64 // percent of queries ranked within the top 1, 5, 10
	MedR, MeanR float64 // floor(median rank) + 1 and mean rank + 1, ranks 0-based as in SCAN
}

// Evaluate computes the metrics from sims, an nImages × (perImage·nImages) row-major similarity
// matrix: sims[i*perImage*nImages + j] is the similarity of image i and caption j, and captions
// perImage·i … perImage·i+perImage−1 belong to image i (SCAN: perImage = 5).
//
// Ties: SCAN ranks with np.argsort(…)[::-1], whose order among equal scores is unspecified. Here a
// candidate's rank is the number of candidates with a strictly greater score plus the number of
// equally scored candidates with a larger index (the order a stable ascending sort, reversed, gives).
func Evaluate[F float32 | float64](sims []F, nImages, perImage int) (Result, error) {
	if nImages < 1 || perImage < 1 {
		return Result{}, fmt.Errorf("retrieval: %d images, %d captions per image: both must be ≥ 1", nImages, perImage)
	}
	nCaps := nImages * perImage
	if len(sims) != nImages*nCaps {
		return Result{}, fmt.Errorf("retrieval: %d similarities, want %d images × %d captions = %d", len(sims), nImages, nCaps, nImages*nCaps)
	}
	for k, v := range sims {
		if math.IsNaN(float64(v)) {
			return Result{}, fmt.Errorf("retrieval: similarity of image %d and caption %d is NaN", k/nCaps, k%nCaps)
		}
	}
	// rank of candidate target among scores.
	rank := func(score func(int) F, n, target int) int {
		s := score(target)
		r := 0
		for j := 0; j < n; j++ {
			v := score(j)
			if v > s || (v == s && j > target) {
				r++
			}
		}
		return r
	}
	i2t := make([]int, nImages)
	for i := range nImages {
		row := sims[i*nCaps : (i+1)*nCaps]
		best := math.MaxInt
		for c := i * perImage; c < (i+1)*perImage; c++ {
			best = min(best, rank(func(j int) F { return row[j] }, nCaps, c))
		}
		i2t[i] = best
	}
	t2i := make([]int, nCaps)
	for c := range nCaps {
		t2i[c] = rank(func(j int) F { return sims[j*nCaps+c] }, nImages, c/perImage)
	}
	res := Result{I2T: recalls(i2t), T2I: recalls(t2i)}
	res.RSum = res.I2T.R1 + res.I2T.R5 + res.I2T.R10 + res.T2I.R1 + res.T2I.R5 + res.T2I.R10
	return res, nil
}

// recalls summarises 0-based ranks as SCAN does.
func recalls(ranks []int) Recalls {
	n := float64(len(ranks))
	var r Recalls
	sum := 0
	for _, k := range ranks {
		if k < 1 {
			r.R1++
		}
		if k < 5 {
			r.R5++
		}
		if k < 10 {
			r.R10++
		}
		sum += k
	}
	r.R1, r.R5, r.R10 = 100*r.R1/n, 100*r.R5/n, 100*r.R10/n
	s := append([]int(nil), ranks...)
	sort.Ints(s)
	var med float64
	if len(s)%2 == 1 {
		med = float64(s[len(s)/2])
	} else {
		med = float64(s[len(s)/2-1]+s[len(s)/2]) / 2
	}
	r.MedR = math.Floor(med) + 1
	r.MeanR = float64(sum)/n + 1
	return r
}
