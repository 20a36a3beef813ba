package grounding

import (
	"bytes"
	"errors"
	"github.com/groundcap/groundcap/internal/fixtures"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestReadEntities(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "Sentences/7.txt", "[/EN#1/people Two men] with [/EN#2/animals a dog] near [/EN#0/notvisual it] .\n"+
		"[/EN#3/other A ball] and [/EN#1/people a man] .\n")
	writeFile(t, dir, "Annotations/7.xml", `<annotation><object><name>1</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
<object><name>1</name><name>2</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object>
<object><name>3</name><nobndbox>1</nobndbox></object></annotation>`)
	classes := []string{"man", "dog", "ball", "it"}
	refs, err := ReadEntities(dir, classes, []int64{7}, EntitiesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Chain 1 has boxes (10,20,29,39) and (0,0,9,9) after −1; chain 2 the second one; chain 3 none;
	// chain 0 is never annotated. "men" → man by lemma; "ball" has no box, "it" is in chain 0.
	want := []Caption{
		{Tokens: strings.Fields("two men with a dog near it ."), Words: []Word{
			{"man", 1, []Box{{10, 20, 29, 39}, {0, 0, 9, 9}}}, {"dog", 4, []Box{{0, 0, 9, 9}}}}},
		{Tokens: strings.Fields("a ball and a man ."), Words: []Word{{"man", 4, []Box{{10, 20, 29, 39}, {0, 0, 9, 9}}}}},
	}
	if !reflect.DeepEqual(refs.Images[0].Captions, want) {
		t.Errorf("got %+v\nwant %+v", refs.Images[0].Captions, want)
	}
	refs, err = ReadEntities(dir, classes, []int64{7}, EntitiesOptions{UnionBoxes: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs.Images[0].Captions[0].Words[0].Boxes; !reflect.DeepEqual(got, []Box{{0, 0, 29, 39}}) {
		t.Errorf("union boxes %v", got)
	}
	writeFile(t, dir, "Sentences/8.txt", "[/EN#1/people a man\n")
	writeFile(t, dir, "Annotations/8.xml", `<annotation></annotation>`)
	if _, err := ReadEntities(dir, classes, []int64{8}, EntitiesOptions{}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "8.txt:1") {
		t.Errorf("unclosed phrase: got %v", err)
	}
	if _, err := ReadEntities(dir, classes, []int64{9}, EntitiesOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing image: got %v", err)
	}
	writeFile(t, dir, "Annotations/10.xml", `<annotation><object><name>1</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>`)
	if _, err := ReadEntities(dir, classes, []int64{10}, EntitiesOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("bad coordinate: got %v", err)
	}
}

func TestReferencesRoundTripAndGVD(t *testing.T) {
	refs := handRefs()
	var buf bytes.Buffer
	if err := refs.Write(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "refs.json", buf.String())
	back, err := ReadReferences(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, refs) {
		t.Errorf("round trip differs:\n%+v\n%+v", back, refs)
	}
	sub, err := ReadReferences(p, []int64{2})
	if err != nil || len(sub.Images) != 1 || sub.Images[0].ImageID != 2 {
		t.Errorf("subset: %+v, %v", sub, err)
	}
	gvd := writeFile(t, dir, "gvd.json", `{"annotations":[{"image_id":3,"captions":[{"tokens":["a","man"],"process_clss":["man"],"process_idx":[1],"process_bnd_box":[[1,2,3,4]]}]}]}`)
	g, err := ReadReferences(gvd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := g.Images[0].Captions[0].Words[0]; w.Class != "man" || w.Index != 1 || w.Boxes[0] != (Box{1, 2, 3, 4}) {
		t.Errorf("GVD reference word %+v", w)
	}
	for i, b := range []string{
		`{"format":"other","images":[]}`, // 0
		`{"annotations":[{"image_id":3,"captions":[{"tokens":["a"],"process_clss":["man"],"process_idx":[],"process_bnd_box":[]}]}]}`, // 1
		`{"x":1}`, // 2
		`{"format":"groundcap.grounding-refs/v1","images":[{"image_id":1,"captions":[{"tokens":["a"],"words":[{"class":"a","index":5,"boxes":[[0,0,1,1]]}]}]}]}`, // 3
	} {
		if _, err := ReadReferences(writeFile(t, dir, "bad.json", b), nil); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%d: got %v, want an error naming bad.json", i, err)
		}
	}
}

func TestReadSubmission(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "sub.json", `{"results":{"1":[{"clss":["man"],"idx_in_sent":[2],"bbox":[[1,2,3,4]]}]},"external_data":{"used":true}}`)
	sub, err := ReadSubmission(p, GeneratedCaptions)
	if err != nil {
		t.Fatal(err)
	}
	if got := sub[1][0]; got.Classes[0] != "man" || got.IdxInSent[0] != 2 || got.Boxes[0] != (Box{1, 2, 3, 4}) {
		t.Errorf("got %+v", got)
	}
	for i, b := range []string{
		`{"results":{"x":[]}}`, // 0 non-integer id
		`{"results":{"1":[{"clss":["a","b"],"bbox":[[1,2,3,4]]}]}}`, // 1 length mismatch
		`{"other":{}}`, // 2 no results
		`[`,            // 3 bad JSON
	} {
		if _, err := ReadSubmission(writeFile(t, dir, "bad.json", b), GeneratedCaptions); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%d: got %v", i, err)
		}
	}
}

// TestReadSubmissionAsGVD checks the submission rules of GVD's eval_grd_flickr30k_entities.py: one
// entry per image for generated captions, five for ground-truth captions, four coordinates per box;
// each error names the file and the image.
func TestReadSubmissionAsGVD(t *testing.T) {
	dir := t.TempDir()
	entry := `{"clss":["man"],"idx_in_sent":[2],"bbox":[[1,2,3,4]]}`
	entries := func(n int) string { return strings.TrimSuffix(strings.Repeat(entry+",", n), ",") }
	five := writeFile(t, dir, "five.json", `{"results":{"7":[`+entries(5)+`]}}`)
	sub, err := ReadSubmission(five, GroundTruthCaptions)
	if err != nil || len(sub[7]) != 5 {
		t.Fatalf("five entries in ground-truth mode: %v, %v", sub, err)
	}
	for i, c := range []struct {
		name, body string
		mode       SubmissionMode
		want       string
	}{
		{"two.json", `{"results":{"3":[` + entry + `],"7":[` + entries(2) + `]}}`, GeneratedCaptions, "image 7 has 2"},                                       // 0
		{"none.json", `{"results":{"7":[]}}`, GeneratedCaptions, "image 7 has 0"},                                                                            // 1
		{"four.json", `{"results":{"7":[` + entries(4) + `]}}`, GroundTruthCaptions, "image 7 has 4"},                                                        // 2
		{"one.json", `{"results":{"7":[` + entry + `]}}`, GroundTruthCaptions, "image 7 has 1"},                                                              // 3
		{"box3.json", `{"results":{"7":[{"clss":["man"],"bbox":[[1,2,3]]}]}}`, GeneratedCaptions, "image 7 entry 0 box 0 has 3 coordinates"},                 // 4
		{"box5.json", `{"results":{"7":[{"clss":["a","b"],"bbox":[[1,2,3,4],[1,2,3,4,5]]}]}}`, GeneratedCaptions, "image 7 entry 0 box 1 has 5 coordinates"}, // 5
	} {
		path := writeFile(t, dir, c.name, c.body)
		_, err := ReadSubmission(path, c.mode)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: got %v, want ErrInput naming %s and %q", i, err, path, c.want)
		}
	}
	if _, err := ReadSubmission(five, 0); err == nil {
		t.Error("mode 0 accepted")
	}
}

