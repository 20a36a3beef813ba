package blobio

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestListWhileWriting: a listing that runs while other writers create and rename temporary
// files beside the listed objects sees every object that existed throughout (a temporary file
// that vanishes between reading the directory and looking at the file must not end it early).
func TestListWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const stable = 64
	for i := range stable {
		if err := WriteAll(ctx, filepath.Join(dir, fmt.Sprintf("s-%03d", i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Names that sort among the stable ones, so that a listing cut short misses some.
				if err := WriteAll(ctx, filepath.Join(dir, fmt.Sprintf("s-%03d-w%d", i%stable, w)), []byte("y")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	for range 100 {
		objs, err := List(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, o := range objs {
			var i int
			if n, _ := fmt.Sscanf(o.Name, "s-%03d", &i); n == 1 && len(o.Name) == 5 {
				seen++
			}
		}
		if seen != stable {
			t.Fatalf("a listing during writes shows %d of the %d objects", seen, stable)
		}
	}
}
