// Package tensorboard writes TensorBoard event files: scalars (Summary.Value.simple_value) and
// images (Summary.Image with PNG bytes), so that `tensorboard --logdir DIR` shows training curves
// and attention pictures while a stage runs.
//
// An event file is a sequence of TFRecords (a little-endian uint64 length, the masked CRC32-C of
// those 8 bytes, the data, the masked CRC32-C of the data) whose data are tensorflow.Event
// protocol-buffer messages (tensorflow/core/util/event.proto): the first holds file_version
// "brain.Event:2", each later one a wall_time, a step and a Summary. The messages are encoded here
// with protowire, field by field; no generated code and no TensorFlow are needed.
//
// Event files carry wall-clock times (TensorBoard's "relative" and "wall" axes), so they differ
// from run to run: writers put them beside a stage's published output, never in it, so that the
// output stays byte-identical for a seed. [Options.Clock] makes the times (and so the bytes)
// reproducible where that matters, as in tests.
package tensorboard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// FileVersion is the file_version of the first event of every file, as TensorFlow writes it.
const FileVersion = "brain.Event:2"

// Field numbers of tensorflow.Event, tensorflow.Summary, Summary.Value and Summary.Image.
const (
	eventWallTime    protowire.Number = 1
	eventStep        protowire.Number = 2
	eventFileVersion protowire.Number = 3
	eventSummary     protowire.Number = 5

	summaryValue protowire.Number = 1

	valueTag         protowire.Number = 1
	valueSimpleValue protowire.Number = 2
	valueImage       protowire.Number = 4

	imageHeight     protowire.Number = 1
	imageWidth      protowire.Number = 2
	imageColorspace protowire.Number = 3
	imageEncoded    protowire.Number = 4
)

// Colour spaces of Summary.Image.
const (
	colorspaceGray = 1
	colorspaceRGB  = 3
	colorspaceRGBA = 4
)

// Options configure [Create].
type Options struct {
	// Clock gives each event's wall_time and the file name's timestamp; nil means time.Now.
	Clock func() time.Time
	// Host is the file name's host part; empty means os.Hostname (or "localhost").
	Host string
	// Suffix ends the file name (for example ".scan"), telling apart files written in the same
	// second into one folder.
	Suffix string
}

// Writer appends events to one event file. Every event is written with one write call, so a
// reader (TensorBoard) sees whole records while training runs; Flush syncs them to disk. A Writer
// is safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	clock func() time.Time
	buf   []byte
	err   error
}

// Create makes dir if needed and starts a new event file in it, named as TensorBoard expects:
// events.out.tfevents.<unix seconds>.<host><suffix>. An existing file of that name is an error (it
// is never overwritten); its first event is the file_version event.
func Create(dir string, opts Options) (*Writer, error) {
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	host := opts.Host
	if host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	now := clock()
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%010d.%s%s", now.Unix(), host, opts.Suffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	w := &Writer{f: f, path: path, clock: clock}
	ev := appendEventHeader(nil, now, 0)
	ev = protowire.AppendTag(ev, eventFileVersion, protowire.BytesType)
	ev = protowire.AppendString(ev, FileVersion)
	if err := w.writeRecord(ev); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// Scalar writes one scalar value under tag at step.
func (w *Writer) Scalar(tag string, step int64, value float64) error {
	return w.Scalars(step, map[string]float64{tag: value})
}

// Scalars writes several scalars at step as one event (one Summary with a value per tag, in tag
// order).
func (w *Writer) Scalars(step int64, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for t := range values {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	var sum []byte
	for _, t := range tags {
		sum = appendScalar(sum, t, float32(values[t]))
	}
	return w.writeSummary(step, sum)
}

// appendScalar appends a Summary.Value holding a scalar to the Summary sum.
func appendScalar(sum []byte, tag string, value float32) []byte {
	var v []byte
	v = protowire.AppendTag(v, valueTag, protowire.BytesType)
	v = protowire.AppendString(v, tag)
	v = protowire.AppendTag(v, valueSimpleValue, protowire.Fixed32Type)
	v = protowire.AppendFixed32(v, math.Float32bits(value))
	sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
	return protowire.AppendBytes(sum, v)
}

// appendImage appends a Summary.Value holding an image to the Summary sum.
func appendImage(sum []byte, tag string, im Image) []byte {
	var b []byte
	b = protowire.AppendTag(b, imageHeight, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(im.Height))
	b = protowire.AppendTag(b, imageWidth, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(im.Width))
	b = protowire.AppendTag(b, imageColorspace, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(im.Colorspace))
	b = protowire.AppendTag(b, imageEncoded, protowire.BytesType)
	b = protowire.AppendBytes(b, im.Encoded)
	var v []byte
	v = protowire.AppendTag(v, valueTag, protowire.BytesType)
	v = protowire.AppendString(v, tag)
	v = protowire.AppendTag(v, valueImage, protowire.BytesType)
	v = protowire.AppendBytes(v, b)
	sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
	return protowire.AppendBytes(sum, v)
}

// Image writes img as a PNG under tag at step.
func (w *Writer) Image(tag string, step int64, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("tensorboard: %s: %w", tag, err)
	}
	b := img.Bounds()
	cs := colorspaceRGBA
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		cs = colorspaceGray
	case *image.YCbCr:
		cs = colorspaceRGB
	}
	return w.PNG(tag, step, buf.Bytes(), b.Dx(), b.Dy(), cs)
}

