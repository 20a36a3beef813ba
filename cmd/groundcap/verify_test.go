package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/treetest"
)

// TestVerifyRecomputesDamagedOutputs flips one byte in a cached output of each kind (a Beam
// stage's Parquet shard, a scan checkpoint, a caption-xe checkpoint). 'run --verify' must
// recompute each damaged stage from its inputs, keeping none of the damaged files, and end with
// every output equal to the undamaged run's; the stages downstream of them then run from the
// recomputed outputs without --force.
func TestVerifyRecomputesDamagedOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chain through caption-xe and evaluate-xe")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "art")
	cfg := writeNamed(t, dir, "exp.yaml", processEnvConfig(root))
	if code, out := runCLI(t, "run", "--config", cfg); code != 0 {
		t.Fatalf("first run (%d):\n%s", code, tail(out, 4000))
	}
	skip := func(rel string) bool {
		return strings.HasPrefix(rel, ".cache/") || strings.Contains(rel, ".work") || strings.HasSuffix(rel, ".lock")
	}
	want := treetest.Read(t, root, skip)

	// One file of each kind, found by stage and name in the undamaged tree.
	var damaged []string
	for _, target := range []struct{ stage, part, suffix string }{
		{"captions", "/captions/part-", ".parquet"}, {"scan", "/", "/last.ckpt"}, {"caption-xe", "/", "/best.ckpt"},
	} {
		var names []string
		for rel := range want {
			if strings.HasPrefix(rel, target.stage+"/") && strings.Contains(rel, target.part) && strings.HasSuffix(rel, target.suffix) {
				names = append(names, rel)
			}
		}
		if len(names) == 0 {
			t.Fatalf("no %s output ending in %s", target.stage, target.suffix)
		}
		sort.Strings(names)
		rel := names[len(names)-1]
		b := append([]byte{}, want[rel]...)
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(filepath.Join(root, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
		damaged = append(damaged, rel)
	}
	code, out := runCLI(t, "run", "--config", cfg, "--verify")
	if code != 0 {
		t.Fatalf("run --verify after damaging %v (%d):\n%s", damaged, code, tail(out, 4000))
	}
	for _, stage := range []string{"captions", "scan", "caption-xe"} {
		if !strings.Contains(out, "["+stage+"] cached output unusable") {
			t.Errorf("run --verify did not recompute %s:\n%s", stage, tail(out, 4000))
		}
	}
	treetest.Equal(t, want, treetest.Read(t, root, skip))

	// The stages that read the recomputed outputs run from them (their cached outputs removed
	// first), without --force, and reproduce their outputs too.
	for _, stage := range []string{"features", "align", "evaluate-xe"} {
		if err := os.RemoveAll(filepath.Join(root, stage)); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := runCLI(t, "run", "--config", cfg, "--verify"); code != 0 {
		t.Fatalf("downstream rerun (%d):\n%s", code, tail(out, 4000))
	}
	treetest.Equal(t, want, treetest.Read(t, root, skip))
}
