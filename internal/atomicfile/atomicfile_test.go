package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestIsTemp(t *testing.T) {
	for i, c := range []struct {
		name string
		want bool
	}{
		{"last.ckpt", false},                            // 0
		{"last.ckpt.4f2a91c.tmp", true},                 // 1: Create's shape
		{"part-00000-of-00002.parquet.17a3b.tmp", true}, // 2: fileblob's shape
		{"out/scan/k/last.ckpt.tmp-123456", true},       // 3: the older shape, in a path
		{"dir.tmp/MANIFEST.json", false},                // 4: only the base name counts
		{"template.json", false},                        // 5
		{"x.tmpl", false},                               // 6
	} {
		if got := IsTemp(c.name); got != c.want {
			t.Errorf("%d: IsTemp(%q) = %v, want %v", i, c.name, got, c.want)
		}
	}
}

func TestCreateNamesATempFile(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "last.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if filepath.Dir(f.Name()) != dir || !IsTemp(f.Name()) {
		t.Errorf("temporary file %s: want one IsTemp recognises, beside the target in %s", f.Name(), dir)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	assertDir(t, dir, map[string]string{"f.json": "new"})
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644", st.Mode(), err)
	}

	// A failing write leaves the old file and no temporary file.
	boom := errors.New("boom")
	err := WriteFile(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the write's error", err)
	}
	assertDir(t, dir, map[string]string{"f.json": "new"})

	// So does a failing rename (the target is a non-empty directory).
	sub := filepath.Join(dir, "sub")
	if err := WriteBytes(filepath.Join(sub, "x"), nil); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	if err := os.MkdirAll(filepath.Join(sub, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(sub, []byte("y")); err == nil {
		t.Fatal("renaming over a non-empty directory succeeded")
	}
	assertDir(t, dir, map[string]string{"f.json": "new"})
}

// assertDir checks that the plain files of dir are exactly want (name → content).
func assertDir(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = string(b)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("files %v, want %v", keys(got), keys(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal([]byte(g), []byte(v)) {
			t.Fatalf("%s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
