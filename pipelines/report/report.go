// Package report is the final stage of the demo: it gathers every captioner variant's evaluation
// (the evaluate stages' metrics.json and per_image.json) and the matching models' attention
// accuracy (the scan-eval stage's) into the paper-style comparison (Zhou et al., CVPR 2020):
// rows Up-Down XE; XE + KL(SCAN); XE + KL(POS-SCAN); each + SCST(CIDEr-D) (Table 2); the best
// model KL(POS-SCAN) + SCST(CIDEr-D + matching score) (Tables 2 and 3); SCST(CIDEr-D + matching
// score) from XE and KL(SCAN) (groundcap's); columns B@1, B@4, ROUGE-L, CIDEr-D, F1_all, F1_loc
// (×100) and the attention KL, each with its bootstrap interval over the evaluated images, and the
// paired differences between variants (Params.Pairs), on the main split (test) and then on the
// rows' other evaluated splits (val); the matching models' table (Table 1).
//
// Outputs: report.md (the tables, printed at the end of the run), report.json (Report) and
// report.html (Page: the tables, the training curves of the trained stages, per-class grounding
// and a gallery of every variant's attention pictures side by side; one self-contained file).
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/declare"
)

// Name is the stage name.
const Name = "report"

// none switches an optional input off (a row's results, pictures or per-image counts, the
// curves, scan-eval and its per-image counts).
const none = "none"

// Output names.
const (
	ReportFile = "report.md"
	JSONFile   = "report.json"
)

// InputScanEval and InputScanEvalPerImage name the scan-eval inputs.
const (
	InputScanEval         = "scan_eval"
	InputScanEvalPerImage = "scan_eval_per_image"
)

// Row is one row of the comparison: a label and an evaluate stage's metrics.json, with its
// results.json and attention pictures for report.html's gallery.
type Row struct {
	Label string `yaml:"label" json:"label" check:"a label"`
	// Paper names the paper's table the row corresponds to ("" : not shown).
	Paper   string `yaml:"paper" json:"paper"`
	Metrics string `yaml:"metrics" json:"-" key:"-" check:"an evaluate stage's metrics.json"`
	// Results is the evaluate stage's results.json of the main split and Pictures its pictures
	// directory (defaults: <split>/results.json and pictures/ beside an "@<stage>/metrics.json"
	// Metrics, else none; "none": not in the gallery).
	Results  string `yaml:"results" json:"-" key:"-"`
	Pictures string `yaml:"pictures" json:"-" key:"-"`
	// PerImage is the evaluate stage's per_image.json, from which the row's intervals and its
	// comparisons are computed (default: beside an "@<stage>/metrics.json" Metrics, else none;
	// "none": no intervals).
	PerImage string `yaml:"per_image" json:"-" key:"-"`
}

// CurveRef is one training curve of report.html: a trained stage's curve picture.
type CurveRef struct {
	Stage string `yaml:"stage" json:"stage" check:"a trained stage's name"`
	// Picture is the PNG (default "@<stage>/curves.png"; the matching models' is curve.png).
	Picture string `yaml:"picture" json:"-" key:"-"`
}

// DefaultCurves are the curves of the matching models and of the six captioners.
func DefaultCurves() []CurveRef {
	out := []CurveRef{{Stage: string(models.POSSCAN), Picture: "@" + string(models.POSSCAN) + "/" + models.MatchingCurveFile}, {Stage: string(models.SCAN), Picture: "@" + string(models.SCAN) + "/" + models.MatchingCurveFile}}
	for _, c := range models.Captioners() {
		out = append(out, CurveRef{Stage: c, Picture: "@" + c + "/" + models.CurvesFile})
	}
	return out
}

// Paper tables of the rows (Zhou et al., CVPR 2020), as the original's eval_flickr.sh labels its
// runs: the ablations of Table 2 (on val in the paper), among them the ground-truth supervision
// rows, the final comparison of Table 3 (on test); PaperNone marks a row in neither (a
// config's own rows).
const (
	PaperAblation = "Table 2 (ablation)"
	PaperBest     = "Tables 2 and 3 (best model)"
	PaperGT       = "Table 2 (GT attention supervision)"
	PaperNone     = "— (groundcap)"
)

