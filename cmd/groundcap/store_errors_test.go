package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnreadableRoot (issue 16, finding 4): with a gs:// root whose credentials do not work,
// 'status' and 'run' exit non-zero with one line that names the location and what to set,
// print nothing on standard output (no credentials warning) and never say "recomputing". The
// key file does not parse, so nothing reaches the network.
func TestUnreadableRoot(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.json")
	if err := os.WriteFile(key, []byte(`{"type":"service_account","client_email":"x@example.iam.gserviceaccount.com","private_key":"not a key","token_uri":"https://oauth2.invalid/token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	root := "gs://groundcap-test-bucket/exp"
	cfg := writeConfig(t, dir, "root: "+root+"\nseed: 3\nsynth:\n  images: 12\n  feat_dim: 32\n  boxes: 10\n  no_images: true\n")
	for _, args := range [][]string{{"status", "--config", cfg}, {"status", "--json", "--config", cfg}, {"run", "--config", cfg}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), subprocessEnv+"=1", "GOOGLE_APPLICATION_CREDENTIALS="+key, "STORAGE_EMULATOR_HOST=", "STORAGE_EMULATOR_HOST_GRPC=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1", args, err)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: standard output %q, want none", args, stdout.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		for _, want := range []string{"groundcap " + args[0] + ": ", root + "/synth/", "GOOGLE_APPLICATION_CREDENTIALS=" + key, "gcloud auth application-default login"} {
			if !strings.Contains(last, want) {
				t.Errorf("%v: last line %q lacks %q", args, last, want)
			}
		}
		if strings.Contains(stderr.String(), "recomputing") {
			t.Errorf("%v: %s", args, stderr.String())
		}
	}
}
