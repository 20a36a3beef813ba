package main

import (
	"context"
	"strings"

	"github.com/groundcap/groundcap/pipelines/plan"
)

func newPlanCommand(g *globalOptions) *command {
	var opts runOptions // plan estimates what run would do with the same flags
	return &command{
		Name:  "plan",
		Short: "estimate how long each stage that would run takes on this machine, before running it",
		Usage: "groundcap plan [--config F] [--force S1,S2] [--verify]",
		Long: "For every stage that is not fresh: the sizes of its inputs, an estimated time on this machine and\n" +
			"its dominant cost. Training stages are estimated from their config (steps × the model's\n" +
			"products and element-wise work per step, validation), priced by a short calibration of the\n" +
			"BLAS backend each stage uses and of the element-wise rate (well under a second); the data\n" +
			"stages from rates measured on the project's 2-core machine. 'groundcap run' prints the same\n" +
			"block before it starts.",
		AddFlags: opts.AddFlags,
		Run: func(ctx context.Context, _ []string) error {
			_, e, err := openExperiment(opts.experimentOptions, g)
			if err != nil {
				return err
			}
			p, err := plan.Make(ctx, e, plan.ParamsOf(e), splitList(opts.Force))
			if err != nil {
				return err
			}
			return p.Write(g.Stdout)
		},
	}
}

// splitList splits a comma-separated flag value ("" is none).
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
