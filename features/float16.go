package features

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxFloat16 is the largest finite IEEE 754 binary16 value.
const MaxFloat16 = 65504

// Float16Bits rounds f to the nearest binary16 value (ties to even) and returns its bits.
// Values with |f| ≥ 65520 become ±Inf; NaN stays NaN.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half: value = m·2⁻²⁴ with m = (1.mant)·2^(exp−126).
		shift := uint(14 - e)
		if shift > 24 {
			return sign // below 2⁻²⁵: rounds to zero
		}
		full := mant | 0x800000
		m := full >> shift
		rem := full & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && m&1 == 1) {
			m++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(m)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is right, up to +Inf
	}
	return sign | uint16(h)
}

// Float16Value returns the float32 value of binary16 bits (exact).
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		v := float32(mant) * (1.0 / (1 << 24)) // exact: mant < 2¹⁰
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Float32ToFloat16 converts little-endian float32 bytes to little-endian binary16 bytes (dst
// reused when large enough). It fails on the first value that rounds to infinity.
func Float32ToFloat16(src, dst []byte) ([]byte, error) {
	n := len(src) / 4
	if cap(dst) < 2*n {
		dst = make([]byte, 2*n)
	}
	dst = dst[:2*n]
	for i := 0; i < n; i++ {
		x := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		h := Float16Bits(x)
		if h&0x7c00 == 0x7c00 {
			return dst, fmt.Errorf("%w: value %g at index %d (|x| must be < 65520)", ErrFloat16Range, x, i)
		}
		binary.LittleEndian.PutUint16(dst[2*i:], h)
	}
	return dst, nil
}

// Float16s converts little-endian binary16 bytes to float32 values (dst reused when large
// enough).
func Float16s(b []byte, dst []float32) []float32 {
	n := len(b) / 2
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = Float16Value(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return dst
}
