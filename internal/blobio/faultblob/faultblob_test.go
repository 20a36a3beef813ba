package faultblob

import (
	"context"
	"errors"
	"io"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	st := (&Opener{stores: map[string]*Store{}}).Store("h")
	b := st.Bucket()
	defer b.Close()
	if err := b.WriteAll(ctx, "d/a", []byte("old"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "d/a"); err != nil || string(got) != "old" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if objs, _, err := b.ListPage(ctx, blob.FirstPageToken, 10, &blob.ListOptions{Prefix: "d/"}); err != nil || len(objs) != 1 || objs[0].Key != "d/a" || objs[0].Size != 3 {
		t.Fatalf("ListPage = %v, %v", objs, err)
	}

	st.SetPolicy(FailReads(Denied))
	if _, err := b.ReadAll(ctx, "d/a"); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("read under FailReads(Denied): %v (code %v), want PermissionDenied", err, gcerrors.Code(err))
	}
	if _, err := b.Exists(ctx, "d/a"); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("Exists under FailReads(Denied): %v", err)
	}
	if _, err := b.List(&blob.ListOptions{Prefix: "d/"}).Next(ctx); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("List under FailReads(Denied): %v", err)
	}
	if err := b.WriteAll(ctx, "d/b", []byte("x"), nil); err != nil {
		t.Errorf("a write under FailReads: %v", err)
	}

	// A failed commit leaves the old object.
	st.SetPolicy(func(op Op, _ string) error {
		if op == OpClose {
			return Unreachable
		}
		return nil
	})
	w, err := b.NewWriter(ctx, "d/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, "new")
	if err := w.Close(); !errors.Is(err, Unreachable) {
		t.Errorf("Close under a failing commit: %v", err)
	}
	st.SetPolicy(nil)
	if got, err := b.ReadAll(ctx, "d/a"); err != nil || string(got) != "old" {
		t.Errorf("after a failed commit: %q, %v; want the old object", got, err)
	}
	st.SetPolicy(FailAll(Denied))
	if err := b.Delete(ctx, "d/a"); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("Delete under FailAll(Denied): %v", err)
	}
}

func TestCountFailNthRandom(t *testing.T) {
	ctx := context.Background()
	st := (&Opener{stores: map[string]*Store{}}).Store("h")
	b := st.Bucket()
	defer b.Close()
	var c Counter
	st.SetPolicy(c.Policy())
	for _, k := range []string{"a", "b", "c"} {
		if err := b.WriteAll(ctx, k, []byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	if c.Calls(OpClose) != 3 || c.Calls(OpRead) != 0 {
		t.Fatalf("counted %d closes and %d reads, want 3 and 0", c.Calls(OpClose), c.Calls(OpRead))
	}

	// The second commit fails and only it: b keeps its old content.
	st.SetPolicy(FailNth(OpClose, 2, Unreachable))
	var errs []error
	for _, k := range []string{"a", "b", "c"} {
		errs = append(errs, b.WriteAll(ctx, k, []byte(k+k), nil))
	}
	if errs[0] != nil || !errors.Is(errs[1], Unreachable) || errs[2] != nil {
		t.Fatalf("FailNth(close, 2): %v", errs)
	}
	st.SetPolicy(nil)
	if got, _ := b.ReadAll(ctx, "b"); string(got) != "b" {
		t.Errorf("b = %q after its failed commit, want the old %q", got, "b")
	}

	// The same seed fails the same calls; the count reconciles.
	pattern := func(seed uint64) ([]bool, int) {
		r := NewRandom(seed, 0.3, Denied, OpRead)
		p := r.Policy()
		var out []bool
		n := 0
		for range 200 {
			err := p(OpRead, "k")
			out = append(out, err != nil)
			if err != nil {
				n++
			}
			if p(OpWrite, "k") != nil {
				t.Fatal("a write failed under a policy for reads")
			}
		}
		if r.Injected() != n {
			t.Errorf("Injected = %d, failures returned %d", r.Injected(), n)
		}
		return out, n
	}
	a, na := pattern(7)
	b2, _ := pattern(7)
	if na == 0 || na == 200 {
		t.Errorf("rate 0.3 failed %d of 200 calls", na)
	}
	for i := range a {
		if a[i] != b2[i] {
			t.Fatalf("seed 7 gave another pattern at call %d", i)
		}
	}
}
