package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
	digests := func(cfg string) map[string]string {
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
	want, got := digests(refCfg), digests(cfg)
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
