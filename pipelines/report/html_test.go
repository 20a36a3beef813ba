package report_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/report"
)

// testPNG returns a w×h PNG filled with one colour.
func testPNG(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func f(v float64) *float64 { return &v }

// testPage is a page of three variants, two trained curves, per-class scores and pictures of
// three images (variant 2 lacks image 7's picture).
func testPage(t testing.TB) *report.Page {
	rep := &report.Report{Title: "Test <report>", SplitTables: report.SplitTables{Split: "test", Rows: []report.Scores{
		{Label: "Up-Down (XE)", Stage: "evaluate-xe", Images: 3, B1: 60, B4: 20, RougeL: 45, CIDEr: 90, F1All: f(4), F1Loc: f(12), KL: f(1.5), KLTeacher: "scan",
			Intervals: map[string]report.Interval{"cider_d": {Lo: 85.25, Hi: 95.5}, "bleu_1": {Lo: 58, Hi: 62}}},
		{Label: "XE + KL(POS-SCAN)", Stage: "evaluate-xe-posscan", Images: 3, B1: 61, B4: 21, RougeL: 46, CIDEr: 95, F1All: f(6), F1Loc: f(15), KL: f(0.5), KLTeacher: "scan"},
		{Label: "a <b>bold</b> label & more", Stage: "evaluate-x", Images: 3, B1: 59, B4: 19, RougeL: 44, CIDEr: 99},
	}}, Other: []report.SplitTables{{Split: "val", Rows: []report.Scores{
		{Label: "Up-Down (XE)", Stage: "evaluate-xe", Images: 4, B1: 57, B4: 18, RougeL: 43, CIDEr: 81.5},
		{Label: "XE + KL(POS-SCAN)", Stage: "evaluate-xe-posscan", Images: 4, B1: 58, B4: 17, RougeL: 42, CIDEr: 83.5},
	}, Differences: []report.Difference{{A: "XE + KL(POS-SCAN)", B: "Up-Down (XE)", Scores: map[string]report.Estimate{"cider_d": {Value: 2, Lo: -1.5, Hi: 4.5, ContainsZero: true}}}},
		Bootstrap: &report.BootstrapInfo{Resamples: 100, Level: 0.95, Images: 4}}}, Matching: &report.MatchingTable{Splits: []string{"test", "val"}, Random: map[string]float64{"test": 9.5, "val": 10},
		Models: []report.Matching{{Stage: "scan", POS: true, Accuracy: map[string]float64{"test": 30.25, "val": 31}, RSum: 310}}}}
	classes := func(scale float64) []grounding.ClassScore {
		var out []grounding.ClassScore
		for i := 0; i < 20; i++ {
			out = append(out, grounding.ClassScore{Class: fmt.Sprintf("class%02d", i), Precision: scale * float64(i) / 20, Recall: scale * float64(i) / 40, NumPrec: 3, NumRecall: 40 - i})
		}
		return out
	}
	red, blue := color.RGBA{200, 30, 30, 255}, color.RGBA{30, 30, 200, 255}
	return &report.Page{Report: rep, Key: "abc123",
		Variants: []report.Variant{
			{Captions: map[int64]string{3: "a dog on grass", 7: "a cat", 11: "two men"}, Pictures: map[int64][]byte{3: testPNG(t, 40, 30, red), 7: testPNG(t, 40, 30, red), 11: testPNG(t, 40, 30, red)},
				ClassesAll: classes(1), ClassesLoc: classes(0.5)},
			{Captions: map[int64]string{3: "a dog", 7: "a <cat>", 11: "men"}, Pictures: map[int64][]byte{3: testPNG(t, 40, 30, blue), 7: testPNG(t, 40, 30, blue), 11: testPNG(t, 40, 30, blue)},
				ClassesAll: classes(0.8), ClassesLoc: classes(0.4)},
			{Captions: map[int64]string{3: "dog", 11: "man"}, Pictures: map[int64][]byte{3: testPNG(t, 40, 30, red), 11: testPNG(t, 40, 30, blue)}},
		},
		Curves: []report.Curve{{Stage: "scan", Title: "loss and val rsum", PNG: testPNG(t, 80, 60, blue)}, {Stage: "caption-xe", Title: "loss and val CIDEr-D", PNG: testPNG(t, 80, 60, red)}},
	}
}

// TestHTML renders a page and checks its sections, cells, escaping and embedded pictures.
func TestHTML(t *testing.T) {
	p := testPage(t)
	out, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	for _, want := range []string{
		"<title>Test &lt;report&gt;</title>",
		`<tr data-stage="evaluate-xe"><td><a href="#v-0">Up-Down (XE)</a></td><td class="num">60.0<span class="ci">[58.0, 62.0]</span></td>`,
		`<td class="num">90.0<span class="ci">[85.2, 95.5]</span></td>`, // %.1f of 85.25 rounds to even
		`<td class="num best">99.0</td>`,  // the best CIDEr-D: row 3
		`<td class="num best">0.500</td>`, // the lowest KL
		`<td class="num">–</td>`,          // no F1 for row 3
		"a &lt;b&gt;bold&lt;/b&gt; label &amp; more",
		"Brackets give 95 % confidence intervals.",
		"POS-SCAN&#39;s α",
		"<td>POS-SCAN (scan)</td><td class=\"num\">30.25</td><td class=\"num\">31.00</td><td class=\"num\">310.0</td>",
		"<td>random region</td><td class=\"num\">9.50</td><td class=\"num\">10.00</td><td class=\"num\">–</td>",
		`<figure class="curve" data-stage="caption-xe">`,
		`<table class="classes" data-mode="F1_all">`,
		`<table class="classes" data-mode="F1_loc">`,
		"<summary>5 more classes</summary>",
		`<div class="image" id="img-7">`,
		`<div class="missing">no picture</div><figcaption><b>a &lt;b&gt;bold&lt;/b&gt; label &amp; more</b></figcaption>`,
		"<figcaption><b>XE &#43; KL(POS-SCAN)</b>a &lt;cat&gt;</figcaption>",
		`#gallery:has(#v-1:target) .figs > figure:nth-child(2)`,
		"stage key abc123",
		// The val split's tables after the test split's.
		`<a href="#split-val">The val split</a>`,
		`<section id="split-val">`,
		"Captioning and grounding on the val split (4 images)",
		`<tr data-stage="evaluate-xe-posscan"><td>XE &#43; KL(POS-SCAN)</td><td class="num best">58.0</td>`,
		`<td class="num zero">&#43;2.0<span class="ci">[-1.5, 4.5] †</span></td>`,
		"on the same val images",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// class19 has the most words (40 − 0 = 40 for class00): rows by descending words.
	if i, j := strings.Index(html, "<td>class00</td>"), strings.Index(html, "<td>class01</td>"); i < 0 || j < i {
		t.Errorf("class rows out of order: class00 at %d, class01 at %d", i, j)
	}
	// class10 of variant 0: P 0.5, R 0.25, F1 = 2·0.125/0.75 = 33.3.
	if !strings.Contains(html, `<td>class10</td><td class="num">30</td><td class="num bar"><span class="fill" style="width: 33%"></span><span class="v">33.3</span>`) {
		t.Errorf("class10's row is wrong")
	}
	// Every picture and curve is embedded and decodes as a PNG: 3+3+2 gallery pictures, 2 curves.
	srcs := regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(html, -1)
	if len(srcs) != 10 {
		t.Errorf("%d embedded pictures, want 10", len(srcs))
	}
	for _, s := range srcs {
		b, err := base64.StdEncoding.DecodeString(s[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("embedded picture: %v", err)
		}
	}
	for _, bad := range []string{"http:", "https:", "<script", "ZgotmplZ"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html contains %q", bad)
		}
	}
	// Same page, same bytes (maps are walked in order).
	again, err := testPage(t).HTML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Error("two renderings of the same page differ")
	}
}

// TestHTMLTablesOnly renders a report without pictures, curves or per-class scores: only the
// tables, no empty sections.
func TestHTMLTablesOnly(t *testing.T) {
	p := testPage(t)
	p.Variants, p.Curves, p.Report.Matching = nil, nil, nil
	out, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	if !strings.Contains(html, `<td>Up-Down (XE)</td>`) {
		t.Error("the row label is not plain text without a gallery")
	}
	p.Report.Other = nil
	out, err = p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html = string(out)
	for _, absent := range []string{`id="gallery"`, `id="classes"`, `id="curves"`, `id="matching"`, "Gallery</a>", "split-"} {
		if strings.Contains(html, absent) {
			t.Errorf("report.html has %q", absent)
		}
	}
	if _, err := (&report.Page{}).HTML(); err == nil {
		t.Error("a page without a report rendered")
	}
}
