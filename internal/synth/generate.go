package synth

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"slices"
	"strconv"
	"sync"
)

// tsvBufferSize is the bufio size in front of each TSV part writer.
const tsvBufferSize = 1 << 20

// Summary describes a generated dataset.
type Summary struct {
	Images   int   // images written
	Captions int   // captions (5 per image)
	Objects  int   // annotated objects
	Mentions int   // object words in captions
	Phrases  int   // Entities phrases, notvisual and scene ones included
	Bytes    int64 // bytes written over all files
	// Files are every file written, by slash name relative to the dataset root, sorted.
	Files []string
}

// TSVName returns the name of TSV part k ("features/part-0000K.tsv").
func TSVName(k int) string { return fmt.Sprintf("features/part-%05d.tsv", k) }

// imageResult is a worker's output for one image, handed to the ordered writer.
type imageResult struct {
	im    *imageData
	row   *[]byte // TSV line
	files []string
	bytes int64
}

// countWriter counts bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeFile writes one whole file through the sink, returning its size.
func writeFile(sink Sink, name string, write func(io.Writer) error) (int64, error) {
	f, err := sink.Create(name)
	if err != nil {
		return 0, fmt.Errorf("synth: create %s: %w", name, err)
	}
	cw := &countWriter{w: f}
	if err := write(cw); err != nil {
		abortOrClose(f)
		return 0, fmt.Errorf("synth: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("synth: close %s: %w", name, err)
	}
	return cw.n, nil
}

func writeBytes(sink Sink, name string, b []byte) (int64, error) {
	return writeFile(sink, name, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// imageIDs draws n unique Flickr-like ids (9–10 digits) from the seed.
func imageIDs(seed int64, n int) []int64 {
	r := newRand(seed, streamIDs, 0)
	ids := make([]int64, n)
	seen := make(map[int64]bool, n)
	for i := range ids {
		for {
			id := 100_000_000 + r.Int64N(9_900_000_000)
			if !seen[id] {
				seen[id] = true
				ids[i] = id
				break
			}
		}
	}
	return ids
}

// splits assigns train/val/test to n images: a seeded permutation puts nv images in val and nt
// in test (Options.SplitSizes), the rest in train.
func splits(seed int64, n, nv, nt int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "train"
	}
	perm := newRand(seed, streamSplits, 0).Perm(n)
	for j, i := range perm {
		switch {
		case j < nv:
			out[i] = "val"
		case j < nv+nt:
			out[i] = "test"
		}
	}
	return out
}

// worker holds one goroutine's reusable state.
type worker struct {
	w       *world
	sink    Sink
	pal     color.Palette
	feat    featScratch
	rnd     renderScratch
	rowPool *sync.Pool
	buf     []byte
}

// generateImage builds image index i and writes its per-image files.
func (wk *worker) generateImage(i int, id int64, split string) (*imageResult, error) {
	opts := wk.w.opts
	r := newRand(opts.Seed, streamImage, i)
	im := &imageData{index: i, id: id, split: split}
	layout(r, im)
	makeProposals(r, im, opts.Boxes)
	makeCaptions(r, im)
	feat := wk.w.features(r, im, &wk.feat)
	row := wk.rowPool.Get().(*[]byte)
	*row = appendTSVRow((*row)[:0], im, feat, &wk.feat)
	res := &imageResult{im: im, row: row}
	ids := strconv.FormatInt(id, 10)
	put := func(name string, b []byte) error {
		n, err := writeBytes(wk.sink, name, b)
		res.files = append(res.files, name)
		res.bytes += n
		return err
	}
	wk.buf = appendSentences(wk.buf[:0], im)
	if err := put("Sentences/"+ids+".txt", wk.buf); err != nil {
		return nil, err
	}
	wk.buf = appendAnnotation(wk.buf[:0], im)
	if err := put("Annotations/"+ids+".xml", wk.buf); err != nil {
		return nil, err
	}
	if !opts.NoImages {
		name := "images/" + ids + ".png"
		n, err := writeFile(wk.sink, name, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 64<<10)
			if err := render(im, wk.pal, &wk.rnd, bw); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return nil, err
		}
		res.files = append(res.files, name)
		res.bytes += n
	}
	return res, nil
}

// Generate writes the dataset described by opts through sink. progress, when not nil, is called
// from Generate's goroutine after each image is complete, with the images done so far and the
// total, in order. Generate stops at the first error or when ctx is done; files already committed
// stay (a caller that needs all-or-nothing writes into a fresh location). It returns what it wrote.
func Generate(ctx context.Context, opts Options, sink Sink, progress func(done, total int)) (*Summary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	w := newWorld(opts)
	n := opts.Images
	ids := imageIDs(opts.Seed, n)
	nv, nt := opts.SplitSizes()
	sp := splits(opts.Seed, n, nv, nt)
	pal := newPalette()
	pool := &pngPool{}
	rowPool := &sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]chan *imageResult, n)
	for i := range results {
		results[i] = make(chan *imageResult, 1)
	}
	// window bounds the images in flight (generated but not yet written).
	window := make(chan struct{}, 2*opts.workers())
	jobs := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		for i := 0; i < n; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for k := 0; k < opts.workers(); k++ {
		wk := &worker{w: w, sink: sink, pal: pal, rowPool: rowPool}
		wk.rnd.enc = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: pool}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				res, err := wk.generateImage(i, ids[i], sp[i])
				if err != nil {
					cancel(fmt.Errorf("synth: image %d (id %d): %w", i, ids[i], err))
					continue
				}
				results[i] <- res
			}
		}()
	}
	sum, err := writeOrdered(ctx, opts, sink, results, window, rowPool, progress)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// writeOrdered consumes results in image order: appends TSV rows to the part files, then writes the
