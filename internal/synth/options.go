package synth

import (
	"fmt"
	"runtime"

	"github.com/groundcap/groundcap/internal/config"
)

// Defaults and limits of [Options].
const (
	DefaultImages   = 2000
	DefaultSeed     = 1
	DefaultFeatDim  = 2048
	DefaultBoxes    = 36
	DefaultTSVFiles = 4

	// MinBoxes is the smallest K (adaptive bottom-up sets have 10..100): every object (at most
	// MaxObjects) gets a tight proposal and jittered, part and background ones remain.
	MinBoxes = 10
	// MaxBoxes is the largest K (adaptive bottom-up sets have at most 100).
	MaxBoxes = 100
	// MinFeatDim is the smallest D at which class signatures (8 non-zeros) stay distinguishable.
	MinFeatDim = 16
	// MaxObjects is the most objects in one image; MinObjects the fewest.
	MaxObjects = 5
	MinObjects = 2
	// CaptionsPerImage is the number of captions of every image.
	CaptionsPerImage = 5
	// maxImages bounds Images so chain ids (10 per image) stay far below 2^31.
	maxImages = 10_000_000
)

// Options configures [Generate], by the keys of a config's synth section (yaml tags).
// DefaultOptions gives the defaults.
type Options struct {
	// Images is the number of images.
	Images int `yaml:"images" check:"1..10000000"`
	// ValImages and TestImages are the sizes of the val and test splits (0: a tenth of the
	// images each, at least one from 3 images on); the rest is train.
	ValImages  int `yaml:"val_images" check:"≥ 0; 0: a tenth of the images"`
	TestImages int `yaml:"test_images" check:"≥ 0; 0: a tenth of the images"`
	// Seed fixes every random choice. Must not be negative.
	Seed int64 `yaml:"seed" check:"≥ 0"`
	// FeatDim is D, the region feature dimension (at least MinFeatDim).
	FeatDim int `yaml:"feat_dim" check:"≥ 16"`
	// Boxes is K, the number of proposals per image (MinBoxes..MaxBoxes).
	Boxes int `yaml:"boxes" check:"10..100"`
	// TSVFiles is how many features/part-NNNNN.tsv files share the rows; image i goes to file
	// i*TSVFiles/Images, so files hold contiguous runs of images. Files beyond the number of
	// images are written empty.
	TSVFiles int `yaml:"tsv_files" check:"1..99999"`
	// Workers is how many goroutines generate images (0: runtime.NumCPU()). It never changes
	// the output bytes.
	Workers int `yaml:"workers" key:"-" check:"≥ 0; 0: one per CPU"`
	// NoImages skips rendering images/<id>.png.
	NoImages bool `yaml:"no_images"`
}

// DefaultOptions returns DefaultImages images of DefaultBoxes regions of DefaultFeatDim values
// in DefaultTSVFiles files, from DefaultSeed.
func DefaultOptions() Options {
	return Options{Images: DefaultImages, Seed: DefaultSeed, FeatDim: DefaultFeatDim, Boxes: DefaultBoxes, TSVFiles: DefaultTSVFiles}
}

// SplitSizes returns the number of val and test images: ValImages and TestImages, a tenth of
// the images each where 0 (at least one from 3 images on).
func (o Options) SplitSizes() (val, test int) {
	d := o.Images / 10
	if d == 0 && o.Images >= 3 {
		d = 1
	}
	val, test = d, d
	if o.ValImages > 0 {
		val = o.ValImages
	}
	if o.TestImages > 0 {
		test = o.TestImages
	}
	return val, test
}

// workers returns the number of generating goroutines.
func (o Options) workers() int {
	if o.Workers == 0 {
		return runtime.NumCPU()
	}
	return o.Workers
}

// Validate returns the first bad field of o as a *config.FieldError naming its key. The check
// tags state maxImages, MinFeatDim, MinBoxes and MaxBoxes (TestOptionsBounds holds them equal).
func (o Options) Validate() error {
	err := config.Check(o)
	if err == nil && o.ValImages+o.TestImages >= o.Images {
		err = config.Invalid("test_images", o.TestImages, fmt.Sprintf("val_images + test_images < images (%d): train needs images", o.Images))
	}
	return config.Prefix("synth", err)
}
