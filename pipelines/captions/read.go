package captions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/groundcap/groundcap/eval/caption"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/shard"
	"github.com/groundcap/groundcap/transforms/rejects"
	"github.com/groundcap/groundcap/transforms/tokenize"
)

// Caption is one caption as read, before tagging and encoding: the element the reader emits,
// keyed by shard.
type Caption struct {
	ImageID int64
	Split   string
	Idx     int32    // index of the caption among its image's sentences
	Raw     string   // the raw text ("" → the tokens joined by spaces)
	Tokens  []string // every token (not truncated)
	// MatchTokens are the matching model's tokens: the raw text PTB-tokenised with its
	// punctuation, lower-cased (the tokens when there is no raw text); not truncated.
	MatchTokens []string
}

// ReaderStats counts what the reader saw.
type ReaderStats struct {
	Images   int64 // image records read
	Records  int64 // caption records read (a sentence, or an image record that yields none)
	Rejected int64 // caption records rejected
	RawOnly  int64 // captions tokenised from raw
}

// knownSplits are the split names of Karpathy's files ("restval" is COCO's extra training part).
var knownSplits = map[string]bool{"train": true, "val": true, "test": true, "restval": true}

// isTrain reports whether a split is trained on (train and restval, as self-critical.pytorch's
// prepro scripts treat them).
func isTrain(split string) bool { return split == "train" || split == "restval" }

// imageJSON is one image object of a Karpathy file.
type imageJSON struct {
	Filename  string            `json:"filename"`
	CocoID    *int64            `json:"cocoid"`
	Split     string            `json:"split"`
	Sentences []json.RawMessage `json:"sentences"`
}

type sentenceJSON struct {
	Tokens []string `json:"tokens"`
	Raw    *string  `json:"raw"`
}

// reader parses a caption file and calls its callbacks; it is the body of ReadFn, kept free of
// Beam so tests can drive it directly.
type reader struct {
	source     string
	numShards  int
	splitIDs   map[int64]string
	emit       func(shard int, c Caption)
	emitTrain  func(tokens []string)
	emitMatch  func(tokens []string) // matching-model tokens of the captions its vocabulary counts
	emitReject func(rejects.Reject)
	// reopen opens the source again to locate a syntax error exactly (the streaming decoder's
	// offsets are not byte-exact); nil: report the decoder's offset.
	reopen func() (io.ReadCloser, error)

	stats ReaderStats
	seen  map[int64]string // image id -> record of its first occurrence
	dups  []string
}

func (r *reader) reject(record string, imageID int64, reason string) {
	r.stats.Rejected++
	r.emitReject(rejects.Reject{Source: r.source, Record: record, ImageID: imageID, Reason: reason})
}

