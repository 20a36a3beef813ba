package captions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/vocab"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Caption)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ReaderStats)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ShardStats)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*GroundingStats)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Stats)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ShardCounts)(nil)).Elem())
	register.DoFn7x1[context.Context, []byte, func(int, Caption), func([]string), func([]string), func(rejects.Reject), func(ReaderStats), error](&ReadFn{})
	register.DoFn4x1[context.Context, []byte, func(int, string), func(rejects.Reject), error](&ListEntitiesFn{})
	register.DoFn9x1[context.Context, int, func(*Caption) bool, func(*string) bool, func(*int) bool, func(*ShardCounts) bool, func(ShardStats), func(vocab.Counts), func(rejects.Reject), error](&ShardFn{})
	register.DoFn4x0[int, func(*vocab.Counts) bool, func(*vocab.Counts) bool, func(int, ShardCounts)](&broadcastFn{})
	register.Function2x0(keyZero)
	register.Emitter2[int, vocab.Counts]()
	register.Emitter2[int, ShardCounts]()
	register.Iter1[vocab.Counts]()
	register.Iter1[ShardCounts]()
	register.DoFn9x1[context.Context, []byte, ReaderStats, func(*ShardStats) bool, int64, vocab.Counts, vocab.Counts, vocab.Counts, func(Stats), error](&FinalizeFn{})
	register.Function2x0(shardSeed)
	register.Emitter2[int, Caption]()
	register.Emitter2[int, string]()
	register.Emitter2[int, int]()
	register.Emitter1[[]string]()
	register.Emitter1[rejects.Reject]()
	register.Emitter1[ReaderStats]()
	register.Emitter1[ShardStats]()
	register.Emitter1[vocab.Counts]()
	register.Emitter1[Stats]()
	register.Iter1[Caption]()
	register.Iter1[string]()
	register.Iter1[int]()
	register.Iter1[ShardStats]()
}

// Locations are the resolved input and output locations of one run.
type Locations struct {
	Dataset    string // caption file
	Entities   string // Flickr30k Entities directory ("" for none)
	ClassNames string // class list ("" for none)
	SplitIDs   string // split ids ("" for none)
	Out        string // output directory
}

// ReadFn reads the caption file (its main input is a single impulse). It emits KV<shard, Caption>
// for every valid caption, the tokens of train (and restval) captions for the word counts, the
// matching-model tokens of train, restval and val captions for the matching vocabulary's counts,
// a Reject for every bad record, and one ReaderStats. Malformed JSON and duplicate image ids fail
// it.
type ReadFn struct {
	Dataset   string
	Format    Format
	SplitIDs  string
	NumShards int
}

// ProcessElement reads the whole file.
func (f *ReadFn) ProcessElement(ctx context.Context, _ []byte, emit func(int, Caption), emitTrain, emitMatch func([]string), emitReject func(rejects.Reject), emitStats func(ReaderStats)) error {
	var splits map[int64]string
	if f.SplitIDs != "" {
		var err error
		if splits, err = readSplitIDs(ctx, f.SplitIDs); err != nil {
			return err
		}
	}
	r := &reader{source: f.Dataset, numShards: f.NumShards, splitIDs: splits, emit: emit, emitTrain: emitTrain, emitMatch: emitMatch, emitReject: emitReject, seen: map[int64]string{},
		reopen: func() (io.ReadCloser, error) { return blobio.NewReader(ctx, f.Dataset) }}
	in, err := blobio.NewReader(ctx, f.Dataset)
	if err != nil {
		return fmt.Errorf("captions: dataset: %w", err)
	}
	defer in.Close()
	format := f.Format
	if format == FormatAuto || format == "" {
		format = FormatJSON
		if l := strings.ToLower(f.Dataset); strings.HasSuffix(l, ".jsonl") || strings.HasSuffix(l, ".ndjson") {
			format = FormatJSONL
		}
	}
	if format == FormatJSONL {
		err = r.readJSONL(in)
	} else {
		err = r.readJSON(in)
	}
	if err != nil {
		return err
	}
	if err := r.finish(); err != nil {
		return err
	}
	emitStats(r.stats)
	return nil
}

// ListEntitiesFn lists Sentences/*.txt of an Entities directory and emits KV<shard, file stem>;
// a file whose stem is not an image id is rejected.
type ListEntitiesFn struct {
	Entities  string
	NumShards int
}

