package captions

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/transforms/rejects"
)

func TestStageThroughEngine(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	st, err := Stage(Params{Dataset: w.dataset, Entities: w.entities, ClassNames: w.classNames, NumShards: 2, WordCountThreshold: 1})
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
	c0, c1 := rows[shard.Name(CaptionsTable, 0, 2)], rows[shard.Name(CaptionsTable, 1, 2)]
	g0, g1 := rows[shard.Name(GroundingTable, 0, 2)], rows[shard.Name(GroundingTable, 1, 2)]
	if c0+c1 != 8 || g0+g1 != 9 || rows[rejects.Name()] != 0 || rows[VocabFile] != -1 {
		t.Errorf("manifest rows %v", rows)
	}
	// Fresh on a second call: nothing recomputed.
	if _, err := e.Make(ctx, "captions", engine.MakeOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []Params{
		{},                                   // 0: no dataset
		{Dataset: "d", Format: "xml"},        // 1
		{Dataset: "d", NumShards: -1},        // 2
		{Dataset: "d", MaxRejectFraction: 2}, // 3
		{Dataset: "d", ClassNames: "c"},      // 4: classes without entities
		{Dataset: "d", MaxLength: -3},        // 5
	} {
		if _, err := Stage(p); err == nil || !strings.HasPrefix(err.Error(), "captions: ") {
			t.Errorf("%d: err = %v", i, err)
		}
	}
}
