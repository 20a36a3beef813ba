package synth

import (
	"fmt"
	"runtime"
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

// Options configures [Generate]. Zero values mean the documented defaults.
type Options struct {
	// Images is the number of images (default DefaultImages).
	Images int
	// Seed fixes every random choice (default DefaultSeed; 0 means the default, so seed 0 is not
	// selectable). Must not be negative.
	Seed int64
	// FeatDim is D, the region feature dimension (default DefaultFeatDim, at least MinFeatDim).
	FeatDim int
	// Boxes is K, the number of proposals per image (default DefaultBoxes, MinBoxes..MaxBoxes).
	Boxes int
	// TSVFiles is how many features/part-NNNNN.tsv files share the rows (default DefaultTSVFiles);
	// image i goes to file i*TSVFiles/Images, so files hold contiguous runs of images. Files beyond
	// the number of images are written empty.
	TSVFiles int
	// Workers is how many goroutines generate images (default runtime.NumCPU()). It never changes
	// the output bytes.
	Workers int
	// NoImages skips rendering images/<id>.png.
	NoImages bool
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Images == 0 {
		o.Images = DefaultImages
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.FeatDim == 0 {
		o.FeatDim = DefaultFeatDim
	}
	if o.Boxes == 0 {
		o.Boxes = DefaultBoxes
	}
	if o.TSVFiles == 0 {
		o.TSVFiles = DefaultTSVFiles
	}
	if o.Workers == 0 {
		o.Workers = runtime.NumCPU()
	}
	return o
}

// Resolved returns o with every zero field replaced by its default, as Generate uses it.
func (o Options) Resolved() Options { return o.withDefaults() }

// Validate reports the first bad field of o (after defaults), naming it.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Images < 0 || o.Images > maxImages:
		return fmt.Errorf("synth: Images = %d, want 1..%d", o.Images, maxImages)
	case o.Seed < 0:
		return fmt.Errorf("synth: Seed = %d, want >= 0", o.Seed)
	case o.FeatDim < MinFeatDim:
		return fmt.Errorf("synth: FeatDim = %d, want >= %d", o.FeatDim, MinFeatDim)
	case o.Boxes < MinBoxes || o.Boxes > MaxBoxes:
		return fmt.Errorf("synth: Boxes = %d, want %d..%d", o.Boxes, MinBoxes, MaxBoxes)
	case o.TSVFiles < 0 || o.TSVFiles > 99999:
		return fmt.Errorf("synth: TSVFiles = %d, want 1..99999", o.TSVFiles)
	case o.Workers < 0:
		return fmt.Errorf("synth: Workers = %d, want >= 1", o.Workers)
	}
	return nil
}
