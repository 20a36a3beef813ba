// Package pipelines assembles groundcap's stages into one graph from an experiment config.
//
// Each stage lives in a package named after it (pipelines/captions, pipelines/features, …) that
// exports a typed Params struct (yaml tags for the config, json tags for the cache key; zero
// values are the documented defaults) and a constructor of its engine.Stage. The list of stages,
// in the order they are shown, is in stages.go.
package pipelines

import (
	"fmt"
	"io"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/version"
	"github.com/groundcap/groundcap/pipelines/engine"
)

// Def builds one stage from the experiment config.
type Def struct {
	Name  string
	Short string // one line for help
	// Params decodes the stage's config section over the defaults of the instance and returns
	// its parameters, or nil when the config has no such section (the stage is off).
	Params func(c *config.Config) (any, error)
	// Stage resolves what depends on other keys, validates the parameters and returns the stage.
	Stage func(p any) (*engine.Stage, error)
}

// Names returns the names of every stage, in order.
func Names() []string {
	var names []string
	for _, d := range Defs() {
		names = append(names, d.Name)
	}
	return names
}

// Graph builds every stage of the config into an engine over the config's root.
func Graph(c *config.Config, log io.Writer) (*engine.Engine, error) {
	stages, err := Stages(c)
	if err != nil {
		return nil, err
	}
	return engine.New(c.Root, stages, engine.Options{ModuleVersion: version.Version, Log: log})
}

// Stages builds the stages of the config, in chain order. Every check of the config is done
// here, before any stage runs: unknown keys, the types and ranges of every parameter (an error
// names the file, line and key) and the constraints between stages.
func Stages(c *config.Config) ([]*engine.Stage, error) {
	if err := c.CheckSections(Names()); err != nil {
		return nil, err
	}
	defs := Defs()
	params := map[string]any{}
	for _, d := range defs {
		p, err := d.Params(c)
		if err != nil {
			return nil, err
		}
		if p != nil {
			params[d.Name] = p
		}
	}
	if err := checkShards(c, params); err != nil {
		return nil, err
	}
	var stages []*engine.Stage
	for _, d := range defs {
		p, ok := params[d.Name]
		if !ok {
			continue // the stage is switched off in this config
		}
		s, err := d.Stage(p)
		if err != nil {
			return nil, c.Locate(d.Name, err)
		}
		if s.Name != d.Name {
			return nil, fmt.Errorf("pipelines: stage %q built as %q", d.Name, s.Name)
		}
		s.Settings = p
		stages = append(stages, s)
	}
	return stages, nil
}
