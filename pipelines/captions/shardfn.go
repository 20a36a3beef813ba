package captions

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"gocloud.dev/gcerrors"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/pipelines/artifacts/captionstable"
	"github.com/groundcap/groundcap/transforms/lemma"
	"github.com/groundcap/groundcap/transforms/parquetshard"
	"github.com/groundcap/groundcap/transforms/postag"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/vocab"
)

// writerOptions are the Parquet options of both tables: statistics are pointless on free text and
// token lists.
var (
	captionsOptions  = parquetshard.Options{NoStatistics: []string{"raw", "tokens.list.element", "pos.list.element", "match_tokens.list.element"}}
	groundingOptions = parquetshard.Options{NoStatistics: []string{"words.list.element", "head_word"}}
)

// GroundingStats counts the entity side of one shard (or of the whole run).
type GroundingStats struct {
	Images             int64 // Entities images of the dataset
	ImagesNotInDataset int64 // Entities images without a caption record (skipped, counted here)
	Sentences          int64 // Sentences lines parsed
	// SentencesMissing counts the dataset captions of Entities images that have no Sentences
	// line (an empty file, a blank line, a file shorter than the image's captions): each is in
	// a rejects row (one per empty file).
	SentencesMissing int64
	Read             int64 // phrase records read (plus files or lines that failed whole)
	Written          int64
	Rejected         int64
	NotVisual        int64
	NoBox            int64
	Scene            int64
	WithClass        int64 // phrases whose head word matched a class
	TokenMismatch    int64 // sentences whose words differ from the dataset caption's tokens
}

func (g *GroundingStats) add(o GroundingStats) {
	g.Images += o.Images
	g.ImagesNotInDataset += o.ImagesNotInDataset
	g.Sentences += o.Sentences
	g.SentencesMissing += o.SentencesMissing
	g.Read += o.Read
	g.Written += o.Written
	g.Rejected += o.Rejected
	g.NotVisual += o.NotVisual
	g.NoBox += o.NoBox
	g.Scene += o.Scene
	g.WithClass += o.WithClass
	g.TokenMismatch += o.TokenMismatch
}

// ShardStats summarises one shard.
type ShardStats struct {
	Shard      int
	Images     map[string]int64 // per split
	Captions   map[string]int64 // per split (rows written)
	Tokens     int64            // tokens written (after truncation)
	UNKTokens  int64
	NounTokens int64
	Truncated  int64 // captions longer than max_length
	Tags       map[string]int64
	DFImages   int64 // train images entering the document-frequency table
	// Matching-model text: tokens written (<start>/<end> not counted), those mapped to <unk>,
	// those tagged as nouns, and captions with more tokens than max_length.
	MatchTokens, MatchUNKTokens, MatchNounTokens, MatchLonger int64
	Grounding                                                 GroundingStats
}

// ShardFn turns the captions and Entities images of one shard into its captions and
// grounding_refs files. Input: KV<shard, (iter Caption, iter entity image name, iter int, iter
// ShardCounts)> from a CoGroupByKey (the third input makes every shard appear, even an empty one;
// the fourth brings the word counts of both vocabularies). Outputs: ShardStats, the shard's partial n-gram document frequencies (vocab.Counts)
// and rejects of Entities records.
//
// The tagging model is loaded once per worker process (postag.Load) in Setup. A shard whose files
// already exist is not rewritten (resume after a crash), but its statistics are recomputed.
type ShardFn struct {
	Dir       string // output directory
	NumShards int
	MaxLength int
	Threshold int64
	// MatchThreshold is the matching vocabulary's min word count.
	MatchThreshold int64
	Entities       string // Flickr30k Entities directory, "" for none
	ClassNames     string // class list location, "" for none
	// Workers tags with this many goroutines (0: GOMAXPROCS).
	Workers int

	model   *postag.Model
	classes *lemma.Classes
	loaded  bool
}

// Setup loads the tagging model.
func (f *ShardFn) Setup() error {
	m, err := postag.Load()
	f.model = m
	return err
}