func TestReadClassListAndSplit(t *testing.T) {
	dir := t.TempDir()
	cl, err := ReadClassList(writeFile(t, dir, "c.txt", "man\n\ndog\n"))
	if err != nil || !reflect.DeepEqual(cl, []string{"man", "dog"}) {
		t.Errorf("classes %v, %v", cl, err)
	}
	for i, b := range []string{"man\nman\n", "two words\n", "\n"} {
		if _, err := ReadClassList(writeFile(t, dir, "bad.txt", b)); !errors.Is(err, ErrInput) {
			t.Errorf("%d: got %v", i, err)
		}
	}
	sp := writeFile(t, dir, "split.json", `{"val":["30","4"],"test":["5"]}`)
	ids, err := ReadSplitIDs(sp, "val")
	if err != nil || !reflect.DeepEqual(ids, []int64{4, 30}) {
		t.Errorf("ids %v, %v", ids, err)
	}
	if _, err := ReadSplitIDs(sp, "train"); err == nil || !strings.Contains(err.Error(), "have test, val") {
		t.Errorf("unknown split: got %v", err)
	}
}

// fixturesDir returns the shared fixtures directory or skips the test.
func fixturesDir(t *testing.T) string {
	t.Helper()
	return fixtures.Dir(t, "flickr30k_entities")
}

