package declare

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/engine"
)

type params struct {
	Epochs int    `yaml:"epochs"`
	Data   string `yaml:"data" key:"-"`
}

func (p params) Validate() error {
	if p.Epochs < 1 {
		return config.Invalid("epochs", p.Epochs, "≥ 1")
	}
	return nil
}

// TestStage checks that a valid p keys the stage by its key parameters (input references left
// out) and keeps the rest of the declaration, and that a bad field comes back as the
// *config.FieldError naming it, with no stage.
func TestStage(t *testing.T) {
	s, err := Stage(params{Epochs: 3, Data: "@synth/data"}, engine.Stage{Name: "x", Version: "2",
		Inputs: []engine.Input{{Name: "data", Ref: "@synth/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	key, ok := s.Params.(map[string]any)
	if !ok || len(key) != 1 || key["epochs"] != 3 {
		t.Errorf("params %#v, want map[epochs:3]", s.Params)
	}
	if s.Name != "x" || s.Version != "2" || len(s.Inputs) != 1 {
		t.Errorf("stage %+v lost its declaration", s)
	}
	s, err = Stage(params{Epochs: 0}, engine.Stage{Name: "x"})
	var fe *config.FieldError
	if s != nil || !errors.As(err, &fe) || fe.Key != "epochs" {
		t.Errorf("epochs 0: stage %v, error %v; want none and a FieldError for epochs", s, err)
	}
}

// TestInstance checks an instance's name against the instances, then its parameters, the error
// naming the instance.
func TestInstance(t *testing.T) {
	bad := errors.New("epochs: 0 (want ≥ 1)")
	instances := []string{"caption-xe", "caption-xe-scan"}
	for _, c := range []struct {
		name     string
		validate error
		want     string
		wraps    bool // the error wraps the parameters' error
	}{
		{"caption-xe-scan", nil, "", false},
		{"caption-xe-other", nil, `stage name "caption-xe-other" (want one of [caption-xe caption-xe-scan])`, false},
		{"caption-xe-other", bad, `stage name "caption-xe-other"`, false},
		{"caption-xe", bad, "caption-xe: epochs: 0 (want ≥ 1)", true},
	} {
		called := false
		err := Instance(c.name, instances, func() error { called = true; return c.validate })
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case errors.Is(err, bad) != c.wraps:
			t.Errorf("%s: %v does not wrap the parameters' error", c.name, err)
		case called != slices.Contains(instances, c.name):
			t.Errorf("%s: validate called %v", c.name, called)
		}
	}
}
