package caption

import "math"

// bleuTiny and bleuSmall are pycocoevalcap's constants: tiny is added to numerators, small to
// denominators.
const (
	bleuTiny  = 1e-15
	bleuSmall = 1e-9
)

// rougeBeta is ROUGE-L's β in pycocoevalcap.
const rougeBeta = 1.2

// ciderSigma is the σ of CIDEr-D's Gaussian length penalty.
const ciderSigma = 6.0

// BleuStats are one image's (or the corpus's) BLEU sufficient statistics: the corpus BLEU is
// [BleuStats.Scores] of the images' statistics summed ([BleuStats.AddScaled] with weight 1).
type BleuStats struct {
	Correct [maxN]float64 `json:"correct"` // clipped n-gram matches, n = 1..4
	Guess   [maxN]float64 `json:"guess"`   // hypothesis n-grams
	TestLen float64       `json:"test_len"`
	RefLen  float64       `json:"ref_len"` // the closest reference length
}

func (b *BleuStats) add(o BleuStats) { b.AddScaled(o, 1) }

// AddScaled adds w times o's statistics to b (a bootstrap replicate counts an image w times).
func (b *BleuStats) AddScaled(o BleuStats, w float64) {
	for n := range maxN {
		b.Correct[n] += w * o.Correct[n]
		b.Guess[n] += w * o.Guess[n]
	}
	b.TestLen += w * o.TestLen
	b.RefLen += w * o.RefLen
}

// Scores returns Bleu_1..Bleu_4 from the statistics, as pycocoevalcap's BleuScorer does.
func (b *BleuStats) Scores() [maxN]float64 { return b.scores() }

func (b *BleuStats) scores() [maxN]float64 {
	var out [maxN]float64
	bleu := 1.0
	for k := range maxN {
		bleu *= (b.Correct[k] + bleuTiny) / (b.Guess[k] + bleuSmall)
		out[k] = math.Pow(bleu, 1/float64(k+1))
	}
	ratio := (b.TestLen + bleuTiny) / (b.RefLen + bleuSmall)
	if ratio < 1 {
		for k := range maxN {
			out[k] *= math.Exp(1 - 1/ratio)
		}
	}
	return out
}

// closestRefLen returns the reference length closest to testLen, the shorter one on ties.
func closestRefLen(testLen int, refLens []int) int {
	best, bestDiff := -1, 0
	for _, l := range refLens {
		d := l - testLen
		if d < 0 {
			d = -d
		}
		if best < 0 || d < bestDiff || (d == bestDiff && l < best) {
			best, bestDiff = l, d
		}
	}
	return best
}

// lcs returns the length of the longest common subsequence of a and b; row is scratch of at least
// len(b)+1 entries.
func lcs(a, b []int32, row []int32) int {
	row = row[:len(b)+1]
	for j := range row {
		row[j] = 0
	}
	for i := range a {
		diag := int32(0)
		ai := a[i]
		for j := 1; j <= len(b); j++ {
			up := row[j]
			if ai == b[j-1] {
				row[j] = diag + 1
			} else if row[j-1] > up {
				row[j] = row[j-1]
			}
			diag = up
		}
	}
	return int(row[len(b)])
}

// rougeL returns pycocoevalcap's ROUGE-L of cand against refs.
func rougeL(cand []int32, refs [][]int32, row []int32) float64 {
	precMax, recMax := 0.0, 0.0
	for _, r := range refs {
		l := float64(lcs(r, cand, row))
		p := l / float64(len(cand))
		rc := l / float64(len(r))
		precMax = math.Max(precMax, p)
		recMax = math.Max(recMax, rc)
	}
	if precMax != 0 && recMax != 0 {
		return ((1 + rougeBeta*rougeBeta) * precMax * recMax) / (recMax + rougeBeta*rougeBeta*precMax)
	}
	return 0
}