// DefaultRows are the rows of every captioner variant, each with the paper's table it
// corresponds to (as the original's eval_flickr.sh labels its runs): XE, KL(SCAN), KL(POS-SCAN),
// each + SCST(CIDEr-D) (Table 2); KL(POS-SCAN) + SCST(CIDEr-D + matching score), the paper's
// best (Tables 2 and 3); SCST(CIDEr-D + matching score) from XE and KL(SCAN) (Table 2's
// "XE + SCST(CIDEr+POS-SCAN)" and "XE + 0.1KL(SCAN) + SCST(CIDEr+SCAN)"); the optional
// ground-truth supervision XE + GT attention, alone and + SCST(CIDEr-D) or + SCST(CIDEr-D +
// POS-SCAN score) (Table 2's "XE + 0.1NLL(GT)" rows).
func DefaultRows() []Row {
	rows := []struct{ stage, label, paper string }{
		{models.CaptionXE, "Up-Down (XE)", PaperAblation},
		{models.CaptionXESCAN, "XE + KL(SCAN)", PaperAblation},
		{models.CaptionXEPOSSCAN, "XE + KL(POS-SCAN)", PaperAblation},
		{models.CaptionXEGT, "XE + GT attention (Entities boxes)", PaperGT},
		{models.CaptionSCSTCIDErGT, "XE + GT attention + SCST(CIDEr-D)", PaperGT},
		{models.CaptionSCSTGT, "XE + GT attention + SCST(CIDEr-D + POS-SCAN score)", PaperGT},
		{models.CaptionSCSTCIDEr, "Up-Down (XE) + SCST(CIDEr-D)", PaperAblation},
		{models.CaptionSCSTCIDErSCAN, "XE + KL(SCAN) + SCST(CIDEr-D)", PaperAblation},
		{models.CaptionSCSTCIDErPOSSCAN, "XE + KL(POS-SCAN) + SCST(CIDEr-D)", PaperAblation},
		{models.CaptionSCSTPOSSCAN, "XE + KL(POS-SCAN) + SCST(CIDEr-D + POS-SCAN score)", PaperBest},
		{models.CaptionSCST, "Up-Down (XE) + SCST(CIDEr-D + POS-SCAN score)", PaperAblation},
		{models.CaptionSCSTSCAN, "XE + KL(SCAN) + SCST(CIDEr-D + SCAN score)", PaperAblation},
	}
	var out []Row
	for _, r := range rows {
		out = append(out, Row{Label: r.label, Paper: r.paper, Metrics: "@" + evalresults.NameOf(r.stage) + "/" + evalresults.MetricsFile})
	}
	return out
}

// Params configure the report stage (config section "report"); DefaultParams gives the
// defaults.
type Params struct {
	// Split is the main split (test): its table comes first and its results.json files fill
	// report.html's gallery; the rows' other evaluated splits (val) get tables after it.
	Split string `yaml:"split" json:"split"`
	// Rows are the table's rows (DefaultRows: the six evaluate instances).
	Rows []Row `yaml:"rows" json:"rows" check:"at least one row"`
	// ScanEval is the scan-eval stage's metrics ("none": no matching-model table).
	ScanEval string `yaml:"scan_eval" json:"-" key:"-"`
	// Title heads report.md.
	Title string `yaml:"title" json:"title"`
	// Curves are report.html's training curves (DefaultCurves; "none" as the only stage: no
	// curves).
	Curves []CurveRef `yaml:"curves" json:"curves"`
	// Intervals configure the bootstrap intervals of every score and difference.
	Intervals IntervalParams `yaml:"intervals" json:"intervals"`
	// Pairs are the comparisons A − B of rows (by evaluate stage) reported with paired
	// intervals (DefaultPairs); pairs naming a row the report lacks are skipped.
	Pairs []Pair `yaml:"pairs" json:"pairs"`
	// ScanEvalPerImage is scan-eval's per_image.json, for the matching models' intervals
	// (default: beside an "@scan-eval/metrics.json" ScanEval; "none": no intervals).
	ScanEvalPerImage string `yaml:"scan_eval_per_image" json:"-" key:"-"`
}

