package rejects

import (
	"context"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/transforms/parquetshard"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Reject)(nil)).Elem())
	register.DoFn4x1[context.Context, []byte, func(*Reject) bool, func(int64), error](&WriteFn{})
	register.Emitter1[int64]()
}

// Table is the name of the rejects table in a stage's output directory.
const Table = "rejects"

// Name returns the file of the rejects table: "rejects/part-00000-of-00001.parquet".
func Name() string { return shard.Name(Table, 0, 1) }

// Compare orders rejects by source, record (numbers in text compare by length first, so "9" comes
// before "10"), image id and reason.
func (r *Reject) Compare(o *Reject) int {
	if c := strings.Compare(r.Source, o.Source); c != 0 {
		return c
	}
	if len(r.Record) != len(o.Record) {
		if len(r.Record) < len(o.Record) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(r.Record, o.Record); c != 0 {
		return c
	}
	switch {
	case r.ImageID < o.ImageID:
		return -1
	case r.ImageID > o.ImageID:
		return 1
	}
	return strings.Compare(r.Reason, o.Reason)
}

// WriteFn writes every reject of its side input as one sorted Parquet file, Dir/rejects/part-00000-of-00001.parquet
// (written even when there are none, so readers always find the table), and emits the count. Its
// main input is a single impulse.
type WriteFn struct {
	Dir string // the stage's output directory
}

// ProcessElement writes the table.
func (f *WriteFn) ProcessElement(ctx context.Context, _ []byte, rejects func(*Reject) bool, emit func(int64)) error {
	var all []Reject
	var r Reject
	for rejects(&r) {
		all = append(all, r)
		r = Reject{}
	}
	if err := parquetshard.Write(ctx, blobio.Join(f.Dir, Name()), all, (*Reject).Compare, parquetshard.Options{NoStatistics: []string{"reason", "source"}}); err != nil {
		return err
	}
	emit(int64(len(all)))
	return nil
}

// Write writes the rejects of every given PCollection<Reject> to dir's rejects table and returns a
// singleton PCollection<int64> with their number.
func Write(s beam.Scope, dir string, rejects ...beam.PCollection) beam.PCollection {
	s = s.Scope("rejects.Write")
	all := rejects[0]
	if len(rejects) > 1 {
		all = beam.Flatten(s, rejects...)
	}
	return beam.ParDo(s, &WriteFn{Dir: dir}, beam.Impulse(s), beam.SideInput{Input: all})
}

// Read reads a rejects table (a file or the table directory).
func Read(ctx context.Context, loc string) ([]Reject, error) {
	return parquetshard.ReadAll[Reject](ctx, loc)
}
