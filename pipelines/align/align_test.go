package align_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/artifacts/alignments"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/internal/testworld"
	tscan "github.com/groundcap/groundcap/training/scan"
)

func TestMain(m *testing.M) { ptest.Main(m) }

const numShards = 3

// world builds the synthetic world, a tiny POS-SCAN and the align stage in an engine.
func world(t *testing.T, root string) *engine.Engine { return worldOn(t, root, "cpu") }

// worldOn is world with the align stage's device setting.
func worldOn(t *testing.T, root, device string) *engine.Engine {
	t.Helper()
	return testworld.New(t, root, testworld.Data(30, 32, 10, 9, numShards)+`
scan: {embed: 24, word_dim: 16, batch_size: 16, epochs: 1, lr: 2.0e-3, seed: 2, eval_images: 3}
align: {batch_images: 4, device: `+device+`}
`, nil)
}

func dirOf(root string, m *engine.Manifest) string { return filepath.Join(root, m.Stage, m.Key) }

func TestAlignShardsDeterministicResumable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	e := world(t, root)
	ms, err := e.Make(ctx, "align", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := dirOf(root, ms["align"])
	capRows, err := captionstable.ReadCaptions(ctx, filepath.Join(dirOf(root, ms["captions"]), captionstable.CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	model, err := models.LoadMatching(ctx, filepath.Join(dirOf(root, ms["scan"]), models.MatchingFile))
	if err != nil {
		t.Fatal(err)
	}
	store, err := feat.OpenStore(ctx, dirOf(root, ms["features"]))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	byKey := map[alignments.Key]captionstable.Row{}
	want := 0
	for _, r := range capRows {
		if r.Split == "train" {
			byKey[alignments.Key{ImageID: r.ImageID, CaptionIdx: r.CaptionIdx}] = r
			want++
		}
	}
	shards := map[string][]byte{}
	got := 0
	for i := 0; i < numShards; i++ {
		loc := alignments.ShardLocation(out, i, numShards)
		b, err := os.ReadFile(filepath.Join(out, shard.Name(alignments.Table, i, numShards)))
		if err != nil {
			t.Fatal(err)
		}
		shards[loc] = b
		rows, err := alignments.ReadShard(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range rows {
			got++
			if s := shard.Of(r.ImageID, numShards); s != i {
				t.Errorf("shard %d holds image %d of shard %d", i, r.ImageID, s)
			}
			c, ok := byKey[alignments.Key{ImageID: r.ImageID, CaptionIdx: r.CaptionIdx}]
			if !ok {
				t.Fatalf("shard %d row %d: image %d caption %d is not a train caption", i, k, r.ImageID, r.CaptionIdx)
			}
			var nouns []int32
			for p, isNoun := range c.NounMask {
				if isNoun {
					nouns = append(nouns, int32(p))
				}
			}
			if len(nouns) == 0 {
				for p := range c.Labels {
					nouns = append(nouns, int32(p))
				}
			}
			if !slices.Equal(r.NounPositions, nouns) {
				t.Errorf("image %d caption %d: positions %v, noun mask says %v", r.ImageID, r.CaptionIdx, r.NounPositions, nouns)
			}
			alpha, err := r.Alpha()
			if err != nil {
				t.Fatal(err)
			}
			// Each attention row is a softmax over the image's regions: it sums to 1.
			const tol = 1e-4
			for w := range r.NounPositions {
				var s float64
				for _, a := range alpha[w*int(r.Regions) : (w+1)*int(r.Regions)] {
					s += float64(a)
				}
				if math.Abs(s-1) > tol {
					t.Errorf("image %d caption %d word %d: attention sums to %v", r.ImageID, r.CaptionIdx, w, s)
				}
			}
			// The score equals the model's score of the pair scored on its own (float32 sums in
			// another block shape: tolerance 1e-5).
			if k%7 == 0 {
				rec, err := store.Get(ctx, r.ImageID)
				if err != nil {
					t.Fatal(err)
				}
				text, err := models.TextOf(model)
				if err != nil {
					t.Fatal(err)
				}
				sent, err := text.Sentence(c.Labels, c.NounMask)
				if err != nil {
					t.Fatal(err)
				}
				s, err := model.Forward(tscan.Batch{Feats: [][]float32{rec.Features}, Captions: []tscan.Caption{sent}})
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(float64(s[0]-r.Score)) > 1e-5 || int(r.Regions) != rec.NumBoxes {
					t.Errorf("image %d caption %d: score %v regions %d, model alone %v regions %d", r.ImageID, r.CaptionIdx, r.Score, r.Regions, s[0], rec.NumBoxes)
				}
			}
		}
	}
	t.Logf("%d alignments in %d shards", got, numShards)
	if got != want {
		t.Errorf("%d alignments, want every train caption (%d)", got, want)
	}

	// Resume: remove the manifest and shard 1 as a crash would leave it; shard 0 is not rewritten.
	keep := filepath.Join(out, shard.Name(alignments.Table, 0, numShards))
	st0, err := os.Stat(keep)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{engine.ManifestName, shard.Name(alignments.Table, 1, numShards)} {
		if err := os.Remove(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Make(ctx, "align", engine.MakeOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keep); err != nil || !st.ModTime().Equal(st0.ModTime()) {
		t.Errorf("shard 0 was rewritten on resume (%v)", err)
	}
	// Determinism: a forced rerun writes the same bytes.
	if _, err := e.Make(ctx, "align", engine.MakeOptions{Force: []string{"align"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < numShards; i++ {
		b, err := os.ReadFile(filepath.Join(out, shard.Name(alignments.Table, i, numShards)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, shards[alignments.ShardLocation(out, i, numShards)]) {
			t.Errorf("shard %d differs after a rerun", i)
		}
	}
}

func TestParams(t *testing.T) {
	bad := align.DefaultParams(align.Name)
	bad.Teacher = "clip"
	if err := bad.Validate(); err == nil {
		t.Error("unknown teacher accepted")
	}
	bad = align.DefaultParams(align.Name)
	bad.Device = "gpu"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "device") {
		t.Errorf("unknown device: %v", err)
	}
	p := align.DefaultParams(align.NamePlain)
	st, err := align.StageNamed(align.NamePlain, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inputs[0].Ref != "@scan-plain/model.ckpt" || !slices.Equal(p.Splits, []string{"train", "restval"}) || p.BatchImages != align.DefaultBatchImages {
		t.Errorf("resolved %+v, inputs %v", p, st.Inputs)
	}
}

// TestAlignOnEmulatedDevice aligns with device: emulate (the device-resident code on the CPU
// emulation of the kernels) and on the CPU: the same rows, positions and regions, attention and
// scores within the device's float tolerance.
func TestAlignOnEmulatedDevice(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler for the emulation")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the compiled kernels' cache
	ctx := context.Background()
	rows := func(device string) []alignments.Row {
		root := t.TempDir()
		ms, err := worldOn(t, root, device).Make(ctx, "align", engine.MakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var all []alignments.Row
		for i := 0; i < numShards; i++ {
			r, err := alignments.ReadShard(ctx, alignments.ShardLocation(dirOf(root, ms["align"]), i, numShards))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r...)
		}
		return all
	}
	cpu, dev := rows("cpu"), rows("emulate")
	if len(dev) != len(cpu) || len(cpu) == 0 {
		t.Fatalf("%d rows on the device, %d on the CPU", len(dev), len(cpu))
	}
	for k := range cpu {
		c, d := cpu[k], dev[k]
		ca, err1 := c.Alpha()
		da, err2 := d.Alpha()
		if err1 != nil || err2 != nil || c.ImageID != d.ImageID || c.CaptionIdx != d.CaptionIdx || c.Regions != d.Regions ||
			!slices.Equal(c.NounPositions, d.NounPositions) || len(ca) != len(da) || math.Abs(float64(c.Score-d.Score)) > 1e-5 {
			t.Fatalf("row %d: device %+v, CPU %+v (%v, %v)", k, d, c, err1, err2)
		}
		for x := range ca {
			// float32 products summed in another order (the simd backend's fused multiply-adds
			// against the device kernels'), amplified by the softmax's λ 9: 1e-5 plus 1e-4 relative.
			if math.Abs(float64(ca[x]-da[x])) > 1e-5+1e-4*math.Abs(float64(ca[x])) {
				t.Fatalf("row %d: α[%d] = %v on the device, %v on the CPU", k, x, da[x], ca[x])
			}
		}
	}
}