// whole-dataset files.
func writeOrdered(ctx context.Context, opts Options, sink Sink, results []chan *imageResult,
	window chan struct{}, rowPool *sync.Pool, progress func(done, total int)) (*Summary, error) {
	n := opts.Images
	sum := &Summary{}
	ims := make([]*imageData, n)
	var part io.WriteCloser
	var pbuf *bufio.Writer
	var pcount *countWriter
	partName := ""
	fail := func(err error) (*Summary, error) {
		if part != nil {
			abortOrClose(part)
		}
		return nil, err
	}
	closePart := func() error {
		if part == nil {
			return nil
		}
		p := part
		part = nil
		if err := pbuf.Flush(); err != nil {
			abortOrClose(p)
			return fmt.Errorf("synth: write %s: %w", partName, err)
		}
		if err := p.Close(); err != nil {
			return fmt.Errorf("synth: close %s: %w", partName, err)
		}
		sum.Bytes += pcount.n
		sum.Files = append(sum.Files, partName)
		return nil
	}
	openPart := func(k int) error {
		partName = TSVName(k)
		f, err := sink.Create(partName)
		if err != nil {
			return fmt.Errorf("synth: create %s: %w", partName, err)
		}
		part = f
		pcount = &countWriter{w: f}
		if pbuf == nil {
			pbuf = bufio.NewWriterSize(pcount, tsvBufferSize)
		} else {
			pbuf.Reset(pcount)
		}
		return nil
	}
	nextPart := 0
	// partStart(k) is the first image of part k.
	partStart := func(k int) int { return k * n / opts.TSVFiles }
	for i := 0; i < n; i++ {
		for nextPart < opts.TSVFiles && partStart(nextPart) <= i {
			if err := closePart(); err != nil {
				return fail(err)
			}
			if err := openPart(nextPart); err != nil {
				return fail(err)
			}
			nextPart++
		}
		var res *imageResult
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return fail(context.Cause(ctx))
		}
		if _, err := pbuf.Write(*res.row); err != nil {
			return fail(fmt.Errorf("synth: write %s: %w", partName, err))
		}
		rowPool.Put(res.row)
		res.row = nil
		<-window
		ims[i] = res.im
		sum.Images++
		sum.Captions += len(res.im.captions)
		sum.Objects += len(res.im.objects)
		for _, c := range res.im.captions {
			sum.Mentions += len(c.mentions)
			sum.Phrases += c.phrases
		}
		sum.Bytes += res.bytes
		sum.Files = append(sum.Files, res.files...)
		if progress != nil {
			progress(i+1, n)
		}
	}
	// Parts past the last image (TSVFiles > Images) are written empty.
	for nextPart < opts.TSVFiles {
		if err := closePart(); err != nil {
			return fail(err)
		}
		if err := openPart(nextPart); err != nil {
			return fail(err)
		}
		nextPart++
	}
	if err := closePart(); err != nil {
		return fail(err)
	}
	whole := []struct {
		name string
		data func() ([]byte, error)
	}{
		{"dataset.json", func() ([]byte, error) { return datasetJSON(ims) }},
		{"split_ids.json", func() ([]byte, error) { return splitIDsJSON(ims) }},
		{"class_names.txt", func() ([]byte, error) { return classNamesTxt(), nil }},
		{"truth.json", func() ([]byte, error) { return truthJSON(opts, ims) }},
	}
	for _, f := range whole {
		b, err := f.data()
		if err != nil {
			return nil, fmt.Errorf("synth: encode %s: %w", f.name, err)
		}
		nb, err := writeBytes(sink, f.name, b)
		if err != nil {
			return nil, err
		}
		sum.Bytes += nb
		sum.Files = append(sum.Files, f.name)
	}
	slices.Sort(sum.Files)
	return sum, nil
}

func truthJSON(opts Options, ims []*imageData) ([]byte, error) {
	t := Truth{Seed: opts.Seed, FeatDim: opts.FeatDim, Boxes: opts.Boxes, Categories: Categories(),
		Images: make([]TruthImage, len(ims))}
	for i, im := range ims {
		t.Images[i] = truthImage(im)
	}
	return json.Marshal(t)
}
