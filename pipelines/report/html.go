package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strconv"

	"github.com/groundcap/groundcap/eval/grounding"
)

// HTMLFile is the HTML report: one self-contained file (pictures embedded as data URIs, inline
// CSS, no script, nothing fetched).
const HTMLFile = "report.html"

// Interval is a confidence interval of one score, on the score's scale (×100 like the value).
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Page is everything report.html shows. The report stage fills it from its inputs; HTML renders
// it. Every field but Report may be empty: its section is then left out.
type Page struct {
	// Report holds the comparison and the matching models' tables (report.json).
	Report *Report
	// Variants are the captioners of Report.Rows, in the same order (one per row): the gallery's
	// columns and the per-class grounding's.
	Variants []Variant
	// Curves are the training curves of the trained stages, in the order shown.
	Curves []Curve
	// Key is the report stage's key, shown at the foot of the page ("" for none).
	Key string
}

// Variant is one captioner's test decodes: its gallery column and its per-class grounding.
type Variant struct {
	// Captions are the generated captions by image id (the evaluate stage's results.json).
	Captions map[int64]string
	// Pictures are the attention pictures by image id (PNG bytes of the evaluate stage's
	// pictures/<id>.png: the image with its nouns' attended boxes and the caption).
	Pictures map[int64][]byte
	// ClassesAll and ClassesLoc are the per-class grounding scores of F1_all and F1_loc (the
	// evaluate stage's metrics.json; nil without grounding).
	ClassesAll, ClassesLoc []grounding.ClassScore
}

// Curve is one trained stage's training curve.
type Curve struct {
	Stage string // the training stage
	Title string // what the curve shows
	PNG   []byte
}

// column is one score column of the comparison table.
type column struct {
	key, head, format string
	value             func(*Scores) *float64
}

// columns are the comparison's score columns; key is the score's JSON name, which also keys
// Scores.Intervals.
func columns(withKL bool) []column {
	ptr := func(v float64) *float64 { return &v }
	cols := []column{
		{"bleu_1", "B@1", "%.1f", func(s *Scores) *float64 { return ptr(s.B1) }},
		{"bleu_4", "B@4", "%.1f", func(s *Scores) *float64 { return ptr(s.B4) }},
		{"rouge_l", "ROUGE-L", "%.1f", func(s *Scores) *float64 { return ptr(s.RougeL) }},
		{"cider_d", "CIDEr-D", "%.1f", func(s *Scores) *float64 { return ptr(s.CIDEr) }},
		{"f1_all", "F1_all", "%.2f", func(s *Scores) *float64 { return s.F1All }},
		{"f1_loc", "F1_loc", "%.2f", func(s *Scores) *float64 { return s.F1Loc }},
	}
	if withKL {
		cols = append(cols, column{"attention_kl", "KL(α‖β)", "%.3f", func(s *Scores) *float64 { return s.KL }})
	}
	return cols
}

// The view types below are what the template reads: every number is formatted here, so that the
// template only lays out text.
type (
	htmlView struct {
		Title, Key string
		Images     int
		Intro      string
		Heads      []string
		Rows       []htmlRow
		Matching   *htmlMatching
		Diffs      *htmlDiffs
		// Others are the tables of the other splits (val).
		Others       []htmlSplit
		Curves       []htmlCurve
		Classes      []htmlClassTable
		Variants     []htmlVariant
		Gallery      []htmlImage
		HasGallery   bool
		HasClasses   bool
		HasIntervals bool
	}
	htmlSplit struct {
		Split, Intro string
		Heads        []string
		Rows         []htmlRow
		Diffs        *htmlDiffs
	}
	htmlRow struct {
		Label, Anchor, Stage, Paper string
		// Kept is Scores.Kept: the stage whose model the row repeats.
		Kept   string
		Linked bool
		Cells  []htmlCell
	}
	htmlCell struct {
		Text, Interval string
		Best           bool
	}
	htmlDiffs struct {
		Note  string
		Heads []string
		Rows  []htmlDiffRow
	}
	htmlDiffRow struct {
		Label string
		Cells []htmlCell // Best marks a difference whose interval contains 0
	}
	htmlMatching struct {
		Heads []string
		Rows  []htmlMatchingRow
	}
	htmlMatchingRow struct {
		Name  string
		Cells []string
	}
	htmlCurve struct {
		Stage, Title string
		Src          template.HTMLAttr
	}
	htmlClassTable struct {
		Mode, Caption string
		Top, Rest     []htmlClassRow
	}
	htmlClassRow struct {
		Class string
		Refs  int
		Cells []htmlClassCell
	}
	htmlClassCell struct {
		Text  string
		Width int // bar width in percent
	}
	htmlVariant struct{ Label, Anchor string }
	htmlImage   struct {
		ID      int64
		Anchor  string
		Figures []htmlFigure
	}
	htmlFigure struct {
		Label, Caption string
		Src            template.HTMLAttr
		Missing        bool
	}
)

