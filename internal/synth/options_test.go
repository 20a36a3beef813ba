package synth

import (
	"fmt"
	"testing"
)

// TestOptionsBounds checks that the check tags of Options state the limits the generator's
// constants set: each limit passes and one step beyond it fails, naming the constant's value.
func TestOptionsBounds(t *testing.T) {
	for i, c := range []struct {
		set  func(*Options, int)
		at   int // the limit; at+step fails
		step int
		want string
	}{
		{func(o *Options, v int) { o.Images = v }, maxImages, 1, fmt.Sprintf("synth: images: %d (want 1..%d)", maxImages+1, maxImages)},
		{func(o *Options, v int) { o.FeatDim = v }, MinFeatDim, -1, fmt.Sprintf("synth: feat_dim: %d (want ≥ %d)", MinFeatDim-1, MinFeatDim)},
		{func(o *Options, v int) { o.Boxes = v }, MinBoxes, -1, fmt.Sprintf("synth: boxes: %d (want %d..%d)", MinBoxes-1, MinBoxes, MaxBoxes)},
		{func(o *Options, v int) { o.Boxes = v }, MaxBoxes, 1, fmt.Sprintf("synth: boxes: %d (want %d..%d)", MaxBoxes+1, MinBoxes, MaxBoxes)},
	} {
		o := DefaultOptions()
		c.set(&o, c.at)
		if err := o.Validate(); err != nil {
			t.Errorf("%d: at the limit %d: %v", i, c.at, err)
		}
		c.set(&o, c.at+c.step)
		if err := o.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("%d: beyond the limit: got %v, want %s", i, err, c.want)
		}
	}
}