// PNG writes already encoded PNG bytes of a width × height picture under tag at step; colorspace
// is Summary.Image's (1 gray, 3 RGB, 4 RGBA).
func (w *Writer) PNG(tag string, step int64, data []byte, width, height, colorspace int) error {
	return w.writeSummary(step, appendImage(nil, tag, Image{Width: width, Height: height, Colorspace: colorspace, Encoded: data}))
}

func (w *Writer) writeSummary(step int64, summary []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := appendEventHeader(w.buf[:0], w.clock(), step)
	ev = protowire.AppendTag(ev, eventSummary, protowire.BytesType)
	ev = protowire.AppendBytes(ev, summary)
	w.buf = ev
	return w.writeRecordLocked(ev)
}

// appendEventHeader appends an Event's wall_time (seconds, fractional) and step.
func appendEventHeader(b []byte, t time.Time, step int64) []byte {
	b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(float64(t.Unix())+float64(t.Nanosecond())/1e9))
	if step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(step))
	}
	return b
}

func (w *Writer) writeRecord(data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecordLocked(data)
}

// writeRecordLocked frames data as a TFRecord and writes it in one call. After a failed write the
// Writer keeps failing: a partial record would make the rest of the file unreadable.
func (w *Writer) writeRecordLocked(data []byte) error {
	if w.err != nil {
		return w.err
	}
	rec := AppendRecord(make([]byte, 0, len(data)+16), data)
	if _, err := w.f.Write(rec); err != nil {
		w.err = fmt.Errorf("tensorboard: %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// Flush syncs the events written so far to disk.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("tensorboard: %s: %w", w.path, err)
	}
	return nil
}

// errClosed is what a closed Writer returns.
var errClosed = errors.New("tensorboard: writer closed")

// Close syncs and closes the file. It returns the first error of the Writer's writes, if any;
// closing twice is an error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errClosed
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	prev := w.err
	w.err = errClosed
	switch {
	case prev != nil:
		return prev
	case err != nil:
		return fmt.Errorf("tensorboard: %s: %w", w.path, err)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC is TFRecord's masked CRC32-C of data: the CRC rotated right by 15 bits plus
// 0xa282ead8.
func MaskedCRC(data []byte) uint32 {
	c := crc32.Checksum(data, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// AppendRecord appends data framed as one TFRecord to b.
func AppendRecord(b, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	b = append(b, n[:]...)
	b = binary.LittleEndian.AppendUint32(b, MaskedCRC(n[:]))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, MaskedCRC(data))
}