//go:embed report.html.tmpl
var pageTemplate string

// tmpl is the parsed page template (read-only after init).
var tmpl = template.Must(template.New(HTMLFile).Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(pageTemplate))

// topClasses is the number of classes of a per-class table shown before the rest, which folds.
const topClasses = 15

// intro is the note above a split's comparison table.
func intro(t *SplitTables, images int, teacher string) string {
	out := fmt.Sprintf("Captioning and grounding on the %s split (%d images); scores ×100.", t.Split, images)
	if teacher != "" {
		out += fmt.Sprintf(" KL(α‖β) is the mean KL divergence of the captioner's attention β from %s's α on the ground-truth captions' nouns (teacher-forced; lower is closer).", teacherName(teacher))
	}
	return out
}

// comparisonRows formats a split's rows, the best value of each column marked; linked rows point
// to their gallery anchors. It sets *intervals when a cell has an interval.
func comparisonRows(t *SplitTables, cols []column, linked bool, intervals *bool) []htmlRow {
	best := bestPerColumn(t.Rows, cols)
	var out []htmlRow
	for i := range t.Rows {
		s := &t.Rows[i]
		row := htmlRow{Label: s.Label, Stage: s.Stage, Paper: s.Paper, Kept: s.Kept, Anchor: anchor("v", i), Linked: linked}
		for k, c := range cols {
			cell := htmlCell{Text: "–"}
			if x := c.value(s); x != nil {
				cell.Text = fmt.Sprintf(c.format, *x)
				cell.Best = len(t.Rows) > 1 && best[k] == i
			}
			if iv, ok := s.Intervals[c.key]; ok {
				cell.Interval = fmt.Sprintf("["+c.format+", "+c.format+"]", iv.Lo, iv.Hi)
				*intervals = true
			}
			row.Cells = append(row.Cells, cell)
		}
		out = append(out, row)
	}
	return out
}

