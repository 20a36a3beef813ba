package captions

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/transforms/rejects"
)

func TestStageThroughEngine(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	st, err := Stage(params(func(p *Params) {
		p.Dataset, p.Entities, p.ClassNames, p.NumShards, p.WordCountThreshold = w.dataset, w.entities, w.classNames, 2, 1
	}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(filepath.Join(w.dir, "root"), []*engine.Stage{st}, engine.Options{ModuleVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Make(ctx, "captions", engine.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, f := range ms["captions"].Files {
		rows[f.Name] = f.Rows
	}
	c0, c1 := rows[shard.Name(captionstable.CaptionsTable, 0, 2)], rows[shard.Name(captionstable.CaptionsTable, 1, 2)]
	g0, g1 := rows[shard.Name(captionstable.GroundingTable, 0, 2)], rows[shard.Name(captionstable.GroundingTable, 1, 2)]
	if c0+c1 != 8 || g0+g1 != 9 || rows[rejects.Name()] != 0 || rows[captionstable.VocabFile] != -1 {
		t.Errorf("manifest rows %v", rows)
	}
	// Fresh on a second call: nothing recomputed.
	if _, err := e.Make(ctx, "captions", engine.MakeOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []Params{
		params(func(*Params) {}),                                            // 0: no dataset
		params(func(p *Params) { p.Dataset, p.Format = "d", "xml" }),        // 1
		params(func(p *Params) { p.Dataset, p.NumShards = "d", -1 }),        // 2
		params(func(p *Params) { p.Dataset, p.MaxRejectFraction = "d", 2 }), // 3
		params(func(p *Params) { p.Dataset, p.ClassNames = "d", "c" }),      // 4: classes without entities
		params(func(p *Params) { p.Dataset, p.MaxLength = "d", -3 }),        // 5
		params(func(p *Params) { p.Dataset, p.NumShards = "d", 0 }),         // 6: zero is no default
	} {
		if _, err := Stage(p); err == nil || !strings.HasPrefix(err.Error(), "captions: ") {
			t.Errorf("%d: err = %v", i, err)
		}
	}
}
