package scaneval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/artifacts/scanevalresults"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	"github.com/groundcap/groundcap/pipelines/scaneval"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestShortBudgetBeatsRandom trains SCAN and POS-SCAN briefly on a synthetic world and checks
// that both localise annotated words far better than a random region and retrieve far better
// than chance. No ordering between SCAN and POS-SCAN is asserted.
func TestShortBudgetBeatsRandom(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	var log bytes.Buffer
	e := testworld.New(t, root, testworld.Data(150, 64, 12, 4, 2)+`
scan: &m {embed: 64, word_dim: 32, batch_size: 32, epochs: 10, lr: 5.0e-3, seed: 1, checkpoint_every: 0}
scan-plain: *m
scan-eval: {}
`, &log)
	ms, err := e.Make(ctx, scanevalresults.Name, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	out := filepath.Join(root, scanevalresults.Name, ms[scanevalresults.Name].Key)
	b, err := os.ReadFile(filepath.Join(out, scanevalresults.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var met scanevalresults.Metrics
	if err := json.Unmarshal(b, &met); err != nil {
		t.Fatal(err)
	}
	// Thresholds: with 12 regions per image a random region hits about 20% of the annotated
	// words (measured: 16.5% val, 18.7% test); trained for 10 short epochs the models reached
	// 34–48% (measured with this seed) — the test asks for 10 points above random on the mean of
	// the two splits. Retrieval chance for R@1 is 100/15 images = 6.7%; the models reached
	// 85–100% — the test asks for 3× chance.
	if len(met.Models) != 2 || met.Models[0].Stage != string(models.SCAN) || met.Models[0].POS || met.Models[1].Stage != string(models.POSSCAN) || !met.Models[1].POS {
		t.Fatalf("models %+v", met.Models)
	}
	if met.RetrievalSize != [2]int{15, 75} {
		t.Errorf("retrieval on %v images/captions, want 15 test images with 75 captions", met.RetrievalSize)
	}
	var random float64
	for _, s := range []string{"val", "test"} {
		if met.Splits[s].Words == 0 || met.Random[s] <= 0 || met.Random[s] >= 50 {
			t.Errorf("split %s: %+v, random %.2f%%", s, met.Splits[s], met.Random[s])
		}
		random += met.Random[s] / 2
	}
	chance := 100.0 / 15
	for _, m := range met.Models {
		acc := (m.Accuracy["val"] + m.Accuracy["test"]) / 2
		if acc < random+10 {
			t.Errorf("%s: attention accuracy %.2f%% (val %.2f, test %.2f), random region %.2f%%: want 10 points more", m.Stage, acc, m.Accuracy["val"], m.Accuracy["test"], random)
		}
		if m.Retrieval.I2T.R1 < 3*chance || m.Retrieval.T2I.R1 < 3*chance {
			t.Errorf("%s: R@1 i2t %.1f%%, t2i %.1f%%: want ≥ 3× chance (%.1f%%)", m.Stage, m.Retrieval.I2T.R1, m.Retrieval.T2I.R1, chance)
		}
	}
	table, err := os.ReadFile(filepath.Join(out, scanevalresults.TableFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| random region |", "| SCAN (scan-plain) |", "| POS-SCAN (scan) |"} {
		if !strings.Contains(string(table), want) {
			t.Errorf("table.md lacks %q:\n%s", want, table)
		}
	}
}

func TestParams(t *testing.T) {
	for i, set := range []func(*scaneval.Params){
		func(p *scaneval.Params) { p.Models = []models.Teacher{"scan", "scan"} }, // 0: twice
		func(p *scaneval.Params) { p.Models = []models.Teacher{"clip"} },         // 1: unknown
		func(p *scaneval.Params) { p.CaptionsPerImage = -1 },                     // 2
		func(p *scaneval.Params) { p.BLAS = "mkl" },                              // 3
		func(p *scaneval.Params) { p.CaptionsPerImage = 0 },                      // 4: zero is no default
		func(p *scaneval.Params) { p.Device = "gpu" },                            // 5
	} {
		p := scaneval.DefaultParams()
		set(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%d: %+v accepted", i, p)
		}
	}
	st, err := scaneval.Stage(scaneval.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, in := range st.Inputs {
		refs = append(refs, in.Ref)
	}
	if got := strings.Join(refs, " "); got != "@captions/captions @captions/grounding_refs @features @scan-plain/model.ckpt @scan/model.ckpt" {
		t.Errorf("inputs %s", got)
	}
}

// TestGVDReference scores the matching models against a reference file in GVD's format (one box
// per word, built from the synthetic world's Entities) holding the val and test images but the
// first test image: the metrics must be what eval/grounding's attention accuracy (`groundcap
// score-grounding --attention --refs`) gives the stage's submission files against that file, and
// per_image.json must reproduce them.
func TestGVDReference(t *testing.T) {
	const tol = 1e-9 // percent of the same computation
	ctx := context.Background()
	root := t.TempDir()
	ms := testworld.Make(t, root, testworld.Small)
	rows, err := captionstable.ReadCaptions(ctx, filepath.Join(testworld.Dir(root, ms["captions"]), captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]int64{"val": captionstable.SplitIDs(rows, "val"), "test": captionstable.SplitIDs(rows, "test")[1:]}
	path := filepath.Join(t.TempDir(), "flickr30k_cleaned_class.json")
	testworld.GVDReference(t, testworld.Dir(root, ms["synth"]), path, append(append([]int64{}, ids["val"]...), ids["test"]...))
	var log bytes.Buffer
	e := testworld.New(t, root, testworld.Small+"scan-eval: {grounding_reference: "+path+"}\n", &log)
	ms, err = e.Make(ctx, scanevalresults.Name, engine.MakeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	files := testworld.ReadFiles(t, root, ms[scanevalresults.Name], scanevalresults.MetricsFile, scanevalresults.PerImageFile)
	var met scanevalresults.Metrics
	var per scanevalresults.PerImage
	if err := json.Unmarshal(files[scanevalresults.MetricsFile], &met); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(files[scanevalresults.PerImageFile], &per); err != nil {
		t.Fatal(err)
	}
	if met.Reference != path || len(met.Models) != 2 {
		t.Fatalf("metrics reference %q, %d models", met.Reference, len(met.Models))
	}
	for split, want := range ids {
		refs, err := grounding.ReadReferences(path, want)
		if err != nil {
			t.Fatal(err)
		}
		if met.Splits[split].Images != len(want) || len(per.Splits[split].ImageIDs) != len(want) {
			t.Errorf("%s: %+v, per-image ids %v, want the file's %d images", split, met.Splits[split], per.Splits[split].ImageIDs, len(want))
		}
		for _, m := range met.Models {
			sub, err := grounding.ReadSubmission(filepath.Join(testworld.Dir(root, ms[scanevalresults.Name]), m.Submission[split]), grounding.GroundTruthCaptions)
			if err != nil {
				t.Fatal(err)
			}
			res, err := grounding.AttentionAccuracy(refs, sub)
			if err != nil {
				t.Fatal(err)
			}
			st := grounding.AccuracyStatistic(per.Splits[split].Models[m.Stage])
			w := make([]float64, st.Units())
			for i := range w {
				w[i] = 1
			}
			if got := m.Accuracy[split]; math.Abs(got-100*res.Accuracy) > tol || math.Abs(got-100*st.Value(w)) > tol {
				t.Errorf("%s on %s: accuracy %.6f%%, the submission scored against the file %.6f%%, per_image.json %.6f%%", m.Stage, split, got, 100*res.Accuracy, 100*st.Value(w))
			}
		}
	}
}