// differences formats a split's differences (nil without any).
func differences(t *SplitTables, cols []column) *htmlDiffs {
	if len(t.Differences) == 0 {
		return nil
	}
	d := &htmlDiffs{Note: fmt.Sprintf("Differences A − B (×100 but KL) on the same %s images, with paired %g %% bootstrap intervals; † marks a difference whose interval contains 0 (not distinguishable from the choice of %s images).", t.Split, 100*t.Bootstrap.Level, t.Split)}
	for _, c := range cols {
		d.Heads = append(d.Heads, c.head)
	}
	for _, x := range t.Differences {
		row := htmlDiffRow{Label: x.A + " − " + x.B}
		for _, c := range cols {
			cell := htmlCell{Text: "–"}
			if e, ok := x.Scores[c.key]; ok {
				cell.Text = fmt.Sprintf("%+"+c.format[1:], e.Value)
				cell.Interval = fmt.Sprintf("["+c.format+", "+c.format+"]", e.Lo, e.Hi)
				if e.ContainsZero {
					cell.Interval += " †"
				}
				cell.Best = e.ContainsZero
			}
			row.Cells = append(row.Cells, cell)
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

// HTML renders the page. The bytes depend only on the page's content (maps are walked in sorted
// order), so the same inputs give the same file. It panics when Variants is neither empty nor one
// per row of the report (a programmer error of the caller).
func (p *Page) HTML() ([]byte, error) {
	r := p.Report
	if r == nil {
		return nil, fmt.Errorf("report: HTML: no report")
	}
	if len(p.Variants) != 0 && len(p.Variants) != len(r.Rows) {
		panic(fmt.Sprintf("report: HTML: %d variants for %d rows", len(p.Variants), len(r.Rows)))
	}
	v := htmlView{Title: r.Title, Key: p.Key}
	if len(r.Rows) > 0 {
		v.Images = r.Rows[0].Images
	}
	teacher := ""
	for _, s := range r.Rows {
		if s.KL != nil {
			teacher = s.KLTeacher
		}
	}
	cols := columns(teacher != "")
	for _, c := range cols {
		v.Heads = append(v.Heads, c.head)
	}
	v.HasGallery = hasPictures(p.Variants)
	v.Intro = intro(&r.SplitTables, v.Images, teacher)
	v.Rows = comparisonRows(&r.SplitTables, cols, v.HasGallery, &v.HasIntervals)
	for i := range r.Other {
		t := &r.Other[i]
		images := 0
		if len(t.Rows) > 0 {
			images = t.Rows[0].Images
		}
		v.Others = append(v.Others, htmlSplit{Split: t.Split, Intro: intro(t, images, teacher), Heads: v.Heads,
			Rows: comparisonRows(t, cols, false, &v.HasIntervals), Diffs: differences(t, cols)})
	}
	if t := r.Matching; t != nil {
		m := &htmlMatching{}
		for _, s := range t.Splits {
			m.Heads = append(m.Heads, "accuracy ("+s+")")
		}
		m.Heads = append(m.Heads, "rsum")
		for _, mm := range t.Models {
			name := "SCAN"
			if mm.POS {
				name = "POS-SCAN"
			}
			row := htmlMatchingRow{Name: fmt.Sprintf("%s (%s)", name, mm.Stage)}
			for _, s := range t.Splits {
				cell := fmt.Sprintf("%.2f", mm.Accuracy[s])
				if iv, ok := mm.Intervals[s]; ok {
					cell += fmt.Sprintf(" [%.2f, %.2f]", iv.Lo, iv.Hi)
				}
				row.Cells = append(row.Cells, cell)
			}
			row.Cells = append(row.Cells, fmt.Sprintf("%.1f", mm.RSum))
			m.Rows = append(m.Rows, row)
		}

		row := htmlMatchingRow{Name: "random region"}
		for _, s := range t.Splits {
			row.Cells = append(row.Cells, fmt.Sprintf("%.2f", t.Random[s]))
		}
		row.Cells = append(row.Cells, "–")
		m.Rows = append(m.Rows, row)
		if d := t.Difference; d != nil {
			row := htmlMatchingRow{Name: fmt.Sprintf("POS-SCAN − SCAN (%s − %s)", d.A, d.B)}
			for _, s := range t.Splits {
				row.Cells = append(row.Cells, formatDiff(d.Accuracy[s], "%.2f"))
			}
			row.Cells = append(row.Cells, "–")
			m.Rows = append(m.Rows, row)
		}
		v.Matching = m
	}
	v.Diffs = differences(&r.SplitTables, cols)
	for _, c := range p.Curves {
		v.Curves = append(v.Curves, htmlCurve{Stage: c.Stage, Title: c.Title, Src: dataURI(c.PNG)})
	}
	for i, s := range r.Rows {
		if len(p.Variants) > 0 {
			v.Variants = append(v.Variants, htmlVariant{Label: s.Label, Anchor: anchor("v", i)})
		}
	}
	if len(p.Variants) > 0 {
		for _, mode := range []struct {
			name, caption string
			get           func(*Variant) []grounding.ClassScore
		}{
			{"F1_all", "Per-class F1 (×100) of F1_all: a generated word that names a class is correct when the class is annotated in the image and the word's attended region overlaps its box (IoU ≥ 0.5).", func(x *Variant) []grounding.ClassScore { return x.ClassesAll }},
			{"F1_loc", "Per-class F1 (×100) of F1_loc: only the generated class words annotated in the image are scored (localisation alone).", func(x *Variant) []grounding.ClassScore { return x.ClassesLoc }},
		} {
			if t := classTable(p.Variants, mode.get); t != nil {
				t.Mode, t.Caption = mode.name, mode.caption
				v.Classes = append(v.Classes, *t)
			}
		}
		v.HasClasses = len(v.Classes) > 0
	}
	if v.HasGallery {
		v.Gallery = gallery(r.Rows, p.Variants)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("report: HTML: %w", err)
	}
	return b.Bytes(), nil
}

// teacherName is the display name of a matching-model stage.
func teacherName(stage string) string {
	if n := map[string]string{"scan": "POS-SCAN", "scan-plain": "SCAN"}[stage]; n != "" {
		return n
	}
	return stage
}

// anchor is the fragment id of element i of a kind.
func anchor(kind string, i int) string { return kind + "-" + strconv.Itoa(i) }

// dataURI is the src attribute that embeds PNG bytes. It is written as a whole attribute so
// that the template leaves the base64 text as it is (its alphabet needs no escaping in a quoted
// attribute; html/template would otherwise write every '+' as "&#43;").
func dataURI(png []byte) template.HTMLAttr {
	return template.HTMLAttr(`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(png) + `"`)
}

// bestPerColumn returns, per column, the row with the best value (highest; lowest for KL), or
// -1. Ties keep the first row.
func bestPerColumn(rows []Scores, cols []column) []int {
	out := make([]int, len(cols))
	for k, c := range cols {
		out[k] = -1
		var bv float64
		for i := range rows {
			x := c.value(&rows[i])
			if x == nil {
				continue
			}
			better := *x > bv
			if c.key == "attention_kl" {
				better = *x < bv
			}
			if out[k] < 0 || better {
				out[k], bv = i, *x
			}
		}
	}
	return out
}

func hasPictures(vs []Variant) bool {
	for _, x := range vs {
		if len(x.Pictures) > 0 {
			return true
		}
	}
	return false
}

// classTable lays out one mode's per-class scores: the classes of every variant, by descending
// number of references (the largest count any variant saw) then name; nil when no variant has
// per-class scores. The first topClasses rows are shown, the rest fold.
func classTable(vs []Variant, get func(*Variant) []grounding.ClassScore) *htmlClassTable {
	refs := map[string]int{}
	scores := make([]map[string]grounding.ClassScore, len(vs))
	for i := range vs {
		scores[i] = map[string]grounding.ClassScore{}
		for _, c := range get(&vs[i]) {
			scores[i][c.Class] = c
			refs[c.Class] = max(refs[c.Class], c.NumRecall)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	classes := make([]string, 0, len(refs))
	for c := range refs {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		if refs[classes[i]] != refs[classes[j]] {
			return refs[classes[i]] > refs[classes[j]]
		}
		return classes[i] < classes[j]
	})
	t := &htmlClassTable{}
	for n, cls := range classes {
		row := htmlClassRow{Class: cls, Refs: refs[cls]}
		for i := range vs {
			c, ok := scores[i][cls]
			if !ok {
				row.Cells = append(row.Cells, htmlClassCell{Text: "–"})
				continue
			}
			f := classF1(c)
			row.Cells = append(row.Cells, htmlClassCell{Text: fmt.Sprintf("%.1f", 100*f), Width: int(100*f + 0.5)})
		}
		if n < topClasses {
			t.Top = append(t.Top, row)
		} else {
			t.Rest = append(t.Rest, row)
		}
	}
	return t
}

// classF1 is a class's F1: the harmonic mean of its precision and recall (0 when both are 0, as
// the corpus F1).
func classF1(c grounding.ClassScore) float64 {
	if c.Precision+c.Recall == 0 {
		return 0
	}
	return 2 * c.Precision * c.Recall / (c.Precision + c.Recall)
}

// gallery lays out every image that has a picture in some variant, by image id, with each
// variant's picture and caption.
func gallery(rows []Scores, vs []Variant) []htmlImage {
	var ids []int64
	seen := map[int64]bool{}
	for _, x := range vs {
		for id := range x.Pictures {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	var out []htmlImage
	for _, id := range ids {
		im := htmlImage{ID: id, Anchor: "img-" + strconv.FormatInt(id, 10)}
		for i, x := range vs {
			f := htmlFigure{Label: rows[i].Label, Caption: x.Captions[id]}
			if png, ok := x.Pictures[id]; ok {
				f.Src = dataURI(png)
			} else {
				f.Missing = true
			}
			im.Figures = append(im.Figures, f)
		}
		out = append(out, im)
	}
	return out
}
