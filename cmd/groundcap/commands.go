package main

import "github.com/groundcap/groundcap/pipelines"

// commandConstructors builds every subcommand; add one line per cmd_<name>.go file.
var commandConstructors = []func(*globalOptions) *command{
	newRunCommand,
	newPlanCommand,
	newScoreCommand,
	newScoreGroundingCommand,
	newStatusCommand,
	newSynthCommand,
	newDoctorCommand,
	newGPUCheckCommand,
}

// stageCommands makes one 'groundcap STAGE' command per stage of the registry.
func stageCommands(g *globalOptions) []*command {
	var cmds []*command
	for _, d := range pipelines.Defs() {
		if d.Name == "synth" {
			continue // 'groundcap synth' serves both the stage and standalone worlds (cmd_synth.go)
		}
		cmds = append(cmds, newStageCommand(d, g))
	}
	return cmds
}
