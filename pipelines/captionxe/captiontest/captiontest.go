// Package captiontest builds small synthetic worlds through the stage engine for the tests of
// the captioner stages (caption-xe, caption-scst, evaluate, report): synth, captions, features,
// tiny scan and scan-plain matching models and the align stage, wired as in the demo config.
package captiontest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/align"
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/scan"
	"github.com/groundcap/groundcap/pipelines/scan/scantest"
)

// Options size the world.
type Options struct {
	Images  int   // number of images (train 80%, val 10%, test 10%)
	FeatDim int   // region feature dimension D
	Boxes   int   // regions per image
	Seed    int64 // world seed
	Shards  int   // shards of the captions and features tables
}

// Small is a world that trains in seconds: 30 images, D 32, 10 regions, 2 shards.
var Small = Options{Images: 30, FeatDim: 32, Boxes: 10, Seed: 5, Shards: 2}

// Stages returns the upstream stages of the captioner: synth, captions, features, scan,
// scan-plain and align (POS-SCAN alignments).
func Stages(o Options) ([]*engine.Stage, error) {
	up, err := scantest.Stages(scantest.Options{Images: o.Images, FeatDim: o.FeatDim, Boxes: o.Boxes, Seed: o.Seed, Shards: o.Shards, WordCountThreshold: 1})
	if err != nil {
		return nil, err
	}
	sp := scan.Params{Embed: 24, WordDim: 16, BatchSize: 16, Epochs: 1, LR: 2e-3, Seed: 2, EvalImages: 3}
	pos, err := scan.StageNamed(scan.NamePOS, sp)
	if err != nil {
		return nil, err
	}
	plain, err := scan.StageNamed(scan.NamePlain, sp)
	if err != nil {
		return nil, err
	}
	al, err := align.Stage(align.Params{BatchImages: 4})
	if err != nil {
		return nil, err
	}
	return append(up, pos, plain, al), nil
}

// Data runs the synth, captions and features stages of a world under root and opens their
// outputs for the captioner (benchmarks; close the result).
func Data(ctx context.Context, root string, o Options) (*captionxe.Inputs, error) {
	up, err := scantest.Stages(scantest.Options{Images: o.Images, FeatDim: o.FeatDim, Boxes: o.Boxes, Seed: o.Seed, Shards: o.Shards, WordCountThreshold: 1})
	if err != nil {
		return nil, err
	}
	e, err := engine.New(root, up, engine.Options{ModuleVersion: "test"})
	if err != nil {
		return nil, err
	}
	ms, err := e.Make(ctx, "", engine.MakeOptions{})
	if err != nil {
		return nil, err
	}
	capDir := e.OutputDir("captions", ms["captions"].Key)
	return captionxe.OpenInputs(ctx, blobio.Join(capDir, captions.CaptionsTable), blobio.Join(capDir, captions.VocabFile),
		e.OutputDir("features", ms["features"].Key), 4096)
}

// Outputs are the files every captioner stage (caption-xe, caption-scst) writes.
var Outputs = []string{captionxe.BestFile, captionxe.LastFile, captionxe.HistoryFile, captionxe.MetricsFile, captionxe.CurvesFile}

// OutDir is the local directory of a stage output under a file root.
func OutDir(root string, m *engine.Manifest) string { return filepath.Join(root, m.Stage, m.Key) }

// ReadOutputs reads a captioner stage's Outputs, by file name.
func ReadOutputs(t testing.TB, root string, m *engine.Manifest) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, f := range Outputs {
		b, err := os.ReadFile(filepath.Join(OutDir(root, m), f))
		if err != nil {
			t.Fatal(err)
		}
		got[f] = b
	}
	return got
}
