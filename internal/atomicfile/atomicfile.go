// Package atomicfile writes local files atomically and names the temporary files of unfinished
// writes: the one temporary-name convention of groundcap.
//
// Every writer puts its bytes in a temporary file "<final name>.<random>.tmp" beside the target
// and renames it into place once it is complete (fileblob, which writes every file:// object
// through internal/blobio, names its temporary files the same way; cloud stores commit an object
// on Close and leave nothing behind). Every listing skips the names IsTemp recognises, so a write
// killed part-way leaves at most a temporary file that no listing, digest or manifest sees.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Suffix ends the name of every temporary file.
const Suffix = ".tmp"

// legacyInfix marks "<final name>.tmp-<random>", the shape of temporary files that caches
// written by earlier groundcap versions may still hold; IsTemp recognises it too.
const legacyInfix = ".tmp-"

// IsTemp reports whether name (a file path, an object key or a base name; slash-separated) is
// the temporary file of an unfinished write.
func IsTemp(name string) bool {
	base := name[strings.LastIndexByte(name, '/')+1:]
	return strings.HasSuffix(base, Suffix) || strings.Contains(base, legacyInfix)
}

// Pattern returns the os.CreateTemp pattern of the temporary files of path's target:
// "<base name>.*.tmp".
func Pattern(path string) string { return filepath.Base(path) + ".*" + Suffix }

// Create creates a temporary file beside path, named by Pattern. The caller renames it to path
// to commit it, or removes it.
func Create(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), Pattern(path))
	if err != nil {
		return nil, fmt.Errorf("atomicfile: %w", err)
	}
	return f, nil
}

// WriteFile writes the local file path atomically: write fills a temporary file beside it
// (Create), which is made readable by all (0644), synced, closed (its error checked) and renamed
// to path. On any error the temporary file is removed and path is left as it was.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	f, err := Create(path)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp) // the write failed already; the temporary file is never listed
		}
	}()
	if err = write(f); err != nil {
		f.Close()
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return nil
}

// WriteBytes writes data to the local file path atomically (WriteFile).
func WriteBytes(path string, data []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
