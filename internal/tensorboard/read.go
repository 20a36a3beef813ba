package tensorboard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Event is one decoded tensorflow.Event: the file_version event (FileVersion set) or a summary
// of values at a step.
type Event struct {
	WallTime    float64
	Step        int64
	FileVersion string
	Values      []Value
}

// Value is one Summary.Value: a scalar (Image nil) or an image.
type Value struct {
	Tag    string
	Scalar float32
	Image  *Image
}

// Image is a Summary.Image: Encoded holds the picture as written (PNG).
type Image struct {
	Width, Height, Colorspace int
	Encoded                   []byte
}

// ErrCorrupt is wrapped by the errors of ParseEvents for data that is not a well-formed event
// file: a truncated record, a CRC mismatch or a malformed message.
var ErrCorrupt = errors.New("tensorboard: corrupt event file")

// ReadEvents reads and decodes the event file at path (see ParseEvents).
func ReadEvents(path string) ([]Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	evs, err := ParseEvents(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}

// ParseEvents decodes the TFRecords of an event file, checking both CRCs of every record, and the
// Event messages they hold. Fields this package does not write are skipped.
func ParseEvents(data []byte) ([]Event, error) {
	var evs []Event
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return nil, fmt.Errorf("%w: record at byte %d: %d bytes left, want a 12-byte header", ErrCorrupt, off, len(data)-off)
		}
		head := data[off : off+8]
		if binary.LittleEndian.Uint32(data[off+8:]) != MaskedCRC(head) {
			return nil, fmt.Errorf("%w: record at byte %d: length CRC mismatch", ErrCorrupt, off)
		}
		n := binary.LittleEndian.Uint64(head)
		if n > uint64(len(data)-off-16) {
			return nil, fmt.Errorf("%w: record at byte %d: length %d past the end", ErrCorrupt, off, n)
		}
		payload := data[off+12 : off+12+int(n)]
		if binary.LittleEndian.Uint32(data[off+12+int(n):]) != MaskedCRC(payload) {
			return nil, fmt.Errorf("%w: record at byte %d: data CRC mismatch", ErrCorrupt, off)
		}
		ev, err := parseEvent(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: record at byte %d: %v", ErrCorrupt, off, err)
		}
		evs = append(evs, ev)
		off += 12 + int(n) + 4
	}
	return evs, nil
}

// field is one decoded protocol-buffer field: x holds varint and fixed values, b bytes.
type field struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	b   []byte
}

// eachField calls f for every field of message b.
func eachField(b []byte, f func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		fl := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			fl.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			fl.x = uint64(v)
		case protowire.Fixed64Type:
			fl.x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			fl.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(fl); err != nil {
			return err
		}
	}
	return nil
}

func parseEvent(b []byte) (Event, error) {
	var ev Event
	err := eachField(b, func(f field) error {
		switch {
		case f.num == eventWallTime && f.typ == protowire.Fixed64Type:
			ev.WallTime = math.Float64frombits(f.x)
		case f.num == eventStep && f.typ == protowire.VarintType:
			ev.Step = int64(f.x)
		case f.num == eventFileVersion && f.typ == protowire.BytesType:
			ev.FileVersion = string(f.b)
		case f.num == eventSummary && f.typ == protowire.BytesType:
			return eachField(f.b, func(f field) error {
				if f.num != summaryValue || f.typ != protowire.BytesType {
					return nil
				}
				v, err := parseValue(f.b)
				ev.Values = append(ev.Values, v)
				return err
			})
		}
		return nil
	})
	return ev, err
}

func parseValue(b []byte) (Value, error) {
	var v Value
	err := eachField(b, func(f field) error {
		switch {
		case f.num == valueTag && f.typ == protowire.BytesType:
			v.Tag = string(f.b)
		case f.num == valueSimpleValue && f.typ == protowire.Fixed32Type:
			v.Scalar = math.Float32frombits(uint32(f.x))
		case f.num == valueImage && f.typ == protowire.BytesType:
			v.Image = &Image{}
			return eachField(f.b, func(f field) error {
				switch f.num {
				case imageHeight:
					v.Image.Height = int(f.x)
				case imageWidth:
					v.Image.Width = int(f.x)
				case imageColorspace:
					v.Image.Colorspace = int(f.x)
				case imageEncoded:
					v.Image.Encoded = f.b
				}
				return nil
			})
		}
		return nil
	})
	return v, err
}
