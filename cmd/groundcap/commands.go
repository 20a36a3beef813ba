package main

// commandConstructors builds every subcommand; add one line per cmd_<name>.go file.
var commandConstructors = []func(*globalOptions) *command{
	newScoreCommand,
	newScoreGroundingCommand,
}
