package tensorboard

import (
	"cmp"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// zeroTime is the wall_time of every event Compact writes.
var zeroTime = time.Unix(0, 0)

// Compact reads the event files srcs, in order (a later file is a later attempt of a resumed
// run), and returns one event file holding, for every step and every tag keep accepts (nil: all),
// the value written last: the file_version event, then one event per step in step order with its
// values in tag order, every wall_time zero. The bytes depend only on those values, not on when
// they were written nor on how often a run was resumed and replayed steps, so a deterministic
// stage can publish them in its output; keep leaves out the tags whose values are not
// deterministic (throughput).
func Compact(srcs []string, keep func(tag string) bool) ([]byte, error) {
	type key struct {
		step int64
		tag  string
	}
	last := map[key]Value{}
	for _, src := range srcs {
		evs, err := ReadEvents(src)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			for _, v := range ev.Values {
				if keep == nil || keep(v.Tag) {
					last[key{ev.Step, v.Tag}] = v
				}
			}
		}
	}
	keys := make([]key, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.step, b.step), cmp.Compare(a.tag, b.tag))
	})
	ev := appendEventHeader(nil, zeroTime, 0)
	ev = protowire.AppendTag(ev, eventFileVersion, protowire.BytesType)
	ev = protowire.AppendString(ev, FileVersion)
	out := AppendRecord(nil, ev)
	for i := 0; i < len(keys); {
		step := keys[i].step
		var sum []byte
		for ; i < len(keys) && keys[i].step == step; i++ {
			v := last[keys[i]]
			if v.Image != nil {
				sum = appendImage(sum, v.Tag, *v.Image)
			} else {
				sum = appendScalar(sum, v.Tag, v.Scalar)
			}
		}
		ev = appendEventHeader(ev[:0], zeroTime, step)
		ev = protowire.AppendTag(ev, eventSummary, protowire.BytesType)
		ev = protowire.AppendBytes(ev, sum)
		out = AppendRecord(out, ev)
	}
	return out, nil
}
