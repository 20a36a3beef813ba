package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type CheckBase struct {
	Workers int `yaml:"workers" check:"≥ 0; 0: one per CPU"`
}

type checkRow struct {
	Label string  `yaml:"label" check:"a label"`
	Rate  float64 `yaml:"rate" check:"in (0, 1)"`
}

type checkLevel int

type checkKind string

// Validate accepts a and b; its key is not the field's.
func (k checkKind) Validate() error { return CheckEnum[checkKind]("kind", k, "a", "b") }

type checkSub struct {
	Size int `yaml:"size" check:"≥ 1"`
}

// Validate checks the tags and that size is even.
func (s checkSub) Validate() error {
	if err := Check(s); err != nil {
		return err
	}
	if s.Size%2 != 0 {
		return Invalid("size", s.Size, "even")
	}
	return nil
}

type checked struct {
	Shards   int        `yaml:"num_shards" check:"1..100000"`
	Beam     int        `yaml:"beam_size" check:"≥ 1"`
	Dropout  float64    `yaml:"dropout" check:"in [0, 1); 0: no dropout"`
	Fraction float64    `yaml:"max_reject_fraction" check:"0..1"`
	Lambda   float32    `yaml:"lambda" check:"> 0"`
	Steps    int64      `yaml:"max_steps" check:"≤ 10"`
	Seed     uint64     `yaml:"seed" check:"< 100"`
	Level    checkLevel `yaml:"level" check:"> -2 (commentary)"`
	Weight   *float64   `yaml:"weight" check:"≥ 0"`
	KL       float64    `json:"kl_weight" yaml:"-" check:"≥ 0"`
	Name     string     `yaml:"name" check:"a name"`
	Splits   []string   `yaml:"splits" check:"at least one split"`
	CheckBase
	Inner    checkSub   `yaml:",inline"`
	Sub      checkSub   `yaml:"sub"`
	Rows     []checkRow `yaml:"rows"`
	Kind     checkKind  `yaml:"kind"`
	Optional *checkRow  `yaml:"optional"`
	Plain    bool       `yaml:"plain"`
	private  int
}

func goodChecked() checked {
	w := 0.5
	return checked{Shards: 4, Beam: 1, Fraction: 1, Lambda: 1e-9, Steps: 10, Seed: 99, Level: -1, Weight: &w, Name: "n", Splits: []string{"x"},
		Inner: checkSub{Size: 2}, Sub: checkSub{Size: 4}, Rows: []checkRow{{Label: "r", Rate: 0.5}}, Kind: "a"}
}

