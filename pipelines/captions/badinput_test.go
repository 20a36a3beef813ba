package captions

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/transforms/rejects"
)

// readAll runs the reader over data without Beam.
func readAll(t *testing.T, data string, jsonl bool, splits map[int64]string) ([]Caption, []rejects.Reject, ReaderStats, error) {
	t.Helper()
	var caps []Caption
	var rej []rejects.Reject
	r := &reader{source: "d.json", numShards: 4, splitIDs: splits, seen: map[int64]string{},
		emit: func(_ int, c Caption) { caps = append(caps, c) }, emitTrain: func([]string) {}, emitMatch: func([]string) {},
		emitReject: func(x rejects.Reject) { rej = append(rej, x) },
		reopen:     func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }}
	var err error
	if jsonl {
		err = r.readJSONL(strings.NewReader(data))
	} else {
		err = r.readJSON(strings.NewReader(data))
	}
	if err == nil {
		err = r.finish()
	}
	return caps, rej, r.stats, err
}

func TestMalformedJSON(t *testing.T) {
	for i, tc := range []struct {
		data  string
		jsonl bool
		want  string
	}{
		{`{"images": [{"filename": "1.jpg", "split": "train", "sentences": []},, ]}`, false, "d.json: byte 69: malformed JSON"},                                // 0: the second comma
		{`{"images": [{"filename": "1.jpg"`, false, "malformed JSON: unexpected end of file"},                                                                  // 1
		{`[1, 2]`, false, `want a JSON object with an "images" array`},                                                                                         // 2
		{`{"dataset": "x"}`, false, `no "images" array`},                                                                                                       // 3
		{"{\"filename\": \"1.jpg\", \"split\": \"train\", \"sentences\": []}\n{\"filename\": \"2.jpg\" x}\n", true, "d.json: line 2: byte 78: malformed JSON"}, // 4: the x
	} {
		_, _, _, err := readAll(t, tc.data, tc.jsonl, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: err = %v, want it to contain %q", i, err, tc.want)
		}
	}
}