// ProcessElement lists the directory.
func (f *ListEntitiesFn) ProcessElement(ctx context.Context, _ []byte, emit func(int, string), emitReject func(rejects.Reject)) error {
	dir := blobio.Join(f.Entities, "Sentences")
	objs, err := blobio.List(ctx, dir)
	if err != nil {
		return fmt.Errorf("captions: entities: %w", err)
	}
	n := 0
	for _, o := range objs {
		if strings.Contains(o.Name, "/") || !strings.HasSuffix(o.Name, ".txt") {
			continue
		}
		n++
		stem := strings.TrimSuffix(o.Name, ".txt")
		id, err := parseImageName(stem)
		if err != nil {
			emitReject(rejects.Reject{Source: blobio.Join(dir, o.Name), Record: "file", Reason: err.Error()})
			continue
		}
		emit(shard.Of(id, f.NumShards), stem)
	}
	if n == 0 {
		return fmt.Errorf("captions: entities %s: no Sentences/*.txt files", f.Entities)
	}
	return nil
}

func shardSeed(i int, emit func(int, int)) { emit(i, i) }

// Build adds the captions pipeline to s: read, count train words, group by shard, tag, encode and
// write both tables, then the vocabulary, the document frequencies and the statistics. It returns
// the PCollection<Stats> (one element) that FinalizeFn wrote to stats.json. It panics on
// invalid parameters (Params.Validate).
func Build(s beam.Scope, loc Locations, p Params) beam.PCollection {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	s = s.Scope("captions")
	imp := beam.Impulse(s)
	caps, trainToks, matchToks, readRejects, readStats := beam.ParDo5(s.Scope("Read"), &ReadFn{Dataset: loc.Dataset, Format: p.Format, SplitIDs: loc.SplitIDs, NumShards: p.NumShards}, imp)
	counts := vocab.Count(s, trainToks)
	matchCounts := vocab.Count(s.Scope("Matching"), matchToks)

	var ents beam.PCollection
	rejs := []beam.PCollection{readRejects}
	if loc.Entities != "" {
		var listRejects beam.PCollection
		ents, listRejects = beam.ParDo2(s.Scope("ListEntities"), &ListEntitiesFn{Entities: loc.Entities, NumShards: p.NumShards}, imp)
		rejs = append(rejs, listRejects)
	} else {
		ents = beam.CreateList(s, []string{})
		ents = beam.ParDo(s, dropAll, ents)
	}
	seeds := make([]int, p.NumShards)
	for i := range seeds {
		seeds[i] = i
	}
	seed := beam.ParDo(s, shardSeed, beam.CreateList(s, seeds))
	// The word counts go to every shard through the grouping, not as a side input: prism
	// (v2.77) busy-waits, a whole core, while a stage that reads a side input runs.
	both := beam.CoGroupByKey(s.Scope("PairCounts"), beam.ParDo(s, keyZero, counts), beam.ParDo(s, keyZero, matchCounts))
	countsByShard := beam.ParDo(s, &broadcastFn{NumShards: p.NumShards}, both)
	grouped := beam.CoGroupByKey(s.Scope("GroupByShard"), caps, ents, seed, countsByShard)
	stats, df, shardRejects := beam.ParDo3(s.Scope("WriteShards"), &ShardFn{
		Dir: loc.Out, NumShards: p.NumShards, MaxLength: p.MaxLength, Threshold: int64(p.WordCountThreshold),
		MatchThreshold: int64(p.MatchWordCountThreshold), Entities: loc.Entities, ClassNames: loc.ClassNames,
	}, grouped)
	rejs = append(rejs, shardRejects)
	nRejects := rejects.Write(s, loc.Out, rejs...)
	dfSum := vocab.Sum(s.Scope("DocFreq"), df)
	return beam.ParDo(s.Scope("Finalize"), &FinalizeFn{Dir: loc.Out, Threshold: int64(p.WordCountThreshold), MatchThreshold: int64(p.MatchWordCountThreshold),
		Entities: loc.Entities != "", NumShards: p.NumShards, MaxLength: p.MaxLength},
		imp, beam.SideInput{Input: readStats}, beam.SideInput{Input: stats}, beam.SideInput{Input: nRejects},
		beam.SideInput{Input: counts}, beam.SideInput{Input: matchCounts}, beam.SideInput{Input: dfSum})
}

func init() { register.Function2x0(dropAll) }

// ShardCounts are the word counts every shard encodes with: the captioner's (train words) and
// the matching model's (train and val matching tokens).
type ShardCounts struct {
	Captioner, Matching vocab.Counts
}

// keyZero keys the one element of a singleton PCollection<vocab.Counts> by 0.
func keyZero(c vocab.Counts, emit func(int, vocab.Counts)) { emit(0, c) }

