//go:build unix

package captionxe_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/pipelines/captionxe"
)

func TestLockWorkExcludesSecondRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k.work")
	unlock, err := captionxe.LockWork(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := captionxe.LockWork(dir); err == nil || !strings.Contains(err.Error(), "locked by another run") {
		t.Fatalf("second lock: got %v, want a locked error", err)
	}
	unlock()
	unlock2, err := captionxe.LockWork(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}