func (f *ShardFn) loadClasses(ctx context.Context) error {
	if f.loaded || f.ClassNames == "" {
		f.loaded = true
		return nil
	}
	names, err := ReadClassNames(ctx, f.ClassNames)
	if err != nil {
		return err
	}
	f.classes = lemma.NewClasses(names)
	f.loaded = true
	return nil
}

// ReadClassNames reads a class list: one class per line, blank lines skipped, surrounding white
// space trimmed, lower-cased.
func ReadClassNames(ctx context.Context, loc string) ([]string, error) {
	data, err := blobio.ReadAllLimit(ctx, loc, maxListFile)
	if err != nil {
		return nil, fmt.Errorf("captions: class_names: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		n := strings.ToLower(strings.TrimSpace(sc.Text()))
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, " \t") {
			return nil, fmt.Errorf("captions: class_names %s: line %d: %q is not one word", loc, line, n)
		}
		names = append(names, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("captions: class_names %s: %w", loc, err)
	}
	return names, nil
}

// ProcessElement processes one shard.
func (f *ShardFn) ProcessElement(ctx context.Context, shardNum int, caps func(*Caption) bool, ents func(*string) bool, _ func(*int) bool,
	countsIter func(*ShardCounts) bool, emitStats func(ShardStats), emitDF func(vocab.Counts), emitReject func(rejects.Reject)) error {
	if err := f.loadClasses(ctx); err != nil {
		return err
	}
	var counts ShardCounts
	n := 0
	for c := (ShardCounts{}); countsIter(&c); c = (ShardCounts{}) {
		counts = c
		n++
	}
	if n != 1 {
		return fmt.Errorf("captions: shard %d got %d copies of the word counts, want 1", shardNum, n)
	}
	v := vocab.Build(counts.Captioner, f.Threshold)
	mv := vocab.BuildMatching(counts.Matching, f.MatchThreshold)
	var all []Caption
	var c Caption
	for caps(&c) {
		all = append(all, c)
		c = Caption{}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ImageID != all[j].ImageID {
			return all[i].ImageID < all[j].ImageID
		}
		return all[i].Idx < all[j].Idx
	})
	tags := f.tagAll(all, func(c *Caption) []string { return c.Tokens })
	matchTags := f.tagAll(all, func(c *Caption) []string { return c.MatchTokens })
	st := ShardStats{Shard: shardNum, Images: map[string]int64{}, Captions: map[string]int64{}, Tags: map[string]int64{}}
	rows := make([]captionstable.Row, len(all))
	for i := range all {
		c := &all[i]
		n := min(len(c.Tokens), f.MaxLength)
		if len(c.Tokens) > f.MaxLength {
			st.Truncated++
		}
		r := captionstable.Row{ImageID: c.ImageID, Split: c.Split, CaptionIdx: c.Idx, Raw: c.Raw, Tokens: c.Tokens[:n], POS: tags[i][:n], Length: int32(n)}
		if r.Raw == "" {
			r.Raw = strings.Join(c.Tokens, " ")
		}
		r.Labels = v.Encode(r.Tokens, make([]int32, 0, n))
		r.NounMask = make([]bool, n)
		for k, w := range r.Tokens {
			noun := postag.IsNoun(r.POS[k])
			known := v.Known(w)
			r.NounMask[k] = noun && known
			st.Tags[r.POS[k]]++
			if !known {
				st.UNKTokens++
			}
			if r.NounMask[k] {
				st.NounTokens++
			}
		}
		st.Tokens += int64(n)
		nouns := make([]bool, len(c.MatchTokens))
		for k, t := range matchTags[i] {
			nouns[k] = postag.IsNoun(t)
			if nouns[k] {
				st.MatchNounTokens++
			}
			if !mv.Known(c.MatchTokens[k]) {
				st.MatchUNKTokens++
			}
		}
		r.MatchTokens = c.MatchTokens
		r.MatchIDs, r.MatchNounMask = mv.EncodeCaption(c.MatchTokens, nouns, make([]int32, 0, len(c.MatchTokens)+2))
		st.MatchTokens += int64(len(c.MatchTokens))
		if len(c.MatchTokens) > f.MaxLength {
			st.MatchLonger++
		}
		st.Captions[c.Split]++
		if i == 0 || all[i-1].ImageID != c.ImageID {
			st.Images[c.Split]++
		}
		rows[i] = r
	}
	df, dfImages := docFreq(all, v)
	st.DFImages = dfImages
	if err := f.write(ctx, shard.Name(captionstable.CaptionsTable, shardNum, f.NumShards), rows, captionsOptions); err != nil {
		return err
	}
	if f.Entities != "" {
		var names []string
		var name string
		for ents(&name) {
			names = append(names, name)
		}
		sort.Strings(names)
		refs, g, err := f.grounding(ctx, names, all, tags, emitReject)
		if err != nil {
			return err
		}
		st.Grounding = g
		if err := f.write(ctx, shard.Name(captionstable.GroundingTable, shardNum, f.NumShards), refs, groundingOptions); err != nil {
			return err
		}
	}
	emitDF(df)
	emitStats(st)
	return nil
}

