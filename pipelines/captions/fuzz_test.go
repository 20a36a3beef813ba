package captions

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/transforms/rejects"
)

// The fuzz targets of the caption-side decoders (Flickr30k Entities Sentences lines and
// Annotations XML, Karpathy JSON and JSONL). Their seeds are added here and kept in
// testdata/fuzz/<target>; 'go test' runs them as tests, 'make fuzz' fuzzes each for a while.

func FuzzParseSentence(f *testing.F) {
	for _, s := range []string{
		"[/EN#1/people A man] in [/EN#2/clothing a red shirt] rides [/EN#3/animals a horse] .",
		"[/EN#5/people/other Two men] , in [/EN#0/notvisual it] .",
		"[/EN#1/people A [/EN#2/other man] ]",
		"a ] b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := parseSentence(line)
		if err != nil {
			return
		}
		for _, p := range s.Phrases {
			if p.FirstWord < 0 || len(p.Words) == 0 || p.FirstWord+len(p.Words) > len(s.Tokens) ||
				!slices.Equal(p.Words, s.Tokens[p.FirstWord:p.FirstWord+len(p.Words)]) || len(p.Types) == 0 || p.Chain < 0 {
				t.Fatalf("phrase %+v does not match the tokens %q", p, s.Tokens)
			}
		}
	})
}

func FuzzParseAnnotation(f *testing.F) {
	f.Add([]byte(`<annotation><size><width>500</width><height>333</height></size>
<object><name>1</name><name>2</name><bndbox><xmin>31</xmin><ymin>41</ymin><xmax>60</xmax><ymax>80</ymax></bndbox></object>
<object><name>4</name><scene>1</scene><nobndbox>1</nobndbox></object></annotation>`))
	f.Add([]byte("<annotation><object><name>1</name>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAnnotation(data)
		if err != nil {
			return
		}
		for id, c := range a.Chains {
			for _, b := range c.Boxes {
				if b.X2 < b.X1 || b.Y2 < b.Y1 {
					t.Fatalf("chain %d: empty box %+v", id, b)
				}
			}
		}
	})
}

// FuzzReadCaptions feeds a caption file (JSON, or JSONL when jsonl is set) to the reader: it
// either fails with an error or accounts for every caption record as emitted or rejected.
func FuzzReadCaptions(f *testing.F) {
	f.Add([]byte(`{"images": [{"filename": "1.jpg", "split": "train", "sentences": [{"tokens": ["a", "dog"]}, {"raw": "A cat."}]},
{"cocoid": 7, "split": "val", "sentences": [{"raw": ""}]}], "dataset": "x"}`), false)
	f.Add([]byte("{\"filename\": \"1.jpg\", \"split\": \"test\", \"sentences\": [{\"tokens\": [\"a\"]}]}\n\n{\"filename\": \"x.jpg\"}\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		var emitted, rejected int64
		r := &reader{source: "fuzz.json", numShards: 3, seen: map[int64]string{},
			emit:      func(int, Caption) { emitted++ },
			emitTrain: func([]string) {}, emitMatch: func([]string) {},
			emitReject: func(rejects.Reject) { rejected++ },
			reopen:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		var err error
		if jsonl {
			err = r.readJSONL(bytes.NewReader(data))
		} else {
			err = r.readJSON(bytes.NewReader(data))
		}
		if err != nil {
			return
		}
		if r.stats.Rejected != rejected || r.stats.Records != emitted+rejected {
			t.Fatalf("counts do not reconcile: %+v, %d emitted, %d rejected", r.stats, emitted, rejected)
		}
	})
}
