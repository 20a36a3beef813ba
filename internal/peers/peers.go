// Package peers finds the reference tools that benchmarks measure groundcap against in the same
// run: a Python 3 with NumPy and the peer scripts in scripts/bench. A benchmark whose peer is
// missing skips that part with the message of [SkipReason].
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PythonEnv names the environment variable that picks the Python interpreter.
const PythonEnv = "GROUNDCAP_PYTHON"

// SkipReason says how to get a Python with NumPy.
const SkipReason = "no python3 with NumPy (Debian: apt-get install python3-numpy; or set " + PythonEnv + ")"

// NumpyPython returns a python3 that imports NumPy: $GROUNDCAP_PYTHON, python3 on PATH, or
// Debian's /usr/bin/python3 (python3-numpy); "" when none does.
func NumpyPython() string {
	for _, p := range []string{os.Getenv(PythonEnv), "python3", "/usr/bin/python3"} {
		if p == "" {
			continue
		}
		if exec.Command(p, "-c", "import numpy").Run() == nil {
			return p
		}
	}
	return ""
}

// Script returns the absolute path of scripts/bench/name, found from the working directory up to
// the module root.
func Script(tb testing.TB, name string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "scripts", "bench", name)
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("peers: no go.mod above %s", wd)
		}
	}
}