// write writes a shard file unless an earlier attempt did.
func (f *ShardFn) write(ctx context.Context, name string, rows any, opts parquetshard.Options) error {
	loc := blobio.Join(f.Dir, name)
	if ok, err := blobio.Exists(ctx, loc); err != nil {
		return fmt.Errorf("captions: %w", err)
	} else if ok {
		return nil
	}
	switch rs := rows.(type) {
	case []captionstable.Row:
		return parquetshard.Write(ctx, loc, rs, (*captionstable.Row).Compare, opts)
	case []captionstable.GroundingRef:
		return parquetshard.Write(ctx, loc, rs, (*captionstable.GroundingRef).Compare, opts)
	}
	panic(fmt.Sprintf("captions: write %T", rows))
}

// tagAll tags one full token sequence of every caption (toks picks it) with f.Workers goroutines.
func (f *ShardFn) tagAll(all []Caption, toks func(*Caption) []string) [][]string {
	tags := make([][]string, len(all))
	workers := f.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(all)/64))
	var wg sync.WaitGroup
	chunk := (len(all) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(all))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := postag.New(f.model)
			for i := lo; i < hi; i++ {
				ts := toks(&all[i])
				tags[i] = t.Tag(ts, make([]string, 0, len(ts)))
			}
		}()
	}
	wg.Wait()
	return tags
}

// docFreq counts, per train image of the shard, the distinct n-grams (n = 1..4) of its references
// (all tokens, words without their own id → UNK, then EOS), as prepro_ngrams.py does. all is
// sorted by image.
func docFreq(all []Caption, v *vocab.Vocab) (vocab.Counts, int64) {
	df := vocab.Counts{Words: map[string]int64{}}
	var images int64
	seen := map[string]bool{}
	var toks []string
	var sb strings.Builder
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].ImageID == all[i].ImageID {
			j++
		}
		if isTrain(all[i].Split) {
			images++
			clear(seen)
			for _, c := range all[i:j] {
				toks = toks[:0]
				for _, w := range c.Tokens {
					if !v.Known(w) {
						w = vocab.UNK
					}
					toks = append(toks, w)
				}
				toks = append(toks, captionstable.EOS)
				for n := 1; n <= 4; n++ {
					for s := 0; s+n <= len(toks); s++ {
						sb.Reset()
						for k, w := range toks[s : s+n] {
							if k > 0 {
								sb.WriteByte(' ')
							}
							sb.WriteString(w)
						}
						g := sb.String()
						if !seen[g] {
							seen[g] = true
							df.Words[g]++
						}
					}
				}
			}
		}
		i = j
	}
	return df, images
}

// maxEntityFile bounds the size of one Sentences or Annotations file (Flickr30k Entities files
// have a few KiB): a larger one is a rejects row, never read whole.
const maxEntityFile = 16 << 20

