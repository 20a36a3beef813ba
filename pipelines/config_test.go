package pipelines

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
)

// head is the start of the configs below: the captions stage in 2 shards.
const head = `root: /nonexistent/groundcap-config-test
seed: 1
captions:
  dataset: "@synth/dataset.json"
  num_shards: 2
`

// features2 is a features section that agrees with head.
const features2 = "features: {inputs: [\"@synth/features\"], num_shards: 2}\n"

// lineOf returns the 1-based line of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in\n%s", s, text)
	return 0
}

// TestIssue16ConfigErrorsNameKeyAndLine checks issue 16's config findings: every range and type
// check names the file, the line and the key path, the value and what is allowed; zero is an
// error where zero is invalid instead of becoming the default.
func TestIssue16ConfigErrorsNameKeyAndLine(t *testing.T) {
	for i, c := range []struct {
		section string // appended to head and features2
		at      string // the text on the line the error names
		want    string // the error after "line N: "
	}{
		// 0: a range check of the trainer's config, by key and line
		{"scan: {epochs: -1}\n", "scan:", "scan.epochs: -1 (want ≥ 1)"},
		// 1: the same in a captioner, the key on its own line
		{"caption-xe:\n  rnn_size: 16\n  epochs: -1\n", "epochs: -1", "caption-xe.epochs: -1 (want ≥ 1)"},
		// 2: zero is not the default
		{"scan: {batch_size: 0}\n", "scan:", "scan.batch_size: 0 (want ≥ 2"},
		// 3
		{"caption-scst: {batch_images: 0}\n", "caption-scst:", "caption-scst.batch_images: 0 (want ≥ 1)"},
		// 4: a wrong type names the key
		{"scan:\n  epochs: ten\n", "epochs: ten", `scan.epochs: "ten" (a string), want a whole number`},
		// 5: a fraction is not truncated into a whole number
		{"caption-xe: {lr: 1e-3, epochs: 1.5}\n", "caption-xe:", "caption-xe.epochs: 1.5 (a fraction), want a whole number"},
		// 6
		{"scan: {seed: -2}\n", "scan:", "scan.seed: -2 (a whole number), want a whole number ≥ 0"},
		// 7: an enumeration parses itself
		{"scan: {blas: mkl}\n", "scan:", `scan.blas: "mkl": blas: unknown backend "mkl" (want simd, go, openblas, cuda or auto)`},
		// 8
		{"align:\n  teacher: clip\n", "teacher: clip", `align.teacher: "clip": models: unknown teacher "clip" (want scan, scan-plain, gt or none)`},
		// 8b: gt is a teacher of the captioners only
		{"align:\n  teacher: gt\n", "teacher: gt", `align.teacher: "gt" (want scan or scan-plain)`},
		// 9: a nested key path
		{"report:\n  rows:\n    - {label: a}\n", "- {label: a}", `report.rows[0].metrics: "" (not set, the default; want an evaluate stage's metrics.json)`},
		// 10
		{"evaluate-xe: {beam_size: 0}\n", "evaluate-xe:", "evaluate-xe.beam_size: 0 (want ≥ 1)"},
		// 11: a negative λ
		{"caption-xe-scan:\n  kl_weight: -0.5\n", "kl_weight: -0.5", "caption-xe-scan.kl_weight: -0.5 (want ≥ 0)"},
		// 12: a λ without a teacher
		{"caption-xe:\n  kl_weight: 0.5\n", "kl_weight: 0.5", "caption-xe.kl_weight: 0.5 (want 0 with teacher none"},
		// 13: keys of structs the params share, inline: the retrieval evaluation (scan, scan-eval)
		{"scan-eval:\n  eval_images: 4\n  captions_per_image: 0\n", "captions_per_image: 0", "scan-eval.captions_per_image: 0 (want ≥ 1)"},
		// 14: and the training run (caption-xe, caption-scst)
		{"caption-scst: {checkpoint_every: -1}\n", "caption-scst:", "caption-scst.checkpoint_every: -1 (want ≥ 0; 0: at epoch ends only)"},
	} {
		text := head + features2 + c.section
		cfg, err := config.Parse("x.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		_, err = Stages(cfg)
		want := fmt.Sprintf("config: x.yaml: line %d: %s", lineOf(t, text, c.at), c.want)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%d: got %v\nwant %s", i, err, want)
		}
	}
	for i, section := range []string{"synth: {images: 0}\n", "features: {inputs: [a], num_shards: 2, encoding: parquet}\n"} {
		text := head + section
		cfg, err := config.Parse("x.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Stages(cfg); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d: ", lineOf(t, text, section[:6]))) {
			t.Errorf("section %d: %v", i, err)
		}
	}
}

// TestIssue16ShardCountsCheckedAtLoad checks that features.num_shards must equal
// captions.num_shards when the config is loaded, with or without features.captions, naming the
// key and line (or, for the default, the section's line).
func TestIssue16ShardCountsCheckedAtLoad(t *testing.T) {
	for i, c := range []struct {
		features string
		at       string
		want     string
	}{
		{"features:\n  inputs: [\"@synth/features\"]\n  num_shards: 3\n", "num_shards: 3", "features.num_shards: 3 (want 2, captions.num_shards"},
		{"features:\n  inputs: [\"@synth/features\"]\n  num_shards: 3\n  captions: \"@captions/captions\"\n", "num_shards: 3", "features.num_shards: 3 (want 2"},
		{"features:\n  inputs: [\"@synth/features\"]\n", "features:", "features.num_shards: 4 (not set, the default; want 2"},
	} {
		text := head + c.features
		cfg, err := config.Parse("x.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Stages(cfg)
		want := fmt.Sprintf("line %d: %s", lineOf(t, text, c.at), c.want)
		var le *config.LocatedError
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &le) {
			t.Errorf("%d: got %v, want %q\n%s", i, err, want, text)
		}
	}
	cfg, err := config.Parse("x.yaml", []byte(head+features2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Stages(cfg); err != nil {
		t.Errorf("equal shard counts: %v", err)
	}
}
