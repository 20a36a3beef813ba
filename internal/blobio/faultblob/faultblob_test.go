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
