package features

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// littleEndian is true on hosts that store a float32 as its little-endian bytes, where a
// byte slice of stored values can be read in place as []float32 / []uint32.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// asUint32s views the little-endian values of b as []uint32 without copying; ok is false on
// a big-endian host or when b is not 4-byte aligned.
func asUint32s(b []byte) (v []uint32, ok bool) {
	if !littleEndian || len(b) < 4 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return nil, len(b) < 4 && littleEndian
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4), true
}

// asFloat32s is asUint32s for float32 values.
func asFloat32s(b []byte) (v []float32, ok bool) {
	u, ok := asUint32s(b)
	if !ok || len(u) == 0 {
		return nil, ok
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(u))), len(u)), true
}

// expMask selects a float32's exponent: all ones means NaN or ±Inf.
const expMask = 0x7f800000

// firstNonFinite returns the index of the first NaN or ±Inf float32 in b, or -1.
func firstNonFinite(b []byte) int {
	u, ok := asUint32s(b)
	if !ok {
		n := len(b) / 4
		for i := 0; i < n; i++ {
			if binary.LittleEndian.Uint32(b[4*i:])&expMask == expMask {
				return i
			}
		}
		return -1
	}
	// Eight values per test: a value is non-finite when its exponent bits are all ones,
	// i.e. when (x & mask) + (1 << 23) carries into bit 31 (the sign bit is masked off).
	i := 0
	for ; i+8 <= len(u); i += 8 {
		w := u[i : i+8 : i+8]
		s := (w[0]&expMask + 1<<23) | (w[1]&expMask + 1<<23) | (w[2]&expMask + 1<<23) | (w[3]&expMask + 1<<23) |
			(w[4]&expMask + 1<<23) | (w[5]&expMask + 1<<23) | (w[6]&expMask + 1<<23) | (w[7]&expMask + 1<<23)
		if s&(1<<31) != 0 {
			break
		}
	}
	for ; i < len(u); i++ {
		if u[i]&expMask == expMask {
			return i
		}
	}
	return -1
}

// columnSums adds the float32 values of k rows of d values (feats, little-endian) into sums
// in row order, and returns the smallest and largest value; NaN and ±Inf are not detected
// here (a column with one ends non-finite).
func columnSums(feats []byte, k int, sums []float32) (lo, hi float32) {
	d := len(sums)
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	f, ok := asFloat32s(feats)
	if !ok {
		for b := 0; b < k; b++ {
			row := feats[4*d*b : 4*d*(b+1)]
			for j := range sums {
				x := math.Float32frombits(binary.LittleEndian.Uint32(row[4*j:]))
				sums[j] += x
				lo, hi = min(lo, x), max(hi, x)
			}
		}
		return lo, hi
	}
	for b := 0; b < k; b++ {
		row := f[d*b : d*(b+1) : d*(b+1)]
		s := sums[:len(row)]
		for j, x := range row {
			s[j] += x
			if x < lo {
				lo = x
			}
			if x > hi {
				hi = x
			}
		}
	}
	return lo, hi
}