// entityImage is what one Entities image contributes.
type entityImage struct {
	refs    []captionstable.GroundingRef
	rejects []rejects.Reject
	stats   GroundingStats
	err     error
}

// grounding reads and resolves the Entities files of the shard's images (names are file stems).
func (f *ShardFn) grounding(ctx context.Context, names []string, all []Caption, tags [][]string, emitReject func(rejects.Reject)) ([]captionstable.GroundingRef, GroundingStats, error) {
	byImage := map[int64][]int{} // image id -> indices into all
	for i := range all {
		byImage[all[i].ImageID] = append(byImage[all[i].ImageID], i)
	}
	out := make([]entityImage, len(names))
	// One bucket for every file of the shard (opening one per file dominates on local disks).
	bucket, prefix, err := blobio.Open(ctx, f.Entities)
	if err != nil {
		return nil, GroundingStats{}, fmt.Errorf("captions: entities: %w", err)
	}
	defer bucket.Close()
	read := func(rel string) ([]byte, error) {
		key := strings.TrimSuffix(prefix, "/") + "/" + rel
		if prefix == "" {
			key = rel
		}
		loc := blobio.Join(f.Entities, rel)
		r, err := bucket.NewReader(ctx, key, nil)
		if err != nil && gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: %w", loc, blobio.ErrNotExist)
		}
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if r.Size() > maxEntityFile {
			return nil, fmt.Errorf("%w: %d bytes, more than the %d MiB a Flickr30k Entities file may have", blobio.ErrTooLarge, r.Size(), maxEntityFile>>20)
		}
		data, err := io.ReadAll(io.LimitReader(r, maxEntityFile+1))
		if err == nil && len(data) > maxEntityFile {
			err = fmt.Errorf("%w: more than the %d MiB a Flickr30k Entities file may have", blobio.ErrTooLarge, maxEntityFile>>20)
		}
		return data, err
	}
	sem := make(chan struct{}, 8) // concurrent reads: object stores have high latency per file
	var wg sync.WaitGroup
	for k, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := postag.New(f.model)
			out[k] = f.entityImage(name, read, byImage, all, tags, t)
		}()
	}
	wg.Wait()
	var refs []captionstable.GroundingRef
	var g GroundingStats
	for _, e := range out {
		if e.err != nil {
			return nil, g, e.err
		}
		refs = append(refs, e.refs...)
		for _, r := range e.rejects {
			emitReject(r)
		}
		g.add(e.stats)
	}
	return refs, g, nil
}

