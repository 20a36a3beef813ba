package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/blobio/faultblob"
)

// shardParams are the parameters of the toy stages below.
type shardParams struct {
	Shards int               `json:"shards"`
	Word   string            `json:"word"`
	Extra  map[string]string `json:"extra,omitempty"`
}

var errCrash = errors.New("injected crash")

// shardStage writes Shards files, each derived from the input and the word. crashAfter >= 0
// makes it fail after writing that many shards (in this attempt).
func shardStage(name string, p shardParams, inputRef string, crashAfter *int, runs *int) *Stage {
	return &Stage{
		Name: name, Version: "1", SchemaVersion: "1", Params: p,
		Inputs: []Input{{Name: "in", Ref: inputRef}},
		Run: func(ctx context.Context, r *Run) error {
			*runs++
			in, err := blobio.ReadAll(ctx, r.Input("in"))
			if err != nil {
				return err
			}
			written := 0
			for i := 0; i < p.Shards; i++ {
				name := fmt.Sprintf("shard-%03d.txt", i)
				if ok, err := r.Done(ctx, name); err != nil {
					return err
				} else if ok {
					r.SetRows(name, 1)
					continue
				}
				if crashAfter != nil && *crashAfter >= 0 && written == *crashAfter {
					return errCrash
				}
				data := fmt.Sprintf("%s %d %s\n", p.Word, i, bytes.ToUpper(in))
				if err := blobio.WriteAll(ctx, r.Output(name), []byte(data)); err != nil {
					return err
				}
				r.SetRows(name, 1)
				written++
			}
			return nil
		},
	}
}

