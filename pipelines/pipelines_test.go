package pipelines

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/evaluate"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scaneval"
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
	if p := e.Stage("synth").Params; p.(map[string]any)["seed"] != int64(42) {
		t.Errorf("synth params %s do not carry the experiment seed", fmtParams(p))
	}
	c, _ = config.Parse("x.yaml", []byte("root: r\nsynth: {imagez: 5}\n"))
	if _, err := Graph(c, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown key "imagez"`) {
		t.Errorf("unknown key: %v", err)
	}
}

func fmtParams(p any) string { return strings.TrimSpace(fmt.Sprintf("%+v", p)) }

// TestRealDataConfigs loads configs/flickr30k.yaml and configs/coco.yaml, builds every stage
// (each section validates), checks the paper's settings they must carry, and that the engine
// names the missing caption file with its location on a machine without the data.
func TestRealDataConfigs(t *testing.T) {
	for _, tc := range []struct {
		file          string
		grounding     bool
		klWeight      float64
		beam          int
		missingPrefix string
	}{
		{"flickr30k.yaml", true, 0.1, 1, "data/flickr30k/dataset_flickr30k.json"},
		{"coco.yaml", false, 1, 3, "data/coco/dataset_coco.json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := config.Load(filepath.Join("..", "configs", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c.Root = t.TempDir()
			e, err := Graph(c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if e.Stage("synth") != nil {
				t.Error("a real-data config builds the synth stage")
			}
			for _, name := range []string{"captions", "features", "scan", "scan-plain", "align", "align-plain", "caption-xe-posscan", "caption-scst-posscan", "evaluate-scst-posscan", "report"} {
				if e.Stage(name) == nil {
					t.Errorf("stage %s is not built", name)
				}
			}
			if (e.Stage("scan-eval") != nil) != tc.grounding {
				t.Errorf("scan-eval built: %v, want %v (grounding references)", e.Stage("scan-eval") != nil, tc.grounding)
			}
			xeKL, _ := e.Stage("caption-xe-posscan").Params.(map[string]any)["kl_weight"].(float64) // λ as resolved into the key
			ev := e.Stage("evaluate-scst-posscan").Settings.(evaluate.Params)
			sc := e.Stage("scan").Settings.(scan.Params)
			if ev.GVDReference() != tc.grounding {
				t.Errorf("evaluate's grounding_reference %q: want GVD's file exactly when grounding is on (%v)", ev.GroundingReference, tc.grounding)
			}
			if se := e.Stage("scan-eval"); se != nil && se.Settings.(scaneval.Params).GroundingReference != ev.GroundingReference {
				t.Errorf("scan-eval's grounding_reference %q, evaluate's %q", se.Settings.(scaneval.Params).GroundingReference, ev.GroundingReference)
			}
			if xeKL != tc.klWeight || ev.BeamSize != tc.beam || ev.Grounding() != tc.grounding || sc.Text != models.TextOriginal {
				t.Errorf("kl_weight %g beam %d grounding %v text %s; want %g, %d, %v, %s",
					xeKL, ev.BeamSize, ev.Grounding(), sc.Text, tc.klWeight, tc.beam, tc.grounding, models.TextOriginal)
			}
			sts, err := e.Status(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range sts {
				if st.Stage != "captions" {
					continue
				}
				if st.State != "missing" || !strings.Contains(st.Reason, "dataset = ") || !strings.Contains(st.Reason, tc.missingPrefix) {
					t.Errorf("captions status %s: %s; want missing, naming %s", st.State, st.Reason, tc.missingPrefix)
				}
			}
		})
	}
}

// TestMakefileHasEveryStage checks that the Makefile's STAGES list (one make target per stage)
// names every registered stage, in order.
func TestMakefileHasEveryStage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var got []string
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "STAGES := "); ok {
			got = strings.Fields(rest)
		}
	}
	if want := Names(); !slices.Equal(got, want) {
		t.Errorf("Makefile STAGES = %v\nwant the registered stages %v", got, want)
	}
}
