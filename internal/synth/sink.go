package synth

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/groundcap/groundcap/internal/atomicfile"
)

// Sink creates the dataset's output files.
//
// Create opens one file by its slash-separated name relative to the dataset root (for example
// "Sentences/123.txt"). The file becomes visible under its name only when the writer's Close
// returns nil. Generate calls Create from several goroutines at once, so implementations must be
// safe for concurrent use. A writer that also implements [Aborter] is aborted, not closed, when
// Generate fails while writing it.
type Sink interface {
	Create(name string) (io.WriteCloser, error)
}

// Aborter is implemented by writers that can discard a partly written file. After Abort the file
// does not become visible and Close must not be called.
type Aborter interface {
	Abort() error
}

// DirSink returns a Sink writing into directory dir (created as needed). Each file is written to
// a temporary file beside its target (atomicfile.Create) and renamed on Close, so a crash never leaves a partial
// file under the final name. It is safe for concurrent use.
func DirSink(dir string) Sink { return dirSink{dir: dir} }

type dirSink struct{ dir string }

// checkName rejects names that would escape the root or are not clean slash paths.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\\") {
		return fmt.Errorf("synth: bad output name %q: want a clean relative slash path", name)
	}
	return nil
}

func (s dirSink) Create(name string) (io.WriteCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	final := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("synth: create %s: %w", final, err)
	}
	f, err := atomicfile.Create(final)
	if err != nil {
		return nil, fmt.Errorf("synth: create %s: %w", final, err)
	}
	return &dirFile{f: f, final: final}, nil
}

// dirFile is a temporary file renamed to its final name on Close.
type dirFile struct {
	f     *os.File
	final string
	err   error // first write error
	done  bool
}

func (d *dirFile) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.f.Write(p)
	if err != nil {
		d.err = fmt.Errorf("synth: write %s: %w", d.final, err)
	}
	return n, d.err
}

// Close commits the file: it closes the temporary file and renames it to its final name. On any
// error the temporary file is removed and the error returned.
func (d *dirFile) Close() error {
	if d.done {
		return fmt.Errorf("synth: %s: Close called twice", d.final)
	}
	d.done = true
	tmp := d.f.Name()
	err := d.err
	if err == nil {
		if cerr := d.f.Chmod(0o644); cerr != nil {
			err = fmt.Errorf("synth: chmod %s: %w", tmp, cerr)
		}
	}
	if cerr := d.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("synth: close %s: %w", tmp, cerr)
	}
	if err == nil {
		if rerr := os.Rename(tmp, d.final); rerr != nil {
			err = fmt.Errorf("synth: commit %s: %w", d.final, rerr)
		}
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort: the write already failed
	}
	return err
}

// Abort discards the temporary file.
func (d *dirFile) Abort() error {
	if d.done {
		return nil
	}
	d.done = true
	tmp := d.f.Name()
	cerr := d.f.Close()
	rerr := os.Remove(tmp)
	return errors.Join(cerr, rerr)
}

// abortOrClose discards w when it can (Aborter), else closes it; used on failure paths.
func abortOrClose(w io.WriteCloser) {
	if a, ok := w.(Aborter); ok {
		_ = a.Abort() // failure path: the original error is reported
		return
	}
	_ = w.Close() // failure path: the original error is reported
}
