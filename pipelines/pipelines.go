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
	// Build decodes the stage's config section (c.Decode(Name, &params)), validates it and
	// returns the stage.
	Build func(c *config.Config) (*engine.Stage, error)
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
	if err := c.CheckSections(Names()); err != nil {
		return nil, err
	}
	var stages []*engine.Stage
	for _, d := range Defs() {
		s, err := d.Build(c)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue // the stage is switched off in this config
		}
		if s.Name != d.Name {
			return nil, fmt.Errorf("pipelines: stage %q built as %q", d.Name, s.Name)
		}
		stages = append(stages, s)
	}
	return engine.New(c.Root, stages, engine.Options{ModuleVersion: version.Version, Log: log})
}
