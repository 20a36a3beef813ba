//go:build unix

package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/killtest"
)

// TestKillDuringSave kills a process with SIGKILL while Save writes (issue 16, finding 2: a kill
// during scan's checkpoint save left a temporary file that the rerun listed in its manifest).
// Listing the directory, as the stage engine does for a manifest, must show the checkpoint
// (whole) or nothing; the temporary file stays unlisted.
func TestKillDuringSave(t *testing.T) {
	dir := t.TempDir()
	c := sample()
	c.Params = []Tensor{{Name: "w", Shape: []int{1024, 1024}, Data: make([]float32, 1<<20)}}
	c.M, c.V = [][]float32{make([]float32, 1<<20)}, [][]float32{make([]float32, 1<<20)} // 12 MiB in all
	killtest.While(t, dir, func(dir string) {
		for {
			if err := Save(filepath.Join(dir, "last.ckpt"), c); err != nil {
				panic(err)
			}
		}
	}, func() bool {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "last.ckpt" {
				return true
			}
		}
		return false
	})
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, e := range ents {
		if e.Name() != "last.ckpt" {
			left++
			if !atomicfile.IsTemp(e.Name()) {
				t.Errorf("the kill left %s, which atomicfile.IsTemp does not recognise", e.Name())
			}
		}
	}
	if left != 1 {
		t.Errorf("the kill left %d files beside last.ckpt, want 1", left)
	}
	objs, err := blobio.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Name != "last.ckpt" {
			t.Errorf("List shows %s", o.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "last.ckpt")); err == nil {
		if _, err := Load(filepath.Join(dir, "last.ckpt")); err != nil {
			t.Errorf("last.ckpt after the kill: %v", err)
		}
	}
}