// TestCheck checks every bound form at and beyond its ends, every kind of number, the keys of
// yaml:"-", embedded, inline, nested and repeated structs, Validators, and the want texts.
func TestCheck(t *testing.T) {
	if err := Check(goodChecked()); err != nil {
		t.Fatalf("good: %v", err)
	}
	p := goodChecked()
	if err := Check(&p); err != nil {
		t.Fatalf("good through a pointer: %v", err)
	}
	nan := math.NaN()
	for i, c := range []struct {
		set  func(*checked)
		want string // "" for no error
	}{
		{func(p *checked) { p.Shards = 0 }, "num_shards: 0 (want 1..100000)"},                                   // 0
		{func(p *checked) { p.Shards = 1 }, ""},                                                                 // 1
		{func(p *checked) { p.Shards = 100000 }, ""},                                                            // 2
		{func(p *checked) { p.Shards = 100001 }, "num_shards: 100001 (want 1..100000)"},                         // 3
		{func(p *checked) { p.Beam = 0 }, "beam_size: 0 (want ≥ 1)"},                                            // 4
		{func(p *checked) { p.Beam = math.MinInt }, "beam_size: -9223372036854775808 (want ≥ 1)"},               // 5
		{func(p *checked) { p.Dropout = 0.999 }, ""},                                                            // 6
		{func(p *checked) { p.Dropout = 1 }, "dropout: 1 (want in [0, 1); 0: no dropout)"},                      // 7
		{func(p *checked) { p.Dropout = -1e-300 }, "dropout: -1e-300 (want in [0, 1); 0: no dropout)"},          // 8
		{func(p *checked) { p.Dropout = nan }, "dropout: NaN (want in [0, 1); 0: no dropout)"},                  // 9
		{func(p *checked) { p.Fraction = 0 }, ""},                                                               // 10
		{func(p *checked) { p.Fraction = 1.0000001 }, "max_reject_fraction: 1.0000001 (want 0..1)"},             // 11
		{func(p *checked) { p.Fraction = math.Inf(-1) }, "max_reject_fraction: -Inf (want 0..1)"},               // 12
		{func(p *checked) { p.Lambda = 0 }, "lambda: 0 (want > 0)"},                                             // 13
		{func(p *checked) { p.Lambda = float32(math.Inf(1)) }, "lambda: +Inf (want > 0)"},                       // 14
		{func(p *checked) { p.Steps = 11 }, "max_steps: 11 (want ≤ 10)"},                                        // 15
		{func(p *checked) { p.Steps = math.MinInt64 }, ""},                                                      // 16
		{func(p *checked) { p.Seed = 100 }, "seed: 100 (want < 100)"},                                           // 17
		{func(p *checked) { p.Seed = math.MaxUint64 }, "seed: 18446744073709551615 (want < 100)"},               // 18
		{func(p *checked) { p.Seed = 0 }, ""},                                                                   // 19
		{func(p *checked) { p.Level = -2 }, "level: -2 (want > -2 (commentary))"},                               // 20
		{func(p *checked) { p.Weight = &nan }, "weight: NaN (want ≥ 0)"},                                        // 21
		{func(p *checked) { p.Weight = nil }, ""},                                                               // 22
		{func(p *checked) { p.KL = -0.5 }, "kl_weight: -0.5 (want ≥ 0)"},                                        // 23
		{func(p *checked) { p.Name = "" }, `name: "" (want a name)`},                                            // 24
		{func(p *checked) { p.Splits = nil }, `splits: "[]" (want at least one split)`},                         // 25
		{func(p *checked) { p.Splits = []string{} }, `splits: "[]" (want at least one split)`},                  // 26
		{func(p *checked) { p.Workers = -1 }, "workers: -1 (want ≥ 0; 0: one per CPU)"},                         // 27
		{func(p *checked) { p.Inner.Size = 0 }, "size: 0 (want ≥ 1)"},                                           // 28
		{func(p *checked) { p.Inner.Size = 3 }, "size: 3 (want even)"},                                          // 29
		{func(p *checked) { p.Sub.Size = 5 }, "sub.size: 5 (want even)"},                                        // 30
		{func(p *checked) { p.Rows = append(p.Rows, checkRow{Rate: 0.5}) }, `rows[1].label: "" (want a label)`}, // 31
		{func(p *checked) { p.Rows[0].Rate = 1 }, "rows[0].rate: 1 (want in (0, 1))"},                           // 32
		{func(p *checked) { p.Rows[0].Rate = 0 }, "rows[0].rate: 0 (want in (0, 1))"},                           // 33
		{func(p *checked) { p.Kind = "c" }, `kind: "c" (want a or b)`},                                          // 34
		{func(p *checked) { p.Optional = &checkRow{Label: "o"} }, "optional.rate: 0 (want in (0, 1))"},          // 35
		// 36: the first bad field in field order
		{func(p *checked) { p.Rows[0].Rate, p.Beam, p.Kind = 2, 0, "" }, "beam_size: 0 (want ≥ 1)"},
	} {
		p := goodChecked()
		c.set(&p)
		err := Check(p)
		if c.want == "" {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		var fe *FieldError
		if err == nil || err.Error() != c.want || !errors.As(err, &fe) {
			t.Errorf("%d: got %v, want %s", i, err, c.want)
		}
	}
}

// TestCheckRenamesAnEnumeration checks that an enumeration's error takes the key of its field.
func TestCheckRenamesAnEnumeration(t *testing.T) {
	type s struct {
		Mode checkKind `yaml:"mode"`
	}
	if err := Check(s{Mode: "x"}); err == nil || err.Error() != `mode: "x" (want a or b)` {
		t.Errorf("got %v", err)
	}
}

// TestCheckMalformedTags checks that every malformed tag panics on the type's first check,
// naming the field, even where it sits in an empty slice's element type.
func TestCheckMalformedTags(t *testing.T) {
	type badRow struct {
		N int `check:"≥ one"`
	}
	for i, v := range []any{
		struct {
			N int `check:"at least one"`
		}{},
		struct {
			N int `check:"≥1"`
		}{},
		struct {
			N int `check:"≥ 0.5"`
		}{},
		struct {
			N int `check:"≥ 1x"`
		}{},
		struct {
			N float64 `check:"in [0, 1"`
		}{},
		struct {
			N float64 `check:"in 0, 1"`
		}{},
		struct {
			N float64 `check:"in [1, 0]"`
		}{},
		struct {
			N float64 `check:"2..1"`
		}{},
		struct {
			N float64 `check:"0..1x"`
		}{},
		struct {
			N float64 `check:"≥ NaN"`
		}{},
		struct {
			S string `check:"≥ 1"`
		}{},
		struct {
			S []int `check:""`
		}{},
		struct {
			B bool `check:"true"`
		}{},
		struct {
			R struct{ X int } `check:"set"`
		}{},
		struct {
			Rows []badRow `yaml:"rows"`
		}{},
		struct {
			n int `check:"≥ 1"`
		}{},
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "config: ") {
					t.Errorf("%d: %T: recovered %v, want a config panic", i, v, r)
				}
			}()
			_ = Check(v)
		}()
	}
	var nilp *checked
	if err := Check(nilp); err != nil {
		t.Errorf("nil pointer: %v", err)
	}
}

