//go:build openblas

package blas

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
)

// TestOpenBLASThreads checks that Threads limits OpenBLAS's thread count while fn runs, that
// overlapping calls keep the smallest limit until the last ends, and that the count comes back.
func TestOpenBLASThreads(t *testing.T) {
	be, err := Select(OpenBLAS)
	if err != nil {
		t.Fatal(err)
	}
	before := openblasThreads()
	var inner, outer int
	var wg sync.WaitGroup
	release := make(chan struct{})
	started := make(chan struct{})
	if !Threads(be.Impl, 2, func() {
		outer = openblasThreads()
		wg.Add(1)
		go func() {
			defer wg.Done()
			Threads(be.Impl, 1, func() {
				close(started)
				<-release
			})
		}()
		<-started
		inner = openblasThreads()
		close(release)
		wg.Wait()
	}) {
		t.Fatal("OpenBLAS is not Threaded")
	}
	if outer != min(2, before) || inner != 1 {
		t.Errorf("thread counts: %d before, %d within Threads(2), %d within an overlapping Threads(1)", before, outer, inner)
	}
	if after := openblasThreads(); after != before {
		t.Errorf("thread count %d after, %d before", after, before)
	}
}

// TestOpenBLASOneThreadSameProduct checks the claim of Threads' documentation that limiting the
// threads changes no result: the same products on one thread and on all, bit for bit.
func TestOpenBLASOneThreadSameProduct(t *testing.T) {
	be, err := Select(OpenBLAS)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][3]int{{128, 3072, 1024}, {36, 36, 1024}, {300, 517, 2048}} {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
		a, b := make([]float32, m*k), make([]float32, k*n)
		for i := range a {
			a[i] = r.Float32() - 0.5
		}
		for i := range b {
			b[i] = r.Float32() - 0.5
		}
		all, one := make([]float32, m*n), make([]float32, m*n)
		be.Impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, b, n, 0, all, n)
		Threads(be.Impl, 1, func() { be.Impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, a, k, b, n, 0, one, n) })
		for i := range all {
			if math.Float32bits(all[i]) != math.Float32bits(one[i]) {
				t.Fatalf("%dx%dx%d: element %d is %v on all threads, %v on one", m, n, k, i, all[i], one[i])
			}
		}
	}
}
