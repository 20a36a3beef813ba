package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Layout names a source format.
type Layout string

// The source layouts. LayoutAuto recognises a TSV line by its field count (6: Anderson,
// 10: LXMERT) and a directory with <name>_att/ subdirectories as npz.
const (
	LayoutAuto     Layout = "auto"
	LayoutAnderson Layout = "anderson"
	LayoutLXMERT   Layout = "lxmert"
	LayoutNPZ      Layout = "npz"
)

// DataError is the type of every error that classifies a bad record (the Err* values below):
// a record whose error wraps one is rejected, any other error fails the stage. Decoding and
// checking functions wrap the values with details; test for a kind with errors.Is and for a bad
// record of any kind with errors.As (IsDataError).
type DataError struct{ reason string }

// Error returns the reason.
func (e *DataError) Error() string { return e.reason }

// IsDataError reports whether err wraps a *DataError: the record it came from is bad and goes
// to the rejects, rather than failing the stage.
func IsDataError(err error) bool {
	var d *DataError
	return errors.As(err, &d)
}

// Errors that classify a bad record; each is a *DataError.
var (
	ErrFields       error = &DataError{"wrong number of fields"}
	ErrImageID      error = &DataError{"bad image id"}
	ErrNumber       error = &DataError{"bad integer field"}
	ErrBase64       error = &DataError{"invalid or truncated base64"}
	ErrLength       error = &DataError{"byte length disagrees with num_boxes"}
	ErrNumBoxes     error = &DataError{"num_boxes out of range"}
	ErrDim          error = &DataError{"feature dimension differs from the store's"}
	ErrNonFinite    error = &DataError{"NaN or Inf value"}
	ErrBox          error = &DataError{"bad box"}
	ErrMissingKey   error = &DataError{"missing npz key"}
	ErrMissingFile  error = &DataError{"missing file"}
	ErrNPY          error = &DataError{"bad npy data"}
	ErrDuplicate    error = &DataError{"duplicate image id"}
	ErrFloat16Range error = &DataError{"value out of float16 range"}
	ErrTooLarge     error = &DataError{"record larger than max_boxes × D allows"}
)

// Raw is one image's region features as decoded from a source: arrays are little-endian bytes
// exactly as stored in the source (float32 unless noted).
type Raw struct {
	ImageID int64
	// Width and Height are the image size in pixels; 0 when the source has none (npz).
	Width, Height int32
	NumBoxes      int
	Boxes         []byte // NumBoxes×4 float32: x1 y1 x2 y2
	Features      []byte // NumBoxes×D float32, row-major
	// FC is the D float32 mean feature when the source stores one (npz _fc); nil otherwise.
	FC []byte
	// The optional LXMERT columns (nil when absent).
	ObjectIDs  []byte // NumBoxes int64
	ObjectConf []byte // NumBoxes float32
	AttrIDs    []byte // NumBoxes int64
	AttrConf   []byte // NumBoxes float32
}

// HasObjects reports whether the record carries object and attribute columns.
func (r *Raw) HasObjects() bool { return r.ObjectIDs != nil }

// Dim returns D, the feature dimension implied by the features bytes and NumBoxes (0 when
// NumBoxes is 0).
func (r *Raw) Dim() int {
	if r.NumBoxes <= 0 {
		return 0
	}
	return len(r.Features) / 4 / r.NumBoxes
}

// Limits are the checks applied to every record.
type Limits struct {
	// Dim is the expected feature dimension; 0 accepts any (consistent lengths still required).
	Dim int
	// MinBoxes and MaxBoxes bound num_boxes (inclusive).
	MinBoxes, MaxBoxes int
}

// MaxDim bounds D when Limits.Dim is 0 (any D): decoders never allocate more than a record of
// MaxBoxes × MaxDim float32 features takes.
const MaxDim = 1 << 16

// featDim returns the expected D, or MaxDim when any is accepted.
func (lim Limits) featDim() int64 {
	if lim.Dim > 0 {
		return int64(lim.Dim)
	}
	return MaxDim
}

// MaxFeatureBytes is the most bytes the features of a record within the limits take:
// MaxBoxes × D float32.
func (lim Limits) MaxFeatureBytes() int64 { return int64(max(lim.MaxBoxes, 0)) * lim.featDim() * 4 }

// tsvOverhead bounds the fields of a TSV line other than its base64 arrays (the image id, the
// integers and the tabs).
const tsvOverhead = 512

// MaxTSVLine is the length of the longest TSV line (either layout) of a record within the
// limits: what a reader may hold of one line before it knows the line is a reject.
func (lim Limits) MaxTSVLine() int64 {
	k := int64(max(lim.MaxBoxes, 0))
	b64 := func(n int64) int64 { return (n + 2) / 3 * 4 }
	return tsvOverhead + b64(16*k) + b64(lim.MaxFeatureBytes()) + 2*b64(8*k) + 2*b64(4*k)
}

