// Package testworld builds the small synthetic worlds that the stage tests run on through the
// real stage graph: a test writes the sections of an experiment as YAML (Data gives the synth,
// captions and features sections of a world) and gets the engine of its graph, so that every
// stage is configured, defaulted and validated as in a real run.
package testworld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/eval/grounding"
	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/internal/tensorboard"
	"github.com/groundcap/groundcap/pipelines"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/captioning"
	"github.com/groundcap/groundcap/pipelines/trainrun"
	tscan "github.com/groundcap/groundcap/training/scan"
	"github.com/groundcap/groundcap/training/updown"
)

// Data returns the synth, captions and features sections of a world: images images (train 80%,
// val 10%, test 10%) of boxes regions of featDim values from seed, in shards shards, with every
// train word in the vocabulary (word_count_threshold 1) and no rendered images.
func Data(images, featDim, boxes int, seed int64, shards int) string {
	return fmt.Sprintf(`synth: {images: %d, feat_dim: %d, boxes: %d, seed: %d, tsv_files: 2, no_images: true}
captions:
  dataset: "@synth/dataset.json"
  entities: "@synth"
  class_names: "@synth/class_names.txt"
  split_ids: "@synth/split_ids.json"
  num_shards: %d
  word_count_threshold: 1
features: {inputs: ["@synth/features"], num_shards: %d}
`, images, featDim, boxes, seed, shards, shards)
}

// Tiny are the sections of tiny matching models (POS-SCAN and plain SCAN, one epoch) and of the
// POS-SCAN alignments, trained in seconds on a Data world.
const Tiny = `scan: &tiny {embed: 24, word_dim: 16, batch_size: 16, epochs: 1, lr: 2.0e-3, seed: 2, eval_images: 3}
scan-plain: *tiny
align: {batch_images: 4}
`

// Small is the world of the captioner tests: 30 images, D 32, 10 regions, seed 5, 2 shards,
// with the Tiny matching models and alignments.
var Small = Data(30, 32, 10, 5, 2) + Tiny

// SmallShards is the number of shards of Small.
const SmallShards = 2

// Stages builds the stages of an experiment's sections (text, without root) over root.
func Stages(t testing.TB, root, text string) []*engine.Stage {
	t.Helper()
	c, err := config.Parse("testworld.yaml", []byte("root: "+root+"\n"+text))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := pipelines.Stages(c)
	if err != nil {
		t.Fatal(err)
	}
	return stages
}