// DefaultPairs compares every variant with Up-Down (XE), the KL(POS-SCAN) variants with the
// KL(SCAN) ones, the paper's best with KL(POS-SCAN) + SCST(CIDEr-D) (the matching reward), and
// the ground-truth supervision with KL(POS-SCAN) (how near distillation comes to the boxes).
func DefaultPairs() []Pair {
	base := evalresults.NameOf(models.CaptionXE)
	var out []Pair
	for _, r := range DefaultRows() {
		if n := rowStage(r); n != base {
			out = append(out, Pair{A: n, B: base})
		}
	}
	return append(out,
		Pair{A: evalresults.NameOf(models.CaptionXEPOSSCAN), B: evalresults.NameOf(models.CaptionXESCAN)},
		Pair{A: evalresults.NameOf(models.CaptionSCSTCIDErPOSSCAN), B: evalresults.NameOf(models.CaptionSCSTCIDErSCAN)},
		Pair{A: evalresults.NameOf(models.CaptionSCSTPOSSCAN), B: evalresults.NameOf(models.CaptionSCSTSCAN)},
		Pair{A: evalresults.NameOf(models.CaptionSCSTPOSSCAN), B: evalresults.NameOf(models.CaptionSCSTCIDErPOSSCAN)},
		Pair{A: evalresults.NameOf(models.CaptionXEGT), B: evalresults.NameOf(models.CaptionXEPOSSCAN)})
}

// rowStage is the stage of an "@<stage>/…" row ("" for another reference).
func rowStage(r Row) string {
	stage, _, ok := strings.Cut(strings.TrimPrefix(r.Metrics, "@"), "/")
	if !ok || !strings.HasPrefix(r.Metrics, "@") {
		return ""
	}
	return stage
}

// DefaultParamsFor returns DefaultParams restricted to the stages has reports as present: the
// rows and pairs of present evaluate stages, the curves of present trained stages.
func DefaultParamsFor(has func(stage string) bool) Params {
	p := DefaultParams()
	p.Rows = slices.DeleteFunc(p.Rows, func(r Row) bool { return !has(rowStage(r)) })
	p.Pairs = slices.DeleteFunc(p.Pairs, func(pr Pair) bool { return !has(pr.A) || !has(pr.B) })
	p.Curves = slices.DeleteFunc(p.Curves, func(c CurveRef) bool { return !has(c.Stage) })
	if len(p.Curves) == 0 {
		p.Curves = []CurveRef{{Stage: none}}
	}
	return p
}

// DefaultSplit is the main split of the report.
const DefaultSplit = "test"

// DefaultParams returns the paper's rows, the scan-eval table, the default title and the curves
// of every trained stage.
func DefaultParams() Params {
	return Params{Split: DefaultSplit, Rows: DefaultRows(), ScanEval: "@" + scanevalresults.Name + "/" + scanevalresults.MetricsFile,
		Title: "Grounded captioning: comparison", Curves: DefaultCurves(), Intervals: DefaultIntervals(), Pairs: DefaultPairs()}
}