func TestBadRecords(t *testing.T) {
	data := `{"images": [
 {"filename": "1.jpg", "split": "train", "sentences": [{"tokens": ["a", "dog"]}, {"raw": "  "}, {"tokens": []}, {"raw": "A cat."}]},
 {"filename": "x.jpg", "split": "train", "sentences": [{"tokens": ["a"]}]},
 {"filename": "2.jpg", "split": "holdout", "sentences": [{"tokens": ["a"]}]},
 {"filename": "3.jpg", "split": "val", "sentences": [{"tokens": ["caf` + "\xff" + `"]}, {"tokens": ["", "b"]}, {"tokens": "nope"}]},
 {"filename": "4.jpg", "split": "val", "sentences": []},
 {"filename": "5.jpg", "cocoid": 77, "split": "restval", "sentences": [{"tokens": ["ok"]}]},
 {"filename": 6, "split": "val"}
]}`
	caps, rej, st, err := readAll(t, data, false, map[int64]string{2: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Written: 1.jpg "a dog" and raw "A cat."; 2.jpg (split_ids makes it test); 5.jpg as 77.
	if len(caps) != 4 || caps[1].Tokens[1] != "cat" || caps[2].Split != "test" || caps[3].ImageID != 77 {
		t.Errorf("captions %+v", caps)
	}
	reasons := map[string]string{}
	for _, r := range rej {
		reasons[r.Record] = r.Reason
	}
	for rec, want := range map[string]string{
		"images[0].sentences[1]": "empty caption",
		"images[0].sentences[2]": "empty caption",
		"images[1].sentences[0]": "no cocoid and no digits",
		"images[3].sentences[0]": "non-UTF-8 text",
		"images[3].sentences[1]": "token 0 is empty",
		"images[3].sentences[2]": "bad sentence record",
		"images[4]":              "image has no sentences",
		"images[6]":              "bad image record",
	} {
		if !strings.Contains(reasons[rec], want) {
			t.Errorf("%s: reason %q, want %q", rec, reasons[rec], want)
		}
	}
	if st.Records != st.Rejected+int64(len(caps)) || st.Rejected != int64(len(rej)) || st.Images != 7 {
		t.Errorf("stats %+v with %d captions, %d rejects", st, len(caps), len(rej))
	}
	// Without split_ids, the unknown split is rejected.
	_, rej2, _, _ := readAll(t, data, false, nil)
	found := false
	for _, r := range rej2 {
		found = found || (r.Record == "images[2].sentences[0]" && strings.Contains(r.Reason, `unknown split "holdout"`))
	}
	if !found {
		t.Error("unknown split not rejected")
	}
}

func TestDuplicateIDs(t *testing.T) {
	data := `{"images": [{"filename": "1.jpg", "split": "train", "sentences": [{"tokens": ["a"]}]},
{"filename": "2.jpg", "split": "train", "sentences": [{"tokens": ["a"]}]},
{"filename": "a/1.jpg", "split": "val", "sentences": [{"tokens": ["a"]}]},
{"filename": "2.png", "split": "val", "sentences": [{"tokens": ["a"]}]}]}`
	_, _, _, err := readAll(t, data, false, nil)
	if err == nil || !strings.Contains(err.Error(), "2 duplicate image ids: 1 (images[0] and images[2]), 2 (images[1] and images[3])") {
		t.Errorf("err = %v", err)
	}
}

func TestParseSentenceErrors(t *testing.T) {
	for i, line := range []string{
		"[/EN#1/people A man",                 // 0: not closed
		"[/EN#1/people A [/EN#2/other man] ]", // 1: nested
		"[/EN#x/people A man]",                // 2: bad chain
		"[/EN#1 A man]",                       // 3: no type
		"[/EN#1/people , ]",                   // 4: no words
		"a ] b",                               // 5: stray bracket
	} {
		if _, err := parseSentence(line); err == nil {
			t.Errorf("%d: %q parsed", i, line)
		}
	}
	s, err := parseSentence("[/EN#5/people/other Two men] , in [/EN#0/notvisual it] .")
	if err != nil || len(s.Tokens) != 4 || s.Phrases[0].Types[1] != "other" || s.Phrases[1].FirstWord != 3 {
		t.Errorf("%+v %v", s, err)
	}
}

// TestRejectsPipeline runs the whole stage on a world with bad records of both kinds.
func TestRejectsPipeline(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	// Bad caption records appended to the dataset, bad Entities records added.
	data, _ := os.ReadFile(w.dataset)
	bad := `,{"filename": "201.jpg", "split": "train", "sentences": [{"raw": ""}, {"tokens": ["a", "cat"]}]}]`
	data = []byte(strings.TrimSuffix(string(data), "]}") + bad + "}")
	writeFile(t, w.dataset, data)
	writeFile(t, filepath.Join(w.entities, "Sentences", "102.txt"), []byte("[/EN#1/animals A dog runs on the beach\n[/EN#9/animals A brown dog] plays .\n"))
	writeFile(t, filepath.Join(w.entities, "Annotations", "102.xml"), []byte("<annotation><object><name>1</name>"))
	writeFile(t, filepath.Join(w.entities, "Sentences", "103.txt"), []byte("[/EN#1/people A man] and [/EN#2/animals a dog] ...\n"))
	writeFile(t, filepath.Join(w.entities, "Annotations", "103.xml"), []byte("<annotation><object><name>1</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>"))
	writeFile(t, filepath.Join(w.entities, "Sentences", "readme.txt"), []byte("x"))

	out := filepath.Join(w.dir, "out")
	_, err := runWorld(t, w, out, params(func(p *Params) { p.WordCountThreshold = 1 }))
	if err == nil || !strings.Contains(err.Error(), "more than max_reject_fraction 0") {
		t.Fatalf("err = %v", err)
	}
	st, err := runWorld(t, w, filepath.Join(w.dir, "out2"), params(func(p *Params) { p.WordCountThreshold, p.MaxRejectFraction = 1, 0.5 }))
	if err != nil {
		t.Fatal(err)
	}
	rj, err := rejects.Read(ctx, filepath.Join(w.dir, "out2", rejects.Name()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rj {
		got = append(got, fmt.Sprintf("%s|%s|%s", filepath.Base(r.Source), r.Record, r.Reason))
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"dataset.json|images[4].sentences[0]|no tokens and no raw text",
		"102.txt|line 1|malformed Sentences line: phrase of chain 1 is not closed",
		"102.xml|line 2 phrase 0|malformed XML",
		"103.xml|line 1 phrase 1|chain 2 has no object in the annotations",
		"103.txt|line 2|no sentence for caption 1 of image 103 (the file has 1 lines)",
		"readme.txt|file|file name \"readme\" is not an image id",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("rejects lack %q; have:\n%s", want, joined)
		}
	}
	if st.Records != (RecordCount{Read: 10, Written: 9, Rejected: 1}) {
		t.Errorf("caption records %+v", st.Records)
	}
	g := st.Grounding.Records
	if g.Read != g.Written+g.Rejected || g.Rejected != 5 || st.RejectsRows != 6 || st.Grounding.SentencesMissing != 1 {
		t.Errorf("grounding records %+v, rejects rows %d", g, st.RejectsRows)
	}
}

// TestEmptySentencesFile (issue 16, finding 5): an empty Sentences file is a rejects row, not
// silence, and the grounding counts reconcile: sentences parsed plus sentences missing are the
// dataset captions of the Entities images.
func TestEmptySentencesFile(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	writeFile(t, filepath.Join(w.entities, "Sentences", "102.txt"), nil)
	writeFile(t, filepath.Join(w.entities, "Annotations", "102.xml"), []byte("<annotation><object><name>1</name><nobndbox>1</nobndbox></object></annotation>"))
	writeFile(t, filepath.Join(w.entities, "Sentences", "103.txt"), []byte("\n\n  \n"))
	writeFile(t, filepath.Join(w.entities, "Annotations", "103.xml"), []byte("<annotation></annotation>"))
	out := filepath.Join(w.dir, "out")
	st, err := runWorld(t, w, out, params(func(p *Params) { p.WordCountThreshold, p.MaxRejectFraction = 1, 0.9 }))
	if err != nil {
		t.Fatal(err)
	}
	rj, err := rejects.Read(ctx, filepath.Join(out, rejects.Name()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rj {
		got = append(got, fmt.Sprintf("%s|%s|%d|%s", filepath.Base(r.Source), r.Record, r.ImageID, r.Reason))
	}
	want := []string{
		"102.txt|file|102|Sentences file is empty; the dataset has 2 captions of image 102",
		"103.txt|file|103|Sentences file is empty; the dataset has 2 captions of image 103",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rejects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	g := st.Grounding
	// Entities images 101, 102, 103 and 104 have 2 dataset captions each; 101's and 104's are
	// parsed, 102's and 103's missing.
	if g.Images != 4 || g.Sentences != 4 || g.SentencesMissing != 4 || g.Records.Read != g.Records.Written+g.Records.Rejected || g.Records.Rejected != 2 {
		t.Errorf("grounding stats %+v", *g)
	}
}
