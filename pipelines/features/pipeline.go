package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/parquet-go/parquet-go"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/shardcheck"
)

func init() {
	register.DoFn3x1[context.Context, Range, func(int, LineRef), error](&scanFn{})
	register.DoFn2x0[int, func(int, LineRef)](&markerFn{})
	register.DoFn4x1[context.Context, int, func(*LineRef) bool, func(int), error](&writeShardFn{})
	register.Emitter1[int]()
	register.Emitter2[int, LineRef]()
	register.Iter1[LineRef]()
	beam.RegisterType(reflect.TypeOf((*Range)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*LineRef)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Source)(nil)).Elem())
}

// Source kinds.
const (
	KindTSV = "tsv"
	KindNPZ = "npz"
)

// Source is one input of the pipeline: a TSV file or a set of self-critical npz/npy files.
type Source struct {
	Kind string
	// Loc is the TSV file, or the npz root directory.
	Loc string
	// Name identifies the source in rejects: the input reference plus the file's path.
	Name string
	// Size is the TSV file's size in bytes.
	Size int64
	// Prefix is the npz set's name: files are <Loc>/<Prefix>_att/<id>.npz and so on.
	Prefix string
	// HasFC says the npz set has a <Prefix>_fc directory.
	HasFC bool
}

// Range is a byte range [Start, End) of TSV source Src, or (Src of an npz source) a listing.
type Range struct {
	Src        int
	Start, End int64
}

// LineRef locates one record: a TSV line or an npz file. Two other kinds travel with the
// records to their shard: a marker (Src -1), so that every shard gets a file, and a range's line
// count (IsCount), sent to every shard because a record's line number needs the lines of the
// ranges before its own. (The counts used to be a side input; prism v2.77 busy-waits, one core,
// for as long as a stage that reads a side input runs.)
type LineRef struct {
	Src int
	// Offset and Length locate a TSV line (without its "\n").
	Offset, Length int64
	// RangeStart and Index (0-based, counting every line of the range) give the line number.
	RangeStart, Index int64
	// Name is the npz file name (<id>.npz).
	Name    string
	ImageID int64
	// Bad is set when the image id could not be read; the record is rejected with it.
	Bad string
	// IsCount marks a range count: Src and RangeStart name the range, Lines and Records
	// count it (see RangeLines).
	IsCount        bool
	Lines, Records int64
}

// RangeLines counts the lines of one scanned range (or the files of an npz listing).
type RangeLines struct {
	Src   int
	Start int64
	// Lines counts every line (blank ones too, for line numbers); Records the non-blank ones.
	Lines, Records int64
}

// Config is everything Build needs, resolved by the stage (or a test).
type Config struct {
	Sources []Source
	// Out is the output directory (features/, rejects/ go under it).
	Out          string
	Layout       feat.Layout
	Encoding     feat.Encoding
	DType        feat.DType
	Dim          int
	NumShards    int
	RowsPerGroup int
	MinBoxes     int
	MaxBoxes     int
	RangeSize    int64
	Workers      int
}

// Build adds the features pipeline to s: it scans the sources and writes every shard of the
// store under cfg.Out (features/ and rejects/). It returns the PCollection<int> of the shard
// numbers done (written, or found finished); the caller writes the index and checks counts
// once the pipeline has run (see the stage). It panics on a malformed Config.
//
// The shard writer's output goes to shardcheck.All, which checks that every shard was done
// (and keeps prism from busy-waiting on a stage without outputs).
func Build(s beam.Scope, cfg Config) beam.PCollection {
	s = s.Scope("features.Build")
	if cfg.NumShards < 1 || cfg.Dim < 1 || cfg.RangeSize < 1 || cfg.Out == "" {
		panic(fmt.Sprintf("features: Build: bad config: %d shards, dim %d, range size %d, out %q", cfg.NumShards, cfg.Dim, cfg.RangeSize, cfg.Out))
	}
	var ranges []Range
	for i, src := range cfg.Sources {
		switch src.Kind {
		case KindTSV:
			for start := int64(0); start < src.Size; start += cfg.RangeSize {
				ranges = append(ranges, Range{Src: i, Start: start, End: min(start+cfg.RangeSize, src.Size)})
			}
		case KindNPZ:
			ranges = append(ranges, Range{Src: i})
		default:
			panic(fmt.Sprintf("features: Build: source %d has kind %q", i, src.Kind))
		}
	}
	rs := beam.Reshuffle(s, beam.CreateList(s, ranges))
	refs := beam.ParDo(s, &scanFn{Sources: cfg.Sources, NumShards: cfg.NumShards}, rs)
	shards := make([]int, cfg.NumShards)
	for i := range shards {
		shards[i] = i
	}
	markers := beam.ParDo(s, &markerFn{}, beam.CreateList(s, shards))
	grouped := beam.GroupByKey(s, beam.Flatten(s, refs, markers))
	done := beam.ParDo(s, &writeShardFn{Config: cfg, Ranges: len(ranges)}, grouped)
	shardcheck.All(s, "features", done, cfg.NumShards)
	return done
}

