package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// impls returns an Impl for every instruction set this CPU runs (each
// kernel is tested on the machine that runs the tests).
func impls(t testing.TB) []*Impl {
	t.Helper()
	var out []*Impl
	for _, isa := range Available() {
		im, err := New(isa)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, im)
	}
	return out
}

// gemmCase is one product: op(A) m×k, op(B) k×n, with the leading dimensions
// padded by pad values.
type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	pad         int
	alpha, beta float32
}

func (c gemmCase) String() string {
	t := func(x blas.Transpose) string {
		if x == blas.NoTrans {
			return "N"
		}
		return "T"
	}
	return fmt.Sprintf("%s%s/%dx%dx%d/pad=%d/alpha=%g/beta=%g", t(c.tA), t(c.tB), c.m, c.n, c.k, c.pad, c.alpha, c.beta)
}

// operands returns A, B, C and their leading dimensions for c, with values
// in [-1, 1) (C) and [-2, 2) (A, B) from seed; the padding holds NaN, which
// a correct product never reads.
func (c gemmCase) operands(seed uint64) (a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) {
	r := rand.New(rand.NewPCG(seed, 7))
	fill := func(rows, cols, ld int, scale float32) []float32 {
		s := make([]float32, max(0, (rows-1)*ld+cols))
		for i := range s {
			if i%ld < cols {
				s[i] = scale * (2*r.Float32() - 1)
			} else {
				s[i] = float32(math.NaN())
			}
		}
		return s
	}
	ar, ac := c.m, c.k
	if c.tA != blas.NoTrans {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.tB != blas.NoTrans {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc = max(1, ac)+c.pad, max(1, bc)+c.pad, max(1, c.n)+c.pad
	return fill(ar, ac, lda, 2), lda, fill(br, bc, ldb, 2), ldb, fill(c.m, c.n, ldc, 1), ldc
}

// reference computes alpha·op(A)·op(B) + beta·C in float64, and for each
// element the magnitude |alpha|·Σ|a||b| + |beta|·|c| that bounds its rounding
// error.
func reference(c gemmCase, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) (want, mag []float64) {
	want, mag = make([]float64, c.m*c.n), make([]float64, c.m*c.n)
	at := func(i, p int) float64 {
		if c.tA != blas.NoTrans {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if c.tB != blas.NoTrans {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			var s, sa float64
			if c.alpha != 0 {
				for p := 0; p < c.k; p++ {
					s += at(i, p) * bt(p, j)
					sa += math.Abs(at(i, p) * bt(p, j))
				}
			}
			v, mg := float64(c.alpha)*s, math.Abs(float64(c.alpha))*sa
			if c.beta != 0 {
				v += float64(c.beta) * float64(cm[i*ldc+j])
				mg += math.Abs(float64(c.beta) * float64(cm[i*ldc+j]))
			}
			want[i*c.n+j], mag[i*c.n+j] = v, mg
		}
	}
	return want, mag
}

// tolerance is the bound on |computed − exact| for an element of magnitude
// mag (see reference): the sum over k takes at most k roundings (2k without
// fused multiply-adds), each pass over k one more into C, and beta·C and
// alpha·acc one each, every rounding at most 2⁻²⁴ relative (first-order
// error analysis of recursive summation, Higham ch. 3).
func tolerance(k int, mag float64) float64 {
	const u = 1.0 / (1 << 24)
	passes := (k + kTarget - 1) / kTarget
	return float64(2*k+passes+4) * u * mag
}

// checkGemm runs c on im and compares with the float64 reference.
func checkCase(t *testing.T, im *Impl, c gemmCase, seed uint64) {
	t.Helper()
	a, lda, b, ldb, cm, ldc := c.operands(seed)
	want, mag := reference(c, a, lda, b, ldb, cm, ldc)
	got := append([]float32(nil), cm...)
	im.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
	for i := 0; i < c.m; i++ {
		for j := 0; j < ldc && (i < c.m-1 || j < c.n); j++ {
			g := got[i*ldc+j]
			if j >= c.n { // padding is never written
				if !math.IsNaN(float64(g)) {
					t.Fatalf("%s %v: padding C[%d,%d] written: %v", im.ISA(), c, i, j, g)
				}
				continue
			}
			w := want[i*c.n+j]
			if d := math.Abs(float64(g) - w); !(d <= tolerance(c.k, mag[i*c.n+j])) {
				t.Fatalf("%s %v: C[%d,%d] = %v, want %v (error %.3g > bound %.3g)", im.ISA(), c, i, j, g, w, d, tolerance(c.k, mag[i*c.n+j]))
			}
		}
	}
}

var transposes = [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.NoTrans, blas.Trans}, {blas.Trans, blas.NoTrans}, {blas.ConjTrans, blas.ConjTrans}}

// TestSgemmAgainstReference checks every kernel on every transpose case, odd
// sizes (edge tiles in m and n), k over several passes, padded leading
// dimensions and α/β values, against a float64 reference.
func TestSgemmAgainstReference(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {3, 5, 7}, {13, 33, 17}, {12, 32, 384}, {25, 65, 385}, // 385: two passes over k
		{36, 36, 257}, {7, 100, 3}, {100, 7, 50}, {50, 130, 700},
	}
	ab := [][2]float32{{1, 0}, {0.5, -1.5}, {-2, 1}}
	for _, im := range impls(t) {
		n := 0
		for _, s := range shapes {
			for _, tr := range transposes {
				for _, pad := range []int{0, 3} {
					for _, x := range ab {
						c := gemmCase{tr[0], tr[1], s[0], s[1], s[2], pad, x[0], x[1]}
						checkCase(t, im, c, uint64(n))
						n++
					}
				}
			}
		}
	}
}

// TestSgemmLarge checks products big enough to run on several goroutines
// (and with more columns than one pass packs) against the reference.
func TestSgemmLarge(t *testing.T) {
	for _, im := range impls(t) {
		for i, c := range []gemmCase{
			{blas.NoTrans, blas.NoTrans, 130, 300, 800, 1, 1, 0},
			{blas.Trans, blas.Trans, 70, ncMax + 40, 30, 0, 1.5, 0.5},
		} {
			checkCase(t, im, c, uint64(100+i))
		}
	}
}

// TestSgemmSameBitsEverywhere checks the invariant of the package doc: the
// same bits for any thread limit and GOMAXPROCS, and from the AVX512 and
// AVX2 kernels.
func TestSgemmSameBitsEverywhere(t *testing.T) {
	c := gemmCase{blas.NoTrans, blas.Trans, 203, 517, 1100, 2, 0.7, 0.3}
	a, lda, b, ldb, cm, ldc := c.operands(1)
	run := func(im *Impl) []float32 {
		out := append([]float32(nil), cm...)
		im.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, out, ldc)
		return out
	}
	same := func(what string, x, y []float32) {
		t.Helper()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) && !(math.IsNaN(float64(x[i])) && math.IsNaN(float64(y[i]))) {
				t.Fatalf("%s: element %d: %v vs %v", what, i, x[i], y[i])
			}
		}
	}
	var simd []float32
	for _, im := range impls(t) {
		all := run(im)
		var one []float32
		im.Threads(1, func() { one = run(im) })
		same(im.ISA()+": threads 1 vs all", one, all)
		prev := runtime.GOMAXPROCS(5)
		five := run(im)
		runtime.GOMAXPROCS(prev)
		same(im.ISA()+": GOMAXPROCS 5 vs default", five, all)
		if im.ISA() == Generic {
			continue
		}
		if simd != nil {
			same(im.ISA()+" vs the other SIMD kernel", all, simd)
		}
		simd = all
	}
}

