package pipelines

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/groundcap/groundcap/internal/config"
	"github.com/groundcap/groundcap/pipelines/artifacts/evalresults"
	"github.com/groundcap/groundcap/pipelines/artifacts/models"
	"github.com/groundcap/groundcap/pipelines/captionscst"
	"github.com/groundcap/groundcap/pipelines/captionxe"
	"github.com/groundcap/groundcap/pipelines/evaluate"
)

// TestRegistryFollowsCaptionerLists checks the registry against the captioner lists of
// pipelines/artifacts/models: the cross-entropy stages, then the self-critical ones, then an
// evaluate instance of each in the same order, then the report; each captioner stage shown with
// its line of help and decoding into its package's parameters.
func TestRegistryFollowsCaptionerLists(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defs := Defs()
	byName := map[string]Def{}
	for _, d := range defs {
		byName[d.Name] = d
	}
	var want []string
	want = append(want, models.Captioners()...)
	for _, capt := range models.Captioners() {
		want = append(want, evalresults.NameOf(capt))
	}
	want = append(want, "report")
	names := Names()
	i := slices.Index(names, models.CaptionXE)
	if i < 0 || !slices.Equal(names[i:], want) {
		t.Fatalf("registry from caption-xe on = %v\nwant %v", names[max(i, 0):], want)
	}
	for _, capt := range models.Captioners() {
		d := byName[capt]
		if d.Short == "" || d.Short != models.Short(capt) {
			t.Errorf("%s: short %q, want models.Short %q (not empty)", capt, d.Short, models.Short(capt))
		}
		p, err := d.Params(c)
		if err != nil {
			t.Fatalf("%s: %v", capt, err)
		}
		switch p.(type) {
		case captionxe.Params:
			if !slices.Contains(models.XECaptioners(), capt) {
				t.Errorf("%s decodes caption-xe parameters", capt)
			}
		case captionscst.Params:
			if !slices.Contains(models.SCSTCaptioners(), capt) {
				t.Errorf("%s decodes caption-scst parameters", capt)
			}
		default:
			t.Errorf("%s decodes %T", capt, p)
		}
		if p, err := byName[evalresults.NameOf(capt)].Params(c); err != nil {
			t.Errorf("%s: %v", evalresults.NameOf(capt), err)
		} else if _, ok := p.(evaluate.Params); !ok {
			t.Errorf("%s decodes %T", evalresults.NameOf(capt), p)
		}
	}
	if s := models.Short("scan"); s != "" {
		t.Errorf("models.Short(scan) = %q, want none: scan is no captioner", s)
	}
}
