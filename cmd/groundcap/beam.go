package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx" // registers every runner and its flags
)

// isBeamWorker reports whether a Beam runner started this binary as an SDK worker
// (the --worker_binary of Flink, Dataflow and other portable runners).
func isBeamWorker(args []string) bool {
	for _, a := range args {
		if a == "--worker" || a == "-worker" || strings.HasPrefix(a, "--worker=") || strings.HasPrefix(a, "-worker=") {
			return true
		}
	}
	return false
}

// runBeamWorker hands the process to Beam's worker harness, which exits when the job is done.
func runBeamWorker(ctx context.Context, args []string, g *globalOptions) int {
	if err := flag.CommandLine.Parse(args); err != nil {
		fmt.Fprintf(g.Stderr, "groundcap worker: %v\n", err)
		return 2
	}
	beam.Init()
	return 0
}

// splitBeamFlags separates the flags that Beam defines on the process flag set (--runner,
// --endpoint, --environment_type, --project, --region, --staging_location, --worker_binary, …)
// from the command's own flags, which fs defines. It returns the command's arguments and the Beam
// flags as name=value pairs, in order.
func splitBeamFlags(args []string, fs *flag.FlagSet) (own []string, beamFlags [][2]string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			own = append(own, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			own = append(own, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		if fs.Lookup(name) != nil || flag.CommandLine.Lookup(name) == nil {
			own = append(own, a)
			continue
		}
		f := flag.CommandLine.Lookup(name)
		if !hasValue {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, nil, usageError{fmt.Sprintf("flag needs an argument: --%s", name)}
				}
				i++
				value = args[i]
			}
		}
		beamFlags = append(beamFlags, [2]string{name, value})
	}
	return own, beamFlags, nil
}

// applyBeamFlags sets Beam's process-wide pipeline flags. Beam reads its options from the
// process flag set, so this is the one place groundcap writes to it.
func applyBeamFlags(beamFlags [][2]string) error {
	for _, kv := range beamFlags {
		if err := flag.CommandLine.Set(kv[0], kv[1]); err != nil {
			return usageError{fmt.Sprintf("beam flag --%s: %v", kv[0], err)}
		}
	}
	return nil
}

// initBeam runs Beam's initialisation hooks once, after the pipeline flags are set and before any
// pipeline is built (in a launching process it does nothing else).
func initBeam() {
	if !beam.Initialized() {
		beam.Init()
	}
}
