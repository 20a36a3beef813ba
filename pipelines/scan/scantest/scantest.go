// Package scantest builds small synthetic worlds through the stage engine for the tests of the
// matching-model stages (scan, align, scan-eval): the synth, captions and features stages wired as
// in the demo config.
package scantest

import (
	"github.com/groundcap/groundcap/pipelines/captions"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/pipelines/features"
	"github.com/groundcap/groundcap/pipelines/synth"
)

// Options size the world.
type Options struct {
	Images  int   // number of images (train 80%, val 10%, test 10%)
	FeatDim int   // region feature dimension D
	Boxes   int   // regions per image (≥ 10)
	Seed    int64 // world seed
	Shards  int   // shards of the captions and features tables
	// WordCountThreshold of the captions stage (0: its default, 5).
	WordCountThreshold int
}

// Stages returns the synth, captions and features stages of a world.
func Stages(o Options) ([]*engine.Stage, error) {
	sy, err := synth.Stage(synth.Params{Images: o.Images, Seed: o.Seed, FeatDim: o.FeatDim, Boxes: o.Boxes, TSVFiles: 2, NoImages: true})
	if err != nil {
		return nil, err
	}
	ca, err := captions.Stage(captions.Params{Dataset: "@synth/dataset.json", Entities: "@synth", ClassNames: "@synth/class_names.txt",
		SplitIDs: "@synth/split_ids.json", NumShards: o.Shards, WordCountThreshold: o.WordCountThreshold})
	if err != nil {
		return nil, err
	}
	fe, err := features.Stage(features.Params{Inputs: []string{"@synth/features"}, NumShards: o.Shards})
	if err != nil {
		return nil, err
	}
	return []*engine.Stage{sy, ca, fe}, nil
}
