package gpublas

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// tolFake bounds the max-norm relative error between the fake device
// (float64 accumulation) and gonum (float32 accumulation) for k <= 1024:
// float32 rounding of a length-k dot product is well under k·2⁻²⁴ ≈ 6e-5
// in the worst case and ~1e-6 in practice for random operands.
const tolFake = 1e-5

func newFakeBLAS(t *testing.T, opts Options) (*BLAS, *fakeDevice) {
	t.Helper()
	f := newFakeDevice()
	b := newBLAS(f, opts)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, f
}

// TestSgemmMatchesGonum checks the row-major to column-major operand
// swapping for the four transpose combinations, padded leading dimensions
// and beta zero and non-zero, against gonum's Sgemm.
func TestSgemmMatchesGonum(t *testing.T) {
	b, f := newFakeBLAS(t, Options{Threshold: 1})
	cases := append(CheckCases()[:8:8], // the small cases; the large ones follow below with fewer seeds
		Case{TA: blas.NoTrans, TB: blas.NoTrans, M: 1, N: 1, K: 1, Alpha: 2, Beta: 0},
		Case{TA: blas.Trans, TB: blas.NoTrans, M: 1, N: 9, K: 3, PadA: 2, PadC: 4, Alpha: 1, Beta: -1},
		Case{TA: blas.NoTrans, TB: blas.Trans, M: 7, N: 1, K: 5, PadB: 3, PadC: 1, Alpha: 1, Beta: 2},
		Case{TA: blas.ConjTrans, TB: blas.ConjTrans, M: 5, N: 6, K: 7, PadA: 1, PadB: 1, PadC: 1, Alpha: 0.5, Beta: 0.25},
		Case{TA: blas.Trans, TB: blas.Trans, M: 33, N: 17, K: 1, PadA: 0, PadB: 5, PadC: 0, Alpha: 1, Beta: 0},
	)
	cases = append(cases, CheckCases()[8:]...)
	for i, c := range cases {
		before := f.Calls("gemm")
		rel, err := Compare(b, gonum.Implementation{}, c, uint64(i)+1)
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		if rel > tolFake {
			t.Errorf("%d: %v: max relative error %.3g > %g", i, c, rel, tolFake)
		}
		if f.Calls("gemm") != before+1 {
			t.Errorf("%d: %v: product did not run on the device", i, c)
		}
	}
	if err := b.Err(); err != nil {
		t.Fatalf("device error: %v", err)
	}
	if s := b.Stats(); s.GPUCalls != int64(len(cases)) || s.CPUCalls != 0 {
		t.Errorf("stats %+v, want %d GPU calls, 0 CPU calls", s, len(cases))
	}
}

// TestCompareDetectsWrongResults makes sure the checker used by gpu-check
// fails on a wrong product, a write between rows and a changed input.
func TestCompareDetectsWrongResults(t *testing.T) {
	c := Case{TA: blas.NoTrans, TB: blas.Trans, M: 9, N: 8, K: 7, PadA: 1, PadB: 2, PadC: 3, Alpha: 1, Beta: 0.5}
	for i, bad := range []blas.Float32{
		scaled{f: 0.999}, // 0: a 1e-3 relative error
		gapWriter{},      // 1: writes between C's rows
		inputChanger{},   // 2: changes A
	} {
		rel, err := Compare(bad, gonum.Implementation{}, c, 1)
		if err == nil && rel <= 1e-5 {
			t.Errorf("%d: %T passed the check (rel %.3g)", i, bad, rel)
		}
	}
}

// scaled multiplies alpha by f.
type scaled struct {
	gonum.Implementation
	f float32
}

func (s scaled) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha*s.f, a, lda, b, ldb, beta, c, ldc)
}

// gapWriter computes the right product but clobbers the gaps of C.
type gapWriter struct{ gonum.Implementation }

func (gapWriter) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	for i := 0; i < m-1; i++ {
		c[i*ldc+n] = 0
	}
}

// inputChanger computes the right product, then changes A.
type inputChanger struct{ gonum.Implementation }

func (inputChanger) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	a[0]++
}

// randMats returns seeded row-major operands for an m×k by k×n product.
func randMats(seed uint64, m, n, k int) (a, b, c []float32) {
	r := rand.New(rand.NewPCG(seed, 2))
	f := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		return x
	}
	return f(m * k), f(k * n), f(m * n)
}