func (f *ShardFn) entityImage(name string, read func(rel string) ([]byte, error), byImage map[int64][]int, all []Caption, tags [][]string, t *postag.Tagger) entityImage {
	var e entityImage
	sentLoc := blobio.Join(f.Entities, "Sentences", name+".txt")
	xmlLoc := blobio.Join(f.Entities, "Annotations", name+".xml")
	id, err := parseImageName(name)
	reject := func(src, record, reason string) {
		e.stats.Read++
		e.stats.Rejected++
		e.rejects = append(e.rejects, rejects.Reject{Source: src, Record: record, ImageID: id, Reason: reason})
	}
	if err != nil {
		reject(sentLoc, "file", err.Error())
		return e
	}
	idx, inDataset := byImage[id]
	if !inDataset {
		e.stats.ImagesNotInDataset++
		return e
	}
	e.stats.Images++
	data, err := read("Sentences/" + name + ".txt")
	switch {
	case blobio.IsNotExist(err):
		reject(sentLoc, "file", "Sentences file missing")
		return e
	case errors.Is(err, blobio.ErrTooLarge):
		reject(sentLoc, "file", err.Error())
		return e
	case err != nil:
		e.err = fmt.Errorf("captions: %w", err)
		return e
	}
	var ann *annotation
	annErr := ""
	if xd, err := read("Annotations/" + name + ".xml"); err != nil {
		switch {
		case blobio.IsNotExist(err):
			annErr = "Annotations file missing"
		case errors.Is(err, blobio.ErrTooLarge):
			annErr = err.Error()
		default:
			e.err = fmt.Errorf("captions: %w", err)
			return e
		}
	} else if ann, err = parseAnnotation(xd); err != nil {
		annErr = err.Error()
	}
	split := all[idx[0]].Split
	capOf := map[int32]int{}
	for _, i := range idx {
		capOf[all[i].Idx] = i
	}
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	if strings.TrimSpace(string(data)) == "" {
		e.stats.SentencesMissing += int64(len(idx))
		reject(sentLoc, "file", fmt.Sprintf("Sentences file is empty; the dataset has %d captions of image %d", len(idx), id))
		return e
	}
	blank := func(li int) bool { return li >= len(lines) || strings.TrimSpace(lines[li]) == "" }
	for _, i := range idx {
		if li := int(all[i].Idx); blank(li) {
			e.stats.SentencesMissing++
			reject(sentLoc, fmt.Sprintf("line %d", li+1), fmt.Sprintf("no sentence for caption %d of image %d (the file has %d lines)", li, id, len(lines)))
		}
	}
	var tg []string
	phrases := 0
	for li, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		sent, err := parseSentence(line)
		if err != nil {
			reject(sentLoc, fmt.Sprintf("line %d", li+1), "malformed Sentences line: "+err.Error())
			continue
		}
		e.stats.Sentences++
		// Tags of the sentence: the dataset caption's when the words agree, else tagged here.
		var stags []string
		if ci, ok := capOf[int32(li)]; ok && slices.Equal(all[ci].Tokens, sent.Tokens) {
			stags = tags[ci]
		} else {
			e.stats.TokenMismatch++
			tg = t.Tag(sent.Tokens, tg)
			stags = tg
		}
		for pi, p := range sent.Phrases {
			phrases++
			e.stats.Read++
			rec := fmt.Sprintf("line %d phrase %d", li+1, pi)
			ref := captionstable.GroundingRef{ImageID: id, Split: split, CaptionIdx: int32(li), PhraseIdx: int32(pi), ChainID: p.Chain,
				Words: p.Words, FirstWord: int32(p.FirstWord), Types: p.Types}
			if ann != nil {
				ref.Width, ref.Height = ann.Width, ann.Height
			}
			head := p.FirstWord + len(p.Words) - 1
			for k := head; k >= p.FirstWord; k-- {
				if postag.IsNoun(stags[k]) {
					head = k
					break
				}
			}
			ref.HeadIndex, ref.HeadWord = int32(head), sent.Tokens[head]
			ref.Class, _ = f.classes.Match(ref.HeadWord)
			ref.NotVisual = p.Chain == 0 || slices.Contains(p.Types, "notvisual")
			if !ref.NotVisual {
				if annErr != "" {
					e.stats.Read--
					reject(xmlLoc, rec, annErr)
					continue
				}
				ch, ok := ann.Chains[p.Chain]
				if !ok {
					e.stats.Read--
					reject(xmlLoc, rec, fmt.Sprintf("chain %d has no object in the annotations", p.Chain))
					continue
				}
				ref.Boxes = ch.Boxes
				ref.NoBox = len(ch.Boxes) == 0
				ref.Scene = ch.Scene
			}
			switch {
			case ref.NotVisual:
				e.stats.NotVisual++
			case ref.NoBox:
				e.stats.NoBox++
			}
			if ref.Scene {
				e.stats.Scene++
			}
			if ref.Class != "" {
				e.stats.WithClass++
			}
			e.stats.Written++
			e.refs = append(e.refs, ref)
		}
	}
	if phrases == 0 && annErr != "" {
		reject(xmlLoc, "file", annErr)
	}
	return e
}

// parseImageName returns the image id of an Entities file stem ("1000092795").
func parseImageName(name string) (int64, error) {
	var id int64
	if name == "" || len(name) > 18 {
		return 0, fmt.Errorf("file name %q is not an image id", name)
	}
	for _, r := range name {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("file name %q is not an image id", name)
		}
		id = id*10 + int64(r-'0')
	}
	return id, nil
}