// TestEntitiesFixture reads the 40 real Flickr30k Entities val images with GVD's class list and
// split ids.
func TestEntitiesFixture(t *testing.T) {
	fx := fixturesDir(t)
	classes, err := ReadClassList(filepath.Join(fx, "gvd", "flickr30k_class_name.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(classes) != 480 {
		t.Errorf("%d classes, want GVD's 480", len(classes))
	}
	val, err := ReadSplitIDs(filepath.Join(fx, "gvd", "split_ids_flickr30k_entities.json"), "val")
	if err != nil {
		t.Fatal(err)
	}
	if len(val) != 1014 {
		t.Errorf("%d val ids, want 1014", len(val))
	}
	entries, err := os.ReadDir(filepath.Join(fx, "flickr30k_entities", "Sentences"))
	if err != nil {
		t.Fatal(err)
	}
	inVal := map[string]bool{}
	for _, id := range val {
		inVal[strconv.FormatInt(id, 10)] = true
	}
	var ids []int64
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".txt")
		if !inVal[name] {
			t.Errorf("fixture image %s not in the val split", name)
		}
		id, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	refs, err := ReadEntities(filepath.Join(fx, "flickr30k_entities"), classes, ids, EntitiesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	words := 0
	for _, img := range refs.Images {
		if len(img.Captions) != 5 {
			t.Errorf("image %d: %d captions, want 5", img.ImageID, len(img.Captions))
		}
		for _, c := range img.Captions {
			words += len(c.Words)
		}
	}
	if words == 0 {
		t.Fatal("no annotated words")
	}
	// 1107507919, caption 3: "[/EN#2784/people A woman] in [/EN#2786/clothing a red shirt] playing
	// [/EN#2784/instruments the cello] ."; chain 2784 has the box 154 49 412 332 (XML), 2786 198 102
	// 404 271; "cello" is not a class.
	for _, img := range refs.Images {
		if img.ImageID != 1107507919 {
			continue
		}
		c := img.Captions[2]
		want := []Word{{"woman", 1, []Box{{153, 48, 411, 331}}}, {"shirt", 5, []Box{{197, 101, 403, 270}}}}
		if !reflect.DeepEqual(c.Words, want) {
			t.Errorf("1107507919 caption 3 words %+v, want %+v", c.Words, want)
		}
	}
	// A perfect submission (every GT box; for F1, the first caption's classes) must score F1_all
	// recall > 0 and attention accuracy 1.
	sub, gen := Submission{}, Submission{}
	for _, img := range refs.Images {
		var preds []Prediction
		for _, c := range img.Captions {
			var p Prediction
			for _, w := range c.Words {
				p.Classes = append(p.Classes, w.Class)
				p.IdxInSent = append(p.IdxInSent, w.Index)
				p.Boxes = append(p.Boxes, w.Boxes[0])
			}
			preds = append(preds, p)
		}
		sub[img.ImageID] = preds
		gen[img.ImageID] = preds[:1]
	}
	acc, err := AttentionAccuracy(refs, sub)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Accuracy != 1 {
		t.Errorf("attention accuracy of the GT boxes = %v, want 1", acc.Accuracy)
	}
	if f1, err := F1(refs, gen, ModeAll, nil); err != nil || f1.Recall == 0 {
		t.Fatalf("F1_all of the first captions' GT boxes: %+v, %v", f1, err)
	}
}
