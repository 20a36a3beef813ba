// Package declare makes the engine.Stage of a stage package from its typed parameters: the
// step the constructors of synth, captions, features, align, scan-eval and report end with. The
// stages whose checks name their instance (scan, evaluate, the captioners) validate their
// parameters themselves (evaluate and the captioners with Instance) and key them with
// config.Key too.
package declare

import (
	"fmt"
	"slices"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/engine"
)

// Params are a stage's typed parameters, resolved: Validate returns the first bad field (a
// *config.FieldError naming its key, which the config layer places in the file).
type Params interface{ Validate() error }

// Stage validates p and returns s with the key parameters of p (config.Key) as its Params, so
// that a stage is built only from parameters it checked and every stage keys them alike. s says
// the rest: name, description, versions, inputs and run.
func Stage(p Params, s engine.Stage) (*engine.Stage, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s.Params = config.Key(p)
	return &s, nil
}

// Instance checks the parameters of an instance of a stage that has several: name must be one
// of instances, and validate (the check of the resolved parameters) must pass; its error is
// prefixed with name.
func Instance(name string, instances []string, validate func() error) error {
	if !slices.Contains(instances, name) {
		return fmt.Errorf("stage name %q (want one of %v)", name, instances)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