// broadcastFn sends the (one) pair of word counts to every shard.
type broadcastFn struct {
	NumShards int
}

func (f *broadcastFn) ProcessElement(_ int, capIter, matchIter func(*vocab.Counts) bool, emit func(int, ShardCounts)) {
	var c ShardCounts
	capIter(&c.Captioner)
	matchIter(&c.Matching)
	for sh := 0; sh < f.NumShards; sh++ {
		emit(sh, c)
	}
}

// dropAll turns an empty PCollection<string> into an empty PCollection<KV<int, string>>.
func dropAll(string, func(int, string)) {}

// SplitCount is the number of images and captions of one split.
type SplitCount struct {
	Images   int64 `json:"images"`
	Captions int64 `json:"captions"`
}

// RecordCount reconciles records: Read = Written + Rejected.
type RecordCount struct {
	Read     int64 `json:"read"`
	Written  int64 `json:"written"`
	Rejected int64 `json:"rejected"`
}

// Stats is stats.json.
type Stats struct {
	Images      int64                 `json:"images"`
	Captions    int64                 `json:"captions"`
	Splits      map[string]SplitCount `json:"splits"`
	Records     RecordCount           `json:"records"` // caption records of the dataset
	RawOnly     int64                 `json:"raw_only"`
	Truncated   int64                 `json:"truncated"`
	MaxLength   int                   `json:"max_length"`
	VocabSize   int                   `json:"vocab_size"`
	Threshold   int64                 `json:"word_count_threshold"`
	Tokens      int64                 `json:"tokens"`
	UNKTokens   int64                 `json:"unk_tokens"`
	UNKRate     float64               `json:"unk_rate"` // UNK tokens / tokens written
	NounTokens  int64                 `json:"noun_tokens"`
	Tags        map[string]int64      `json:"tag_histogram"`
	DocFreq     DocFreqStats          `json:"doc_freq"`
	Matching    MatchingStats         `json:"matching"`
	Grounding   *GroundingSummary     `json:"grounding,omitempty"`
	RejectsRows int64                 `json:"rejects_rows"`
	NumShards   int                   `json:"num_shards"`
}

// MatchingStats describe the matching model's text: match_vocab.json and the match_ columns.
type MatchingStats struct {
	File      string `json:"file"`
	VocabSize int    `json:"vocab_size"` // ids, the four special tokens included
	Threshold int64  `json:"min_word_count"`
	// Tokens counts the matching tokens written (every caption, <start>/<end> not counted);
	// UNKTokens those without their own id; NounTokens those tagged as nouns.
	Tokens     int64   `json:"tokens"`
	UNKTokens  int64   `json:"unk_tokens"`
	UNKRate    float64 `json:"unk_rate"`
	NounTokens int64   `json:"noun_tokens"`
	// Longer counts the captions with more matching tokens than max_length (the matching model
	// reads them whole).
	Longer int64 `json:"longer_than_max_length"`
}

// DocFreqStats describes cider_df.json.
type DocFreqStats struct {
	Images int64   `json:"images"` // train images; 0: no table written
	NGrams int     `json:"ngrams"`
	File   string  `json:"file,omitempty"`
	RefLen float64 `json:"ref_len"` // ln(images)
}

// GroundingSummary is the grounding part of stats.json.
type GroundingSummary struct {
	Images             int64       `json:"images"`
	ImagesNotInDataset int64       `json:"images_not_in_dataset"`
	Sentences          int64       `json:"sentences"`         // Sentences lines parsed
	SentencesMissing   int64       `json:"sentences_missing"` // dataset captions without a Sentences line
	Records            RecordCount `json:"records"`           // phrase records
	NotVisual          int64       `json:"not_visual"`
	NoBox              int64       `json:"no_box"`
	Scene              int64       `json:"scene"`
	WithClass          int64       `json:"with_class"`
	TokenMismatch      int64       `json:"token_mismatch"`
}

// FinalizeFn writes vocab.json, cider_df.json and stats.json from the side inputs (its main input
// is a single impulse) and emits the Stats.
type FinalizeFn struct {
	Dir            string
	Threshold      int64
	MatchThreshold int64
	Entities       bool
	NumShards      int
	MaxLength      int
}

