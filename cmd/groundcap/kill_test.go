package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// subprocessEnv makes the test binary act as the groundcap command (see TestMain), so that a
// test can run it in a child process and kill it.
const subprocessEnv = "GROUNDCAP_TEST_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) == "1" {
		g := &globalOptions{Stdout: os.Stdout, Stderr: os.Stderr}
		os.Exit(run(context.Background(), os.Args[1:], g))
	}
	code := m.Run()
	if binaryPath != "" {
		_ = os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

// TestKillNineThenRerun kills 'groundcap run' with SIGKILL part-way through the chain (wherever
// it happens to be) and checks that a rerun on the same root ends with outputs identical, stage by
// stage, to an uninterrupted run on another root.
func TestKillNineThenRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chain three times")
	}
	dir := t.TempDir()
	cfgText := func(root string) string {
		return "root: " + root + "\nseed: 5\nsynth: {images: 60, feat_dim: 64, boxes: 12, tsv_files: 3, no_images: true}\n" +
			"captions: {dataset: \"@synth/dataset.json\", entities: \"@synth\", class_names: \"@synth/class_names.txt\", split_ids: \"@synth/split_ids.json\", num_shards: 6}\n" +
			"features: {inputs: [\"@synth/features\"], num_shards: 6}\n"
	}
	child := func(cfg string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--config", cfg)
		cmd.Env = append(os.Environ(), subprocessEnv+"=1")
		return cmd
	}
	refCfg := writeNamed(t, dir, "ref.yaml", cfgText(filepath.Join(dir, "ref")))
	if out, err := child(refCfg).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	cfg := writeNamed(t, dir, "killed.yaml", cfgText(filepath.Join(dir, "killed")))
	killed := 0
	for _, delay := range []time.Duration{300 * time.Millisecond, 900 * time.Millisecond} {
		cmd := child(cfg)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil && strings.Contains(err.Error(), "killed") {
			killed++
		}
	}
	if killed == 0 {
		t.Skip("the chain finished before either kill; nothing was interrupted")
	}
	if out, err := child(cfg).CombinedOutput(); err != nil {
		t.Fatalf("rerun after kill -9: %v\n%s", err, out)
	}
	want, got := chainDigests(t, refCfg), chainDigests(t, cfg)
	for stage, d := range want {
		if got[stage] != d {
			t.Errorf("%s: output after kill -9 and rerun differs from the uninterrupted run", stage)
		}
	}
}

func writeNamed(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// chainDigests returns the output digest of every stage of the experiment cfg, by stage, after
// checking with 'status --verify' that every stage is fresh.
func chainDigests(t *testing.T, cfg string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "status", "--config", cfg, "--json", "--verify")
	cmd.Env = append(os.Environ(), subprocessEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var st struct{ Stage, State, Output string }
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("status line %q: %v", line, err)
		}
		if st.State != "fresh" {
			t.Fatalf("%s is %s after the rerun", st.Stage, st.State)
		}
		man, err := os.ReadFile(filepath.Join(strings.TrimPrefix(st.Output, "file://"), "MANIFEST.json"))
		if err != nil {
			t.Fatal(err)
		}
		var mf struct {
			OutputDigest string `json:"output_digest"`
		}
		if err := json.Unmarshal(man, &mf); err != nil {
			t.Fatal(err)
		}
		m[st.Stage] = mf.OutputDigest
	}
	return m
}

// TestKillNineTrainingChain kills 'groundcap run' with SIGKILL over a chain through the
// training, align and evaluate stages: in each trial, once in each of scan, align, caption-xe
// and evaluate-xe, at a random moment up to half a second after the stage starts running. A
// rerun must end with every stage's output identical to an uninterrupted run's. The seed is
// logged (GROUNDCAP_CHAOS_SEED repeats it, GROUNDCAP_CHAOS_TRIALS runs more trials).
func TestKillNineTrainingChain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chain through caption-xe and evaluate-xe several times")
	}
	seed, trials := uint64(time.Now().UnixNano()), 2
	if s := os.Getenv("GROUNDCAP_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	if s := os.Getenv("GROUNDCAP_CHAOS_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		trials = n
	}
	t.Logf("GROUNDCAP_CHAOS_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	child := func(cfg string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--config", cfg)
		cmd.Env = append(os.Environ(), subprocessEnv+"=1")
		return cmd
	}
	refCfg := writeNamed(t, dir, "ref.yaml", processEnvConfig(filepath.Join(dir, "ref")))
	if out, err := child(refCfg).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, tail(string(out), 4000))
	}
	want := chainDigests(t, refCfg)
	killed := 0
	for trial := range trials {
		name := fmt.Sprintf("trial%d", trial)
		cfg := writeNamed(t, dir, name+".yaml", processEnvConfig(filepath.Join(dir, name)))
		var kills []string
		for _, stage := range []string{"scan", "align", "caption-xe", "evaluate-xe"} {
			delay := time.Duration(rng.Int64N(int64(500 * time.Millisecond)))
			if killAfterLine(t, child(cfg), "["+stage+"] running", delay) {
				killed++
				kills = append(kills, fmt.Sprintf("%s+%s", stage, delay.Round(time.Millisecond)))
			}
		}
		if out, err := child(cfg).CombinedOutput(); err != nil {
			t.Fatalf("%s: rerun after kill -9 (%v): %v\n%s", name, kills, err, tail(string(out), 4000))
		}
		got := chainDigests(t, cfg)
		for stage, d := range want {
			if got[stage] != d {
				t.Errorf("%s (killed at %v): %s differs from the uninterrupted run", name, kills, stage)
			}
		}
	}
	t.Logf("%d trials, %d runs killed", trials, killed)
	if killed < trials {
		t.Errorf("%d runs killed in %d trials", killed, trials)
	}
}

// killAfterLine starts cmd and kills it with SIGKILL delay after it prints a line containing
// marker. It reports whether the kill ended the command; a command that exits first (the marker's
// stage was already done) must succeed.
func killAfterLine(t *testing.T, cmd *exec.Cmd, marker string, delay time.Duration) bool {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out bytes.Buffer // written by the reader until scanned is closed
	seen, scanned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		found := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !found && strings.Contains(sc.Text(), marker) {
				found = true
				close(seen)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	select {
	case <-seen:
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		if err != nil && strings.Contains(err.Error(), "killed") {
			return true
		}
		if err != nil {
			<-scanned
			t.Fatalf("the run failed: %v\n%s", err, tail(out.String(), 4000))
		}
		return false
	case err := <-exited:
		if err != nil {
			<-scanned
			t.Fatalf("the run failed before %q: %v\n%s", marker, err, tail(out.String(), 4000))
		}
		return false
	}
}
