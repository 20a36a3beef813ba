package rejects

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestWriteSink(t *testing.T) {
	dir := t.TempDir()
	a := []Reject{{Source: "b.json", Record: "10", Reason: "x"}, {Source: "b.json", Record: "9", Reason: "y"}}
	b := []Reject{{Source: "a.json", Record: "1", ImageID: 7, Reason: "z"}}
	p, s := beam.NewPipelineWithRoot()
	n := Write(s, dir, beam.CreateList(s, a), beam.CreateList(s, b))
	passert.Equals(s, n, int64(3))
	ptest.RunAndValidate(t, p)
	got, err := Read(context.Background(), filepath.Join(dir, Table))
	if err != nil {
		t.Fatal(err)
	}
	want := []Reject{b[0], a[1], a[0]} // by source, then record as a number
	if len(got) != len(want) {
		t.Fatalf("got %d rejects", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v want %+v", i, got[i], want[i])
		}
	}
}

func TestWriteSinkEmpty(t *testing.T) {
	dir := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	n := Write(s, dir, beam.CreateList(s, []Reject{}))
	passert.Equals(s, n, int64(0))
	ptest.RunAndValidate(t, p)
	got, err := Read(context.Background(), filepath.Join(dir, Name()))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}
