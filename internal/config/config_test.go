package config

import (
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
