//go:build unix

// Package killtest kills a child copy of the test binary with SIGKILL at a chosen moment, for
// tests of what a write killed part-way leaves behind.
package killtest

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables that make the test binary a child: the test to act in and its
// directory.
const (
	envTest = "GROUNDCAP_KILLTEST"
	envDir  = "GROUNDCAP_KILLTEST_DIR"
)

// pollInterval is how often the parent looks for the moment to kill.
const pollInterval = 100 * time.Microsecond

// deadline bounds how long the parent waits for that moment before failing the test.
const deadline = 2 * time.Minute

// While runs body(dir) in a child process (the test binary re-run for the calling test only)
// and kills the child with SIGKILL at a moment when cond() holds. The parent polls cond; when
// it holds, it stops the child (SIGSTOP), checks cond again (the child cannot move on while
// stopped) and kills it, or lets it continue and polls on. body should repeat its write until it
// is killed; it runs in the child, where While never returns. In the parent While returns once
// the child is dead, and the test goes on to inspect dir.
func While(t *testing.T, dir string, body func(dir string), cond func() bool) {
	t.Helper()
	if os.Getenv(envTest) == t.Name() {
		body(os.Getenv(envDir))
		os.Exit(0) // the parent reports that the child was never killed
	}
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envTest+"="+t.Name(), envDir+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := time.Now().Add(deadline)
	for {
		select {
		case err := <-exited:
			t.Fatalf("killtest: the child exited (%v) before it was killed:\n%s", err, out.String())
		default:
		}
		if time.Now().After(stop) {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("killtest: the moment to kill did not come within %s:\n%s", deadline, out.String())
		}
		if cond() {
			_ = cmd.Process.Signal(syscall.SIGSTOP)
			if cond() {
				break
			}
			_ = cmd.Process.Signal(syscall.SIGCONT)
		}
		time.Sleep(pollInterval)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := <-exited
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("killtest: the child ended with %v, want killed by SIGKILL:\n%s", err, out.String())
	}
}

// runPattern is the -test.run pattern that selects exactly the (sub)test name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
