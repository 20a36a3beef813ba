package caption

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadReferences(t *testing.T) {
	coco := writeFile(t, "ann.json", `{"annotations":[{"image_id":1,"caption":"A cat."},{"image_id":1,"caption":"A kitten"},{"image_id":"2","caption":"x"}]}`)
	refs, err := ReadReferences(coco, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs[1]) != 2 || refs[1][1] != "A kitten" || len(refs[2]) != 1 {
		t.Errorf("COCO refs = %v", refs)
	}
	if _, err := ReadReferences(coco, ReadOptions{Split: "test"}); err == nil {
		t.Error("split accepted for a COCO annotation file")
	}
	karpathy := writeFile(t, "dataset.json", `{"images":[
		{"filename":"1000092795.jpg","split":"test","sentences":[{"raw":"Two men.","tokens":["two","men"]}]},
		{"filename":"55.jpg","split":"train","sentences":[{"raw":"x","tokens":["x"]}]},
		{"filename":"COCO_val2014_000000000042.jpg","cocoid":42,"split":"test","sentences":[{"raw":"A dog.","tokens":["a","dog"]}]}]}`)
	refs, err = ReadReferences(karpathy, ReadOptions{Split: "test", Tokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[1000092795][0] != "two men" || refs[42][0] != "a dog" {
		t.Errorf("Karpathy refs = %v", refs)
	}
	refs, err = ReadReferences(karpathy, ReadOptions{Split: "test"})
	if err != nil || refs[42][0] != "A dog." {
		t.Errorf("Karpathy raw refs = %v, %v", refs, err)
	}
	bad := []string{
		`[1,2]`,                            // 0 not an object
		`{"other":1}`,                      // 1 unknown format
		`{"annotations":[{"image_id":1}]}`, // 2 missing caption
		`{"annotations":[{"image_id":1.5,"caption":"a"}]}`,                  // 3 non-integer id
		`{"images":[{"filename":"abc.jpg","split":"test","sentences":[]}]}`, // 4 no id
	}
	for i, b := range bad {
		p := writeFile(t, "bad.json", b)
		if _, err := ReadReferences(p, ReadOptions{}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%d: got %v, want an error naming the file", i, err)
		}
	}
	if _, err := ReadReferences(karpathy, ReadOptions{Split: "nosuch"}); err == nil {
		t.Error("empty split accepted")
	}
}

func TestReadPredictions(t *testing.T) {
	p := writeFile(t, "res.json", `[{"image_id":1,"caption":"a"},{"image_id":2,"caption":"b"}]`)
	preds, err := ReadPredictions(p)
	if err != nil || len(preds) != 2 || preds[2] != "b" {
		t.Fatalf("got %v, %v", preds, err)
	}
	dup := writeFile(t, "dup.json", `[{"image_id":3,"caption":"a"},{"image_id":3,"caption":"b"},{"image_id":1,"caption":"c"}]`)
	if _, err := ReadPredictions(dup); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), ": 3") {
		t.Errorf("duplicates: got %v", err)
	}
	for i, b := range []string{`{"a":1}`, `[{"caption":"x"}]`} {
		if _, err := ReadPredictions(writeFile(t, "bad.json", b)); err == nil {
			t.Errorf("%d: accepted %s", i, b)
		}
	}
}

func TestResultJSONAndTable(t *testing.T) {
	res, err := Score(nlgevalRefs, nlgevalHyps, Options{PreTokenized: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Corpus   map[string]any   `json:"corpus"`
		PerImage []map[string]any `json:"per_image"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if v, ok := back.Corpus["CIDEr"].(float64); !ok || !near(v, 1.2421919556558583) {
		t.Errorf("corpus CIDEr = %v", back.Corpus["CIDEr"])
	}
	if s, ok := back.Corpus["METEOR"].(string); !ok || !strings.HasPrefix(s, "not computed") {
		t.Errorf("METEOR = %v, want not computed", back.Corpus["METEOR"])
	}
	if len(back.PerImage) != 2 || back.PerImage[1]["image_id"].(float64) != 1 {
		t.Errorf("per_image = %v", back.PerImage)
	}
	var tab bytes.Buffer
	if err := res.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tab.String(), "CIDEr    1.2422") || !strings.Contains(tab.String(), "SPICE    not computed") {
		t.Errorf("table:\n%s", tab.String())
	}
}

func TestExternalErrors(t *testing.T) {
	dir := t.TempDir()
	jar := filepath.Join(dir, "meteor-1.5.jar")
	if err := os.WriteFile(jar, []byte("not a jar"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ext  External
		want string
	}{
		{External{MeteorJar: filepath.Join(dir, "missing.jar")}, "missing.jar"},                 // 0 jar missing
		{External{SpiceJar: filepath.Join(dir, "missing.jar")}, "SPICE"},                        // 1
		{External{MeteorJar: jar, Java: filepath.Join(dir, "no-java")}, "needs a Java runtime"}, // 2 java missing
		{External{SpiceJar: jar, Java: filepath.Join(dir, "no-java")}, "needs a Java runtime"},  // 3
	}
	for i, c := range cases {
		_, err := Score(nlgevalRefs, nlgevalHyps, Options{PreTokenized: true, External: c.ext})
		if !errors.Is(err, ErrExternal) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: got %v, want ErrExternal containing %q", i, err, c.want)
		}
	}
	// A jar that java cannot run is an error, never a silent "not computed".
	if _, err := exec.LookPath("java"); err == nil {
		_, err := Score(nlgevalRefs, nlgevalHyps, Options{PreTokenized: true, External: External{MeteorJar: jar}})
		if !errors.Is(err, ErrExternal) {
			t.Errorf("broken jar: got %v, want ErrExternal", err)
		}
	}
}
