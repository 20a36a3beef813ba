// Package shardcheck checks that every shard of a sharded write reported done, once.
//
// A stage whose DoFns write their shards themselves (see transforms/parquetshard) has them
// emit the shard number when the shard is committed and passes those numbers to All. Besides
// the check, this gives the writers' stage an output consumed elsewhere: Beam's prism runner
// (v2.77) busy-waits, a whole core, for as long as a bundle of a stage without outputs runs.
package shardcheck

import (
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.Combiner3[[]int, []int, []int](&collectFn{})
	register.Function1x1(single)
	register.DoFn1x1[[]int, error](&checkFn{})
}

// All fails the pipeline unless done, a PCollection<int> of shard numbers, holds each of
// 0..numShards-1 exactly once. name says whose shards they are, for the error.
func All(s beam.Scope, name string, done beam.PCollection, numShards int) {
	s = s.Scope("shardcheck.All")
	// One empty list besides the shards: the combine has an input even when no shard is done.
	none := beam.CreateList(s, [][]int{{}})
	all := beam.Combine(s, &collectFn{}, beam.Flatten(s, beam.ParDo(s, single, done), none))
	beam.ParDo0(s, &checkFn{Name: name, NumShards: numShards}, all)
}

func single(sh int) []int { return []int{sh} }

// collectFn gathers the shard numbers.
type collectFn struct{}

func (collectFn) CreateAccumulator() []int           { return nil }
func (collectFn) AddInput(a, in []int) []int         { return append(a, in...) }
func (collectFn) MergeAccumulators(a, b []int) []int { return append(a, b...) }

// checkFn checks the gathered numbers.
type checkFn struct {
	Name      string
	NumShards int
}

func (f *checkFn) ProcessElement(done []int) error {
	return Check(f.Name, done, f.NumShards)
}

// Check returns an error naming the missing, repeated or out-of-range shard numbers of done.
func Check(name string, done []int, numShards int) error {
	seen := make([]int, numShards)
	var bad []int
	for _, sh := range done {
		if sh < 0 || sh >= numShards {
			bad = append(bad, sh)
			continue
		}
		seen[sh]++
	}
	var missing, repeated []int
	for sh, n := range seen {
		switch {
		case n == 0:
			missing = append(missing, sh)
		case n > 1:
			repeated = append(repeated, sh)
		}
	}
	if len(missing)+len(repeated)+len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("%s: of %d shards, %d reported done: missing %v, reported more than once %v, out of range %v",
		name, numShards, len(done), missing, repeated, bad)
}
