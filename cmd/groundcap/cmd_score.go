package main

import (
	"context"
	"errors"

	"github.com/groundcap/groundcap/internal/scorecli"
)

// The scoring subcommands live in internal/scorecli: the launcher (cmd/groundcap-launcher, bin/groundcap)
// runs them without linking the rest of the command.

func newScoreCommand(g *globalOptions) *command { return fromScoreCLI(scorecli.Score(g.Stdout)) }

func newScoreGroundingCommand(g *globalOptions) *command {
	return fromScoreCLI(scorecli.ScoreGrounding(g.Stdout, g.Stderr))
}

// fromScoreCLI wraps a scoring subcommand; its usage errors exit with status 2 as every command's do.
func fromScoreCLI(c *scorecli.Command) *command {
	return &command{
		Name: c.Name, Short: c.Short, Usage: c.Usage, Long: c.Long, AddFlags: c.AddFlags, Args: true,
		Run: func(ctx context.Context, args []string) error {
			err := c.Run(ctx, args)
			var ue scorecli.UsageError
			if errors.As(err, &ue) {
				return usageError{ue.Msg}
			}
			return err
		},
	}
}