// resolved returns p with the references that follow from others: a row's results.json and
// pictures beside an "@<stage>/metrics.json" Metrics (else none), a curve's picture as the
// stage's curves.png; a "none" curve list becomes empty.
func (p Params) resolved() Params {
	p.Rows = append([]Row(nil), p.Rows...)
	for i := range p.Rows {
		r := &p.Rows[i]
		stage, file, ok := strings.Cut(strings.TrimPrefix(r.Metrics, "@"), "/")
		beside := strings.HasPrefix(r.Metrics, "@") && ok && file == evalresults.MetricsFile
		if r.Results == "" {
			r.Results = none
			if beside {
				r.Results = "@" + stage + "/" + evalresults.ResultsOf(p.Split)
			}
		}
		if r.Pictures == "" {
			r.Pictures = none
			if beside {
				r.Pictures = "@" + stage + "/" + evalresults.PicturesDir
			}
		}
		if r.PerImage == "" {
			r.PerImage = none
			if beside {
				r.PerImage = "@" + stage + "/" + evalresults.PerImageFile
			}
		}
	}
	if p.ScanEvalPerImage == "" {
		p.ScanEvalPerImage = none
		if stage, file, ok := strings.Cut(strings.TrimPrefix(p.ScanEval, "@"), "/"); strings.HasPrefix(p.ScanEval, "@") && ok && file == scanevalresults.MetricsFile {
			p.ScanEvalPerImage = "@" + stage + "/" + scanevalresults.PerImageFile
		}
	}
	if len(p.Curves) == 1 && p.Curves[0].Stage == none {
		p.Curves = []CurveRef{}
	}
	p.Curves = append([]CurveRef{}, p.Curves...)
	for i := range p.Curves {
		if c := &p.Curves[i]; c.Picture == "" {
			c.Picture = "@" + c.Stage + "/" + models.CurvesFile
		}
	}
	return p
}

// Validate returns the first bad field: a *config.FieldError naming its key (bounds: the check
// tags of Params, its rows, curves and intervals).
func (p Params) Validate() error { return config.Prefix("report", p.validate()) }

func (p Params) validate() error {
	if p.Split == "" || strings.ContainsAny(p.Split, "/\\") {
		return config.Invalid("split", p.Split, "the main split's name")
	}
	if err := config.Check(p); err != nil {
		return err
	}
	for i, pr := range p.Pairs {
		if pr.A == "" || pr.B == "" || pr.A == pr.B {
			return config.Invalid(fmt.Sprintf("pairs[%d]", i), pr, "two different evaluate stages a and b")
		}
	}
	return nil
}

// Stage returns the report stage.
func Stage(p Params) (*engine.Stage, error) {
	p = p.resolved()
	var inputs []engine.Input
	for i, r := range p.Rows {
		inputs = append(inputs, engine.Input{Name: fmt.Sprintf("row-%d", i), Ref: r.Metrics})
		if r.Results != none {
			inputs = append(inputs, engine.Input{Name: fmt.Sprintf("row-%d-results", i), Ref: r.Results})
		}
		if r.Pictures != none {
			inputs = append(inputs, engine.Input{Name: fmt.Sprintf("row-%d-pictures", i), Ref: r.Pictures})
		}
		if r.PerImage != none {
			inputs = append(inputs, engine.Input{Name: fmt.Sprintf("row-%d-per-image", i), Ref: r.PerImage})
		}
	}
	for i, c := range p.Curves {
		inputs = append(inputs, engine.Input{Name: fmt.Sprintf("curve-%d", i), Ref: c.Picture})
	}
	if p.ScanEval != none {
		inputs = append(inputs, engine.Input{Name: InputScanEval, Ref: p.ScanEval})
		if p.ScanEvalPerImage != none {
			inputs = append(inputs, engine.Input{Name: InputScanEvalPerImage, Ref: p.ScanEvalPerImage})
		}
	}
	return declare.Stage(p, engine.Stage{
		Name:        Name,
		Description: "the paper-style comparison of every captioner variant and the matching models' attention accuracy, as tables and an HTML report",
		// 4: bootstrap intervals of every score and difference (intervals, pairs). 5: the
		// evaluate stages' splits (split, the main one, then the others). 6: rows repeating a
		// kept starting model marked (kept).
		Version:       "6",
		SchemaVersion: "5",
		Inputs:        inputs,
		Run: func(ctx context.Context, r *engine.Run) error {
			rep := &Report{Title: p.Title}
			page := &Page{Report: rep, Key: r.Key}
			mets := make([]*evalresults.Metrics, len(p.Rows))
			pers := make([]*evalresults.PerImages, len(p.Rows))
			for i, row := range p.Rows {
				mets[i] = &evalresults.Metrics{}
				if err := readJSON(ctx, r.Input(fmt.Sprintf("row-%d", i)), mets[i]); err != nil {
					return err
				}
				if row.PerImage != none {
					pers[i] = &evalresults.PerImages{}
					if err := readJSON(ctx, r.Input(fmt.Sprintf("row-%d-per-image", i)), pers[i]); err != nil {
						return err
					}
				}
			}
			splits, err := reportSplits(p, mets)
			if err != nil {
				return err
			}
			for k, split := range splits {
				t := &rep.SplitTables
				if k > 0 {
					rep.Other = append(rep.Other, SplitTables{})
					t = &rep.Other[len(rep.Other)-1]
				}
				if err := fillSplit(t, split, p, mets, pers); err != nil {
					return err
				}
			}
			for i, row := range p.Rows {
				v, err := readVariant(ctx, r, i, row, mets[i].Split(p.Split))
				if err != nil {
					return err
				}
				page.Variants = append(page.Variants, v)
			}
			for i, c := range p.Curves {
				png, err := blobio.ReadAll(ctx, r.Input(fmt.Sprintf("curve-%d", i)))
				if err != nil {
					return fmt.Errorf("report: %w", err)
				}
				page.Curves = append(page.Curves, Curve{Stage: c.Stage, PNG: png})
			}
			if p.ScanEval != none {
				var se scanevalresults.Metrics
				if err := readJSON(ctx, r.Input(InputScanEval), &se); err != nil {
					return err
				}
				rep.Matching = MatchingOf(&se)
				if p.ScanEvalPerImage != none {
					var pi scanevalresults.PerImage
					if err := readJSON(ctx, r.Input(InputScanEvalPerImage), &pi); err != nil {
						return err
					}
					if err := addMatchingIntervals(rep.Matching, &pi, p.Intervals); err != nil {
						return err
					}
				}
			}
			md := rep.Markdown()
			if err := blobio.WriteAll(ctx, r.Output(ReportFile), []byte(md)); err != nil {
				return err
			}
			b, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if err := blobio.WriteAll(ctx, r.Output(JSONFile), append(b, '\n')); err != nil {
				return err
			}
			html, err := page.HTML()
			if err != nil {
				return err
			}
			if err := blobio.WriteAll(ctx, r.Output(HTMLFile), html); err != nil {
				return err
			}
			r.Logf("%s\n%s\nHTML report: %s", r.Output(ReportFile), md, r.Output(HTMLFile))
			return nil
		},
	})
}

