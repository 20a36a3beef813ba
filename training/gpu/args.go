package gpu

import (
	"fmt"
	"math"
	"unsafe"
)

// maxParams is the most parameters a kernel may have.
const maxParams = 24

// argPack lays out a launch's arguments as cuLaunchKernel's kernelParams wants them (and the
// emulation's launch wrappers read them): slot i holds argument i's bytes, ptrs[i] points at
// slot i. A device keeps one pack and reuses it; it must stay at one address during a call.
type argPack struct {
	vals [maxParams]uint64
	ptrs [maxParams]unsafe.Pointer
}

// pack checks args against k's parameters, fills the pack and returns the kernelParams array.
func (p *argPack) pack(k Kernel, args []any) (unsafe.Pointer, error) {
	if len(args) != len(k.Params) {
		return nil, fmt.Errorf("gpu: kernel %s takes %d arguments, got %d", k.Name, len(k.Params), len(args))
	}
	if len(args) > maxParams {
		return nil, fmt.Errorf("gpu: kernel %s has %d parameters, at most %d are supported", k.Name, len(args), maxParams)
	}
	for i, a := range args {
		par := k.Params[i]
		v, ok := argBits(par.Kind, a)
		if !ok {
			return nil, fmt.Errorf("gpu: kernel %s: argument %d (%s %s) is %T %v", k.Name, i, par.Type, par.Name, a, a)
		}
		p.vals[i] = v
		p.ptrs[i] = unsafe.Pointer(&p.vals[i])
	}
	return unsafe.Pointer(&p.ptrs[0]), nil
}

// argBits returns the little-endian bits of a for a parameter of kind k (an int in the low
// four bytes of the slot), or false when a does not fit the kind.
func argBits(k ParamKind, a any) (uint64, bool) {
	switch k {
	case KindPtr:
		switch v := a.(type) {
		case Buf:
			return uint64(v.Ptr), true
		case Ptr:
			return uint64(v), true
		}
	case KindInt:
		var x int64
		switch v := a.(type) {
		case int:
			x = int64(v)
		case int32:
			x = int64(v)
		default:
			return 0, false
		}
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, false
		}
		return uint64(uint32(int32(x))), true
	case KindInt64:
		switch v := a.(type) {
		case int:
			return uint64(int64(v)), true
		case int64:
			return uint64(v), true
		}
	case KindFloat:
		if v, ok := a.(float32); ok {
			return uint64(math.Float32bits(v)), true
		}
	}
	return 0, false
}
