package pipelines

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
)

// TestDemoConfigBuildsEveryStage checks that configs/demo.yaml names every registered stage and
// that each builds, so `make demo` runs the whole chain.
func TestDemoConfigBuildsEveryStage(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.Root = t.TempDir()
	e, err := Graph(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, s := range e.Stages() {
		built[s.Name] = true
	}
	for _, name := range Names() {
		if !built[name] {
			t.Errorf("stage %s is not part of the demo", name)
		}
	}
}

// TestSectionsSwitchStagesAndSeed checks that a stage without a section is off and that the
// experiment seed reaches a stage whose section leaves it 0.
func TestSectionsSwitchStagesAndSeed(t *testing.T) {
	c, err := config.Parse("x.yaml", []byte("root: "+t.TempDir()+"\nseed: 42\nsynth: {images: 5, feat_dim: 16, boxes: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Graph(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Stages()); n != 1 || e.Stage("synth") == nil {
		t.Fatalf("%d stages built, want synth alone", n)
	}
	if p := e.Stage("synth").Params; !strings.Contains(strings.ReplaceAll(fmtParams(p), " ", ""), "Seed:42") {
		t.Errorf("synth params %s do not carry the experiment seed", fmtParams(p))
	}
	c, _ = config.Parse("x.yaml", []byte("root: r\nsynth: {imagez: 5}\n"))
	if _, err := Graph(c, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown key "imagez"`) {
		t.Errorf("unknown key: %v", err)
	}
}

func fmtParams(p any) string { return strings.TrimSpace(fmt.Sprintf("%+v", p)) }
