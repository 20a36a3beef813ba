//go:build unix

package trainrun

import (
	"strings"
	"testing"
)

func TestLockExcludesSecondRun(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock(dir); err == nil || !strings.Contains(err.Error(), "locked by another run") {
		t.Fatalf("second lock: got %v, want a locked error", err)
	}
	unlock()
	unlock2, err := lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}