// scanHead is how much of each line the scan keeps: enough for the image id field.
const scanHead = 256

// scanFn reads one byte range of a TSV file (or lists an npz set) and emits a LineRef per
// record keyed by its shard, then the range's line count to every shard.
type scanFn struct {
	Sources   []Source
	NumShards int
}

func (f *scanFn) ProcessElement(ctx context.Context, r Range, emit func(int, LineRef)) error {
	src := f.Sources[r.Src]
	emitCount := func(c RangeLines) {
		for sh := 0; sh < f.NumShards; sh++ {
			emit(sh, LineRef{Src: c.Src, RangeStart: c.Start, IsCount: true, Lines: c.Lines, Records: c.Records})
		}
	}
	if src.Kind == KindNPZ {
		return f.listNPZ(ctx, r.Src, src, emit, emitCount)
	}
	var idx, records int64
	_, err := feat.ScanHeads(ctx, src.Loc, r.Start, r.End, scanHead, func(off, length int64, head []byte) error {
		i := idx
		idx++
		if length <= scanHead && len(bytes.TrimSpace(head)) == 0 {
			return nil // a blank line is no record
		}
		records++
		ref := LineRef{Src: r.Src, Offset: off, Length: length, RangeStart: r.Start, Index: i}
		first := feat.FirstField(head)
		id, err := feat.ParseImageID(first)
		if err != nil {
			ref.Bad = err.Error()
		} else if len(first) == len(head) && length > int64(len(head)) {
			ref.Bad = fmt.Sprintf("%v: the first field is longer than %d bytes", feat.ErrImageID, scanHead)
			id = 0
		}
		ref.ImageID = id
		emit(shard.Of(id, f.NumShards), ref)
		return nil
	})
	if err != nil {
		return fmt.Errorf("features: scan %s [%d, %d): %w", src.Name, r.Start, r.End, err)
	}
	emitCount(RangeLines{Src: r.Src, Start: r.Start, Lines: idx, Records: records})
	return nil
}

func (f *scanFn) listNPZ(ctx context.Context, i int, src Source, emit func(int, LineRef), emitCount func(RangeLines)) error {
	objs, err := blobio.List(ctx, blobio.Join(src.Loc, src.Prefix+"_att"))
	if err != nil {
		return fmt.Errorf("features: list %s: %w", src.Name, err)
	}
	var n int64
	for _, o := range objs {
		if strings.Contains(o.Name, "/") || !strings.HasSuffix(o.Name, ".npz") {
			continue
		}
		ref := LineRef{Src: i, Name: o.Name, Index: n}
		id, err := strconv.ParseInt(strings.TrimSuffix(o.Name, ".npz"), 10, 64)
		if err != nil {
			ref.Bad = fmt.Sprintf("%v: npz file name %q is not <image id>.npz", feat.ErrImageID, o.Name)
		}
		ref.ImageID = id
		emit(shard.Of(id, f.NumShards), ref)
		n++
	}
	emitCount(RangeLines{Src: i, Lines: n, Records: n})
	return nil
}

// markerFn emits one marker per shard so that every shard gets a file, even an empty one.
type markerFn struct{}

func (f *markerFn) ProcessElement(i int, emit func(int, LineRef)) { emit(i, LineRef{Src: -1}) }