// Check validates a decoded record: num_boxes within limits, array lengths consistent with
// num_boxes and the dimension, all floats finite, boxes with x1 ≤ x2, y1 ≤ y2, coordinates
// ≥ 0 and, when the image size is known, x2 ≤ width and y2 ≤ height. The error wraps one of
// the package's Err values.
func (r *Raw) Check(lim Limits) error {
	k := r.NumBoxes
	if k < lim.MinBoxes || k > lim.MaxBoxes {
		return fmt.Errorf("%w: %d boxes, want %d..%d", ErrNumBoxes, k, lim.MinBoxes, lim.MaxBoxes)
	}
	if len(r.Boxes) != k*16 {
		return fmt.Errorf("%w: boxes have %d bytes, want %d (num_boxes %d × 4 × 4)", ErrLength, len(r.Boxes), k*16, k)
	}
	if len(r.Features)%(4*k) != 0 || len(r.Features) == 0 {
		return fmt.Errorf("%w: features have %d bytes, not a multiple of num_boxes %d × 4", ErrLength, len(r.Features), k)
	}
	d := r.Dim()
	if lim.Dim > 0 && d != lim.Dim {
		return fmt.Errorf("%w: features have %d bytes = %d × %d × 4, want D = %d", ErrDim, len(r.Features), k, d, lim.Dim)
	}
	if r.FC != nil && len(r.FC) != 4*d {
		return fmt.Errorf("%w: fc has %d bytes, want %d (D %d × 4)", ErrLength, len(r.FC), 4*d, d)
	}
	if r.ObjectIDs != nil || r.ObjectConf != nil || r.AttrIDs != nil || r.AttrConf != nil {
		for _, c := range []struct {
			name string
			b    []byte
			size int
		}{{"objects_id", r.ObjectIDs, 8}, {"objects_conf", r.ObjectConf, 4}, {"attrs_id", r.AttrIDs, 8}, {"attrs_conf", r.AttrConf, 4}} {
			if len(c.b) != k*c.size {
				return fmt.Errorf("%w: %s has %d bytes, want %d (num_boxes %d × %d)", ErrLength, c.name, len(c.b), k*c.size, k, c.size)
			}
		}
	}
	if i := firstNonFinite(r.Features); i >= 0 {
		return fmt.Errorf("%w: features[%d][%d] = %v", ErrNonFinite, i/d, i%d, f32(r.Features, i))
	}
	if i := firstNonFinite(r.Boxes); i >= 0 {
		return fmt.Errorf("%w: boxes[%d][%d] = %v", ErrNonFinite, i/4, i%4, f32(r.Boxes, i))
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{{"fc", r.FC}, {"objects_conf", r.ObjectConf}, {"attrs_conf", r.AttrConf}} {
		if i := firstNonFinite(c.b); i >= 0 {
			return fmt.Errorf("%w: %s[%d] = %v", ErrNonFinite, c.name, i, f32(c.b, i))
		}
	}
	w, h := float32(r.Width), float32(r.Height)
	for b := 0; b < k; b++ {
		x1, y1, x2, y2 := f32(r.Boxes, 4*b), f32(r.Boxes, 4*b+1), f32(r.Boxes, 4*b+2), f32(r.Boxes, 4*b+3)
		switch {
		case x2 < x1 || y2 < y1:
			return fmt.Errorf("%w: box %d (%g, %g, %g, %g) has x2 < x1 or y2 < y1", ErrBox, b, x1, y1, x2, y2)
		case x1 < 0 || y1 < 0:
			return fmt.Errorf("%w: box %d (%g, %g, %g, %g) has a negative coordinate", ErrBox, b, x1, y1, x2, y2)
		case r.Width > 0 && r.Height > 0 && (x2 > w || y2 > h):
			return fmt.Errorf("%w: box %d (%g, %g, %g, %g) lies outside the %d×%d image", ErrBox, b, x1, y1, x2, y2, r.Width, r.Height)
		}
	}
	return nil
}

// f32 returns the i-th little-endian float32 of b.
func f32(b []byte, i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) }

// MeanFC computes the mean feature over boxes as NumPy's features.mean(0) does for a float32
// (K, D) array (self-critical's make_bu_data.py): a float32 running sum over boxes in order,
// then a float32 division by K. dst is reused when it has capacity for D floats.
func MeanFC(feats []byte, k int, dst []float32) []float32 {
	d := len(feats) / 4 / k
	if cap(dst) < d {
		dst = make([]float32, d)
	}
	dst = dst[:d]
	for j := range dst {
		dst[j] = 0
	}
	for b := 0; b < k; b++ {
		row := feats[4*d*b : 4*d*(b+1)]
		for j := range dst {
			dst[j] += math.Float32frombits(binary.LittleEndian.Uint32(row[4*j:]))
		}
	}
	kf := float32(k)
	for j := range dst {
		dst[j] /= kf
	}
	return dst
}

// Float32s converts little-endian float32 bytes to a slice (dst reused when large enough).
func Float32s(b []byte, dst []float32) []float32 {
	n := len(b) / 4
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}

// Int64s converts little-endian int64 bytes to a slice; nil stays nil.
func Int64s(b []byte) []int64 {
	if b == nil {
		return nil
	}
	out := make([]int64, len(b)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

// Float32Bytes encodes floats as little-endian bytes.
func Float32Bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// Int64Bytes encodes int64s as little-endian bytes; nil stays nil.
func Int64Bytes(v []int64) []byte {
	if v == nil {
		return nil
	}
	out := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
	}
	return out
}
