package captioning

import (
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/training/blas"
)

// Settings are the parameters every captioner stage has, embedded inline in caption-xe's and
// caption-scst's: the data inputs, the splits, the matrix backend and the feature cache. Input
// references enter the cache key by their content digests, and knobs that never change the
// output do not enter it (key:"-").
type Settings struct {
	// Captions and Features are the captions table and the feature store, Vocab the table's
	// vocabulary, DocFreq the CIDEr-D document frequencies of the train references.
	captionstable.Data `yaml:",inline"`
	Vocab              string `yaml:"vocab" key:"-"`
	DocFreq            string `yaml:"cider_df" key:"-"`

	// TrainSplits are the caption splits trained on (train and restval).
	TrainSplits []string `yaml:"train_splits" check:"at least one split"`
	// ValSplit is the split validated after every epoch (val); ValImages keeps its first so
	// many images by id (0: all).
	ValSplit  string `yaml:"val_split" check:"a split name"`
	ValImages int    `yaml:"val_images" check:"≥ 0; 0: all"`
	// Selection is the val score that keeps best.ckpt: coco-cider (coco-caption's CIDEr-D on
	// the whole val references with their own document frequencies, the original's) or
	// train-df-cider (the SCST reward's CIDEr-D: train document frequencies, references cut
	// at max_len).
	Selection Selection `yaml:"selection"`

	// BLAS is the matrix backend.
	BLAS blas.Name `yaml:"blas" key:"-"`
	// FeatureCacheMB bounds the memory holding region features.
	FeatureCacheMB int `yaml:"feature_cache_mb" key:"-" check:"≥ 0"`
}

// DefaultSettings are the captions and features stages' outputs, train and restval trained on,
// all of val validated, selection by coco-caption's CIDEr-D.
func DefaultSettings() Settings {
	return Settings{Data: captionstable.DefaultData(), Vocab: DefaultVocab, DocFreq: DefaultDocFreq,
		TrainSplits: []string{"train", "restval"}, ValSplit: DefaultValSplit, Selection: SelectCOCO, BLAS: blas.Default, FeatureCacheMB: DefaultFeatureCacheMB}
}

// Validate returns a *config.FieldError naming the first bad value by its key (bounds: the check
// tags).
func (s Settings) Validate() error {
	if err := config.Check(s); err != nil {
		return err
	}
	for i, t := range s.TrainSplits {
		if t == "" || t == s.ValSplit {
			return config.Invalid(fmt.Sprintf("train_splits[%d]", i), t, "a non-empty split other than val_split")
		}
	}
	return nil
}

// Inputs returns the inputs as the engine declares them.
func (s Settings) Inputs() []engine.Input {
	return []engine.Input{{Name: InputCaptions, Ref: s.Captions}, {Name: InputVocab, Ref: s.Vocab},
		{Name: InputDocFreq, Ref: s.DocFreq}, {Name: InputFeatures, Ref: s.Features}}
}

// meta returns the input references as a checkpoint's provenance records them (as written:
// locations would make the bytes depend on the root).
func (s Settings) meta() map[string]string {
	return map[string]string{"input.captions": s.Captions, "input.vocab": s.Vocab, "input.cider_df": s.DocFreq, "input.features": s.Features}
}