// writeShardFn writes one shard of the store from its records' refs.
type writeShardFn struct {
	Config Config
	// Ranges is the number of ranges scanned: each sends its line count to every shard.
	Ranges int

	sem     chan struct{} // one token per shard being written
	pending sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

// job is one record in flight through the decoding goroutines.
type job struct {
	ref  *LineRef
	raw  *feat.Raw // from rawPool; back once the row is written
	row  *feat.Row
	rej  string // reject reason
	err  error  // fatal
	done chan struct{}
}

func (f *writeShardFn) ProcessElement(ctx context.Context, sh int, iter func(*LineRef) bool, done func(int)) error {
	cfg := &f.Config
	name := shard.Name(feat.FeaturesTable, sh, cfg.NumShards)
	out := blobio.Join(cfg.Out, name)
	if ok, err := blobio.Exists(ctx, out); err != nil {
		return err
	} else if ok {
		log.Infof(ctx, "features: %s exists (finished by an earlier attempt); skipping", name)
		done(sh)
		return nil
	}
	var refs []*LineRef
	var rl []RangeLines
	var total int64
	var ref LineRef
	for iter(&ref) {
		switch {
		case ref.Src < 0:
			continue
		case ref.IsCount:
			rl = append(rl, RangeLines{Src: ref.Src, Start: ref.RangeStart, Lines: ref.Lines, Records: ref.Records})
			total += ref.Records
			continue
		}
		r := ref
		if r.Bad == "" && shard.Of(r.ImageID, cfg.NumShards) != sh {
			return fmt.Errorf("features: image %d routed to shard %d, belongs to %d", r.ImageID, sh, shard.Of(r.ImageID, cfg.NumShards))
		}
		refs = append(refs, &r)
	}
	if len(rl) != f.Ranges {
		return fmt.Errorf("features: shard %d got the line counts of %d ranges, want %d", sh, len(rl), f.Ranges)
	}
	// Line numbers: the lines before each range of each file.
	sort.Slice(rl, func(i, j int) bool {
		if rl[i].Src != rl[j].Src {
			return rl[i].Src < rl[j].Src
		}
		return rl[i].Start < rl[j].Start
	})
	before := map[[2]int64]int64{}
	for i := range rl {
		if i == 0 || rl[i].Src != rl[i-1].Src {
			before[[2]int64{int64(rl[i].Src), rl[i].Start}] = 0
		} else {
			before[[2]int64{int64(rl[i].Src), rl[i].Start}] = before[[2]int64{int64(rl[i-1].Src), rl[i-1].Start}] + rl[i-1].Lines
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if a.ImageID != b.ImageID {
			return a.ImageID < b.ImageID
		}
		if a.Src != b.Src {
			return a.Src < b.Src
		}
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return a.Name < b.Name
	})
	record := func(r *LineRef) string {
		if cfg.Sources[r.Src].Kind == KindNPZ {
			return cfg.Sources[r.Src].Prefix + "_att/" + r.Name
		}
		return "line " + strconv.FormatInt(before[[2]int64{int64(r.Src), r.RangeStart}]+r.Index+1, 10)
	}
	var rej []rejects.Reject
	reject := func(r *LineRef, reason string) {
		rej = append(rej, rejects.Reject{Source: cfg.Sources[r.Src].Name, Record: record(r), ImageID: r.ImageID, Reason: reason})
	}
	// Duplicates (the same id from two lines or files) keep the first in (source, offset) order.
	var todo []*LineRef
	for i, r := range refs {
		switch {
		case r.Bad != "":
			reject(r, r.Bad)
		case i > 0 && refs[i-1].Bad == "" && refs[i-1].ImageID == r.ImageID:
			first := i - 1
			for first > 0 && refs[first-1].Bad == "" && refs[first-1].ImageID == r.ImageID {
				first--
			}
			reject(r, fmt.Sprintf("%v: %d, first at %s %s", feat.ErrDuplicate, r.ImageID, cfg.Sources[refs[first].Src].Name, record(refs[first])))
		default:
			todo = append(todo, r)
		}
	}

	// The shard is written in the background: the next shard of the bundle starts while this
	// one drains (FinishBundle waits for all and reports their errors). It counts as done
	// here; a failure fails the bundle.
	if err := f.start(func() error {
		w, err := blobio.NewWriter(ctx, out)
		if err != nil {
			return err
		}
		abort := func() { w.Abort() }
		fw, err := feat.NewWriter(w, feat.WriterOptions{Encoding: cfg.Encoding, DType: cfg.DType, Dim: cfg.Dim,
			RowsPerGroup: cfg.RowsPerGroup, Shard: sh, NumShards: cfg.NumShards})
		if err != nil {
			abort()
			return err
		}
		readers := make([]*feat.LineReader, len(cfg.Sources))
		defer func() {
			for _, lr := range readers {
				if lr != nil {
					lr.Close()
				}
			}
		}()
		for i, src := range cfg.Sources {
			if src.Kind == KindTSV {
				if readers[i], err = feat.OpenLines(src.Loc); err != nil {
					abort()
					return err
				}
			}
		}
		if err := f.writeRows(ctx, sh, todo, readers, fw, reject); err != nil {
			var k killed
			if !errors.As(err, &k) {
				abort()
			} // else as if killed: the temporary file stays behind
			return err
		}
		st := fw.Stats()
		fw.SetCounts(int64(len(refs)), int64(len(rej)), total)
		if st.Rows+int64(len(rej)) != int64(len(refs)) {
			abort()
			return fmt.Errorf("features: shard %d: %d records, %d written, %d rejected", sh, len(refs), st.Rows, len(rej))
		}
		// The rejects commit first: a features shard that exists implies its rejects do.
		if err := writeRejects(ctx, blobio.Join(cfg.Out, shard.Name(feat.RejectsTable, sh, cfg.NumShards)), rej); err != nil {
			abort()
			return err
		}
		if err := fw.Close(); err != nil {
			abort()
			return fmt.Errorf("features: %s: %w", out, err)
		}
		if err := w.Close(); err != nil {
			return err
		}
		log.Infof(ctx, "features: %s: %d rows, %d rejected", name, st.Rows, len(rej))
		return nil
	}); err != nil {
		return err
	}
	done(sh)
	return nil
}

// shardsInParallel is how many shards one bundle writes at once.
const shardsInParallel = 2

// StartBundle prepares the background shard writers. (The SDK wants ProcessElement's emitter
// here too.)
func (f *writeShardFn) StartBundle(_ context.Context, _ func(int)) error {
	f.sem = make(chan struct{}, shardsInParallel)
	f.errs = nil
	return nil
}

// start runs write in the background once fewer than shardsInParallel shards are in flight,
// or returns the error of one that failed.
func (f *writeShardFn) start(write func() error) error {
	f.sem <- struct{}{}
	if err := f.firstErr(); err != nil {
		<-f.sem
		return err
	}
	f.pending.Add(1)
	go func() {
		defer f.pending.Done()
		defer func() { <-f.sem }()
		if err := write(); err != nil {
			f.mu.Lock()
			f.errs = append(f.errs, err)
			f.mu.Unlock()
		}
	}()
	return nil
}

func (f *writeShardFn) firstErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	return nil
}