// reportSplits returns the splits of the report: the main split, which every row must have, then
// the other splits of the first row's metrics that every row has, in its order.
func reportSplits(p Params, mets []*evalresults.Metrics) ([]string, error) {
	for i, m := range mets {
		if m.Split(p.Split) == nil {
			return nil, fmt.Errorf("report: %s (row %q) has no scores of the %s split (it has %v)", p.Rows[i].Metrics, p.Rows[i].Label, p.Split, m.Splits)
		}
	}
	out := []string{p.Split}
	for _, s := range mets[0].Splits {
		if s != p.Split && !slices.ContainsFunc(mets, func(m *evalresults.Metrics) bool { return m.Split(s) == nil }) {
			out = append(out, s)
		}
	}
	return out, nil
}

// fillSplit fills t with the rows' scores of split, their intervals and the pairs' differences.
func fillSplit(t *SplitTables, split string, p Params, mets []*evalresults.Metrics, pers []*evalresults.PerImages) error {
	t.Split = split
	stats := make([]*rowStats, len(p.Rows))
	for i, row := range p.Rows {
		m := mets[i].Split(split)
		sc := RowOf(row.Label, m)
		sc.Paper = row.Paper
		t.Rows = append(t.Rows, sc)
		if pers[i] == nil {
			continue
		}
		pi := pers[i].Splits[split]
		if pi == nil {
			return fmt.Errorf("report: %s has no %s split", row.PerImage, split)
		}
		var err error
		if stats[i], err = statsOf(pi); err != nil {
			return fmt.Errorf("%w (%s, %s split)", err, row.PerImage, split)
		}
		if len(pi.ImageIDs) != m.Images {
			return fmt.Errorf("report: %s lists %d images of the %s split, %s %d", row.PerImage, len(pi.ImageIDs), split, row.Metrics, m.Images)
		}
	}
	return addIntervals(t, stats, p.Pairs, p.Intervals)
}