// TestSgemmSpecialValues checks α = 0 (A and B not read), β = 0 (C not read:
// NaN in it does not propagate, as in the reference BLAS), β = 1, and k = 0.
func TestSgemmSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	for _, im := range impls(t) {
		m, n, k := 13, 35, 20
		a, b := make([]float32, m*k), make([]float32, k*n)
		for i := range a {
			a[i] = 1
		}
		for i := range b {
			b[i] = 0.5
		}
		cNaN := func() []float32 {
			c := make([]float32, m*n)
			for i := range c {
				c[i] = nan
			}
			return c
		}
		c := cNaN()
		im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 2, a, k, b, n, 0, c, n)
		for i, v := range c {
			if v != 20 { // 2 · Σ_20 1·0.5
				t.Fatalf("%s: beta 0 over NaN: C[%d] = %v, want 20", im.ISA(), i, v)
			}
		}
		im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 1, c, n)
		if c[0] != 30 || c[m*n-1] != 30 { // 20 + 10
			t.Fatalf("%s: beta 1: C = %v, %v, want 30", im.ISA(), c[0], c[m*n-1])
		}
		for i := range a {
			a[i] = nan
		}
		im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 0, a, k, b, n, -0.5, c, n)
		if c[0] != -15 || c[m*n-1] != -15 {
			t.Fatalf("%s: alpha 0 read A or mis-scaled C: %v, %v, want -15", im.ISA(), c[0], c[m*n-1])
		}
		c = cNaN()
		im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 0, a, k, b, n, 0, c, n)
		im.Sgemm(blas.NoTrans, blas.NoTrans, m, n, 0, 1, a, 1, nil, n, 2, c, n) // k = 0: C = 2·C, A (NaN) not read
		for i, v := range c {
			if v != 0 {
				t.Fatalf("%s: alpha 0 beta 0 over NaN: C[%d] = %v, want 0", im.ISA(), i, v)
			}
		}
	}
}