// FinishBundle waits for the shards in flight.
func (f *writeShardFn) FinishBundle(_ context.Context, _ func(int)) error {
	f.pending.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// testHookRow, set only by tests, runs after each row a shard writer has written (n of total
// rows of shard sh); an error it returns stops the writer as a killed process would stop: the
// shard's temporary file is left behind.
var testHookRow func(sh, n, total int) error

// killed is the error of a writer stopped by testHookRow.
type killed struct{ err error }

func (k killed) Error() string { return k.err.Error() }
func (k killed) Unwrap() error { return k.err }

// rawPool recycles the decoding buffers of records (a 36×2048 record is ~300 KB of fresh,
// zeroed memory otherwise).
var rawPool = sync.Pool{New: func() any { return new(feat.Raw) }}

// inFlightPerWorker bounds the records decoded ahead of the writer.
const inFlightPerWorker = 8

// writeRows decodes, checks and encodes todo with a pool of goroutines and writes the rows in
// order; bad records go to reject.
func (f *writeShardFn) writeRows(ctx context.Context, sh int, todo []*LineRef, readers []*feat.LineReader, fw *feat.Writer, reject func(*LineRef, string)) error {
	cfg := &f.Config
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan *job, workers*inFlightPerWorker)
	work := make(chan *job, workers*inFlightPerWorker)
	go func() {
		defer close(order)
		defer close(work)
		for _, r := range todo {
			j := &job{ref: r, done: make(chan struct{})}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			work <- j
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var line []byte
			for j := range work {
				line = f.decode(ctx, j, readers, fw, line)
				close(j.done)
			}
		}()
	}
	defer wg.Wait()
	progress := newProgress(ctx, sh, int64(len(todo)))
	n := 0
	for j := range order {
		<-j.done
		switch {
		case j.err != nil:
			cancel()
			for range order {
			}
			return j.err
		case j.rej != "":
			reject(j.ref, j.rej)
		default:
			if err := fw.WriteRow(j.row); err != nil {
				cancel()
				for range order {
				}
				return err
			}
		}
		// The writer has copied the row: its decoding buffers can serve another record.
		rawPool.Put(j.raw)
		j.raw, j.row = nil, nil
		n++
		progress.add(1)
		if testHookRow != nil {
			if err := testHookRow(sh, n, len(todo)); err != nil {
				cancel()
				for range order {
				}
				return killed{err}
			}
		}
	}
	progress.done()
	return ctx.Err()
}