// New builds the engine of an experiment's sections over root, with extra stages (built by the
// test itself) appended; log receives the engine's lines (nil: discarded).
func New(t testing.TB, root, text string, log io.Writer, extra ...*engine.Stage) *engine.Engine {
	t.Helper()
	e, err := engine.New(root, append(Stages(t, root, text), extra...), engine.Options{ModuleVersion: "test", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Make brings every stage of an experiment's sections up to date under root and returns the
// manifests.
func Make(t testing.TB, root, text string) map[string]*engine.Manifest {
	t.Helper()
	ms, err := New(t, root, text, nil).Make(context.Background(), "", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Dir is the local directory of a stage output under a file root.
func Dir(root string, m *engine.Manifest) string { return filepath.Join(root, m.Stage, m.Key) }

// ReadFiles reads the named files of a stage output under a file root, by name.
func ReadFiles(t testing.TB, root string, m *engine.Manifest, names ...string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, f := range names {
		b, err := os.ReadFile(filepath.Join(Dir(root, m), f))
		if err != nil {
			t.Fatal(err)
		}
		got[f] = b
	}
	return got
}

// Remake runs stage of e again (forced) and reads the named files of its output under root.
func Remake(t testing.TB, ctx context.Context, e *engine.Engine, root, stage string, names ...string) map[string][]byte {
	t.Helper()
	ms, err := e.Make(ctx, stage, engine.MakeOptions{Force: []string{stage}})
	if err != nil {
		t.Fatal(err)
	}
	return ReadFiles(t, root, ms[stage], names...)
}

// SameFiles fails t for every file of want whose bytes got does not hold; what names the two
// runs ("the resumed and the uninterrupted run").
func SameFiles(t testing.TB, want, got map[string][]byte, what string) {
	t.Helper()
	for _, f := range slices.Sorted(maps.Keys(want)) {
		if !bytes.Equal(want[f], got[f]) {
			t.Errorf("%s differs between %s", f, what)
		}
	}
}

// CaptionerData makes a Data world's stages under root and opens their outputs as a captioner
// stage reads them (close the result).
func CaptionerData(t testing.TB, root, data string) *captioning.Inputs {
	t.Helper()
	return CaptionerInputs(t, root, Make(t, root, data), 4096)
}

// CaptionerInputs opens the captions and features outputs among made stages' manifests as a
// captioner stage reads them, with a feature cache of cache records (close the result).
func CaptionerInputs(t testing.TB, root string, ms map[string]*engine.Manifest, cache int) *captioning.Inputs {
	t.Helper()
	capDir := Dir(root, ms["captions"])
	in, err := captioning.OpenInputs(context.Background(), filepath.Join(capDir, captionstable.CaptionsTable), filepath.Join(capDir, captionstable.VocabFile),
		Dir(root, ms["features"]), cache)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// MatcherConfig is a POS-SCAN model of the given sizes and widths (seed 1).
func MatcherConfig(vocab, dim, embed, wordDim int) tscan.Config {
	c := tscan.DefaultConfig()
	c.Vocab, c.ImgDim, c.Embed, c.WordDim, c.Seed = vocab, dim, embed, wordDim, 1
	return c
}

// CaptionerConfig is an Up-Down model of the given sizes, n wide (seed 1).
func CaptionerConfig(vocab, dim, n int) updown.Config {
	a := updown.DefaultArch()
	a.InputEncoding, a.RNNSize, a.AttHid = n, n, n
	return updown.Config{VocabSize: vocab, FeatDim: dim, Arch: a, Seed: 1}
}

// GVDReference writes, at path, a reference file in the layout of GVD's
// flickr30k_cleaned_class.json for the images ids of a synth output (synthDir): per caption its
// tokens and, per annotated object word (eval/grounding.ReadEntities with the world's class
// list), its class, index and one box, the first of its chain, as GVD's file has one box per
// word. It returns the references as written.
func GVDReference(t testing.TB, synthDir, path string, ids []int64) *grounding.References {
	t.Helper()
	classes, err := grounding.ReadClassList(filepath.Join(synthDir, "class_names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := grounding.ReadEntities(synthDir, classes, ids, grounding.EntitiesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type capJSON struct {
		Tokens []string        `json:"tokens"`
		Clss   []string        `json:"process_clss"`
		Idx    []int           `json:"process_idx"`
		Boxes  []grounding.Box `json:"process_bnd_box"`
	}
	type annJSON struct {
		ImageID  int64     `json:"image_id"`
		Captions []capJSON `json:"captions"`
	}
	var anns []annJSON
	for i := range refs.Images {
		img := &refs.Images[i]
		a := annJSON{ImageID: img.ImageID}
		for c := range img.Captions {
			cap := &img.Captions[c]
			cj := capJSON{Tokens: cap.Tokens, Clss: []string{}, Idx: []int{}, Boxes: []grounding.Box{}}
			for k := range cap.Words {
				w := &cap.Words[k]
				w.Boxes = w.Boxes[:1]
				cj.Clss, cj.Idx, cj.Boxes = append(cj.Clss, w.Class), append(cj.Idx, w.Index), append(cj.Boxes, w.Boxes[0])
			}
			a.Captions = append(a.Captions, cj)
		}
		anns = append(anns, a)
	}
	b, err := json.Marshal(map[string]any{"annotations": anns, "vocab": classes})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return refs
}

// ErrInjected is the failure FailAfter injects.
var ErrInjected = errors.New("testworld: injected failure")

// FailAfter returns ctx carrying a trainrun observer that stops the named stage's training with
// ErrInjected once it has done step n, as a kill would stop it: the work directory keeps what the
// trainer wrote up to then, for the rerun to resume from.
func FailAfter(ctx context.Context, stage string, n int64) context.Context {
	return trainrun.Observe(ctx, trainrun.Observer{Step: func(t *trainrun.Run, s trainrun.Step) error {
		if t.Stage.Name == stage && s.Step == n {
			return fmt.Errorf("%w: %s after step %d", ErrInjected, stage, n)
		}
		return nil
	}})
}

// Board reads the TensorBoard log a training stage published (trainrun.BoardFile) and returns its
// values by tag and step.
func Board(t testing.TB, root string, m *engine.Manifest) map[string]map[int64]tensorboard.Value {
	t.Helper()
	evs, err := tensorboard.ReadEvents(filepath.Join(Dir(root, m), filepath.FromSlash(trainrun.BoardFile)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int64]tensorboard.Value{}
	for _, ev := range evs {
		for _, v := range ev.Values {
			if out[v.Tag] == nil {
				out[v.Tag] = map[int64]tensorboard.Value{}
			}
			out[v.Tag][ev.Step] = v
		}
	}
	return out
}
