// Package declare makes the engine.Stage of a stage package from its typed parameters: the
// step the constructors of synth, captions, features, align, scan-eval and report end with. The
// stages whose checks name their instance (scan, evaluate, the captioners) validate their
// parameters themselves and key them with config.Key too.
package declare

import (
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
