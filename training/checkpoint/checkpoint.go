// Package checkpoint stores a training state in one self-checking file:
// weights, optimiser state, step counters, RNG state, the data-order
// position and the resolved configuration.
//
// # Format
//
//	"GCCKPT01"                         8-byte magic
//	uint64 little-endian n             length of the JSON header
//	header (n bytes of JSON)           names, shapes, counters, RNG, config, meta
//	payload                            float32 little-endian: every parameter,
//	                                   then every Adam M, then every Adam V,
//	                                   in header order
//	SHA-256 (32 bytes)                 of everything before it
//
// Load verifies the digest before decoding anything, so a truncated or
// corrupted file gives a clear error and never a half-loaded state. Save
// writes a temporary file in the target's directory, syncs it, checks Close
// and renames it over the target.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/groundcap/groundcap/internal/atomicfile"
)

const magic = "GCCKPT01"

// ErrCorrupt is returned (wrapped) when a file fails its SHA-256 check or
// is malformed.
var ErrCorrupt = errors.New("checkpoint: corrupt file")

// Tensor is one named float32 parameter.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// EqualTensors reports whether a and b hold the same tensors: names, shapes and values, in order.
func EqualTensors(a, b []Tensor) bool {
	return slices.EqualFunc(a, b, func(x, y Tensor) bool {
		return x.Name == y.Name && slices.Equal(x.Shape, y.Shape) && slices.Equal(x.Data, y.Data)
	})
}

// Checkpoint is a complete training state.
type Checkpoint struct {
	// Params are the model weights in the model's parameter order.
	Params []Tensor
	// OptimStep is the optimiser's update count; M and V are Adam's moments,
	// aligned with Params (both nil when the optimiser has no state).
	OptimStep int64
	M, V      [][]float32
	// Step is the number of training steps done; Epoch the current epoch;
	// DataPos the number of batches of this epoch already consumed.
	Step    int64
	Epoch   int
	DataPos int64
	// RNG is the serialised state of the trainer's random source(s)
	// (e.g. math/rand/v2 PCG MarshalBinary).
	RNG []byte
	// Config is the resolved configuration (JSON), read back on resume.
	Config json.RawMessage
	// Meta holds provenance: git SHA, input URIs, backend, etc.
	Meta map[string]string
}

type header struct {
	Version   int               `json:"version"`
	Params    []tensorHeader    `json:"params"`
	HasOptim  bool              `json:"has_optim"`
	OptimStep int64             `json:"optim_step"`
	Step      int64             `json:"step"`
	Epoch     int               `json:"epoch"`
	DataPos   int64             `json:"data_pos"`
	RNG       []byte            `json:"rng,omitempty"`
	Config    json.RawMessage   `json:"config,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
}

type tensorHeader struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// boundedSize returns the number of values of shape when every dimension is non-negative and
// the product is at most limit.
func boundedSize(shape []int, limit int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || limit < 0 {
			return 0, false
		}
		if d > 0 && n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, n <= limit
}

// Marshal encodes c in the checkpoint format.
func Marshal(c *Checkpoint) ([]byte, error) {
	h := header{Version: 1, OptimStep: c.OptimStep, Step: c.Step, Epoch: c.Epoch, DataPos: c.DataPos,
		RNG: c.RNG, Config: c.Config, Meta: c.Meta}
	h.HasOptim = c.M != nil || c.V != nil
	total := 0
	for i, p := range c.Params {
		if size(p.Shape) != len(p.Data) {
			return nil, fmt.Errorf("checkpoint: param %d (%s): shape %v holds %d values, have %d", i, p.Name, p.Shape, size(p.Shape), len(p.Data))
		}
		if h.HasOptim && (i >= len(c.M) || i >= len(c.V) || len(c.M[i]) != len(p.Data) || len(c.V[i]) != len(p.Data)) {
			return nil, fmt.Errorf("checkpoint: optimiser state does not match param %d (%s)", i, p.Name)
		}
		h.Params = append(h.Params, tensorHeader{Name: p.Name, Shape: p.Shape})
		total += len(p.Data)
	}
	if h.HasOptim && (len(c.M) != len(c.Params) || len(c.V) != len(c.Params)) {
		return nil, fmt.Errorf("checkpoint: %d params but %d/%d moment tensors", len(c.Params), len(c.M), len(c.V))
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: encoding header: %w", err)
	}
	n := total
	if h.HasOptim {
		n *= 3
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(magic)+8+len(hj)+4*n+sha256.Size))
	buf.WriteString(magic)
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(len(hj)))
	buf.Write(l[:])
	buf.Write(hj)
	put := func(xs []float32) {
		var b [4]byte
		for _, x := range xs {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			buf.Write(b[:])
		}
	}
	for _, p := range c.Params {
		put(p.Data)
	}
	if h.HasOptim {
		for _, m := range c.M {
			put(m)
		}
		for _, v := range c.V {
			put(v)
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes(), nil
}

// Unmarshal decodes and verifies a checkpoint; name is used in errors.
func Unmarshal(name string, b []byte) (*Checkpoint, error) {
	if len(b) < len(magic)+8+sha256.Size || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: %s: not a groundcap checkpoint (bad magic or too short: %d bytes)", ErrCorrupt, name, len(b))
	}
	body, digest := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], digest) {
		return nil, fmt.Errorf("%w: %s: SHA-256 mismatch (truncated or modified file)", ErrCorrupt, name)
	}
	hl := binary.LittleEndian.Uint64(body[len(magic):])
	off := len(magic) + 8
	if hl > uint64(len(body)-off) {
		return nil, fmt.Errorf("%w: %s: header length %d exceeds file", ErrCorrupt, name, hl)
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(body[off : off+int(hl)]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", ErrCorrupt, name, err)
	}
	if h.Version != 1 {
		return nil, fmt.Errorf("checkpoint: %s: unsupported version %d", name, h.Version)
	}
	off += int(hl)
	// The shapes are bounded by the payload before anything is allocated for them.
	avail := (len(body) - off) / 4
	total := 0
	for _, p := range h.Params {
		n, ok := boundedSize(p.Shape, avail-total)
		if !ok {
			return nil, fmt.Errorf("%w: %s: param %q: shape %v holds more values than the file's %d bytes", ErrCorrupt, name, p.Name, p.Shape, len(b))
		}
		total += n
	}
	want := total
	if h.HasOptim {
		want *= 3
	}
	if len(body)-off != 4*want {
		return nil, fmt.Errorf("%w: %s: payload has %d bytes, header describes %d", ErrCorrupt, name, len(body)-off, 4*want)
	}
	get := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[off:]))
			off += 4
		}
		return out
	}
	c := &Checkpoint{OptimStep: h.OptimStep, Step: h.Step, Epoch: h.Epoch, DataPos: h.DataPos, RNG: h.RNG, Config: h.Config, Meta: h.Meta}
	for _, p := range h.Params {
		c.Params = append(c.Params, Tensor{Name: p.Name, Shape: p.Shape, Data: get(size(p.Shape))})
	}
	if h.HasOptim {
		c.M = make([][]float32, len(h.Params))
		c.V = make([][]float32, len(h.Params))
		for i, p := range h.Params {
			c.M[i] = get(size(p.Shape))
		}
		for i, p := range h.Params {
			c.V[i] = get(size(p.Shape))
		}
	}
	return c, nil
}

// Save writes c to path atomically (atomicfile: a temporary file in the same directory, synced,
// Close checked, renamed).
func Save(path string, c *Checkpoint) error {
	b, err := Marshal(c)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Load reads and verifies the checkpoint at path.
func Load(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return Unmarshal(path, b)
}