func TestThreshold(t *testing.T) {
	for i, tc := range []struct {
		threshold int
		m, n, k   int
		gpu       bool
	}{
		{10 * 10 * 10, 10, 10, 9, false}, // 0: one below
		{10 * 10 * 10, 10, 10, 10, true}, // 1: at the threshold
		{10 * 10 * 10, 5, 40, 5, true},   // 2: same m·n·k, other shape
		{0, 63, 64, 64, false},           // 3: default threshold, just below
		{0, 64, 64, 64, true},            // 4: default threshold
		{1, 1, 1, 1, true},               // 5: everything offloaded
		{1 << 30, 2, 2, 2, false},        // 6: huge threshold
	} {
		b, f := newFakeBLAS(t, Options{Threshold: tc.threshold})
		a, bb, c := randMats(uint64(i), tc.m, tc.n, tc.k)
		want := slices.Clone(c)
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, 1, a, tc.k, bb, tc.n, 0.5, want, tc.n)
		b.Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, 1, a, tc.k, bb, tc.n, 0.5, c, tc.n)
		if got := f.Calls("gemm") == 1; got != tc.gpu {
			t.Errorf("%d: m·n·k=%d threshold=%d: on device %v, want %v", i, tc.m*tc.n*tc.k, tc.threshold, got, tc.gpu)
		}
		for j := range c {
			if d := c[j] - want[j]; d > 1e-5 || d < -1e-5 {
				t.Errorf("%d: C[%d]=%g, want %g (gonum)", i, j, c[j], want[j])
				break
			}
		}
	}
}

// TestDegenerateStayOnCPU checks quick-return shapes (alpha 0, k 0, m or n
// 0) never reach the device and keep gonum's semantics (C scaled by beta).
func TestDegenerateStayOnCPU(t *testing.T) {
	b, f := newFakeBLAS(t, Options{Threshold: 1})
	for i, tc := range []struct {
		m, n, k int
		alpha   float32
	}{
		{4, 5, 6, 0}, // 0: alpha 0
		{4, 5, 0, 1}, // 1: k 0
		{0, 5, 6, 1}, // 2: m 0
		{4, 0, 6, 1}, // 3: n 0
	} {
		a, bb, _ := randMats(uint64(i), max(tc.m, 1), max(tc.n, 1), max(tc.k, 1))
		c := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
		want := slices.Clone(c)
		lda, ldb := max(tc.k, 1), max(tc.n, 1)
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, tc.alpha, a, lda, bb, ldb, 2, want, max(tc.n, 1))
		b.Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, tc.alpha, a, lda, bb, ldb, 2, c, max(tc.n, 1))
		if !slices.Equal(c, want) {
			t.Errorf("%d: C = %v, want %v (gonum)", i, c, want)
		}
	}
	if n := f.Calls("gemm") + f.Calls("malloc"); n != 0 {
		t.Errorf("degenerate products touched the device (%d calls)", n)
	}
}

// TestInvalidArgumentsPanicLikeGonum checks bad arguments give gonum's
// panic, not a device error.
func TestInvalidArgumentsPanicLikeGonum(t *testing.T) {
	b, f := newFakeBLAS(t, Options{Threshold: 1})
	a, bb, c := randMats(1, 8, 8, 8)
	for i, call := range []func(blas.Float32){
		func(x blas.Float32) { x.Sgemm(blas.NoTrans, blas.NoTrans, 8, 8, 8, 1, a, 7, bb, 8, 0, c, 8) },        // 0: lda < k
		func(x blas.Float32) { x.Sgemm(blas.NoTrans, blas.Trans, 8, 8, 8, 1, a, 8, bb, 8, 0, c[:60], 8) },     // 1: short C
		func(x blas.Float32) { x.Sgemm(blas.Transpose('x'), blas.NoTrans, 8, 8, 8, 1, a, 8, bb, 8, 0, c, 8) }, // 2: bad transpose
		func(x blas.Float32) { x.Sgemm(blas.NoTrans, blas.NoTrans, -1, 8, 8, 1, a, 8, bb, 8, 0, c, 8) },       // 3: m < 0
	} {
		want := panicValue(func() { call(gonum.Implementation{}) })
		got := panicValue(func() { call(b) })
		if want == nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d: panic %v, want gonum's %v", i, got, want)
		}
	}
	if n := f.Calls("gemm"); n != 0 {
		t.Errorf("invalid calls reached the device %d times", n)
	}
}

func panicValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestBuffersReused checks device and pinned buffers are allocated once
// for a run of products that fit, grown (old ones freed) for a larger one.
func TestBuffersReused(t *testing.T) {
	b, f := newFakeBLAS(t, Options{Threshold: 1})
	run := func(seed uint64, m, n, k int) {
		a, bb, c := randMats(seed, m, n, k)
		b.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
	}
	run(1, 200, 300, 100)
	for i := 0; i < 20; i++ {
		run(uint64(i+2), 10+i*9, 300-i*7, 50+i*2)
	}
	s := b.Stats()
	if s.DeviceAllocs != 1 || s.HostAllocs != 1 || f.Calls("malloc") != 1 || f.Calls("mallocHost") != 1 {
		t.Fatalf("after 21 products that fit: %+v, malloc %d, mallocHost %d; want one allocation each", s, f.Calls("malloc"), f.Calls("mallocHost"))
	}
	first := s.BufferFloats
	run(30, 1000, 1000, 300) // needs more than the first buffer
	s = b.Stats()
	if s.DeviceAllocs != 2 || s.HostAllocs != 2 || s.BufferFloats <= first {
		t.Errorf("after a larger product: %+v (first capacity %d); want a second, larger allocation", s, first)
	}
	if d, h := f.live(); d != 1 || h != 1 {
		t.Errorf("live allocations %d device, %d pinned; want 1, 1 (old buffers freed)", d, h)
	}
	if s.GPUCalls != 22 {
		t.Errorf("GPU calls %d, want 22", s.GPUCalls)
	}
}