// ProcessElement writes the summary files.
func (f *FinalizeFn) ProcessElement(ctx context.Context, _ []byte, rs ReaderStats, shards func(*ShardStats) bool, nRejects int64,
	counts, matchCounts, df vocab.Counts, emit func(Stats)) error {
	v := vocab.Build(counts, f.Threshold)
	mv := vocab.BuildMatching(matchCounts, f.MatchThreshold)
	st := Stats{Splits: map[string]SplitCount{}, Tags: map[string]int64{}, MaxLength: f.MaxLength, VocabSize: v.Size(), Threshold: f.Threshold,
		RawOnly: rs.RawOnly, RejectsRows: nRejects, NumShards: f.NumShards}
	var g GroundingStats
	var ss ShardStats
	for shards(&ss) {
		for sp, n := range ss.Images {
			c := st.Splits[sp]
			c.Images += n
			st.Splits[sp] = c
			st.Images += n
		}
		for sp, n := range ss.Captions {
			c := st.Splits[sp]
			c.Captions += n
			st.Splits[sp] = c
			st.Captions += n
		}
		st.Tokens += ss.Tokens
		st.UNKTokens += ss.UNKTokens
		st.Matching.Tokens += ss.MatchTokens
		st.Matching.UNKTokens += ss.MatchUNKTokens
		st.Matching.NounTokens += ss.MatchNounTokens
		st.Matching.Longer += ss.MatchLonger
		st.NounTokens += ss.NounTokens
		st.Truncated += ss.Truncated
		for t, n := range ss.Tags {
			st.Tags[t] += n
		}
		st.DocFreq.Images += ss.DFImages
		g.add(ss.Grounding)
		ss = ShardStats{}
	}
	if st.Tokens > 0 {
		st.UNKRate = float64(st.UNKTokens) / float64(st.Tokens)
	}
	st.Matching.VocabSize, st.Matching.Threshold, st.Matching.File = mv.Size(), f.MatchThreshold, captionstable.MatchVocabFile
	if st.Matching.Tokens > 0 {
		st.Matching.UNKRate = float64(st.Matching.UNKTokens) / float64(st.Matching.Tokens)
	}
	st.Records = RecordCount{Read: rs.Records, Written: st.Captions, Rejected: rs.Rejected}
	if f.Entities {
		st.Grounding = &GroundingSummary{Images: g.Images, ImagesNotInDataset: g.ImagesNotInDataset, Sentences: g.Sentences,
			SentencesMissing: g.SentencesMissing, Records: RecordCount{Read: g.Read, Written: g.Written, Rejected: g.Rejected}, NotVisual: g.NotVisual, NoBox: g.NoBox,
			Scene: g.Scene, WithClass: g.WithClass, TokenMismatch: g.TokenMismatch}
	}
	// Rejects of the Entities listing (bad file names) are in the table but not in the shard counts.
	if want := rs.Rejected + g.Rejected; nRejects != want && st.Grounding != nil {
		extra := nRejects - want
		st.Grounding.Records.Read += extra
		st.Grounding.Records.Rejected += extra
	}
	vj, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("captions: vocab.json: %w", err)
	}
	if err := blobio.WriteAll(ctx, blobio.Join(f.Dir, captionstable.VocabFile), append(vj, '\n')); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	mj, err := json.MarshalIndent(mv, "", " ")
	if err != nil {
		return fmt.Errorf("captions: %s: %w", captionstable.MatchVocabFile, err)
	}
	if err := blobio.WriteAll(ctx, blobio.Join(f.Dir, captionstable.MatchVocabFile), append(mj, '\n')); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	if st.DocFreq.Images > 0 {
		d := &caption.DocFreq{NumImages: int(st.DocFreq.Images), NGrams: make(map[string]int, len(df.Words))}
		for g, n := range df.Words {
			d.NGrams[g] = int(n)
		}
		w, err := blobio.NewWriter(ctx, blobio.Join(f.Dir, captionstable.DocFreqFile))
		if err != nil {
			return fmt.Errorf("captions: %w", err)
		}
		if err := d.Write(w); err != nil {
			w.Abort()
			return fmt.Errorf("captions: %s: %w", captionstable.DocFreqFile, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("captions: %w", err)
		}
		st.DocFreq.NGrams, st.DocFreq.File = len(d.NGrams), captionstable.DocFreqFile
		st.DocFreq.RefLen = math.Log(float64(st.DocFreq.Images))
	}
	sj, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("captions: stats.json: %w", err)
	}
	if err := blobio.WriteAll(ctx, blobio.Join(f.Dir, StatsFile), append(sj, '\n')); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	emit(st)
	return nil
}

// StatsFile is the stage's summary (Stats) in its output directory.
const StatsFile = "stats.json"

// ReadStats reads stats.json.
func ReadStats(ctx context.Context, loc string) (*Stats, error) {
	data, err := blobio.ReadAll(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	var st Stats
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("captions: %s: %w", loc, err)
	}
	return &st, nil
}
