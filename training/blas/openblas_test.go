//go:build openblas

package blas

import (
	"sync"
	"testing"
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