// TestSgemmZeroSizes checks that empty products touch nothing.
func TestSgemmZeroSizes(t *testing.T) {
	for _, im := range impls(t) {
		c := []float32{7}
		im.Sgemm(blas.NoTrans, blas.NoTrans, 0, 1, 3, 1, nil, 3, []float32{1, 2, 3}, 1, 0, nil, 1)
		im.Sgemm(blas.NoTrans, blas.NoTrans, 1, 0, 3, 1, []float32{1, 2, 3}, 3, nil, 1, 0, c, 1)
		if c[0] != 7 {
			t.Fatalf("%s: n = 0 wrote C: %v", im.ISA(), c[0])
		}
		im.Sgemm(blas.Trans, blas.Trans, 1, 1, 0, 1, nil, 1, nil, 1, 0.5, c, 1)
		if c[0] != 3.5 {
			t.Fatalf("%s: k = 0: C = %v, want beta·C = 3.5", im.ISA(), c[0])
		}
	}
}

// panics returns the panic value of fn as a string ("" if none).
func panics(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	fn()
	return ""
}

// TestSgemmBadArguments checks that bad arguments panic with gonum's
// message for the same call, and that aliasing is checked: C overlapping A
// or B panics, A and B may share memory.
func TestSgemmBadArguments(t *testing.T) {
	s := make([]float32, 100)
	im, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		tA, tB        blas.Transpose
		m, n, k       int
		lda, ldb, ldc int
		a, b, c       []float32
	}{
		{'x', blas.NoTrans, 2, 2, 2, 2, 2, 2, s, s, s},              // 0 bad transpose
		{blas.NoTrans, blas.NoTrans, -1, 2, 2, 2, 2, 2, s, s, s},    // 1
		{blas.NoTrans, blas.NoTrans, 2, -1, 2, 2, 2, 2, s, s, s},    // 2
		{blas.NoTrans, blas.NoTrans, 2, 2, -1, 2, 2, 2, s, s, s},    // 3
		{blas.NoTrans, blas.NoTrans, 2, 2, 3, 2, 2, 2, s, s, s},     // 4 lda < k
		{blas.Trans, blas.NoTrans, 3, 2, 2, 2, 2, 2, s, s, s},       // 5 lda < m
		{blas.NoTrans, blas.Trans, 2, 2, 3, 3, 2, 2, s, s, s},       // 6 ldb < k
		{blas.NoTrans, blas.NoTrans, 2, 3, 2, 2, 3, 2, s, s, s},     // 7 ldc < n
		{blas.NoTrans, blas.NoTrans, 2, 2, 2, 2, 2, 2, s[:3], s, s}, // 8 short a
		{blas.NoTrans, blas.NoTrans, 2, 2, 2, 2, 2, 2, s, s[:3], s}, // 9 short b
		{blas.NoTrans, blas.NoTrans, 2, 2, 2, 2, 2, 2, s, s, s[:3]}, // 10 short c
	} {
		want := panics(func() {
			gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, 1, c.a, c.lda, c.b, c.ldb, 0, c.c, c.ldc)
		})
		got := panics(func() { im.Sgemm(c.tA, c.tB, c.m, c.n, c.k, 1, c.a, c.lda, c.b, c.ldb, 0, c.c, c.ldc) })
		if want == "" || got != want {
			t.Errorf("%d: panic %q, gonum's %q", i, got, want)
		}
	}
	a, b, c := s[:20], s[20:40], s[40:60]
	for i := range s {
		s[i] = float32(i % 7)
	}
	if msg := panics(func() { im.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, a, 4, b, 4, 0, s[10:30], 4) }); !strings.Contains(msg, "overlaps") {
		t.Errorf("C overlapping A: panic %q", msg)
	}
	if msg := panics(func() { im.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, a, 4, b, 4, 0, s[35:55], 4) }); !strings.Contains(msg, "overlaps") {
		t.Errorf("C overlapping B: panic %q", msg)
	}
	// A and B the same memory: G = A·Aᵀ, checked against gonum.
	want := make([]float32, 16)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, 4, 4, 5, 1, a, 5, a, 5, 0, want, 4)
	im.Sgemm(blas.NoTrans, blas.Trans, 4, 4, 5, 1, a, 5, a, 5, 0, c, 4)
	for i := range want {
		if want[i] != c[i] { // small integers: exact
			t.Fatalf("A·Aᵀ with shared memory: C[%d] = %v, want %v", i, c[i], want[i])
		}
	}
}
