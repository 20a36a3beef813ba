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
	if !slices.Contains(sgemm.Available(), ISA(b.Impl)) || ISA(NewCounter(b.Impl)) != ISA(b.Impl) || ISA(gonum.Implementation{}) != "" {
		t.Fatalf("ISA = %q (counter %q, gonum %q), available %v", ISA(b.Impl), ISA(NewCounter(b.Impl)), ISA(gonum.Implementation{}), sgemm.Available())
	}
	ran := false
	if !Threads(b.Impl, 1, func() { ran = true }) || !ran {
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
