// Command groundcap-launcher is what make build installs as bin/groundcap: it runs the scoring
// subcommands (score, score-grounding) itself and hands every other command line to the complete
// command, built from cmd/groundcap as bin/groundcap-core (the launcher's own path with "-core"
// appended), by exec: same process, arguments, environment, standard streams and exit status.
//
// The split exists for start-up time. Go runs the initialisation of every linked package before
// main, and the complete command links Beam with its runners and harness, the cloud SDKs, a
// Docker client, an NLP library and a plotting library: 70–90 ms of CPU before any command starts
// (GODEBUG=inittrace=1 lists them). The launcher links only the scorers and starts in a few
// milliseconds, which matters for a command that scores a 5,000-image test split in about 0.3 s.
// cmd/groundcap alone remains a complete groundcap (go install ./cmd/groundcap).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundcap/groundcap/internal/scorecli"
)

// coreSuffix names the complete command next to the launcher: bin/groundcap → bin/groundcap-core.
const coreSuffix = "-core"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, handOff := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if handOff {
		err := execCore(os.Args[1:])
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// run runs a scoring command line and returns its exit status. Any other command line, and a
// scoring one whose flags do not parse (--help included), is the complete command's: run returns
// handOff, and the complete command prints the help or the error exactly as it always does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, handOff bool) {
	if len(args) == 0 {
		return 0, true
	}
	for _, c := range []*scorecli.Command{scorecli.Score(stdout), scorecli.ScoreGrounding(stdout, stderr)} {
		if c.Name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.AddFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return 0, true
		}
		if err := c.Run(ctx, fs.Args()); err != nil {
			if errors.As(err, new(scorecli.UsageError)) {
				fmt.Fprintf(stderr, "groundcap %s: %v\nRun 'groundcap %s --help' for usage.\n", c.Name, err, c.Name)
				return 2, false
			}
			fmt.Fprintf(stderr, "groundcap %s: %v\n", c.Name, err)
			return 1, false
		}
		return 0, false
	}
	return 0, true
}

// execCore replaces this process with the complete command, given args. It returns only when
// that fails.
func execCore(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("groundcap: finding the complete command: %w", err)
	}
	core := self + coreSuffix
	err = syscall.Exec(core, append([]string{core}, args...), os.Environ())
	return fmt.Errorf("groundcap: running the complete command %s: %w (make build builds it next to the launcher, from ./cmd/groundcap)", core, err)
}
