package synth

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
)

// Feature mixing weights: how much each signature contributes per unit of overlap.
const (
	wClass      = 1.0  // class signature × IoU
	wType       = 0.5  // entity-type signature × IoU (makes dog and cat partly alike)
	wColour     = 0.8  // colour signature × IoU
	wSize       = 0.5  // size signature × IoU
	wPart       = 0.7  // part signature × (fraction of the region inside the object − IoU)
	wPartColour = 0.3  // colour signature for part regions
	wScene      = 0.8  // scene signature × uncovered fraction of the region
	noiseScale  = 0.4  // mean of the exponential noise values
	valueNoise  = 0.25 // std of the multiplicative noise on every non-zero value
	dropout     = 0.08 // probability that a non-zero value is zeroed
)

// featScratch is one worker's reusable buffers.
type featScratch struct {
	feat    []float32
	touched []int32
	raw     []byte
}

// add accumulates scale·v into row, remembering newly non-zero dimensions.
func (s *featScratch) add(row []float32, v sparseVec, scale float32) {
	if scale <= 0 {
		return
	}
	for i, d := range v.idx {
		if row[d] == 0 {
			s.touched = append(s.touched, d)
		}
		row[d] += scale * v.val[i]
	}
}

// features computes the K×D feature matrix of im into s.feat (row-major).
func (w *world) features(r *rand.Rand, im *imageData, s *featScratch) []float32 {
	d := w.opts.FeatDim
	k := len(im.proposals)
	if cap(s.feat) < k*d {
		s.feat = make([]float32, k*d)
	}
	feat := s.feat[:k*d]
	clear(feat)
	for p, pr := range im.proposals {
		row := feat[p*d : (p+1)*d]
		s.touched = s.touched[:0]
		gain := float32(0.8 + 0.4*r.Float64()) // detector confidence of this region
		b := pr.box
		covered := 0.0
		for _, o := range im.objects {
			inter, areaR, areaO := overlap(float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3]),
				float64(o.box[0]), float64(o.box[1]), float64(o.box[2]), float64(o.box[3]))
			if inter == 0 {
				continue
			}
			iou := inter / (areaR + areaO - inter)
			ioa := inter / areaR
			covered += ioa
			g := gain * float32(iou)
			s.add(row, w.classSig[o.cat], g*wClass)
			s.add(row, w.typeSig[typeIndex(categories[o.cat].Type)], g*wType)
			s.add(row, w.colourSig[o.colour], g*wColour)
			s.add(row, w.sizeSig[o.size], g*wSize)
			if part := float32(ioa - iou); part > 0.05 {
				s.add(row, w.partSig[o.cat], gain*part*wPart)
				s.add(row, w.colourSig[o.colour], gain*part*wPartColour)
			}
		}
		if bg := 1 - math.Min(covered, 1); bg > 0 {
			s.add(row, w.sceneSig[im.scene], gain*float32(bg)*wScene)
		}
		for j := 0; j < w.noiseNNZ; j++ {
			dim := int32(r.IntN(d))
			if row[dim] == 0 {
				s.touched = append(s.touched, dim)
			}
			row[dim] += float32(r.ExpFloat64() * noiseScale)
		}
		for _, dim := range s.touched {
			if row[dim] == 0 {
				continue // already handled (duplicate index)
			}
			if r.Float64() < dropout {
				row[dim] = 0
				continue
			}
			row[dim] *= float32(math.Max(0, 1+valueNoise*r.NormFloat64()))
		}
	}
	return feat
}

// appendTSVRow appends one bottom-up TSV line (image_id, image_w, image_h, num_boxes, boxes,
// features; base64 of little-endian float32) to dst, using s.raw as scratch.
func appendTSVRow(dst []byte, im *imageData, feat []float32, s *featScratch) []byte {
	dst = strconv.AppendInt(dst, im.id, 10)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, int64(im.w), 10)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, int64(im.h), 10)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, int64(len(im.proposals)), 10)
	dst = append(dst, '\t')
	boxes := make([]float32, 0, 4*len(im.proposals))
	for _, p := range im.proposals {
		boxes = append(boxes, p.box[:]...)
	}
	dst = appendBase64Floats(dst, boxes, s)
	dst = append(dst, '\t')
	dst = appendBase64Floats(dst, feat, s)
	return append(dst, '\n')
}

func appendBase64Floats(dst []byte, v []float32, s *featScratch) []byte {
	n := 4 * len(v)
	if cap(s.raw) < n {
		s.raw = make([]byte, n)
	}
	raw := s.raw[:n]
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	m := base64.StdEncoding.EncodedLen(n)
	start := len(dst)
	dst = grow(dst, m)
	base64.StdEncoding.Encode(dst[start:start+m], raw)
	return dst
}

// grow extends dst by n bytes (contents of the new bytes unspecified).
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), 2*cap(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	return dst[:len(dst)+n]
}
