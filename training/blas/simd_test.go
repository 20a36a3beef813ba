package blas

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/groundcap/groundcap/training/sgemm"
)

// TestAutoPicksSIMD checks that auto picks simd when neither a GPU nor
// OpenBLAS is there (a registry holding only the built-in backends), and
// openblas over simd when it is built in.
func TestAutoPicksSIMD(t *testing.T) {
	regMu.Lock()
	saved := registry
	registry = map[string]Factory{Go: saved[Go], SIMD: saved[SIMD]}
	if f, ok := saved[OpenBLAS]; ok {
		registry[OpenBLAS] = f
	}
	regMu.Unlock()
	defer func() {
		regMu.Lock()
		registry = saved
		regMu.Unlock()
	}()
	b, err := Select(Auto)
	if err != nil {
		t.Fatal(err)
	}
	want := SIMD
	if _, ok := saved[OpenBLAS]; ok {
		want = OpenBLAS
	}
	if b.Name != want {
		t.Fatalf("auto picked %q among %v, want %q", b.Name, slices.Sorted(maps.Keys(registry)), want)
	}
}

// TestSIMDBackend checks the simd backend: Threaded, names its instruction
// set (also through a Counter), and computes Sgemm and Sgemv as gonum does
// (within float32 rounding).
func TestSIMDBackend(t *testing.T) {
	b, err := Select(SIMD)
	if err != nil {
		t.Fatal(err)
	}
	best := sgemm.Available()[0]
	wantISA := best
	if best == sgemm.Generic && gonumHasAsm {
		wantISA = gonumISA
	}
	if ISA(b.Impl) != wantISA || ISA(NewCounter(b.Impl)) != ISA(b.Impl) || ISA(gonum.Implementation{}) != "" {
		t.Fatalf("ISA = %q (counter %q, gonum %q), want %q; available %v", ISA(b.Impl), ISA(NewCounter(b.Impl)), ISA(gonum.Implementation{}), wantISA, sgemm.Available())
	}
	ran := false
	if wantISA != gonumISA && (!Threads(b.Impl, 1, func() { ran = true }) || !ran) {
		t.Fatal("simd is not Threaded")
	}
	r := rand.New(rand.NewPCG(3, 3))
	m, n, k := 37, 45, 70
	a, bm := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	for i := range bm {
		bm[i] = r.Float32() - 0.5
	}
	got, want := make([]float32, m*n), make([]float32, m*n)
	b.Impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, bm, n, 0, got, n)
	gonum.Implementation{}.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, bm, n, 0, want, n)
	// |a|, |b| ≤ 0.5: each element's error is below 2·k·2⁻²⁴·Σ|a||b| ≤ 2·k·2⁻²⁴·k/4 for both.
	tol := float64(k*k) / (1 << 24)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol {
			t.Fatalf("Sgemm element %d: %v, gonum %v", i, got[i], want[i])
		}
	}
	gv, wv := make([]float32, m), make([]float32, m)
	b.Impl.Sgemv(gblas.NoTrans, m, k, 1, a, k, bm[:k], 1, 0, gv, 1)
	gonum.Implementation{}.Sgemv(gblas.NoTrans, m, k, 1, a, k, bm[:k], 1, 0, wv, 1)
	for i := range gv {
		if d := math.Abs(float64(gv[i] - wv[i])); d > tol {
			t.Fatalf("Sgemv element %d: %v, gonum %v", i, gv[i], wv[i])
		}
	}
}

// TestSIMDPortableFallback checks what the simd backend runs where the best
// kernel is the portable one: gonum's Sgemm when gonum has assembly (not
// Threaded, named gonumISA), else the portable kernel (Threaded).
func TestSIMDPortableFallback(t *testing.T) {
	for _, asm := range []bool{true, false} {
		impl, err := newSIMDFor(sgemm.Generic, asm)
		if err != nil {
			t.Fatal(err)
		}
		_, threaded := impl.(Threaded)
		switch {
		case asm && (ISA(impl) != gonumISA || threaded):
			t.Errorf("gonum with assembly: ISA %q, Threaded %v; want %q, not Threaded", ISA(impl), threaded, gonumISA)
		case !asm && (ISA(impl) != sgemm.Generic || !threaded):
			t.Errorf("gonum without assembly: ISA %q, Threaded %v; want %q, Threaded", ISA(impl), threaded, sgemm.Generic)
		}
	}
	if _, err := newSIMDFor("no-such-isa", false); err == nil {
		t.Error("an unknown instruction set gave no error")
	}
}