// copyStage copies its upstream input; it counts its runs.
func copyStage(name, ref string, runs *int) *Stage {
	return &Stage{
		Name: name, Version: "1", SchemaVersion: "1", Params: map[string]int{},
		Inputs: []Input{{Name: "in", Ref: ref}},
		Run: func(ctx context.Context, r *Run) error {
			*runs++
			data, err := blobio.ReadAll(ctx, r.Input("in"))
			if err != nil {
				return err
			}
			return blobio.WriteAll(ctx, r.Output("copy.txt"), data)
		},
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newEngine(t *testing.T, root string, stages ...*Stage) *Engine {
	t.Helper()
	e, err := New(root, stages, Options{ModuleVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func keyOf(t *testing.T, e *Engine, name string) string {
	t.Helper()
	ms, err := e.Make(context.Background(), name, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ms[name].Key
}

func TestKeyComponents(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), "hello")
	writeFile(t, filepath.Join(dir, "b.txt"), "hello")
	writeFile(t, filepath.Join(dir, "c.txt"), "other")
	base := shardParams{Shards: 2, Word: "w", Extra: map[string]string{"x": "1", "y": "2"}}
	var runs int
	mk := func(mut func(s *Stage), ref string, p shardParams, module string) string {
		s := shardStage("s", p, ref, nil, &runs)
		if mut != nil {
			mut(s)
		}
		e, err := New(filepath.Join(dir, "root"), []*Stage{s}, Options{ModuleVersion: module})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := e.components(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Key()
	}
	k0 := mk(nil, filepath.Join(dir, "a.txt"), base, "m1")
	// Irrelevant changes: same content at another path; map keys given in another order.
	if k := mk(nil, filepath.Join(dir, "b.txt"), base, "m1"); k != k0 {
		t.Errorf("key changed with the input path only")
	}
	reordered := shardParams{Shards: 2, Word: "w", Extra: map[string]string{"y": "2", "x": "1"}}
	if k := mk(nil, filepath.Join(dir, "a.txt"), reordered, "m1"); k != k0 {
		t.Errorf("key changed with parameter order only")
	}
	// Each relevant component changes the key.
	changed := map[string]string{
		"input content": mk(nil, filepath.Join(dir, "c.txt"), base, "m1"),
		"params":        mk(nil, filepath.Join(dir, "a.txt"), shardParams{Shards: 3, Word: "w", Extra: base.Extra}, "m1"),
		"module":        mk(nil, filepath.Join(dir, "a.txt"), base, "m2"),
		"version":       mk(func(s *Stage) { s.Version = "2" }, filepath.Join(dir, "a.txt"), base, "m1"),
		"schema":        mk(func(s *Stage) { s.SchemaVersion = "2" }, filepath.Join(dir, "a.txt"), base, "m1"),
		"name":          mk(func(s *Stage) { s.Name = "t" }, filepath.Join(dir, "a.txt"), base, "m1"),
		"input name":    mk(func(s *Stage) { s.Inputs[0].Name = "other" }, filepath.Join(dir, "a.txt"), base, "m1"),
	}
	seen := map[string]string{k0: "base"}
	for what, k := range changed {
		if prev, dup := seen[k]; dup {
			t.Errorf("changing %s gives the same key as %s", what, prev)
		}
		seen[k] = what
	}
}

func TestKeyEncodingUnambiguous(t *testing.T) {
	a := Components{Stage: "ab", Version: "c", Params: []byte("{}")}
	b := Components{Stage: "a", Version: "bc", Params: []byte("{}")}
	if a.Key() == b.Key() {
		t.Fatal("length-prefixed encoding collides")
	}
}

func TestCacheHitAndEarlyCutoff(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "abc")
	root := filepath.Join(dir, "root")
	var upRuns, downRuns int
	p := shardParams{Shards: 2, Word: "w"}
	up := shardStage("up", p, filepath.Join(dir, "in.txt"), nil, &upRuns)
	down := copyStage("down", "@up/shard-001.txt", &downRuns)
	e := newEngine(t, root, up, down)
	k1 := keyOf(t, e, "down")
	keyOf(t, e, "down")
	if upRuns != 1 || downRuns != 1 {
		t.Fatalf("second make reran stages: up %d down %d", upRuns, downRuns)
	}
	// A new upstream version that reproduces the same bytes: up reruns, down is a cache hit.
	up2 := shardStage("up", p, filepath.Join(dir, "in.txt"), nil, &upRuns)
	up2.Version = "2"
	e2 := newEngine(t, root, up2, copyStage("down", "@up/shard-001.txt", &downRuns))
	k2 := keyOf(t, e2, "down")
	if upRuns != 2 || downRuns != 1 || k1 != k2 {
		t.Fatalf("early cutoff failed: up runs %d, down runs %d, keys equal %v", upRuns, downRuns, k1 == k2)
	}
}

func TestCrashAndResumeByteIdentical(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	p := shardParams{Shards: 5, Word: "w"}
	var runs int
	// Uninterrupted reference run.
	ref := newEngine(t, filepath.Join(dir, "ref"), shardStage("s", p, filepath.Join(dir, "in.txt"), nil, &runs))
	refMs, err := ref.Make(context.Background(), "s", MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for crash := 0; crash < p.Shards; crash++ {
		root := filepath.Join(dir, fmt.Sprintf("crash%d", crash))
		c := crash
		e := newEngine(t, root, shardStage("s", p, filepath.Join(dir, "in.txt"), &c, &runs))
		if _, err := e.Make(context.Background(), "s", MakeOptions{}); !errors.Is(err, errCrash) {
			t.Fatalf("crash %d: got %v", crash, err)
		}
		st, _ := e.Status(context.Background(), false)
		if st[0].State == "fresh" {
			t.Fatalf("crash %d: a crashed stage reads as fresh", crash)
		}
		c = -1
		ms, err := e.Make(context.Background(), "s", MakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ms["s"].OutputDigest != refMs["s"].OutputDigest {
			t.Fatalf("crash %d: resumed output differs from uninterrupted run", crash)
		}
		a, _ := os.ReadFile(filepath.Join(dir, "ref", "s", refMs["s"].Key, ManifestName))
		b, _ := os.ReadFile(filepath.Join(root, "s", ms["s"].Key, ManifestName))
		if !bytes.Equal(a, b) {
			t.Fatalf("crash %d: manifests differ", crash)
		}
	}
}

func TestCorruptManifestTreatedAsMissing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	root := filepath.Join(dir, "root")
	var runs int
	e := newEngine(t, root, shardStage("s", shardParams{Shards: 2, Word: "w"}, filepath.Join(dir, "in.txt"), nil, &runs))
	key := keyOf(t, e, "s")
	man := filepath.Join(root, "s", key, ManifestName)
	data, _ := os.ReadFile(man)
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"bad size":  regexp.MustCompile(`"size": \d+`).ReplaceAll(data, []byte(`"size": 99`)),
	} {
		writeFile(t, man, string(bad))
		st, err := e.Status(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if st[0].State != "missing" || !strings.Contains(st[0].Reason, "manifest") {
			t.Errorf("%s: status = %+v, want missing with a manifest reason", name, st[0])
		}
		before := runs
		keyOf(t, e, "s")
		if runs != before+1 {
			t.Errorf("%s: stage not recomputed", name)
		}
	}
	// A changed output file is caught by --verify.
	shard := filepath.Join(root, "s", key, "shard-000.txt")
	orig, _ := os.ReadFile(shard)
	writeFile(t, shard, strings.ToLower(string(orig)))
	st, _ := e.Status(context.Background(), true)
	if st[0].State != "missing" || !strings.Contains(st[0].Reason, "SHA-256") {
		t.Errorf("verify: status = %+v", st[0])
	}
}

// TestVerifyRecomputesDamagedOutput flips a byte of a cached shard: Make with Verify must not
// keep that shard (the stage skips the shards that exist), must recompute it to the bytes of the
// undamaged run, and must never write a manifest over the damaged file.
func TestVerifyRecomputesDamagedOutput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	root := filepath.Join(dir, "root")
	var runs, downRuns int
	stages := []*Stage{
		shardStage("s", shardParams{Shards: 3, Word: "w"}, filepath.Join(dir, "in.txt"), nil, &runs),
		copyStage("d", "@s/shard-001.txt", &downRuns),
	}
	e := newEngine(t, root, stages...)
	keyOf(t, e, "d")
	shard := filepath.Join(root, "s", keyOf(t, e, "s"), "shard-001.txt")
	orig, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, orig...)
	bad[0] ^= 1
	writeFile(t, shard, string(bad))

	var log strings.Builder
	e2, err := New(root, stages, Options{ModuleVersion: "test", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	before, downBefore := runs, downRuns
	ms, err := e2.Make(context.Background(), "d", MakeOptions{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if runs != before+1 || !strings.Contains(log.String(), "removing") {
		t.Fatalf("damaged output not recomputed (runs %d -> %d):\n%s", before, runs, log.String())
	}
	if got, _ := os.ReadFile(shard); string(got) != string(orig) {
		t.Fatalf("recomputed shard = %q, want the undamaged run's %q", got, orig)
	}
	for _, f := range ms["s"].Files {
		if f.Name == "shard-001.txt" {
			if sum := sha256.Sum256(orig); f.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("manifest lists %s, not the undamaged bytes' SHA-256", f.SHA256)
			}
		}
	}
	// The same bytes again: the downstream stage stays cached (early cutoff) and verifies.
	if downRuns != downBefore {
		t.Errorf("downstream stage reran (%d -> %d) though its input's bytes are the same", downBefore, downRuns)
	}
	if _, err := e2.Make(context.Background(), "d", MakeOptions{Verify: true}); err != nil || runs != before+1 {
		t.Fatalf("second verify: %v, runs %d", err, runs)
	}
}

func TestStatusExplainsParamChange(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	root := filepath.Join(dir, "root")
	var runs, downRuns int
	in := filepath.Join(dir, "in.txt")
	e := newEngine(t, root, shardStage("s", shardParams{Shards: 2, Word: "w"}, in, nil, &runs), copyStage("d", "@s/shard-000.txt", &downRuns))
	keyOf(t, e, "d")
	st, _ := e.Status(context.Background(), false)
	for _, s := range st {
		if s.State != "fresh" {
			t.Fatalf("%s: %+v", s.Stage, s)
		}
	}
	e2 := newEngine(t, root, shardStage("s", shardParams{Shards: 3, Word: "w"}, in, nil, &runs), copyStage("d", "@s/shard-000.txt", &downRuns))
	st, _ = e2.Status(context.Background(), false)
	if st[0].State != "stale" || len(st[0].Changes) != 1 || st[0].Changes[0].Component != "params.shards" ||
		st[0].Changes[0].Old != "2" || st[0].Changes[0].New != "3" {
		t.Fatalf("status = %+v", st[0])
	}
	if !strings.Contains(st[0].Reason, "params.shards: 2 -> 3") {
		t.Errorf("reason %q does not explain the change", st[0].Reason)
	}
	if st[1].State != "stale" || !strings.Contains(st[1].Reason, "upstream stage s") {
		t.Errorf("downstream status = %+v", st[1])
	}
}

func TestGraphErrors(t *testing.T) {
	var n int
	a := copyStage("a", "@b/x", &n)
	b := copyStage("b", "@a/x", &n)
	if _, err := New(t.TempDir(), []*Stage{a, b}, Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	c := copyStage("c", "@nope/x", &n)
	if _, err := New(t.TempDir(), []*Stage{c}, Options{}); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("unknown: %v", err)
	}
	dir := t.TempDir()
	e := newEngine(t, filepath.Join(dir, "root"), copyStage("d", filepath.Join(dir, "absent.txt"), &n))
	if _, err := e.Make(context.Background(), "d", MakeOptions{}); err == nil || !strings.Contains(err.Error(), "absent.txt") {
		t.Errorf("missing input: %v", err)
	}
}

func TestForceRecomputes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	var runs int
	e := newEngine(t, filepath.Join(dir, "root"), shardStage("s", shardParams{Shards: 1, Word: "w"}, filepath.Join(dir, "in.txt"), nil, &runs))
	keyOf(t, e, "s")
	if _, err := e.Make(context.Background(), "s", MakeOptions{Force: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("runs = %d, want 2", runs)
	}
}

func writeFileB(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(data), 0o644)
}

func TestConcurrentRunsOnOneRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	root := filepath.Join(dir, "root")
	p := shardParams{Shards: 16, Word: "w"}
	const n = 4
	errs := make(chan error, n)
	digests := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			var runs int
			e, err := New(root, []*Stage{shardStage("s", p, filepath.Join(dir, "in.txt"), nil, &runs)}, Options{ModuleVersion: "test"})
			if err != nil {
				errs <- err
				return
			}
			ms, err := e.Make(context.Background(), "s", MakeOptions{})
			if err != nil {
				errs <- err
				return
			}
			errs <- nil
			digests <- ms["s"].OutputDigest
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	first := <-digests
	for i := 1; i < n; i++ {
		if d := <-digests; d != first {
			t.Fatal("concurrent runs produced different outputs")
		}
	}
	var runs int
	e := newEngine(t, root, shardStage("s", p, filepath.Join(dir, "in.txt"), nil, &runs))
	st, err := e.Status(context.Background(), true)
	if err != nil || st[0].State != "fresh" {
		t.Fatalf("after concurrent runs: %+v %v", st, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "s", st[0].Key, "*.tmp"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left behind: %v", leftovers)
	}
}

func TestExternalDirectoryInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ents", "Sentences", "1.txt"), "a")
	writeFile(t, filepath.Join(dir, "ents", "Annotations", "1.xml"), "b")
	var runs int
	s := &Stage{Name: "d", Version: "1", Params: map[string]int{}, Inputs: []Input{{Name: "in", Ref: filepath.Join(dir, "ents")}},
		Run: func(ctx context.Context, r *Run) error {
			runs++
			objs, err := blobio.List(ctx, r.Input("in"))
			if err != nil {
				return err
			}
			return blobio.WriteAll(ctx, r.Output("n.txt"), []byte(fmt.Sprint(len(objs))))
		}}
	e := newEngine(t, filepath.Join(dir, "root"), s)
	k1 := keyOf(t, e, "d")
	writeFile(t, filepath.Join(dir, "ents", "Sentences", "1.txt"), "changed")
	if k2 := keyOf(t, e, "d"); k2 == k1 || runs != 2 {
		t.Fatalf("a changed file inside a directory input did not change the key (runs %d)", runs)
	}
}

// TestTemporaryFilesNeverInManifest: the temporary files that killed writes leave in an output
// directory (fileblob's, atomicfile's and the older "<name>.tmp-<n>" shape) are in neither the
// manifest nor the output digest, nor in the digest of an external input directory.
func TestTemporaryFilesNeverInManifest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "abc")
	leftovers := []string{"shard-000.txt.5f3a9c.tmp", "last.ckpt.123456.tmp", "last.ckpt.tmp-3528091642"}
	run := func(root string, leave bool) *Manifest {
		var runs int
		s := shardStage("s", shardParams{Shards: 2, Word: "w"}, filepath.Join(dir, "in.txt"), nil, &runs)
		inner := s.Run
		s.Run = func(ctx context.Context, r *Run) error {
			if leave {
				for _, name := range leftovers {
					writeFile(t, filepath.Join(root, "s", r.Key, name), "partial")
				}
			}
			return inner(ctx, r)
		}
		ms, err := newEngine(t, root, s).Make(context.Background(), "s", MakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ms["s"]
	}
	clean, dirty := run(filepath.Join(dir, "clean"), false), run(filepath.Join(dir, "dirty"), true)
	for _, f := range dirty.Files {
		for _, l := range leftovers {
			if f.Name == l {
				t.Errorf("manifest lists %s", l)
			}
		}
	}
	if clean.OutputDigest != dirty.OutputDigest {
		t.Errorf("output digest with leftovers %s, without %s", dirty.OutputDigest, clean.OutputDigest)
	}

	in := filepath.Join(dir, "ext")
	writeFile(t, filepath.Join(in, "a.txt"), "a")
	key := func() string {
		st, err := newEngine(t, filepath.Join(dir, "r2"), shardStage("s", shardParams{Shards: 1}, in, nil, new(int))).Status(context.Background(), false)
		if err != nil || st[0].Key == "" {
			t.Fatalf("status: %+v %v", st, err)
		}
		return st[0].Key
	}
	want := key()
	for _, l := range leftovers {
		writeFile(t, filepath.Join(in, l), "partial")
	}
	if got := key(); got != want {
		t.Errorf("key with temporary files in the input directory %s, without %s", got, want)
	}
}

// faults opens fault://<host>/... roots whose store fails on demand.
var faults = faultblob.Register("fault")

// TestStoreReadErrorStopsAndDeletesNothing (issue 16, finding 4): when the store refuses or
// cannot be reached, Make and Status fail with the store's error, naming the location; no
// stage reruns, nothing is written or deleted, and the cache is intact once the store is back.
// Only a manifest that was read and is corrupt counts as missing (TestCorruptManifestTreatedAsMissing).
func TestStoreReadErrorStopsAndDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "data")
	store := faults.Store("readerror")
	root := "fault://readerror/root"
	var runs int
	var log bytes.Buffer
	e, err := New(root, []*Stage{
		shardStage("s", shardParams{Shards: 2, Word: "w"}, filepath.Join(dir, "in.txt"), nil, &runs),
		copyStage("c", "@s/shard-001.txt", &runs),
	}, Options{ModuleVersion: "test", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Make(context.Background(), "", MakeOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []*faultblob.Fault{faultblob.Unreachable, faultblob.Denied} {
		var changes []string
		store.SetPolicy(func(op faultblob.Op, key string) error {
			switch op {
			case faultblob.OpWrite, faultblob.OpClose, faultblob.OpDelete:
				changes = append(changes, string(op)+" "+key)
				return nil
			}
			return fault
		})
		log.Reset()
		before := runs
		for _, verify := range []bool{false, true} {
			_, err := e.Make(context.Background(), "", MakeOptions{Verify: verify})
			if !blobio.IsStoreError(err) || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), fault.Msg) {
				t.Errorf("Make (verify %v) under %q: %v, want the store's error naming %s", verify, fault, err, root)
			}
			if _, err := e.Status(context.Background(), verify); !blobio.IsStoreError(err) || !strings.Contains(err.Error(), root) {
				t.Errorf("Status (verify %v) under %q: %v, want the store's error", verify, fault, err)
			}
		}
		if runs != before || strings.Contains(log.String(), "recomputing") || len(changes) > 0 {
			t.Errorf("under %q: %d stage runs, changes %v, log:\n%s", fault, runs-before, changes, log.String())
		}
		store.SetPolicy(nil)
		st, err := e.Status(context.Background(), true)
		if err != nil || st[0].State != "fresh" || st[1].State != "fresh" {
			t.Fatalf("once the store is back: %+v, %v; want both fresh", st, err)
		}
	}
}

// TestStatusNamesEveryMissingInput: a stage whose external input files are absent is missing, and
// its reason names each absent input with its location, not only the first.
func TestStatusNamesEveryMissingInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "present.txt"), "here")
	s := &Stage{Name: "d", Version: "1", Params: map[string]int{}, Inputs: []Input{
		{Name: "dataset", Ref: filepath.Join(dir, "dataset.json")},
		{Name: "classes", Ref: filepath.Join(dir, "present.txt")},
		{Name: "entities", Ref: filepath.Join(dir, "entities")},
	}, Run: func(ctx context.Context, r *Run) error { return nil }}
	e := newEngine(t, filepath.Join(dir, "root"), s)
	st, err := e.Status(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].State != "missing" {
		t.Fatalf("status %+v, want one missing stage", st)
	}
	for _, want := range []string{"2 inputs missing", "dataset = file://" + filepath.ToSlash(filepath.Join(dir, "dataset.json")), "entities = "} {
		if !strings.Contains(st[0].Reason, want) {
			t.Errorf("reason %q does not say %q", st[0].Reason, want)
		}
	}
	if strings.Contains(st[0].Reason, "present.txt") {
		t.Errorf("reason %q names the input that exists", st[0].Reason)
	}
	var mi *MissingInputsError
	if _, err := e.Make(context.Background(), "d", MakeOptions{}); !errors.As(err, &mi) || len(mi.Inputs) != 2 {
		t.Errorf("run: %v, want a MissingInputsError with 2 inputs", err)
	}
}
