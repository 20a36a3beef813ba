package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type inner struct {
	Rate float64 `yaml:"rate"`
}

type params struct {
	Shards int               `yaml:"num_shards"`
	Name   string            `yaml:"name"`
	Inner  inner             `yaml:"inner"`
	List   []inner           `yaml:"list"`
	Map    map[string]string `yaml:"map"`
}

const good = `root: artifacts/x
seed: 3
runner:
  runner: prism
captions:
  num_shards: 4
  inner: {rate: 0.5}
  list: [{rate: 1}]
  map: {anything: goes}
`

func TestParseAndDecode(t *testing.T) {
	c, err := Parse("x.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "artifacts/x" || c.Seed != 3 || c.Runner["runner"] != "prism" {
		t.Fatalf("got %+v", c)
	}
	p := params{Name: "default"}
	if err := c.Decode("captions", &p); err != nil {
		t.Fatal(err)
	}
	if p.Shards != 4 || p.Name != "default" || p.Inner.Rate != 0.5 || len(p.List) != 1 || p.Map["anything"] != "goes" {
		t.Fatalf("decoded %+v", p)
	}
	var q params
	if err := c.Decode("absent", &q); err != nil || q.Shards != 0 {
		t.Fatalf("absent section: %v %+v", err, q)
	}
	if err := c.CheckSections([]string{"captions"}); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownKeys(t *testing.T) {
	for i, tc := range []struct {
		text, want string
	}{
		{"root: r\ncaptions:\n  num_shard: 4\n", `x.yaml: line 3: unknown key "num_shard" in captions`},
		{"root: r\ncaptions:\n  inner:\n    rte: 1\n", `line 4: unknown key "rte" in captions.inner`},
		{"root: r\ncaptions:\n  list:\n    - rate: 1\n    - ratee: 2\n", `line 5: unknown key "ratee" in captions.list[1]`},
	} {
		c, err := Parse("x.yaml", []byte(tc.text))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var p params
		err = c.Decode("captions", &p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: got %v, want %q", i, err, tc.want)
		}
	}
	c, _ := Parse("x.yaml", []byte("root: r\ncaptoins: {}\n"))
	if err := c.CheckSections([]string{"captions"}); err == nil || !strings.Contains(err.Error(), `x.yaml: line 2: unknown key "captoins"`) {
		t.Errorf("unknown section: %v", err)
	}
	for i, text := range []string{"seed: 1\n", "root: r\nroot: s\n", "root: r\nseed: abc\n", "- a\n"} {
		if _, err := Parse("x.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), "x.yaml") {
			t.Errorf("bad file %d: %v", i, err)
		}
	}
}

type enum string

func (e *enum) UnmarshalText(b []byte) error {
	if string(b) != "a" && string(b) != "b" {
		return fmt.Errorf("unknown enum %q (want a or b)", b)
	}
	*e = enum(b)
	return nil
}

type typed struct {
	Count    int      `yaml:"count"`
	Seed     uint64   `yaml:"seed"`
	Rate     float64  `yaml:"rate"`
	On       bool     `yaml:"on"`
	Mode     enum     `yaml:"mode"`
	Splits   []string `yaml:"splits"`
	Ignored  string   `yaml:"ignored" key:"-"`
	Embedded `yaml:",inline"`
	Rows     []row    `yaml:"rows"`
	Pointer  *float64 `yaml:"pointer"`
	Variant  string   `yaml:"variant" key:"omitempty"`
	hidden   int
}

type Embedded struct {
	Width int `yaml:"width"`
	Extra int `yaml:"-"`
}

type row struct {
	Label string `yaml:"label"`
	Path  string `yaml:"path" key:"-"`
}

// TestTypeErrorsNameKeyAndLine checks that a value of the wrong type is an error naming the
// file, the line and the key path, before anything is decoded.
func TestTypeErrorsNameKeyAndLine(t *testing.T) {
	for i, tc := range []struct {
		section, want string
	}{
		{"count: four", `x.yaml: line 3: s.count: "four" (a string), want a whole number`},                 // 0
		{"count: 2.5", `line 3: s.count: 2.5 (a fraction), want a whole number`},                           // 1
		{"seed: -1", `line 3: s.seed: -1 (a whole number), want a whole number ≥ 0`},                       // 2
		{"rate: fast", `line 3: s.rate: "fast" (a string), want a number`},                                 // 3
		{"on: 1", `line 3: s.on: 1 (a whole number), want true or false`},                                  // 4
		{"mode: c", `line 3: s.mode: "c": unknown enum "c" (want a or b)`},                                 // 5
		{"splits: train", `line 3: s.splits: "train" (a string), want a list`},                             // 6
		{"width: [1]", `line 3: s.width: a list, want a number`},                                           // 7
		{"rows:\n    - {label: [x]}", `line 4: s.rows[0].label: a list, want a string`},                    // 8
		{"count: 99999999999999999999", `s.count: 99999999999999999999 (a fraction), want a whole number`}, // 9
	} {
		c, err := Parse("x.yaml", []byte("root: r\ns:\n  "+tc.section+"\n"))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var p typed
		err = c.Decode("s", &p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: got %v, want %q", i, err, tc.want)
		}
	}
	c, err := Parse("x.yaml", []byte("root: r\ns: {count: 3, seed: 4, rate: 2, on: true, mode: b, splits: [x], width: 5, pointer: 0.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := typed{Count: 1, Ignored: "kept"}
	if err := c.Decode("s", &p); err != nil {
		t.Fatal(err)
	}
	if p.Count != 3 || p.Seed != 4 || p.Rate != 2 || !p.On || p.Mode != "b" || p.Width != 5 || *p.Pointer != 0.5 || p.Ignored != "kept" {
		t.Errorf("decoded %+v", p)
	}
}

// TestMergeKeys checks that a section may merge an anchored mapping (<<) and override its keys,
// and that unknown keys in the merged mapping are still found.
func TestMergeKeys(t *testing.T) {
	c, err := Parse("x.yaml", []byte("root: r\na: &base {count: 2, rate: 0.5}\nb: {<<: *base, count: 7}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var p typed
	if err := c.Decode("b", &p); err != nil {
		t.Fatal(err)
	}
	if p.Count != 7 || p.Rate != 0.5 {
		t.Errorf("merged %+v", p)
	}
	if err := c.Locate("b", Invalid("rate", 0.5, "< 0.1")); err == nil || !strings.Contains(err.Error(), "line 2: b.rate: 0.5 (want < 0.1)") {
		t.Errorf("located in the merged mapping: %v", err)
	}
	c, _ = Parse("x.yaml", []byte("root: r\na: &base {count: 2, rtae: 0.5}\nb: {<<: *base}\n"))
	if err := c.Decode("b", &p); err == nil || !strings.Contains(err.Error(), `line 2: unknown key "rtae" in b`) {
		t.Errorf("unknown key in a merged mapping: %v", err)
	}
}

// TestLocate checks that a *FieldError of a stage's validation is placed at its key's line, and
// at the section's line (as the default) when the section does not give the key.
func TestLocate(t *testing.T) {
	c, err := Parse("x.yaml", []byte("root: r\ns:\n  count: 3\n  rows:\n    - label: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("stage: %w", Invalid("count", 3, "≥ 4")), "config: x.yaml: line 3: s.count: 3 (want ≥ 4)"},
		{Within("rows[0]", Invalid("label", "x", "y")), `config: x.yaml: line 5: s.rows[0].label: "x" (want y)`},
		{Invalid("rate", 0.0, "> 0"), "config: x.yaml: line 2: s.rate: 0 (not set, the default; want > 0)"},
	} {
		err := c.Locate("s", tc.err)
		var fe *FieldError
		if err == nil || err.Error() != tc.want || !errors.As(err, &fe) {
			t.Errorf("%d: got %v, want %q", i, err, tc.want)
		}
	}
	plain := errors.New("not a field")
	if err := c.Locate("s", plain); err != plain {
		t.Errorf("a plain error changed: %v", err)
	}
}

// TestKey checks what enters a stage key: the config's keys of every settable field, embedded
// structs flattened, key:"-" and yaml:"-" fields left out, key:"omitempty" fields only when set,
// nested structs by their keys.
func TestKey(t *testing.T) {
	half := 0.5
	p := typed{Count: 1, Seed: 2, Mode: "a", Splits: []string{"x"}, Ignored: "no", Embedded: Embedded{Width: 3, Extra: 9},
		Rows: []row{{Label: "l", Path: "p"}}, Pointer: &half, hidden: 4}
	b, err := json.Marshal(Key(p))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"count":1,"mode":"a","on":false,"pointer":0.5,"rate":0,"rows":[{"label":"l"}],"seed":2,"splits":["x"],"width":3}`
	if string(b) != want {
		t.Errorf("key %s, want %s", b, want)
	}
	p.Variant = "v"
	if b, err = json.Marshal(Key(p)); err != nil {
		t.Fatal(err)
	}
	if want = strings.Replace(want, `"splits":["x"],`, `"splits":["x"],"variant":"v",`, 1); string(b) != want {
		t.Errorf("key with a set omitempty field %s, want %s", b, want)
	}
}