// readVariant reads row i's gallery and per-class grounding: its results.json and pictures
// (when the row has them) and the per-class scores of its metrics (the main split's).
func readVariant(ctx context.Context, r *engine.Run, i int, row Row, m *evalresults.SplitMetrics) (Variant, error) {
	v := Variant{Captions: map[int64]string{}, Pictures: map[int64][]byte{}}
	if g := m.Grounding; g != nil {
		v.ClassesAll, v.ClassesLoc = g.All.PerClass, g.Loc.PerClass
	}
	if row.Results != none {
		var res []evalresults.Result
		if err := readJSON(ctx, r.Input(fmt.Sprintf("row-%d-results", i)), &res); err != nil {
			return v, err
		}
		for _, x := range res {
			v.Captions[x.ImageID] = x.Caption
		}
	}
	if row.Pictures != none {
		dir := r.Input(fmt.Sprintf("row-%d-pictures", i))
		objs, err := blobio.List(ctx, dir)
		if err != nil {
			return v, fmt.Errorf("report: %w", err)
		}
		for _, o := range objs {
			id, err := strconv.ParseInt(strings.TrimSuffix(o.Name, ".png"), 10, 64)
			if err != nil || !strings.HasSuffix(o.Name, ".png") {
				return v, fmt.Errorf("report: %s: %q is not a picture <image id>.png", dir, o.Name)
			}
			png, err := blobio.ReadAll(ctx, blobio.Join(dir, o.Name))
			if err != nil {
				return v, fmt.Errorf("report: %w", err)
			}
			v.Pictures[id] = png
		}
	}
	return v, nil
}

func readJSON(ctx context.Context, loc string, v any) error {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("report: %s: %w", loc, err)
	}
	return nil
}

// Scores is one captioner's row (×100). F1 values are absent without grounding references.
type Scores struct {
	Label string `json:"label"`
	// Paper is the paper's table the row corresponds to ("" when not given).
	Paper     string `json:"paper,omitempty"`
	Stage     string `json:"stage"`
	Captioner string `json:"captioner"`
	// Kept names the stage whose model the captioner published unchanged (its starting model,
	// which no epoch of its own beat on val: carry_best), so that the row repeats that model's
	// scores; "" when the captioner trained its own.
	Kept   string   `json:"kept,omitempty"`
	Images int      `json:"images"`
	B1     float64  `json:"bleu_1"`
	B4     float64  `json:"bleu_4"`
	RougeL float64  `json:"rouge_l"`
	CIDEr  float64  `json:"cider_d"`
	F1All  *float64 `json:"f1_all,omitempty"`
	F1Loc  *float64 `json:"f1_loc,omitempty"`
	// KL is the captioner's attention KL(α‖β) to KLTeacher's on the ground-truth captions (not
	// ×100); absent when the evaluation did not compute it.
	KL        *float64 `json:"attention_kl,omitempty"`
	KLTeacher string   `json:"kl_teacher,omitempty"`
	// Intervals are confidence intervals of the scores, keyed by their JSON names ("cider_d",
	// "f1_all", …), on the same scale; absent when not computed.
	Intervals map[string]Interval `json:"intervals,omitempty"`
}

// RowOf converts an evaluate stage's metrics of one split.
func RowOf(label string, m *evalresults.SplitMetrics) Scores {
	s := Scores{Label: label, Stage: m.Stage, Captioner: m.Captioner, Images: m.Images,
		B1: 100 * m.Caption.Bleu1, B4: 100 * m.Caption.Bleu4, RougeL: 100 * m.Caption.RougeL, CIDEr: 100 * m.Caption.CIDEr}
	if m.TrainedBy != "" && m.TrainedBy != m.Captioner {
		s.Kept = m.TrainedBy
	}
	if g := m.Grounding; g != nil {
		a, l := 100*g.All.F1, 100*g.Loc.F1
		s.F1All, s.F1Loc = &a, &l
	}
	if a := m.Attention; a != nil {
		kl := a.KL
		s.KL, s.KLTeacher = &kl, string(a.Teacher)
	}
	return s
}

