//go:build unix

package blobio

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/killtest"
)

type killRow struct {
	ID   int64  `parquet:"id"`
	Data []byte `parquet:"data"`
}

// TestKillDuringWrite kills a process with SIGKILL while it writes an object through a Writer
// (raw bytes, a Parquet file, a PNG image): List never shows the temporary file it leaves, and
// the object is absent or whole.
func TestKillDuringWrite(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		write func(w io.Writer) error
		check func(b []byte) error
	}{
		{"object", func(w io.Writer) error {
			_, err := w.Write(bytes.Repeat([]byte("0123456789abcdef"), 1<<19))
			return err
		}, func(b []byte) error {
			if len(b) != 8<<20 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}},
		{"parquet", func(w io.Writer) error {
			pw := parquet.NewGenericWriter[killRow](w, parquet.MaxRowsPerRowGroup(64))
			for i := range 4096 {
				if _, err := pw.Write([]killRow{{ID: int64(i), Data: bytes.Repeat([]byte{byte(i)}, 2048)}}); err != nil {
					return err
				}
			}
			return pw.Close()
		}, func(b []byte) error {
			rows, err := parquet.Read[killRow](bytes.NewReader(b), int64(len(b)))
			if err == nil && len(rows) != 4096 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}},
		{"png", func(w io.Writer) error {
			img := image.NewRGBA(image.Rect(0, 0, 1024, 1024))
			for i := range img.Pix {
				img.Pix[i] = byte(i * 7919 >> 3)
			}
			img.Set(0, 0, color.White)
			return png.Encode(w, img)
		}, func(b []byte) error {
			_, err := png.Decode(bytes.NewReader(b))
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			killtest.While(t, dir, func(dir string) {
				for {
					w, err := NewWriter(ctx, filepath.Join(dir, "out"))
					if err != nil {
						panic(err)
					}
					if err := c.write(w); err != nil {
						panic(err)
					}
					if err := w.Close(); err != nil {
						panic(err)
					}
				}
			}, func() bool { return hasTemp(t, dir) })
			if !hasTemp(t, dir) {
				t.Fatal("no temporary file after the kill")
			}
			objs, err := List(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if o.Name != "out" {
					t.Errorf("List shows %s", o.Name)
				}
			}
			if b, err := ReadAll(ctx, filepath.Join(dir, "out")); err == nil {
				if err := c.check(b); err != nil {
					t.Errorf("the object after the kill is not whole: %v", err)
				}
			} else if !IsNotExist(err) {
				t.Fatal(err)
			}
		})
	}
}

func hasTemp(t *testing.T, dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) {
			return true
		}
	}
	return false
}
