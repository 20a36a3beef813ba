package captionxe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/pipelines/engine"
)

// WorkDir returns the local directory where a trainer keeps its resumable state for a stage
// run: beside the output directory (<out>.work) when the output is a local file:// location, in
// the system temporary directory otherwise (a rerun then resumes only on the same machine). It
// never lies inside the output, so half-written checkpoints never enter the manifest.
func WorkDir(r *engine.Run) string {
	if s, ok := strings.CutPrefix(r.Out, "file://"); ok {
		return filepath.FromSlash(strings.TrimSuffix(s, "/")) + ".work"
	}
	return filepath.Join(os.TempDir(), "groundcap-work", r.Stage.Name, r.Key)
}

// PrepareWork creates dir and, when it lacks files that the output already holds (an earlier
// attempt published them and died before its manifest), copies them back so the trainer resumes
// from its final state.
func PrepareWork(ctx context.Context, r *engine.Run, dir string, files ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("captionxe: work directory: %w", err)
	}
	for _, f := range files {
		local := filepath.Join(dir, f)
		if _, err := os.Stat(local); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("captionxe: %w", err)
		}
		data, err := blobio.ReadAll(ctx, r.Output(f))
		if blobio.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(local, data); err != nil {
			return fmt.Errorf("captionxe: %w", err)
		}
	}
	return nil
}

// Publish copies files from the work directory into the output (each atomically).
func Publish(ctx context.Context, r *engine.Run, dir string, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("captionxe: %w", err)
		}
		if err := blobio.WriteAll(ctx, r.Output(f), data); err != nil {
			return err
		}
	}
	return nil
}
