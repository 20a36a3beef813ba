package shardcheck

import (
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestCheck(t *testing.T) {
	if err := Check("x", []int{2, 0, 1}, 3); err != nil {
		t.Errorf("all shards: %v", err)
	}
	if err := Check("x", nil, 0); err != nil {
		t.Errorf("no shards: %v", err)
	}
	for _, c := range []struct {
		done []int
		want string
	}{
		{[]int{0, 2}, "missing [1]"},
		{[]int{0, 1, 1, 2}, "more than once [1]"},
		{[]int{0, 1, 2, 5, -1}, "out of range [-1 5]"},
	} {
		err := Check("align", c.done, 3)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "align: of 3 shards") {
			t.Errorf("Check(%v): %v, want an error with %q", c.done, err, c.want)
		}
	}
}

func TestAll(t *testing.T) {
	for _, c := range []struct {
		done []int
		ok   bool
	}{{[]int{3, 1, 0, 2}, true}, {[]int{3, 1, 0}, false}, {[]int{}, false}} {
		p, s := beam.NewPipelineWithRoot()
		All(s, "test", beam.CreateList(s, c.done), 4)
		err := ptest.Run(p)
		if (err == nil) != c.ok {
			t.Errorf("shards %v done of 4: pipeline error %v", c.done, err)
		}
		if err != nil && !strings.Contains(err.Error(), "test: of 4 shards") {
			t.Errorf("shards %v: error %v does not say which shards", c.done, err)
		}
	}
}