// decode fills j.row, j.rej or j.err; line is a reusable read buffer.
func (f *writeShardFn) decode(ctx context.Context, j *job, readers []*feat.LineReader, fw *feat.Writer, line []byte) []byte {
	cfg := &f.Config
	src := cfg.Sources[j.ref.Src]
	raw := rawPool.Get().(*feat.Raw)
	*raw = feat.Raw{Boxes: raw.Boxes[:0], Features: raw.Features[:0]} // keep only the buffers
	j.raw = raw
	lim := feat.Limits{Dim: cfg.Dim, MinBoxes: cfg.MinBoxes, MaxBoxes: cfg.MaxBoxes}
	var err error
	switch {
	case src.Kind == KindNPZ:
		files := feat.NPZFiles{
			Att: blobio.Join(src.Loc, src.Prefix+"_att", j.ref.Name),
			Box: blobio.Join(src.Loc, src.Prefix+"_box", strings.TrimSuffix(j.ref.Name, ".npz")+".npy"),
		}
		if src.HasFC {
			files.FC = blobio.Join(src.Loc, src.Prefix+"_fc", strings.TrimSuffix(j.ref.Name, ".npz")+".npy")
		}
		err = feat.ReadNPZ(ctx, j.ref.ImageID, files, lim, raw)
	case j.ref.Length > lim.MaxTSVLine():
		// Rejected unread: decoding would allocate in proportion to the line.
		err = fmt.Errorf("%w: a line of %d bytes; at most %d boxes of D = %d take at most %d", feat.ErrTooLarge, j.ref.Length, cfg.MaxBoxes, cfg.Dim, lim.MaxTSVLine())
	default:
		layout := cfg.Layout
		if layout == feat.LayoutNPZ {
			layout = feat.LayoutAuto
		}
		var ioErr error
		line, ioErr = readers[j.ref.Src].Line(ctx, j.ref.Offset, j.ref.Length, line, func(l []byte) error {
			_, err = feat.ParseTSV(l, layout, raw) // a data error: the record is rejected
			return nil
		})
		if ioErr != nil {
			j.err = ioErr
			return line
		}
	}
	if err == nil {
		err = raw.Check(lim)
	}
	if err == nil {
		j.row, err = fw.Prepare(raw)
	}
	j.rej, j.err = classify(src.Name, err)
	return line
}

// classify sorts a record's decoding error: a bad record (a features.DataError) becomes the
// reason of its rejects row, any other error (I/O) fails the stage, named after the source.
func classify(source string, err error) (reject string, fatal error) {
	switch {
	case err == nil:
		return "", nil
	case feat.IsDataError(err):
		return err.Error(), nil
	default:
		return "", fmt.Errorf("features: %s: %w", source, err)
	}
}

// writeRejects writes one rejects shard (possibly empty).
func writeRejects(ctx context.Context, loc string, rows []rejects.Reject) error {
	w, err := blobio.NewWriter(ctx, loc)
	if err != nil {
		return err
	}
	pw := parquet.NewGenericWriter[rejects.Reject](w, parquet.CreatedBy("groundcap", "1", ""))
	if len(rows) > 0 {
		if _, err := pw.Write(rows); err != nil {
			w.Abort()
			return fmt.Errorf("features: %s: %w", loc, err)
		}
	}
	if err := pw.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("features: %s: %w", loc, err)
	}
	return w.Close()
}

// progressLog logs a shard writer's progress with rate and ETA at most every few seconds.
type progressLog struct {
	ctx   context.Context
	shard int
	total int64
	n     int64
	start time.Time
	last  time.Time
}

const progressInterval = 5 * time.Second

func newProgress(ctx context.Context, sh int, total int64) *progressLog {
	now := time.Now()
	return &progressLog{ctx: ctx, shard: sh, total: total, start: now, last: now}
}

func (p *progressLog) add(k int64) {
	p.n += k
	if now := time.Now(); now.Sub(p.last) >= progressInterval {
		p.last = now
		el := now.Sub(p.start)
		rate := float64(p.n) / el.Seconds()
		eta := time.Duration(float64(p.total-p.n) / rate * float64(time.Second))
		log.Infof(p.ctx, "features: shard %d: %d/%d records, %.0f records/s, ETA %s", p.shard, p.n, p.total, rate, eta.Round(time.Second))
	}
}

func (p *progressLog) done() {
	el := time.Since(p.start)
	log.Infof(p.ctx, "features: shard %d: %d records in %s", p.shard, p.n, el.Round(time.Millisecond))
}
