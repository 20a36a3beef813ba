package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs groundcap with args and returns the exit status and combined output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	code := run(context.Background(), args, &globalOptions{Stdout: &buf, Stderr: &buf})
	return code, buf.String()
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "exp.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStageCommandsCacheAndStatus(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "art")
	cfg := writeConfig(t, dir, "root: "+root+"\nseed: 3\nsynth:\n  images: 12\n  feat_dim: 32\n  boxes: 10\n  no_images: true\n")
	code, out := runCLI(t, "synth", "--config", cfg)
	if code != 0 {
		t.Fatalf("synth: %d %s", code, out)
	}
	if !strings.Contains(out, "[synth] running") {
		t.Fatalf("first run did not run the stage:\n%s", out)
	}
	code, out = runCLI(t, "run", "--config", cfg)
	if code != 0 || !strings.Contains(out, "fresh (cached)") {
		t.Fatalf("second run is not a cache hit (%d):\n%s", code, out)
	}
	code, out = runCLI(t, "status", "--config", cfg, "--json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, out)
	}
	var st struct{ Stage, State, Key, Output, Reason string }
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &st); err != nil {
		t.Fatalf("status --json: %v in %q", err, out)
	}
	if st.Stage != "synth" || st.State != "fresh" || len(st.Key) != 64 || !strings.Contains(st.Output, st.Key) {
		t.Fatalf("status = %+v", st)
	}
	// A parameter change makes the stage stale and status says which one, old and new.
	cfg = writeConfig(t, dir, "root: "+root+"\nseed: 3\nsynth:\n  images: 13\n  feat_dim: 32\n  boxes: 10\n  no_images: true\n")
	code, out = runCLI(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "stale") || !strings.Contains(out, "params.images: 12 -> 13") {
		t.Fatalf("status after a change (%d):\n%s", code, out)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "root: "+dir+"\nsynth:\n  imagez: 3\n")
	code, out := runCLI(t, "status", "--config", cfg)
	if code != 1 || !strings.Contains(out, `exp.yaml: line 3: unknown key "imagez" in synth`) {
		t.Fatalf("got %d:\n%s", code, out)
	}
	cfg = writeConfig(t, dir, "root: "+dir+"\nsynthh: {}\n")
	code, out = runCLI(t, "run", "--config", cfg)
	if code != 1 || !strings.Contains(out, `unknown key "synthh"`) {
		t.Fatalf("got %d:\n%s", code, out)
	}
	code, out = runCLI(t, "status", "--config", filepath.Join(dir, "absent.yaml"))
	if code != 1 || !strings.Contains(out, "absent.yaml") {
		t.Fatalf("got %d:\n%s", code, out)
	}
}

func TestHelpAndUsage(t *testing.T) {
	code, out := runCLI(t, "help")
	if code != 0 {
		t.Fatal(out)
	}
	for _, c := range commands(&globalOptions{}) {
		if !strings.Contains(out, c.Name) {
			t.Errorf("help does not list %s", c.Name)
		}
		code, h := runCLI(t, c.Name, "--help")
		if code != 0 || !strings.Contains(h, "Usage: groundcap "+c.Name) {
			t.Errorf("%s --help: %d %q", c.Name, code, h)
		}
	}
	if code, out := runCLI(t, "nosuch"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Errorf("unknown command: %d %s", code, out)
	}
	if code, out := runCLI(t, "synth", "--images", "3"); code != 2 || !strings.Contains(out, "need --out") {
		t.Errorf("synth flags without --out: %d %s", code, out)
	}
	if code, out := runCLI(t, "status", "--bogus"); code != 2 {
		t.Errorf("bad flag: %d %s", code, out)
	}
}

// TestUnexpectedArguments checks that a command without positional arguments fails with a usage
// error naming them before it runs (a stage command would otherwise read the default config),
// and that the scoring commands still receive theirs.
func TestUnexpectedArguments(t *testing.T) {
	for _, c := range commands(&globalOptions{}) {
		if c.Args {
			continue
		}
		code, out := runCLI(t, c.Name, "extra")
		if code != 2 || !strings.Contains(out, `unexpected arguments ["extra"]`) || strings.Count(out, "\n") != 2 {
			t.Errorf("%s extra: %d %q; want a usage error naming the argument", c.Name, code, out)
		}
	}
	if code, out := runCLI(t, "score", "extra"); code != 2 || strings.Contains(out, "unexpected arguments") {
		t.Errorf("score extra: %d %q; want score's own usage error", code, out)
	}
}

func TestSplitBeamFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("config", "", "")
	fs.Bool("force", false, "")
	own, beam, err := splitBeamFlags([]string{"--config", "c.yaml", "--runner=universal", "--endpoint", "localhost:1", "--force", "pos"}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(own, " ") != "--config c.yaml --force pos" {
		t.Errorf("own = %q", own)
	}
	if len(beam) != 2 || beam[0] != [2]string{"runner", "universal"} || beam[1] != [2]string{"endpoint", "localhost:1"} {
		t.Errorf("beam = %q", beam)
	}
	if _, _, err := splitBeamFlags([]string{"--endpoint"}, fs); err == nil {
		t.Error("missing value accepted")
	}
}

func TestSynthCommandDeterministic(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if code, out := runCLI(t, "synth", "--out", filepath.Join(dir, d), "--images", "6", "--feat-dim", "16", "--boxes", "10", "--seed", "9"); code != 0 {
			t.Fatalf("%d %s", code, out)
		}
	}
	for _, name := range []string{"dataset.json", "features/part-00000.tsv", "class_names.txt"} {
		a, err := os.ReadFile(filepath.Join(dir, "a", name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "b", name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between identical runs", name)
		}
	}
}

// TestPlanCommand plans a synth-only experiment before and after it runs; run prints the plan
// before it starts.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "root: "+filepath.Join(dir, "art")+"\nseed: 3\nsynth:\n  images: 12\n  feat_dim: 32\n  boxes: 10\n  no_images: true\n")
	code, out := runCLI(t, "plan", "--config", cfg)
	if code != 0 || !strings.Contains(out, "plan: 1 stage to run (0 fresh), about ") || !strings.Contains(out, "  synth  ") || !strings.Contains(out, "12 images, 10 regions × 32 features; mostly writing features") {
		t.Fatalf("plan before the run (%d):\n%s", code, out)
	}
	code, out = runCLI(t, "run", "--config", cfg)
	if code != 0 || !strings.Contains(out, "plan: 1 stage to run") || strings.Index(out, "plan: ") > strings.Index(out, "[synth] running") {
		t.Fatalf("run does not print the plan first (%d):\n%s", code, out)
	}
	code, out = runCLI(t, "plan", "--config", cfg)
	if code != 0 || !strings.Contains(out, "plan: every stage is fresh (1), nothing to run") {
		t.Fatalf("plan after the run (%d):\n%s", code, out)
	}
	code, out = runCLI(t, "plan", "--config", cfg, "--force", "synth")
	if code != 0 || !strings.Contains(out, "plan: 1 stage to run (0 fresh)") {
		t.Fatalf("plan --force synth (%d):\n%s", code, out)
	}
}
