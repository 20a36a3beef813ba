package report

import (
	"fmt"
	"slices"

	"github.com/groundcap/groundcap/eval/bootstrap"
	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
)

// IntervalParams configure the bootstrap intervals (config section report.intervals): every
// score of a row with per-image scores gets a percentile interval over the evaluated images, and
// every comparison a paired interval of its difference (eval/bootstrap).
type IntervalParams struct {
	// Resamples is the number of bootstrap replicates (1000).
	Resamples int `yaml:"resamples" json:"resamples" check:"≥ 100"`
	// Level is the intervals' coverage (0.95).
	Level float64 `yaml:"level" json:"level" check:"in (0, 1)"`
	// Seed fixes the replicates.
	Seed uint64 `yaml:"seed" json:"seed"`
}

// DefaultIntervals are 1000 replicates, 95 % intervals, seed 1.
func DefaultIntervals() IntervalParams {
	return IntervalParams{Resamples: bootstrap.DefaultResamples, Level: bootstrap.DefaultLevel, Seed: 1}
}

func (p IntervalParams) options() bootstrap.Options {
	return bootstrap.Options{Resamples: p.Resamples, Level: p.Level, Seed: p.Seed}
}

// Pair is one comparison of two rows, named by their evaluate stages: A − B.
type Pair struct {
	A string `yaml:"a" json:"a"`
	B string `yaml:"b" json:"b"`
}

// Estimate is a score or a difference (×100 like the table) with its bootstrap interval;
// ContainsZero marks a difference whose interval contains 0 (not distinguishable from
// resampling noise at the interval's level).
type Estimate struct {
	Value        float64 `json:"value"`
	Lo           float64 `json:"lo"`
	Hi           float64 `json:"hi"`
	ContainsZero bool    `json:"contains_zero"`
}

// Difference is one comparison's differences by score key ("bleu_1", …, "f1_loc").
type Difference struct {
	A      string              `json:"a"` // label of row A
	B      string              `json:"b"`
	StageA string              `json:"stage_a"`
	StageB string              `json:"stage_b"`
	Scores map[string]Estimate `json:"scores"`
}

// MatchingDifference is POS-SCAN's attention accuracy minus SCAN's, per split (percent points).
type MatchingDifference struct {
	A        string              `json:"a"`
	B        string              `json:"b"`
	Accuracy map[string]Estimate `json:"attention_accuracy"`
}

// BootstrapInfo says how the intervals were computed.
type BootstrapInfo struct {
	Resamples int     `json:"resamples"`
	Level     float64 `json:"level"`
	Seed      uint64  `json:"seed"`
	// Images is the number of resampled images of the captioners' evaluation (0: none had
	// per-image scores).
	Images int `json:"images"`
}

// rowStats are a row's scores as functions of image weights, by score key (×100 but the KL).
type rowStats struct {
	ids   []int64
	stats map[string]bootstrap.Statistic
}

