package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/container/tools"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
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

// isBeamBoot reports whether a runner started this binary as the command of a PROCESS environment:
// with --provision_endpoint and no --worker, as prism's job server and a Flink task manager do
// (the contract of Beam's container boot program).
func isBeamBoot(args []string) bool {
	if isBeamWorker(args) {
		return false
	}
	for _, a := range args {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "provision_endpoint") {
			return true
		}
	}
	return false
}

// runBeamBoot does what Beam's Go container boot program does before it starts the worker, then
// runs the worker harness in this process, since this binary is the worker: it asks the provision
// service for the logging and control endpoints and the pipeline options, and hands them to the
// harness as the --worker flags would. The staged worker binary is not fetched (it is this one).
func runBeamBoot(ctx context.Context, args []string, g *globalOptions) int {
	fs := flag.NewFlagSet("groundcap worker", flag.ContinueOnError)
	fs.SetOutput(g.Stderr)
	id := fs.String("id", "", "worker id")
	provision := fs.String("provision_endpoint", "", "provision service endpoint")
	logging := fs.String("logging_endpoint", "", "logging service endpoint")
	control := fs.String("control_endpoint", "", "control service endpoint")
	fs.String("artifact_endpoint", "", "artifact service endpoint (unused: this binary is the worker)")
	semiPersist := fs.String("semi_persist_dir", "/tmp", "semi-persistent directory")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(g.Stderr, "groundcap worker: %v\n", err)
		return 2
	}
	// prism quotes the id as for a shell ("--id='…'") but starts the command without one.
	wid := strings.Trim(*id, `'"`)
	if wid == "" {
		fmt.Fprintln(g.Stderr, "groundcap worker: no --id")
		return 2
	}
	info, err := tools.ProvisionInfo(grpcx.WriteWorkerID(ctx, wid), *provision)
	if err != nil {
		fmt.Fprintf(g.Stderr, "groundcap worker: provision info from %s: %v\n", *provision, err)
		return 1
	}
	if u := info.GetLoggingEndpoint().GetUrl(); u != "" {
		*logging = u
	}
	if u := info.GetControlEndpoint().GetUrl(); u != "" {
		*control = u
	}
	if *logging == "" || *control == "" {
		fmt.Fprintln(g.Stderr, "groundcap worker: the provision service gave no logging or control endpoint")
		return 1
	}
	options, err := tools.ProtoToJSON(info.GetPipelineOptions())
	if err != nil {
		fmt.Fprintf(g.Stderr, "groundcap worker: pipeline options: %v\n", err)
		return 1
	}
	if u := info.GetStatusEndpoint().GetUrl(); u != "" {
		os.Setenv("STATUS_ENDPOINT", u)
	}
	if caps := info.GetRunnerCapabilities(); len(caps) > 0 {
		os.Setenv("RUNNER_CAPABILITIES", strings.Join(caps, " "))
	}
	for _, kv := range [][2]string{{"worker", "true"}, {"id", wid}, {"logging_endpoint", *logging},
		{"control_endpoint", *control}, {"semi_persist_dir", *semiPersist}, {"options", options}} {
		if err := flag.CommandLine.Set(kv[0], kv[1]); err != nil {
			fmt.Fprintf(g.Stderr, "groundcap worker: --%s: %v\n", kv[0], err)
			return 2
		}
	}
	beam.Init()
	return 0
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
