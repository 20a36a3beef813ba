package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/pipelines/captions"
)

// The synthetic world's caption statistics (the demo's captions stage on 400 images: 9.9 words
// and 2.8 nouns per caption, 133 words in the vocabulary); they do not depend on the world's
// size.
const (
	synthMeanWords = 9.9
	synthMeanNouns = 2.8
	synthVocab     = 133
)

// nounShare is the share of nouns among a real dataset's caption words, for a dataset that has
// not been tagged yet (Flickr30k and COCO captions: about 0.3).
const nounShare = 0.3

// defaultRegions is K of a feature set whose regions are not known yet (bottom-up's 36).
const defaultRegions = 36

// FromCaptionsStats fills the caption sizes from the captions stage's stats.json.
func FromCaptionsStats(st *captions.Stats) *Sizes {
	z := &Sizes{Images: map[string]int{}, Captions: map[string]int{}, MaxWords: st.MaxLength, Vocab: st.VocabSize,
		Source: "the captions stage's output"}
	for name, s := range st.Splits {
		split := name
		if split == "restval" {
			split = "train"
		}
		z.Images[split] += int(s.Images)
		z.Captions[split] += int(s.Captions)
	}
	if st.Captions > 0 {
		z.MeanWords = float64(st.Tokens) / float64(st.Captions)
		z.MeanNouns = float64(st.NounTokens) / float64(st.Captions)
	}
	return z
}

// FromSynth returns the sizes of the synthetic world the options describe, with captions
// truncated to maxWords.
func FromSynth(o gen.Options, maxWords int) *Sizes {
	val, test := o.SplitSizes()
	z := &Sizes{
		Images:    map[string]int{"train": o.Images - val - test, "val": val, "test": test},
		MeanWords: min(synthMeanWords, float64(maxWords)), MeanNouns: synthMeanNouns, MaxWords: maxWords,
		Vocab: synthVocab, Regions: o.Boxes, FeatDim: o.FeatDim,
		FeatureBytes: int64(o.Images) * int64(o.Boxes*o.FeatDim) * 4,
		// TSV: base64 of the float32 features, plus the boxes and the other fields.
		RawFeatureBytes: int64(o.Images) * (int64(o.Boxes*o.FeatDim)*4*4/3 + int64(o.Boxes)*64),
		Source:          "the synth stage's parameters",
	}
	z.Captions = map[string]int{}
	for s, n := range z.Images {
		z.Captions[s] = n * gen.CaptionsPerImage
	}
	return z
}

// karpathy is the part of a Karpathy-split dataset file the sizes need.
type karpathy struct {
	Images []struct {
		Split     string `json:"split"`
		Sentences []struct {
			Tokens []string `json:"tokens"`
		} `json:"sentences"`
	} `json:"images"`
}

// FromDataset reads the sizes of a Karpathy-split dataset file (dataset_flickr30k.json,
// dataset_coco.json): images and captions per split, mean words (truncated to maxWords), the
// vocabulary (words seen more than threshold times, as the captions stage keeps them) and, as the
// file has no tags, nouns as a share of the words.
func FromDataset(ctx context.Context, loc string, maxWords, threshold int) (*Sizes, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var d karpathy
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("plan: %s: %w", loc, err)
	}
	z := &Sizes{Images: map[string]int{}, Captions: map[string]int{}, MaxWords: maxWords, Source: "the dataset file"}
	counts := map[string]int{}
	words := 0
	for _, im := range d.Images {
		split := im.Split
		if split == "restval" {
			split = "train"
		}
		z.Images[split]++
		z.Captions[split] += len(im.Sentences)
		for _, s := range im.Sentences {
			words += min(len(s.Tokens), maxWords)
			for _, t := range s.Tokens {
				counts[strings.ToLower(t)]++
			}
		}
	}
	if n := z.allCaptions(); n > 0 {
		z.MeanWords = float64(words) / float64(n)
		z.MeanNouns = math.Round(nounShare*z.MeanWords*10) / 10
	}
	for _, c := range counts {
		if c > threshold {
			z.Vocab++
		}
	}
	return z, nil
}

// SetFeatures fills the feature sizes from a feature store's shards: D, K (the mean regions of
// an image, rounded up) and the bytes of the features.
func (z *Sizes) SetFeatures(ctx context.Context, dir string) error {
	objs, err := blobio.List(ctx, blobio.Join(dir, "features"))
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	var rows, boxes int64
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		info, err := features.ReadShardInfo(ctx, blobio.Join(dir, "features", o.Name))
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		z.FeatDim = info.Meta.Dim
		rows += info.Rows
		boxes += info.Stats.Boxes
	}
	if rows == 0 {
		return fmt.Errorf("plan: %s has no feature shards", dir)
	}
	z.Regions = int((boxes + rows - 1) / rows)
	z.FeatureBytes = boxes * int64(z.FeatDim) * 4
	return nil
}

// SetRawFeatures sets the raw features' size and, where the features are not known yet, K and D
// (dim, or 2048 when 0) and the features' size from the images.
func (z *Sizes) SetRawFeatures(bytes int64, dim int) {
	z.RawFeatureBytes = bytes
	if z.FeatDim == 0 {
		z.FeatDim = dim
		if z.FeatDim == 0 {
			z.FeatDim = 2048
		}
	}
	if z.Regions == 0 {
		z.Regions = defaultRegions
	}
	if z.FeatureBytes == 0 {
		z.FeatureBytes = int64(z.allImages()) * int64(z.Regions*z.FeatDim) * 4
	}
}
