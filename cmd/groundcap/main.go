// Command groundcap runs the grounded-captioning chain: data preparation on Beam, the matching and
// captioning models, and evaluation. Run 'groundcap help' for the list of subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	_ "go4.org/unsafe/assume-no-moving-gc" // pinned: see DEVELOPERS.md
)

// globalOptions are shared by every subcommand. They are passed in, never read from globals.
type globalOptions struct {
	Stdout io.Writer
	Stderr io.Writer
	// BeamFlags are the Beam pipeline flags given on the command line, applied after the
	// config's runner section (so they override it).
	BeamFlags [][2]string
}

// command is one subcommand: a name, its help text, its flags and the function that runs it.
type command struct {
	Name  string
	Short string // one line for 'groundcap help'
	Usage string // e.g. "groundcap score --refs F --preds F [flags]"
	Long  string // paragraph(s) shown by 'groundcap CMD --help'
	// AddFlags registers the command's flags. May be nil.
	AddFlags func(fs *flag.FlagSet)
	// Run runs the command with the positional arguments left after flag parsing.
	Run func(ctx context.Context, args []string) error
	// Beam marks commands that run Beam pipelines: Beam's own flags pass through to them.
	Beam bool
	// Args marks commands that take positional arguments; any other command given one fails
	// with a usage error before it runs.
	Args bool
}

// usageError marks an error in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// commands lists every subcommand. Each lives in its own cmd_<name>.go file.
func commands(g *globalOptions) []*command {
	cmds := stageCommands(g)
	for _, f := range commandConstructors {
		cmds = append(cmds, f(g))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globalOptions{Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(run(ctx, os.Args[1:], g))
}

// run dispatches to a subcommand and returns the process exit status.
func run(ctx context.Context, args []string, g *globalOptions) int {
	if isBeamWorker(args) {
		return runBeamWorker(ctx, args, g)
	}
	if isBeamBoot(args) {
		return runBeamBoot(ctx, args, g)
	}
	cmds := commands(g)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			for _, c := range cmds {
				if c.Name == args[1] {
					printCommandHelp(g.Stdout, c)
					return 0
				}
			}
		}
		printHelp(g.Stdout, cmds)
		return 0
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if c.AddFlags != nil {
			c.AddFlags(fs)
		}
		rest := args[1:]
		if c.Beam {
			own, beamFlags, err := splitBeamFlags(rest, fs)
			if err != nil {
				fmt.Fprintf(g.Stderr, "groundcap %s: %v\n", c.Name, err)
				return 2
			}
			rest, g.BeamFlags = own, beamFlags
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(g.Stdout, c, fs)
				return 0
			}
			fmt.Fprintf(g.Stderr, "groundcap %s: %v\nRun 'groundcap %s --help' for usage.\n", c.Name, err, c.Name)
			return 2
		}
		var err error
		if fs.NArg() > 0 && !c.Args {
			err = usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
		} else {
			err = c.Run(ctx, fs.Args())
		}
		if err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(g.Stderr, "groundcap %s: %v\nRun 'groundcap %s --help' for usage.\n", c.Name, err, c.Name)
				return 2
			}
			fmt.Fprintf(g.Stderr, "groundcap %s: %v\n", c.Name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(g.Stderr, "groundcap: unknown command %q\nRun 'groundcap help' for usage.\n", args[0])
	return 2
}

func printHelp(w io.Writer, cmds []*command) {
	fmt.Fprintln(w, "groundcap: grounded image captioning (POS-SCAN distillation into Up-Down), reproducible and cached.")
	fmt.Fprintln(w, "\nUsage: groundcap <command> [flags]\n\nCommands:")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Short)
	}
	fmt.Fprintln(w, "\nRun 'groundcap <command> --help' for a command's flags.")
}

func printCommandHelp(w io.Writer, c *command, fss ...*flag.FlagSet) {
	usage := c.Usage
	if usage == "" {
		usage = "groundcap " + c.Name + " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", usage, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	var fs *flag.FlagSet
	if len(fss) > 0 {
		fs = fss[0]
	} else {
		fs = flag.NewFlagSet(c.Name, flag.ContinueOnError)
		if c.AddFlags != nil {
			c.AddFlags(fs)
		}
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