// statsOf indexes an evaluate stage's per_image.json.
func statsOf(pi *evalresults.PerImage) (*rowStats, error) {
	n := len(pi.ImageIDs)
	if len(pi.Bleu) != n || len(pi.RougeL) != n || len(pi.CIDEr) != n || (pi.F1All != nil && len(pi.F1All) != n) || (pi.F1Loc != nil && len(pi.F1Loc) != n) {
		return nil, fmt.Errorf("report: per_image.json lists %d images but %d BLEU, %d ROUGE-L, %d CIDEr-D, %d F1_all and %d F1_loc entries", n, len(pi.Bleu), len(pi.RougeL), len(pi.CIDEr), len(pi.F1All), len(pi.F1Loc))
	}
	if n == 0 {
		return nil, fmt.Errorf("report: per_image.json lists no image")
	}
	pct := func(s bootstrap.Statistic) bootstrap.Statistic { return bootstrap.Scaled{S: s, Factor: 100} }
	rs := &rowStats{ids: pi.ImageIDs, stats: map[string]bootstrap.Statistic{
		"bleu_1":  pct(caption.BleuStatistic{PerImage: pi.Bleu, N: 1}),
		"bleu_4":  pct(caption.BleuStatistic{PerImage: pi.Bleu, N: 4}),
		"rouge_l": pct(bootstrap.Mean(pi.RougeL)),
		"cider_d": pct(bootstrap.Mean(pi.CIDEr)),
	}}
	if pi.F1All != nil {
		rs.stats["f1_all"] = pct(grounding.NewF1Statistic(pi.F1All))
	}
	if pi.F1Loc != nil {
		rs.stats["f1_loc"] = pct(grounding.NewF1Statistic(pi.F1Loc))
	}
	if pi.KLSum != nil {
		if len(pi.KLSum) != n || len(pi.Nouns) != n {
			return nil, fmt.Errorf("report: per_image.json lists %d images but %d KL sums and %d noun counts", n, len(pi.KLSum), len(pi.Nouns))
		}
		nouns := make([]float64, n)
		for i, x := range pi.Nouns {
			nouns[i] = float64(x)
		}
		rs.stats["attention_kl"] = bootstrap.Ratio{Num: pi.KLSum, Den: nouns}
	}
	return rs, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// addIntervals fills the split's rows' Intervals from their statistics (nil: none) and computes the
// comparisons' differences.
func addIntervals(rep *SplitTables, stats []*rowStats, pairs []Pair, ip IntervalParams) error {
	info := &BootstrapInfo{Resamples: ip.Resamples, Level: ip.Level, Seed: ip.Seed}
	rep.Bootstrap = info
	samplers := map[int]*bootstrap.Resampler{}
	sampler := func(n int) *bootstrap.Resampler {
		if samplers[n] == nil {
			samplers[n] = bootstrap.New(n, ip.options())
		}
		return samplers[n]
	}
	for i, rs := range stats {
		if rs == nil {
			continue
		}
		info.Images = len(rs.ids)
		row := &rep.Rows[i]
		row.Intervals = map[string]Interval{}
		for _, k := range sortedKeys(rs.stats) {
			e, err := sampler(len(rs.ids)).Interval(rs.stats[k])
			if err != nil {
				return fmt.Errorf("report: %s %s: %w", row.Label, k, err)
			}
			row.Intervals[k] = Interval{Lo: e.Lo, Hi: e.Hi}
		}
	}
	at := map[string]int{}
	for i, r := range rep.Rows {
		at[r.Stage] = i
	}
	for _, pr := range pairs {
		ia, okA := at[pr.A]
		ib, okB := at[pr.B]
		if !okA || !okB || stats[ia] == nil || stats[ib] == nil {
			continue // a comparison of rows the report does not have, or without per-image scores
		}
		a, b := stats[ia], stats[ib]
		if !slices.Equal(a.ids, b.ids) {
			return fmt.Errorf("report: %s and %s were evaluated on different images (%d and %d): no paired difference", pr.A, pr.B, len(a.ids), len(b.ids))
		}
		d := Difference{A: rep.Rows[ia].Label, B: rep.Rows[ib].Label, StageA: pr.A, StageB: pr.B, Scores: map[string]Estimate{}}
		for _, k := range sortedKeys(a.stats) {
			sb, ok := b.stats[k]
			if !ok {
				continue
			}
			e, err := sampler(len(a.ids)).Difference(a.stats[k], sb)
			if err != nil {
				return fmt.Errorf("report: %s − %s %s: %w", pr.A, pr.B, k, err)
			}
			d.Scores[k] = Estimate{Value: e.Value, Lo: e.Lo, Hi: e.Hi, ContainsZero: e.ContainsZero()}
		}
		rep.Differences = append(rep.Differences, d)
	}
	return nil
}

// addMatchingIntervals fills the matching table's accuracy intervals from scan-eval's
// per_image.json and POS-SCAN's difference from SCAN per split.
func addMatchingIntervals(t *MatchingTable, pi *scanevalresults.PerImage, ip IntervalParams) error {
	var pos, plain string
	for _, m := range t.Models {
		if m.POS {
			pos = m.Stage
		} else {
			plain = m.Stage
		}
	}
	diff := &MatchingDifference{A: pos, B: plain, Accuracy: map[string]Estimate{}}
	for _, split := range t.Splits {
		sp := pi.Splits[split]
		if sp == nil {
			return fmt.Errorf("report: scan-eval's per_image.json has no split %s", split)
		}
		rs := bootstrap.New(len(sp.ImageIDs), ip.options())
		stat := func(stage string) (bootstrap.Statistic, error) {
			c, ok := sp.Models[stage]
			if !ok || len(c) != len(sp.ImageIDs) {
				return nil, fmt.Errorf("report: scan-eval's per_image.json: split %s has %d counts of %s for %d images", split, len(c), stage, len(sp.ImageIDs))
			}
			return bootstrap.Scaled{S: grounding.AccuracyStatistic(c), Factor: 100}, nil
		}
		for i := range t.Models {
			m := &t.Models[i]
			s, err := stat(m.Stage)
			if err != nil {
				return err
			}
			e, err := rs.Interval(s)
			if err != nil {
				return fmt.Errorf("report: %s accuracy on %s: %w", m.Stage, split, err)
			}
			if m.Intervals == nil {
				m.Intervals = map[string]Interval{}
			}
			m.Intervals[split] = Interval{Lo: e.Lo, Hi: e.Hi}
		}
		if pos != "" && plain != "" {
			a, err := stat(pos)
			if err != nil {
				return err
			}
			b, err := stat(plain)
			if err != nil {
				return err
			}
			e, err := rs.Difference(a, b)
			if err != nil {
				return fmt.Errorf("report: %s − %s accuracy on %s: %w", pos, plain, split, err)
			}
			diff.Accuracy[split] = Estimate{Value: e.Value, Lo: e.Lo, Hi: e.Hi, ContainsZero: e.ContainsZero()}
		}
	}
	if pos != "" && plain != "" {
		t.Difference = diff
	}
	return nil
}
