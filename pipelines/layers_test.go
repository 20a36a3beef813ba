package pipelines

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is the import path of the module's root.
const module = "github.com/groundcap/groundcap/"

// layerOf names the layer of a package under pipelines/ (its path below pipelines/): the
// shared layers engine, trainrun, artifacts and internal; plan, which sits above the stages
// like this package; every other folder is a stage.
func layerOf(rel string) string {
	top, _, _ := strings.Cut(rel, "/")
	switch top {
	case "engine", "trainrun", "artifacts", "internal", "plan":
		return top
	}
	return "stage"
}

// mayImport lists, per layer, the layers under pipelines/ its packages may import (besides
// their own package's children of the same layer, listed too).
var mayImport = map[string][]string{
	"stage":     {"engine", "trainrun", "artifacts", "internal"},
	"internal":  {"engine", "trainrun", "artifacts", "internal"},
	"artifacts": {"engine", "artifacts"},
	"trainrun":  {"engine"},
	"engine":    {},
}

// TestStagesAreFlat checks that no stage package imports another stage package: a stage reads
// another's outputs through the artifact packages that own their formats (pipelines/artifacts),
// and shares code through pipelines/internal, engine and trainrun. The shared layers import no
// stage either. Only the packages' own files count (tests may build worlds of several stages);
// internal/testworld, a helper of tests, builds them through this package.
func TestStagesAreFlat(t *testing.T) {
	var checked int
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == "." {
			return nil
		}
		if d.Name() == "testdata" || path == filepath.Join("internal", "testworld") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		} else if err != nil {
			return err
		}
		rel := filepath.ToSlash(path)
		layer := layerOf(rel)
		allowed, ok := mayImport[layer]
		if !ok {
			return nil
		}
		checked++
		for _, imp := range pkg.Imports {
			dep, ok := strings.CutPrefix(imp, module+"pipelines")
			if !ok {
				continue
			}
			dep = strings.TrimPrefix(dep, "/")
			if dep == "" {
				t.Errorf("pipelines/%s (%s) imports pipelines, the registry above the stages", rel, layer)
				continue
			}
			if to := layerOf(dep); !slices.Contains(allowed, to) {
				t.Errorf("pipelines/%s (%s) imports pipelines/%s (%s): read its outputs through a package under pipelines/artifacts, share code through pipelines/internal",
					rel, layer, dep, to)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked %d packages under pipelines/, want every stage and shared package", checked)
	}
}
