package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/plan"
)

// DefaultConfig is the experiment used when --config is not given.
const DefaultConfig = "configs/demo.yaml"

// experimentOptions are the flags every engine command shares.
type experimentOptions struct {
	Config string
	Verify bool
}

func (o *experimentOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Config, "config", DefaultConfig, "experiment config (YAML)")
	fs.BoolVar(&o.Verify, "verify", false, "re-hash cached outputs instead of checking their sizes only")
}

// openExperiment loads the config, applies its Beam runner options and then the command line's,
// and builds the stage graph.
func openExperiment(o experimentOptions, g *globalOptions) (*config.Config, *engine.Engine, error) {
	cfg, err := config.Load(o.Config)
	if err != nil {
		return nil, nil, err
	}
	var fromCfg [][2]string
	for _, k := range sortedKeys(cfg.Runner) {
		fromCfg = append(fromCfg, [2]string{k, cfg.Runner[k]})
	}
	if err := applyBeamFlags(fromCfg); err != nil {
		return nil, nil, fmt.Errorf("%s: runner: %w", o.Config, err)
	}
	if err := applyBeamFlags(g.BeamFlags); err != nil {
		return nil, nil, err
	}
	initBeam()
	e, err := pipelines.Graph(cfg, g.Stderr)
	if err != nil {
		return nil, nil, err
	}
	return cfg, e, nil
}

// stageOptions are the flags of 'groundcap STAGE'.
type stageOptions struct {
	experimentOptions
	Force bool
}

func (o *stageOptions) AddFlags(fs *flag.FlagSet) {
	o.experimentOptions.AddFlags(fs)
	fs.BoolVar(&o.Force, "force", false, "recompute this stage even when its output is fresh")
}

// newStageCommand makes 'groundcap NAME' for one stage of the registry.
func newStageCommand(d pipelines.Def, g *globalOptions) *command {
	var opts stageOptions
	return &command{
		Name:  d.Name,
		Short: d.Short,
		Usage: "groundcap " + d.Name + " [--config F] [--force] [--verify] [beam flags]",
		Long: "Brings the " + d.Name + " stage and every stage it depends on up to date, reusing cached outputs\n" +
			"whose keys match (like 'dvc repro'). Beam flags (--runner, --endpoint, --environment_type,\n" +
			"--project, --region, --staging_location, --worker_binary, …) pass through to Beam stages and\n" +
			"override the config's runner section.",
		AddFlags: opts.AddFlags,
		Beam:     true,
		Run: func(ctx context.Context, _ []string) error {
			return runStage(ctx, d.Name, opts, g)
		},
	}
}

// runStage brings one stage and its upstream stages up to date.
func runStage(ctx context.Context, name string, opts stageOptions, g *globalOptions) error {
	_, e, err := openExperiment(opts.experimentOptions, g)
	if err != nil {
		return err
	}
	if e.Stage(name) == nil {
		return fmt.Errorf("stage %s is not part of %s (no %s section)", name, opts.Config, name)
	}
	var force []string
	if opts.Force {
		force = []string{name}
	}
	ms, err := e.Make(ctx, name, engine.MakeOptions{Force: force, Verify: opts.Verify})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "%s: %s\n", name, e.OutputDir(name, ms[name].Key))
	return nil
}

// runOptions are the flags of 'groundcap run' and of 'groundcap plan', which estimates the
// stages that run would run with them.
type runOptions struct {
	experimentOptions
	Force string
}

func (o *runOptions) AddFlags(fs *flag.FlagSet) {
	o.experimentOptions.AddFlags(fs)
	fs.StringVar(&o.Force, "force", "", "comma-separated stages to recompute even when fresh")
}

func newRunCommand(g *globalOptions) *command {
	var opts runOptions
	return &command{
		Name:     "run",
		Short:    "run every stage in order, skipping the ones whose outputs are fresh",
		Usage:    "groundcap run [--config F] [--force S1,S2] [--verify] [beam flags]",
		AddFlags: opts.AddFlags,
		Beam:     true,
		Run: func(ctx context.Context, _ []string) error {
			_, e, err := openExperiment(opts.experimentOptions, g)
			if err != nil {
				return err
			}
			force := splitList(opts.Force)
			// The plan is advice: a run goes ahead when it cannot be made.
			if p, err := plan.Make(ctx, e, plan.ParamsOf(e), force); err != nil {
				fmt.Fprintf(g.Stderr, "plan: no estimate: %v\n", err)
			} else if err := p.Write(g.Stderr); err != nil {
				return err
			}
			ms, err := e.Make(ctx, "", engine.MakeOptions{Force: force, Verify: opts.Verify})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tOUTPUT")
			for _, s := range e.Stages() {
				if m := ms[s.Name]; m != nil {
					fmt.Fprintf(tw, "%s\t%s\n", s.Name, e.OutputDir(s.Name, m.Key))
				}
			}
			return tw.Flush()
		},
	}
}

// statusOptions are the flags of 'groundcap status'.
type statusOptions struct {
	experimentOptions
	JSON bool
}

func (o *statusOptions) AddFlags(fs *flag.FlagSet) {
	o.experimentOptions.AddFlags(fs)
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per stage")
}

func newStatusCommand(g *globalOptions) *command {
	var opts statusOptions
	return &command{
		Name:  "status",
		Short: "show each stage as fresh, stale or missing, with its key, output and why",
		Usage: "groundcap status [--config F] [--json] [--verify]",
		Long: "A stage is fresh when an output with a valid manifest exists for its current key, stale when\n" +
			"an earlier output exists for another key (the reason lists the changed key components, old and\n" +
			"new, or the upstream stage that is not up to date), and missing when it was never computed\n" +
			"or its output is damaged.",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, _ []string) error {
			_, e, err := openExperiment(opts.experimentOptions, g)
			if err != nil {
				return err
			}
			st, err := e.Status(ctx, opts.Verify)
			if err != nil {
				return err
			}
			if opts.JSON {
				enc := json.NewEncoder(g.Stdout)
				for _, s := range st {
					if err := enc.Encode(s); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tSTATE\tKEY\tREASON")
			for _, s := range st {
				key := s.Key
				if len(key) > 12 {
					key = key[:12]
				}
				if key == "" {
					key = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Stage, s.State, key, s.Reason)
			}
			fmt.Fprintf(tw, "\nroot: %s\n", e.Root())
			return tw.Flush()
		},
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
