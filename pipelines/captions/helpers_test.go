package captions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// world writes a small hand-made dataset (Karpathy JSON), an Entities directory and a class list
// under dir and returns their locations.
type world struct {
	dir                                     string
	dataset, entities, classNames, splitIDs string
}

type sent struct {
	Tokens []string `json:"tokens,omitempty"`
	Raw    string   `json:"raw,omitempty"`
}

type img struct {
	Filename  string `json:"filename"`
	CocoID    *int64 `json:"cocoid,omitempty"`
	Split     string `json:"split"`
	Sentences []any  `json:"sentences"`
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

func toks(s string) []string {
	var out []string
	for _, f := range splitFields(s) {
		out = append(out, f)
	}
	return out
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// smallWorld: 4 good images (3 train, 1 val) with 2 captions each, entities for two of them.
func smallWorld(t *testing.T) world {
	t.Helper()
	dir := t.TempDir()
	w := world{dir: dir, dataset: filepath.Join(dir, "dataset.json"), entities: filepath.Join(dir, "entities"), classNames: filepath.Join(dir, "classes.txt")}
	images := []img{
		{Filename: "101.jpg", Split: "train", Sentences: []any{
			sent{Tokens: toks("a man in a red shirt rides a horse")},
			sent{Tokens: toks("two men ride horses on the beach")}}},
		{Filename: "102.jpg", Split: "train", Sentences: []any{
			sent{Tokens: toks("a dog runs on the beach")},
			sent{Raw: "A brown dog plays with a ball."}}}, // raw only
		{Filename: "103.jpg", Split: "train", Sentences: []any{
			sent{Tokens: toks("a man and a dog on the beach with a red ball and a horse in the water far away")},
			sent{Tokens: toks("a dog")}}},
		{Filename: "104.jpg", Split: "val", Sentences: []any{
			sent{Tokens: toks("a woman holds a zebra")},
			sent{Tokens: toks("the man rides")}}},
	}
	writeJSON(t, w.dataset, map[string]any{"images": images, "dataset": "test"})
	writeFile(t, filepath.Join(w.entities, "Sentences", "101.txt"), []byte(
		"[/EN#1/people A man] in [/EN#2/clothing a red shirt] rides [/EN#3/animals a horse] .\n"+
			"[/EN#1/people Two men] ride [/EN#3/animals horses] on [/EN#4/scene the beach] .\n"))
	writeFile(t, filepath.Join(w.entities, "Annotations", "101.xml"), []byte(`<annotation><size><width>500</width><height>333</height></size>
<object><name>1</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>100</xmax><ymax>200</ymax></bndbox></object>
<object><name>1</name><name>2</name><bndbox><xmin>31</xmin><ymin>41</ymin><xmax>60</xmax><ymax>80</ymax></bndbox></object>
<object><name>3</name><bndbox><xmin>101</xmin><ymin>1</ymin><xmax>400</xmax><ymax>300</ymax></bndbox></object>
<object><name>4</name><scene>1</scene><nobndbox>1</nobndbox></object>
</annotation>`))
	writeFile(t, filepath.Join(w.entities, "Sentences", "104.txt"), []byte(
		"[/EN#7/people A woman] holds [/EN#8/animals a zebra] .\n"+
			"[/EN#0/notvisual The man] rides .\n"))
	writeFile(t, filepath.Join(w.entities, "Annotations", "104.xml"), []byte(`<annotation><size><width>10</width><height>10</height></size>
<object><name>7</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
<object><name>8</name><nobndbox>1</nobndbox></object>
</annotation>`))
	writeFile(t, w.classNames, []byte("man\nhorse\nbeach\nshirt\nwoman\n"))
	return w
}

// params returns DefaultParams changed by set: a test states only what it changes.
func params(set func(*Params)) Params {
	p := DefaultParams()
	set(&p)
	return p
}