// imageID returns the image id of a record: cocoid when present, else the digits that end the
// file name's stem (Flickr30k: "1000092795.jpg" → 1000092795).
func imageID(img *imageJSON) (int64, error) {
	if img.CocoID != nil {
		return *img.CocoID, nil
	}
	stem := strings.TrimSuffix(path.Base(img.Filename), path.Ext(img.Filename))
	i := len(stem)
	for i > 0 && stem[i-1] >= '0' && stem[i-1] <= '9' {
		i--
	}
	if i == len(stem) {
		return 0, fmt.Errorf("no cocoid and no digits at the end of filename %q", img.Filename)
	}
	id, err := strconv.ParseInt(stem[i:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("filename %q: image id: %v", img.Filename, err)
	}
	return id, nil
}

// image processes one image object (raw JSON) named record ("images[3]", "line 4").
func (r *reader) image(raw []byte, record string) {
	r.stats.Images++
	var img imageJSON
	if err := json.Unmarshal(raw, &img); err != nil {
		r.stats.Records++
		r.reject(record, 0, "bad image record: "+err.Error())
		return
	}
	id, err := imageID(&img)
	if err != nil {
		r.stats.Records += int64(max(1, len(img.Sentences)))
		for j := range max(1, len(img.Sentences)) {
			r.reject(fmt.Sprintf("%s.sentences[%d]", record, j), 0, err.Error())
		}
		return
	}
	if first, dup := r.seen[id]; dup {
		r.dups = append(r.dups, fmt.Sprintf("%d (%s and %s)", id, first, record))
	} else {
		r.seen[id] = record
	}
	split := img.Split
	if s, ok := r.splitIDs[id]; ok {
		split = s
	}
	if len(img.Sentences) == 0 {
		r.stats.Records++
		r.reject(record, id, "image has no sentences")
		return
	}
	for j, sraw := range img.Sentences {
		r.stats.Records++
		rec := fmt.Sprintf("%s.sentences[%d]", record, j)
		if !knownSplits[split] {
			r.reject(rec, id, fmt.Sprintf("unknown split %q (want train, val, test or restval)", split))
			continue
		}
		if !utf8.Valid(sraw) {
			r.reject(rec, id, "non-UTF-8 text")
			continue
		}
		var s sentenceJSON
		if err := json.Unmarshal(sraw, &s); err != nil {
			r.reject(rec, id, "bad sentence record: "+err.Error())
			continue
		}
		c := Caption{ImageID: id, Split: split, Idx: int32(j), Tokens: s.Tokens}
		if s.Raw != nil {
			c.Raw = *s.Raw
		}
		if reason := check(&c); reason != "" {
			r.reject(rec, id, reason)
			continue
		}
		if len(s.Tokens) == 0 {
			r.stats.RawOnly++
		}
		r.emit(shard.Of(id, r.numShards), c)
		if isTrain(split) {
			r.emitTrain(c.Tokens)
		}
		if countsForMatching(split) {
			r.emitMatch(c.MatchTokens)
		}
	}
}

// countsForMatching reports whether a split's captions enter the matching vocabulary's counts:
// SCAN's vocab.py counts its train and dev (val) caption files; restval is part of COCO's train.
func countsForMatching(split string) bool { return isTrain(split) || split == "val" }

// check validates a caption, tokenises raw-only ones and sets the matching tokens; it returns a
// reject reason or "".
func check(c *Caption) string {
	if reason := checkTokens(c); reason != "" {
		return reason
	}
	if strings.TrimSpace(c.Raw) != "" {
		c.MatchTokens = caption.TokenizeKeepPunct(c.Raw)
	}
	if len(c.MatchTokens) == 0 {
		c.MatchTokens = c.Tokens
	}
	return ""
}

func checkTokens(c *Caption) string {
	if strings.ContainsRune(c.Raw, utf8.RuneError) {
		return "non-UTF-8 text (raw has a replacement character)"
	}
	if len(c.Tokens) == 0 {
		if strings.TrimSpace(c.Raw) == "" {
			if c.Tokens == nil && c.Raw == "" {
				return "no tokens and no raw text"
			}
			return "empty caption"
		}
		c.Tokens = tokenize.Caption(c.Raw)
		if len(c.Tokens) == 0 {
			return "empty caption (raw text has no words)"
		}
		return ""
	}
	for k, t := range c.Tokens {
		switch {
		case strings.TrimSpace(t) == "":
			return fmt.Sprintf("token %d is empty", k)
		case strings.ContainsRune(t, utf8.RuneError):
			return fmt.Sprintf("non-UTF-8 text (token %d has a replacement character)", k)
		case strings.ContainsAny(t, " \t\n\r"):
			return fmt.Sprintf("token %d %q contains white space", k, t)
		}
	}
	return ""
}

// finish returns the duplicate-id error, if any.
func (r *reader) finish() error {
	if len(r.dups) == 0 {
		return nil
	}
	const show = 50
	list := r.dups
	more := ""
	if len(list) > show {
		more = fmt.Sprintf(" … and %d more", len(list)-show)
		list = list[:show]
	}
	return fmt.Errorf("captions: %s: %d duplicate image ids: %s%s", r.source, len(r.dups), strings.Join(list, ", "), more)
}

// maxRecord bounds one image record of a caption file (a JSON value or a JSONL line; Karpathy's
// records have a few KiB): the readers never hold more of one record than this.
const maxRecord = 16 << 20

// errRecordTooLarge says a record is longer than maxRecord.
var errRecordTooLarge = fmt.Errorf("a record longer than %d MiB", maxRecord>>20)

// boundedInput feeds a JSON decoder and fails once the decoder holds more than maxRecord bytes
// it has not consumed: the value being decoded is longer than any record may be.
type boundedInput struct {
	r    io.Reader
	dec  *json.Decoder
	read int64
}

func (b *boundedInput) Read(p []byte) (int, error) {
	if b.read-b.dec.InputOffset() > maxRecord {
		return 0, errRecordTooLarge
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// readJSON reads a Karpathy document {"images": [...], ...}.
func (r *reader) readJSON(in io.Reader) error {
	bin := &boundedInput{r: in}
	dec := json.NewDecoder(bin)
	bin.dec = dec
	fail := func(err error) error {
		off := dec.InputOffset()
		if errors.Is(err, errRecordTooLarge) {
			return fmt.Errorf("captions: %s: byte %d: %w", r.source, off, err)
		}
		if r.reopen != nil {
			if o, e, ok := r.locate(); ok {
				off, err = o, e
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("captions: %s: byte %d: malformed JSON: unexpected end of file", r.source, off)
		}
		return fmt.Errorf("captions: %s: byte %d: malformed JSON: %v", r.source, off, err)
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("captions: %s: byte %d: want a JSON object with an \"images\" array", r.source, dec.InputOffset())
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		if key != "images" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		found = true
		tok, err = dec.Token()
		if err != nil {
			return fail(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("captions: %s: byte %d: \"images\" is not an array", r.source, dec.InputOffset())
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(err)
			}
			r.image(raw, fmt.Sprintf("images[%d]", i))
		}
		if _, err := dec.Token(); err != nil {
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if !found {
		return fmt.Errorf("captions: %s: no \"images\" array", r.source)
	}
	return nil
}

// locate reads the whole source again and returns the 0-based offset of the byte where its JSON
// syntax fails (its length for a truncated file) and the error; ok is false when it cannot.
func (r *reader) locate() (int64, error, bool) {
	in, err := r.reopen()
	if err != nil {
		return 0, nil, false
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		return 0, nil, false
	}
	var raw json.RawMessage
	err = json.Unmarshal(data, &raw)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return 0, nil, false
	}
	off := se.Offset - 1 // Offset counts the bytes read, the offending one included
	if se.Offset >= int64(len(data)) && strings.Contains(se.Error(), "unexpected end") {
		return int64(len(data)), io.ErrUnexpectedEOF, true
	}
	return off, err, true
}

// readJSONL reads one image object per line; blank lines are skipped.
func (r *reader) readJSONL(in io.Reader) error {
	br := bufio.NewReaderSize(in, 1<<20)
	var off int64
	var b []byte
	for line := 1; ; line++ {
		var err error
		b, err = readLine(br, b[:0])
		if errors.Is(err, errRecordTooLarge) {
			return fmt.Errorf("captions: %s: line %d: byte %d: %w", r.source, line, off, err)
		}
		if len(b) > 0 {
			trimmed := bytes.TrimSpace(b)
			if len(trimmed) > 0 {
				if !json.Valid(trimmed) {
					var v any
					jerr := json.Unmarshal(trimmed, &v)
					var se *json.SyntaxError
					at := off
					if errors.As(jerr, &se) {
						at += int64(bytes.Index(b, trimmed)) + se.Offset - 1
					}
					return fmt.Errorf("captions: %s: line %d: byte %d: malformed JSON: %v", r.source, line, at, jerr)
				}
				r.image(trimmed, fmt.Sprintf("line %d", line))
			}
			off += int64(len(b))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("captions: %s: %w", r.source, err)
		}
	}
}

// readLine appends the next line of br (with its "\n") to b; a line longer than maxRecord is
// errRecordTooLarge, found before more of it is held.
func readLine(br *bufio.Reader, b []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b)+len(chunk) > maxRecord {
			return b, errRecordTooLarge
		}
		b = append(b, chunk...)
		if err != bufio.ErrBufferFull {
			return b, err
		}
	}
}

// maxListFile bounds the size of a split-id file and of a class list (COCO's and Flickr30k's have
// a few MiB).
const maxListFile = 256 << 20

// readSplitIDs reads a GVD split-id file: {"train": ["123", ...], "val": [...], "test": [...]}
// (ids as strings or numbers).
func readSplitIDs(ctx context.Context, loc string) (map[int64]string, error) {
	data, err := blobio.ReadAllLimit(ctx, loc, maxListFile)
	if err != nil {
		return nil, fmt.Errorf("captions: split_ids: %w", err)
	}
	var m map[string][]json.Number
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("captions: split_ids %s: byte %d: want {\"split\": [ids]}: %v", loc, dec.InputOffset(), err)
	}
	out := map[int64]string{}
	splits := make([]string, 0, len(m))
	for s := range m {
		splits = append(splits, s)
	}
	sort.Strings(splits)
	for _, s := range splits {
		if !knownSplits[s] {
			return nil, fmt.Errorf("captions: split_ids %s: unknown split %q (want train, val, test or restval)", loc, s)
		}
		for k, n := range m[s] {
			id, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("captions: split_ids %s: %s[%d] = %q: not an image id", loc, s, k, n)
			}
			if prev, dup := out[id]; dup {
				return nil, fmt.Errorf("captions: split_ids %s: image %d is in both %s and %s", loc, id, prev, s)
			}
			out[id] = s
		}
	}
	return out, nil
}
