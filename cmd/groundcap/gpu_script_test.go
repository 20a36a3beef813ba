package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGPUScriptEmulate runs the prepared device check, scripts/gpu/check.sh, in its --emulate
// mode with this test binary as groundcap: every step runs, writes its file and passes.
func TestGPUScriptEmulate(t *testing.T) {
	for _, tool := range []string{"bash", "cc", "timeout", "tee"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "groundcap")
	wrapper := "#!/bin/sh\n" + subprocessEnv + "=1 exec " + os.Args[0] + " \"$@\"\n"
	if err := os.WriteFile(bin, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "gpu", "check.sh"), "--emulate")
	cmd.Env = append(os.Environ(), "BIN="+bin, "OUT="+out, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check.sh --emulate: %v\n%s", err, log)
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kernels-emulated: ok in ", "bench: ok in ", "torch: "} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	bench, err := os.ReadFile(filepath.Join(out, "bench.txt"))
	if err != nil || !strings.Contains(string(bench), "loss curve, 10 POS-SCAN steps") || !strings.Contains(string(bench), "align 100 captions") {
		t.Errorf("bench.txt: %v\n%s", err, bench)
	}
}

// TestTorchScriptCompiles byte-compiles scripts/gpu/scan_torch.py (the PyTorch step of the
// device check; torch itself is on the GPU machine only).
func TestTorchScriptCompiles(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(py, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", filepath.Join("..", "..", "scripts", "gpu", "scan_torch.py"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