// keptMark follows the label of a row whose captioner kept its starting model (Scores.Kept).
const keptMark = " ‡"

// keptNote says which rows repeat another stage's model ("" when none does).
func keptNote(rows []Scores) string {
	var kept []string
	for _, s := range rows {
		if s.Kept != "" {
			kept = append(kept, fmt.Sprintf("%s is %s's model", s.Captioner, s.Kept))
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return "‡ No epoch of the stage beat the model it started from on val (carry_best), so it published that model and the row repeats its scores: " +
		strings.Join(kept, "; ") + "."
}

// Matching is one matching model's grounding quality.
type Matching struct {
	Stage string `json:"stage"`
	POS   bool   `json:"pos"`
	// Accuracy is the attention accuracy (percent) per split; RSum the test retrieval rsum.
	Accuracy map[string]float64 `json:"attention_accuracy"`
	RSum     float64            `json:"rsum"`
	// Intervals are the accuracy's bootstrap intervals per split (absent without scan-eval's
	// per-image counts).
	Intervals map[string]Interval `json:"intervals,omitempty"`
}

// MatchingTable is the matching models' table with the random-region baseline.
type MatchingTable struct {
	Splits []string           `json:"splits"`
	Random map[string]float64 `json:"random_region_accuracy"`
	Models []Matching         `json:"models"`
	// Difference is POS-SCAN's accuracy minus SCAN's with paired intervals (absent without
	// per-image counts or without both models).
	Difference *MatchingDifference `json:"difference,omitempty"`
}

// MatchingOf converts the scan-eval stage's metrics.
func MatchingOf(se *scanevalresults.Metrics) *MatchingTable {
	t := &MatchingTable{Random: se.Random}
	for s := range se.Splits {
		t.Splits = append(t.Splits, s)
	}
	sort.Strings(t.Splits)
	for _, m := range se.Models {
		t.Models = append(t.Models, Matching{Stage: m.Stage, POS: m.POS, Accuracy: m.Accuracy, RSum: m.Retrieval.RSum})
	}
	return t
}

// Report is report.json: the captioners' tables of the main split (test), the same tables of
// the other evaluated splits (val), the matching models' table.
type Report struct {
	Title string `json:"title"`
	// SplitTables are the main split's tables.
	SplitTables
	// Other are the tables of the other splits the rows were evaluated on.
	Other    []SplitTables  `json:"other_splits,omitempty"`
	Matching *MatchingTable `json:"matching,omitempty"`
}

// SplitTables are the captioners' scores on one split.
type SplitTables struct {
	Split string   `json:"split"`
	Rows  []Scores `json:"rows"`
	// Differences are the comparisons (Params.Pairs) of rows with per-image scores.
	Differences []Difference `json:"differences,omitempty"`
	// Bootstrap says how the intervals were computed.
	Bootstrap *BootstrapInfo `json:"bootstrap,omitempty"`
}

// Markdown renders the tables: each score with its interval in brackets when it has one, the
// comparisons' differences (a dagger marks those whose interval contains 0), the matching
// models' table.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	r.SplitTables.markdown(&b)
	for i := range r.Other {
		fmt.Fprintf(&b, "\n## The %s split\n\n", r.Other[i].Split)
		r.Other[i].markdown(&b)
	}
	if t := r.Matching; t != nil {
		b.WriteString("\nMatching models: attention accuracy (%) of the word–region attention on ground-truth captions, and test retrieval rsum.\n\n| Matching model |")
		for _, s := range t.Splits {
			fmt.Fprintf(&b, " accuracy (%s) |", s)
		}
		b.WriteString(" rsum |\n|---|" + strings.Repeat("---|", len(t.Splits)+1) + "\n")
		for _, m := range t.Models {
			name := "SCAN"
			if m.POS {
				name = "POS-SCAN"
			}
			fmt.Fprintf(&b, "| %s (%s) |", name, m.Stage)
			for _, s := range t.Splits {
				fmt.Fprintf(&b, " %.2f", m.Accuracy[s])
				if iv, ok := m.Intervals[s]; ok {
					fmt.Fprintf(&b, " [%.2f, %.2f]", iv.Lo, iv.Hi)
				}
				b.WriteString(" |")
			}
			fmt.Fprintf(&b, " %.1f |\n", m.RSum)
		}
		b.WriteString("| random region |")
		for _, s := range t.Splits {
			fmt.Fprintf(&b, " %.2f |", t.Random[s])
		}
		b.WriteString(" – |\n")
		if d := t.Difference; d != nil {
			fmt.Fprintf(&b, "| POS-SCAN − SCAN (%s − %s) |", d.A, d.B)
			for _, s := range t.Splits {
				b.WriteString(" " + formatDiff(d.Accuracy[s], "%.2f") + " |")
			}
			b.WriteString(" – |\n")
		}
	}
	return b.String()
}

// markdown writes the split's captioner table and its differences.
func (r *SplitTables) markdown(b *strings.Builder) {
	images := 0
	if len(r.Rows) > 0 {
		images = r.Rows[0].Images
	}
	teacher := ""
	for _, s := range r.Rows {
		if s.KL != nil {
			teacher = s.KLTeacher
		}
	}
	fmt.Fprintf(b, "Captioning and grounding on the %s split (%d images); scores ×100", r.Split, images)
	if teacher != "" {
		fmt.Fprintf(b, "; KL(α‖β) is the mean KL divergence of the captioner's attention β from %s's α on the ground-truth captions' nouns (teacher-forced; lower is closer)", teacherName(teacher))
	}
	bs := r.Bootstrap
	if bs != nil && bs.Images > 0 {
		fmt.Fprintf(b, ". Brackets: %g %% bootstrap intervals over the %d %s images (%d resamples)", 100*bs.Level, bs.Images, r.Split, bs.Resamples)
	}
	cols := columns(teacher != "")
	paper := slices.ContainsFunc(r.Rows, func(s Scores) bool { return s.Paper != "" })
	b.WriteString(".\n\n| Model |")
	if paper {
		b.WriteString(" Paper |")
	}
	for _, c := range cols {
		b.WriteString(" " + c.head + " |")
	}
	n := len(cols)
	if paper {
		n++
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", n) + "\n")
	for i := range r.Rows {
		s := &r.Rows[i]
		mark := ""
		if s.Kept != "" {
			mark = keptMark
		}
		fmt.Fprintf(b, "| %s%s |", s.Label, mark)
		if paper {
			fmt.Fprintf(b, " %s |", s.Paper)
		}
		for _, c := range cols {
			v := c.value(s)
			if v == nil {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(b, " "+c.format, *v)
			if iv, ok := s.Intervals[c.key]; ok {
				fmt.Fprintf(b, " ["+c.format+", "+c.format+"]", iv.Lo, iv.Hi)
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	if note := keptNote(r.Rows); note != "" {
		b.WriteString("\n" + note + "\n")
	}
	if len(r.Differences) > 0 {
		fmt.Fprintf(b, "\nDifferences A − B (×100 but KL) on the same %s images with paired %g %% bootstrap intervals; † marks a difference whose interval contains 0 (not distinguishable from the choice of %s images).\n\n| A − B |", r.Split, 100*bs.Level, r.Split)
		dcols := cols
		for _, c := range cols {
			b.WriteString(" " + c.head + " |")
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(dcols)) + "\n")
		for _, d := range r.Differences {
			fmt.Fprintf(b, "| %s − %s |", d.A, d.B)
			for _, c := range dcols {
				e, ok := d.Scores[c.key]
				if !ok {
					b.WriteString(" – |")
					continue
				}
				b.WriteString(" " + formatDiff(e, c.format) + " |")
			}
			b.WriteString("\n")
		}
	}
}

// formatDiff writes a difference with its sign, interval and a dagger when the interval
// contains 0.
func formatDiff(e Estimate, format string) string {
	out := fmt.Sprintf("%+"+format[1:]+" ["+format+", "+format+"]", e.Value, e.Lo, e.Hi)
	if e.ContainsZero {
		out += " †"
	}
	return out
}