// TestDeviceFailureFallsBack injects a failure at each device call: the
// product is still right (recomputed on the CPU from the untouched C), the
// failure is recorded and logged once, later products stay on the CPU.
func TestDeviceFailureFallsBack(t *testing.T) {
	for _, op := range []string{"malloc", "mallocHost", "upload", "gemm", "download", "sync"} {
		t.Run(op, func(t *testing.T) {
			var logs []string
			b, f := newFakeBLAS(t, Options{Threshold: 1, Logf: func(format string, args ...any) {
				logs = append(logs, fmt.Sprintf(format, args...))
			}})
			f.failAt[op] = 1
			const m, n, k = 12, 10, 8
			for i := 0; i < 3; i++ {
				a, bb, c := randMats(uint64(i), m, n, k)
				want := slices.Clone(c)
				gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0.5, want, n)
				b.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0.5, c, n)
				// Exact: after the failure every product is gonum's own.
				if !slices.Equal(c, want) {
					t.Fatalf("product %d differs from gonum after a %s failure", i, op)
				}
			}
			if err := b.Err(); err == nil || !strings.Contains(err.Error(), "fake "+op+" failure") {
				t.Errorf("Err() = %v, want the injected %s failure", err, op)
			}
			s := b.Stats()
			if s.Fallbacks != 1 || s.GPUCalls != 0 || s.CPUCalls != 3 {
				t.Errorf("stats %+v, want 1 fallback, 0 GPU, 3 CPU calls", s)
			}
			if len(logs) != 1 || !strings.Contains(logs[0], "continue on the CPU") {
				t.Errorf("logs %q, want one line about the CPU", logs)
			}
		})
	}
}

func TestStrictPanicsOnDeviceFailure(t *testing.T) {
	b, f := newFakeBLAS(t, Options{Threshold: 1, Strict: true})
	f.failAt["gemm"] = 1
	a, bb, c := randMats(1, 4, 4, 4)
	v := panicValue(func() { b.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, a, 4, bb, 4, 0, c, 4) })
	if err, ok := v.(error); !ok || !strings.Contains(err.Error(), "fake gemm failure") {
		t.Errorf("panic %v, want the gemm failure", v)
	}
}

// TestConcurrentProducts runs products from several goroutines through one
// BLAS; they share the staging buffer, so they are only right if device
// work is serialised (run with -race to see the data race otherwise).
func TestConcurrentProducts(t *testing.T) {
	b, _ := newFakeBLAS(t, Options{Threshold: 1})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				c := Case{TA: blas.NoTrans, TB: blas.Trans, M: 20 + g, N: 30 - g, K: 16 + i, PadC: g % 3, Alpha: 1, Beta: 0.5}
				rel, err := Compare(b, gonum.Implementation{}, c, uint64(g*10+i))
				if err == nil && rel > tolFake {
					err = fmt.Errorf("%v: relative error %.3g", c, rel)
				}
				if err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	if s := b.Stats(); s.GPUCalls != 30 {
		t.Errorf("GPU calls %d, want 30", s.GPUCalls)
	}
}

func TestCloseReleasesAndFallsBack(t *testing.T) {
	f := newFakeDevice()
	b := newBLAS(f, Options{Threshold: 1})
	a, bb, c := randMats(1, 8, 8, 8)
	b.Sgemm(blas.NoTrans, blas.NoTrans, 8, 8, 8, 1, a, 8, bb, 8, 0, c, 8)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if d, h := f.live(); d != 0 || h != 0 || f.Calls("close") != 1 {
		t.Errorf("after Close: %d device, %d pinned buffers live, %d closes; want 0, 0, 1", d, h, f.Calls("close"))
	}
	want := slices.Clone(c)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 8, 8, 8, 1, a, 8, bb, 8, 0, want, 8)
	b.Sgemm(blas.NoTrans, blas.NoTrans, 8, 8, 8, 1, a, 8, bb, 8, 0, c, 8)
	if !slices.Equal(c, want) || f.Calls("gemm") != 1 {
		t.Errorf("product after Close: equal to gonum %v, device products %d (want true, 1)", slices.Equal(c, want), f.Calls("gemm"))
	}
}

func TestOptionsValidate(t *testing.T) {
	for i, tc := range []struct {
		o     Options
		field string
	}{
		{Options{}, ""},                       // 0
		{Options{Device: -1}, "Device"},       // 1
		{Options{Threshold: -5}, "Threshold"}, // 2
	} {
		err := tc.o.Validate()
		if (err == nil) != (tc.field == "") || (err != nil && !strings.Contains(err.Error(), tc.field)) {
			t.Errorf("%d: Validate() = %v, want error naming %q", i, err, tc.field)
		}
		if tc.field != "" {
			if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%d: New() = %v, want error naming %q", i, err, tc.field)
			}
		}
	}
}
