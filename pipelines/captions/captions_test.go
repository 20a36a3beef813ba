package captions

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestRunSmall(t *testing.T) {
	w := smallWorld(t)
	out := filepath.Join(w.dir, "out")
	st, err := Run(context.Background(), Locations{Dataset: w.dataset, Entities: w.entities, ClassNames: w.classNames, Out: out}, Params{Dataset: "x", WordCountThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %+v", st, st.Grounding)
	rows, err := ReadCaptions(context.Background(), filepath.Join(out, CaptionsTable))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		t.Logf("%+v", r)
	}
	g, err := ReadGroundingRefs(context.Background(), filepath.Join(out, GroundingTable))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g {
		t.Logf("%+v", r)
	}
}
