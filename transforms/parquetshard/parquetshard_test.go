package parquetshard

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
)

func TestMain(m *testing.M) { ptest.Main(m) }

type testRow struct {
	ID   int64    `parquet:"id"`
	Text string   `parquet:"text"`
	Toks []string `parquet:"toks,list"`
}

func (r *testRow) Compare(o *testRow) int {
	switch {
	case r.ID < o.ID:
		return -1
	case r.ID > o.ID:
		return 1
	}
	return strings.Compare(r.Text, o.Text)
}

func init() {
	register.DoFn4x1[context.Context, int, func(*testRow) bool, func(Written), error](&WriteFn[testRow, *testRow]{})
	register.Emitter1[Written]()
	register.Function2x0(keyByShard)
	register.Function2x0(formatWritten)
	register.Emitter2[int, testRow]()
	register.Emitter1[string]()
}

const testShards = 3

func keyByShard(r testRow, emit func(int, testRow)) { emit(shard.Of(r.ID, testShards), r) }

func formatWritten(w Written, emit func(string)) { emit(fmt.Sprintf("%s:%d", w.Name, w.Rows)) }

func rows(n int) []testRow {
	var out []testRow
	for i := n - 1; i >= 0; i-- {
		out = append(out, testRow{ID: int64(i % 7), Text: fmt.Sprintf("row %d %s", i, strings.Repeat("x", i)), Toks: []string{"a", fmt.Sprint(i)}})
	}
	return out
}

func TestWriteRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "t", "part-00000-of-00001.parquet")
	in := rows(50)
	if err := Write(ctx, loc, append([]testRow(nil), in...), (*testRow).Compare, Options{MaxRowsPerRowGroup: 8, NoStatistics: []string{"text"}}); err != nil {
		t.Fatal(err)
	}
	got, err := Read[testRow](ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d rows, want %d", len(got), len(in))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Compare(&got[i]) > 0 {
			t.Fatalf("rows %d, %d out of order", i-1, i)
		}
	}
	n, err := NumRows(ctx, loc)
	if err != nil || n != 50 {
		t.Fatalf("NumRows = %d, %v", n, err)
	}
	// Row groups of at most 8 rows.
	data, _ := os.ReadFile(loc)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if g := len(f.RowGroups()); g != 7 { // ceil(50/8)
		t.Errorf("%d row groups, want 7", g)
	}
	// Same rows in another order give the same bytes.
	loc2 := filepath.Join(dir, "t2.parquet")
	rev := append([]testRow(nil), in...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if err := Write(ctx, loc2, rev, (*testRow).Compare, Options{MaxRowsPerRowGroup: 8, NoStatistics: []string{"text"}}); err != nil {
		t.Fatal(err)
	}
	data2, _ := os.ReadFile(loc2)
	if !bytes.Equal(data, data2) {
		t.Error("same rows in another order wrote different bytes")
	}
	all, err := ReadAll[testRow](ctx, filepath.Join(dir, "t"))
	if err != nil || len(all) != 50 {
		t.Fatalf("ReadAll: %d rows, %v", len(all), err)
	}
}

func TestWriteFailsCleanly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A path under a regular file cannot be created: Write fails and leaves nothing.
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(ctx, filepath.Join(dir, "f", "x.parquet"), rows(3), nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "parquetshard:") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Read[testRow](ctx, filepath.Join(dir, "missing.parquet")); !blobio.IsNotExist(err) {
		t.Errorf("Read missing: %v", err)
	}
}

func TestWriteFn(t *testing.T) {
	dir := t.TempDir()
	in := rows(40)
	want := map[int]int{}
	for _, r := range in {
		want[shard.Of(r.ID, testShards)]++
	}
	var wantStr []any
	for s, n := range want {
		wantStr = append(wantStr, fmt.Sprintf("%s:%d", shard.Name("tab", s, testShards), n))
	}
	p, s := beam.NewPipelineWithRoot()
	keyed := beam.ParDo(s, keyByShard, beam.CreateList(s, in))
	written := beam.ParDo(s, &WriteFn[testRow, *testRow]{Dir: dir, Table: "tab", NumShards: testShards}, beam.GroupByKey(s, keyed))
	passert.Equals(s, beam.ParDo(s, formatWritten, written), wantStr...)
	ptest.RunAndValidate(t, p)

	got, err := ReadAll[testRow](context.Background(), filepath.Join(dir, "tab"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d rows back, want %d", len(got), len(in))
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.Text] = true
	}
	for _, r := range in {
		if !seen[r.Text] {
			t.Errorf("row %q missing", r.Text)
		}
	}
}
