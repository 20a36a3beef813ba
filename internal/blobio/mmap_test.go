package blobio

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestMapped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	want := make([]byte, 3*os.Getpagesize()+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{p, "file://" + p} {
		m, err := OpenMapped(loc)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			if runtime.GOOS == "linux" {
				t.Fatalf("OpenMapped(%s) = nil on linux", loc)
			}
			t.Skip("no mmap on", runtime.GOOS)
		}
		if m.Size() != int64(len(want)) {
			t.Errorf("size %d, want %d", m.Size(), len(want))
		}
		pg := int64(os.Getpagesize())
		for _, c := range []struct{ off, n int64 }{{0, int64(len(want))}, {1, 10}, {pg - 1, 2}, {pg, pg}, {2*pg + 5, 1 << 30}, {int64(len(want)), 5}, {int64(len(want)) + 9, 5}} {
			mp, err := m.Map(c.off, c.n)
			if err != nil {
				t.Fatal(err)
			}
			lazy, err := m.MapLazy(c.off, c.n)
			if err != nil {
				t.Fatal(err)
			}
			lazy.Populate(c.n / 2)
			if !bytes.Equal(lazy.Data, mp.Data) {
				t.Errorf("MapLazy(%d, %d) differs from Map", c.off, c.n)
			}
			if err := lazy.Close(); err != nil {
				t.Fatal(err)
			}
			lo := min(c.off, int64(len(want)))
			hi := min(c.off+c.n, int64(len(want)))
			if !bytes.Equal(mp.Data, want[lo:hi]) {
				t.Errorf("Map(%d, %d): %d bytes, not the file's [%d, %d)", c.off, c.n, len(mp.Data), lo, hi)
			}
			if err := mp.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.Map(-1, 3); err == nil {
			t.Error("Map(-1, 3): no error")
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := OpenMapped("mem://x/y"); err != nil || m != nil {
		t.Errorf("OpenMapped(mem://) = %v, %v; want nil, nil (read through the bucket)", m, err)
	}
	if m, err := OpenMapped(dir); err != nil || m != nil {
		t.Errorf("OpenMapped(a directory) = %v, %v; want nil, nil", m, err)
	}
	if _, err := OpenMapped(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("OpenMapped(missing file) error %v, want one naming the file", err)
	}
}

// A file truncated while mapped must give an error from Guard, not kill the process.
func TestMappedGuardTruncated(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGBUS on truncated mappings is checked on linux")
	}
	p := filepath.Join(t.TempDir(), "a.bin")
	if err := os.WriteFile(p, make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMapped(p)
	if err != nil || m == nil {
		t.Fatal(m, err)
	}
	defer m.Close()
	mp, err := m.Map(0, m.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var sum byte
	err = m.Guard(func() error {
		for _, b := range mp.Data[1<<15:] {
			sum += b
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") || !strings.Contains(err.Error(), p) {
		t.Errorf("reading a truncated mapping: error %v, want one saying the file changed", err)
	}
	if err := m.Guard(func() error { return nil }); err != nil {
		t.Errorf("Guard of a function that does not touch the mapping: %v", err)
	}
}
