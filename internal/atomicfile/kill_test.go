//go:build unix

package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/groundcap/groundcap/internal/killtest"
)

// TestKillDuringWriteFile kills a process with SIGKILL while WriteFile has its temporary file
// open: the target is either absent or whole, and what is left is a file IsTemp recognises.
func TestKillDuringWriteFile(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	killtest.While(t, dir, func(dir string) {
		for {
			if err := WriteBytes(filepath.Join(dir, "f.bin"), data); err != nil {
				panic(err)
			}
		}
	}, func() bool { return len(temps(t, dir)) > 0 })
	if n := len(temps(t, dir)); n != 1 {
		t.Errorf("%d temporary files after the kill, want 1", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f.bin")); err == nil && !bytes.Equal(b, data) {
		t.Errorf("f.bin holds %d bytes after the kill, want none or all %d", len(b), len(data))
	}
}

// temps lists the temporary files in dir.
func temps(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if IsTemp(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