// TestCheckPlanCached checks that a type's plan is built once.
func TestCheckPlanCached(t *testing.T) {
	_ = Check(goodChecked())
	a, _ := plans.Load(reflect.TypeFor[checked]())
	_ = Check(goodChecked())
	b, _ := plans.Load(reflect.TypeFor[checked]())
	if a == nil || reflect.ValueOf(a).Pointer() != reflect.ValueOf(b).Pointer() {
		t.Errorf("plan rebuilt or missing")
	}
}

// TestPrefix checks the prefix and that nil stays nil.
func TestPrefix(t *testing.T) {
	if Prefix("x", nil) != nil {
		t.Error("nil")
	}
	fe := Invalid("k", 1, "≥ 2")
	err := Prefix("x", fe)
	var got *FieldError
	if err.Error() != "x: k: 1 (want ≥ 2)" || !errors.As(err, &got) || got != fe {
		t.Errorf("got %v", err)
	}
}

type checkEnum string

// TestParseEnum checks the allowed values, the empty value only where allowed, and the want
// list.
func TestParseEnum(t *testing.T) {
	var e checkEnum = "old"
	if err := ParseEnum(&e, []byte("b"), "x: unknown y", "a", "b"); err != nil || e != "b" {
		t.Errorf("b: %v %q", err, e)
	}
	if err := ParseEnum(&e, []byte(""), "x: unknown y", "a", "b", "c"); err == nil || err.Error() != `x: unknown y "" (want a, b or c)` || e != "b" {
		t.Errorf("empty: %v %q", err, e)
	}
	if err := ParseEnum(&e, []byte(""), "x: unknown y", "", "a"); err != nil || e != "" {
		t.Errorf("empty allowed: %v %q", err, e)
	}
	if err := ParseEnum(&e, []byte("A"), "x: unknown y", "", "a", "b"); err == nil || err.Error() != `x: unknown y "A" (want a or b)` {
		t.Errorf("A: %v", err)
	}
	if err := CheckEnum[checkEnum]("k", "b", "", "a", "b"); err != nil {
		t.Errorf("CheckEnum b: %v", err)
	}
	if err := CheckEnum[checkEnum]("k", "", "a", "b"); err == nil || err.Error() != `k: "" (want a or b)` {
		t.Errorf("CheckEnum empty: %v", err)
	}
	for _, c := range []struct {
		in   []checkEnum
		want string
	}{{nil, ""}, {[]checkEnum{"a"}, "a"}, {[]checkEnum{"", "a", "b"}, "a or b"}, {[]checkEnum{"a", "b", "c", "d"}, "a, b, c or d"}} {
		if got := OneOf(c.in...); got != c.want {
			t.Errorf("OneOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
