package nn

import (
	"math"
	"unsafe"
)

// The GRU gates and the attention softmax take hundreds of millions of
// exponentials per POS-SCAN training step at the paper's size. math.Exp and
// math.Tanh give float64 precision at 8–20 ns each; the float32 paths below
// need float32 results only, and compute them from a table-driven float64
// exponential (relative error below 1e-15, TestFastExp) about twice as fast,
// with the same float32 results as the math package's functions in all but
// rare double-rounding cases (TestFastSigmoidTanh). float64 values (gradient
// checks) keep the math package's functions.

const expTableBits = 6
const expTableSize = 1 << expTableBits

// expTable[j] = 2^(j/64).
var expTable = func() (t [expTableSize]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / expTableSize)
	}
	return t
}()

const (
	expInvLn2N = expTableSize / math.Ln2
	expLn2NHi  = 0x1.62e42f0000000p-7  // ln2/64, high bits (n·hi is exact)
	expLn2NLo  = 0x1.df473de6af279p-32 // ln2/64 − hi
	expShifter = 0x1.8p52              // adding it rounds to an integer
)

// fastExp is e^x: x = (64k + j)·ln2/64 + r with |r| ≤ ln2/128, e^x =
// 2^k · 2^(j/64) · e^r, e^r by its Taylor polynomial of degree 5. Outside
// (−700, 700), and for NaN, it is math.Exp.
func fastExp(x float64) float64 {
	if !(x > -700 && x < 700) {
		return math.Exp(x)
	}
	t := x*expInvLn2N + expShifter
	n := int32(uint32(math.Float64bits(t)))
	nf := t - expShifter
	r := (x - nf*expLn2NHi) - nf*expLn2NLo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
	return expTable[n&(expTableSize-1)] * p * math.Float64frombits(uint64(int64(n>>expTableBits)+1023)<<52)
}

// sigmoid is 1/(1 + e^−x).
func sigmoid[F float](x F) F {
	if unsafe.Sizeof(x) == 4 {
		return F(sigmoid32(float32(x)))
	}
	return F(1 / (1 + math.Exp(-float64(x))))
}

// tanh is the hyperbolic tangent.
func tanh[F float](x F) F {
	if unsafe.Sizeof(x) == 4 {
		return F(tanh32(float32(x)))
	}
	return F(math.Tanh(float64(x)))
}

// expF is e^x, through fastExp for float32.
func expF[F float](x F) F {
	if unsafe.Sizeof(x) == 4 {
		return F(fastExp(float64(x)))
	}
	return F(math.Exp(float64(x)))
}

// tanhFast is tanhRational for float32 and math.Tanh for float64.
func tanhFast[F float](x F) F {
	if unsafe.Sizeof(x) == 4 {
		return F(tanhRational(float32(x)))
	}
	return F(math.Tanh(float64(x)))
}

// sigmoid32 and tanh32 are not inlined: inlined into the GRU's gate loop they
// make it slower (5.4 → 7.2 ms a step at batch 128, hidden 1024), called they
// make it faster (3.8 ms).
//
//go:noinline
func sigmoid32(x float32) float32 { return float32(1 / (1 + fastExp(-float64(x)))) }

// tanh32 is 1 − 2/(e^{2|x|} + 1) with the sign of x; x·(1 − x²/3) below 1e-3,
// where that formula loses relative precision, and ±1 above 20.
//
//go:noinline
func tanh32(x float32) float32 {
	v := float64(x)
	a := math.Abs(v)
	switch {
	case a < 1e-3:
		return float32(v * (1 - v*v/3))
	case a > 20:
		return float32(math.Copysign(1, v))
	}
	return float32(math.Copysign(1-2/(fastExp(2*a)+1), v))
}

// tanhRational is tanh of a float32 as a rational function of x (Eigen's fast float tanh: a
// degree 13/6 minimax fit on [−7.9, 7.9], ±1 beyond): within 4e-7 of tanh everywhere (within
// 2e-7·|x| near 0), no branch but the clamp and no exponential, about five times faster than
// tanh32; tanhDotAVX512 computes it 16 values at a time. For the attention's tanh over (N, K, A) values a step, where a few units in the last
// place do not matter next to the rounding of the sums around it.
func tanhRational(x float32) float32 {
	const clamp = 7.90531110763549805
	x = min(max(x, -clamp), clamp)
	x2 := x * x
	p := float32(-2.76076847742355e-16)
	p = p*x2 + 2.00018790482477e-13
	p = p*x2 - 8.60467152213735e-11
	p = p*x2 + 5.12229709037114e-08
	p = p*x2 + 1.48572235717979e-05
	p = p*x2 + 6.37261928875436e-04
	p = p*x2 + 4.89352455891786e-03
	q := float32(1.19825839466702e-06)
	q = q*x2 + 1.18534705686654e-04
	q = q*x2 + 2.26843463243900e-03
	q = q*x2 + 4.89352518554385e-03
	return x * p / q
}
