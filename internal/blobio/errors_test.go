package blobio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio/faultblob"
)

// faults opens fault://<host>/... locations for the tests of this package.
var faults = faultblob.Register("fault")

// TestStoreErrors: a store that refuses or cannot be reached gives a *StoreError, one line
// naming the operation and the location, never a "does not exist"; a missing object stays
// ErrNotExist.
func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	st := faults.Store("errors")
	root := "fault://errors/root"
	if err := WriteAll(ctx, root+"/a.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll(ctx, root+"/missing"); !IsNotExist(err) || IsStoreError(err) {
		t.Errorf("a missing object: %v, want ErrNotExist", err)
	}
	for _, fault := range []*faultblob.Fault{faultblob.Denied, faultblob.Unreachable} {
		st.SetPolicy(faultblob.FailAll(fault))
		for name, f := range map[string]func() error{
			"read":   func() error { _, err := ReadAll(ctx, root+"/a.json"); return err },
			"stat":   func() error { _, err := Stat(ctx, root+"/a.json"); return err },
			"exists": func() error { _, err := Exists(ctx, root+"/a.json"); return err },
			"list":   func() error { _, err := List(ctx, root); return err },
			"sha256": func() error { _, _, err := SHA256(ctx, root+"/a.json"); return err },
			"write":  func() error { return WriteAll(ctx, root+"/b.json", []byte("{}")) },
			"delete": func() error { return Delete(ctx, root+"/a.json") },
		} {
			err := f()
			switch {
			case err == nil:
				t.Errorf("%s under %q: no error", name, fault)
			case !IsStoreError(err) || IsNotExist(err):
				t.Errorf("%s under %q: %v (IsStoreError %v, IsNotExist %v), want a store error", name, fault, err, IsStoreError(err), IsNotExist(err))
			case !errors.Is(err, fault):
				t.Errorf("%s under %q: %v does not wrap the cause", name, fault, err)
			case !strings.HasPrefix(err.Error(), "blobio: cannot ") || !strings.Contains(err.Error(), root) ||
				!strings.Contains(err.Error(), fault.Msg) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "blob (key"):
				t.Errorf("%s under %q: %q, want one line with the operation, the location and the cause", name, fault, err)
			}
		}
	}
	st.SetPolicy(nil)
	if _, err := ReadAll(ctx, root+"/a.json"); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

// TestStoreErrorHints: a cloud store's error says what to set.
func TestStoreErrorHints(t *testing.T) {
	cause := errors.New("boom")
	for i, c := range []struct{ loc, want string }{
		{"gs://b/k", "GOOGLE_APPLICATION_CREDENTIALS"},        // 0
		{"gs://b/k", "gcloud auth application-default login"}, // 1
		{"s3://b/k", "AWS_ACCESS_KEY_ID"},                     // 2
		{"s3://b/k", "AWS_REGION"},                            // 3
	} {
		if msg := (&StoreError{Op: "read", Loc: c.loc, Err: cause}).Error(); !strings.Contains(msg, c.want) {
			t.Errorf("%d: %q lacks %q", i, msg, c.want)
		}
	}
	if msg := (&StoreError{Op: "read", Loc: "file:///x", Err: cause}).Error(); msg != "blobio: cannot read file:///x: boom" {
		t.Errorf("file store: %q", msg)
	}
	long := strings.Repeat("x", 50) + "; parse error: " + strings.Repeat("{optional:false} ", 20)
	if msg := (&StoreError{Op: "read", Loc: "file:///x", Err: errors.New(long)}).Error(); len(msg) > 200 || !strings.Contains(msg, strings.Repeat("x", 50)) {
		t.Errorf("a long cause is not cut after its first clause: %q", msg)
	}
}

// TestGCSBadCredentials (issue 16, finding 4): a gs:// location whose credentials do not work
// fails on open with one line that names the location and what to set, without printing a
// warning; nothing reaches the network (the key does not parse).
func TestGCSBadCredentials(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.json")
	if err := os.WriteFile(key, []byte(`{"type":"service_account","client_email":"x@example.iam.gserviceaccount.com","private_key":"not a key","token_uri":"https://oauth2.invalid/token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("STORAGE_EMULATOR_HOST_GRPC", "")
	loc := "gs://groundcap-test-bucket/root/s/MANIFEST.json"
	_, err := ReadAll(context.Background(), loc)
	if err == nil || !IsStoreError(err) || IsNotExist(err) {
		t.Fatalf("ReadAll(%s) with a bad key: %v, want a store error", loc, err)
	}
	msg := err.Error()
	for _, want := range []string{loc, "GOOGLE_APPLICATION_CREDENTIALS=" + key, "private key", "gcloud auth application-default login"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || len(msg) > 500 {
		t.Errorf("%q: want one short line", msg)
	}
}
