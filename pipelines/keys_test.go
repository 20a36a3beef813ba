package pipelines

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/engine"
)

var update = flag.Bool("update-keys", false, "rewrite the golden files under testdata")

// keyMaterial lists, per stage of a graph, everything of its cache key that the config decides:
// name, version, schema version, canonical parameters and the input references (the inputs'
// digests come from upstream outputs, which the demo's run checks).
func keyMaterial(t *testing.T, e *engine.Engine) string {
	t.Helper()
	var b strings.Builder
	for _, s := range e.Stages() {
		params, err := engine.CanonicalJSON(s.Params)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s version=%s schema=%s\n  params %s\n", s.Name, s.Version, s.SchemaVersion, params)
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "  input %s = %s\n", in.Name, in.Ref)
		}
	}
	return b.String()
}

// TestStageKeysUnchanged pins the key material of every stage of configs/demo.yaml and of
// testdata/variants.yaml (the options the demo leaves at their defaults) to golden files, so a
// change that moves a stage key without meaning to fails here. Regenerate with -update-keys only
// together with a deliberate version bump or parameter change.
func TestStageKeysUnchanged(t *testing.T) {
	for _, tc := range []struct{ config, golden string }{
		{filepath.Join("..", "configs", "demo.yaml"), "demo_keys.golden"},
		{filepath.Join("testdata", "variants.yaml"), "variants_keys.golden"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c, err := config.Load(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Graph(c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got := keyMaterial(t, e)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for i := range max(len(gl), len(wl)) {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
					}
				}
			}
		})
	}
}
