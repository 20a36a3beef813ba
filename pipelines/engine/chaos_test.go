package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/groundcap/groundcap/internal/blobio"
	"github.com/groundcap/groundcap/internal/blobio/faultblob"
)

// chaosGraph is a shard stage s and a stage d that reads one of its shards, over root; runs
// counts the runs of each.
func chaosGraph(t *testing.T, root, in string, crashAfter *int, runs map[string]*int) *Engine {
	t.Helper()
	if runs == nil {
		runs = map[string]*int{}
	}
	for _, s := range []string{"s", "d"} {
		if runs[s] == nil {
			runs[s] = new(int)
		}
	}
	e, err := New(root, []*Stage{
		shardStage("s", shardParams{Shards: 3, Word: "w"}, in, crashAfter, runs["s"]),
		copyStage("d", "@s/shard-001.txt", runs["d"]),
	}, Options{ModuleVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// chaosState prepares a store for a chaos trial.
type chaosState struct {
	name   string
	verify bool
	// prepare brings root into the state; it returns the stages whose outputs are valid
	// there (which no failure may delete) and the stage whose output it damaged ("" if none).
	prepare func(t *testing.T, e *Engine, root string) (valid []string, damaged string)
}

var chaosStates = []chaosState{
	{name: "empty", prepare: func(*testing.T, *Engine, string) ([]string, string) { return nil, "" }},
	{name: "partial", prepare: func(t *testing.T, e *Engine, root string) ([]string, string) {
		// A run that crashed after one shard: the shard is there, the manifest is not.
		crash := 1
		if _, err := chaosGraph(t, root, e.Stage("s").Inputs[0].Ref, &crash, nil).Make(context.Background(), "", MakeOptions{}); err == nil {
			t.Fatal("the crashing run succeeded")
		}
		return nil, ""
	}},
	{name: "cached", verify: true, prepare: func(t *testing.T, e *Engine, _ string) ([]string, string) {
		if _, err := e.Make(context.Background(), "", MakeOptions{}); err != nil {
			t.Fatal(err)
		}
		return []string{"s", "d"}, ""
	}},
	{name: "damaged", verify: true, prepare: func(t *testing.T, e *Engine, root string) ([]string, string) {
		ms, err := e.Make(context.Background(), "", MakeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		loc := blobio.Join(e.OutputDir("s", ms["s"].Key), "shard-001.txt")
		b, err := blobio.ReadAll(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		b[0] ^= 1
		if err := blobio.WriteAll(context.Background(), loc, b); err != nil {
			t.Fatal(err)
		}
		return []string{"d"}, "s"
	}},
}

var chaosOps = []faultblob.Op{faultblob.OpRead, faultblob.OpWrite, faultblob.OpClose, faultblob.OpList, faultblob.OpAttributes, faultblob.OpDelete}

// TestChaosFailNth fails, one at a time, every call a run makes to the store (the Nth read,
// write, commit, listing, attribute lookup or delete, for every N), from four starting states:
// an empty root, one a crashed run left, a fresh cache (run with --verify), and a cache with a
// damaged shard (--verify). After each trial, with the store healthy again: every manifest in
// the store verifies and lists the bytes of an undamaged run; no valid output was deleted or
// recomputed; and a rerun ends with the undamaged outputs.
func TestChaosFailNth(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeFile(t, in, "data")
	ref, err := chaosGraph(t, filepath.Join(dir, "ref"), in, nil, nil).Make(context.Background(), "", MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trials, injected, failed := 0, 0, 0
	for si, st := range chaosStates {
		// How many calls of each operation the trial's run makes on a healthy store.
		host := fmt.Sprintf("chaos-count-%d", si)
		root := "fault://" + host + "/root"
		e := chaosGraph(t, root, in, nil, nil)
		st.prepare(t, e, root)
		var c faultblob.Counter
		faults.Store(host).SetPolicy(c.Policy())
		if _, err := e.Make(context.Background(), "", MakeOptions{Verify: st.verify}); err != nil {
			t.Fatalf("%s: healthy run: %v", st.name, err)
		}
		faults.Store(host).SetPolicy(nil)
		for _, op := range chaosOps {
			for n := 1; n <= c.Calls(op); n++ {
				host := fmt.Sprintf("chaos-%d-%s-%d", si, op, n)
				root := "fault://" + host + "/root"
				store := faults.Store(host)
				runs := map[string]*int{}
				e := chaosGraph(t, root, in, nil, runs)
				valid, damaged := st.prepare(t, e, root)
				*runs["s"], *runs["d"] = 0, 0
				fail := faultblob.FailNth(op, n, faultblob.Unreachable)
				hit := false
				store.SetPolicy(func(o faultblob.Op, key string) error {
					err := fail(o, key)
					hit = hit || err != nil
					return err
				})
				_, err := e.Make(context.Background(), "", MakeOptions{Verify: st.verify})
				store.SetPolicy(nil)
				trials++
				if hit {
					injected++
				}
				if err != nil {
					failed++
				}
				what := fmt.Sprintf("%s, %s #%d failing (run: %v)", st.name, op, n, err)
				checkChaosStore(t, e, ref, what, damaged)
				checkValid := func(what string) {
					for _, s := range valid {
						if *runs[s] > 0 {
							t.Errorf("%s: the valid output of %s was recomputed", what, s)
						}
						if m, err := e.readManifest(context.Background(), s, ref[s].Key, true); err != nil || m == nil {
							t.Errorf("%s: the valid output of %s is gone (%v)", what, s, err)
						}
					}
				}
				checkValid(what)
				if _, err := e.Make(context.Background(), "", MakeOptions{Verify: true}); err != nil {
					t.Fatalf("%s: the rerun on a healthy store: %v", what, err)
				}
				checkChaosStore(t, e, ref, what+", then rerun", "")
				checkValid(what + ", then rerun")
			}
		}
	}
	if !t.Failed() {
		t.Logf("%d trials, %d faults injected, %d runs failed; bad manifests: 0, valid outputs lost: 0", trials, injected, failed)
	}
	if trials < 50 || injected != trials {
		t.Errorf("%d trials, %d of them with a fault: the sweep did not reach the store", trials, injected)
	}
}

// TestChaosRandom runs the graph over a store that fails a fraction of all calls at random
// (seeded), trial after trial on one root, from every state. Set GROUNDCAP_CHAOS_TRIALS for a
// longer soak (and GROUNDCAP_CHAOS_SEED to pick the seed).
func TestChaosRandom(t *testing.T) {
	trials, seed := 60, uint64(1)
	if s := os.Getenv("GROUNDCAP_CHAOS_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		trials = n
	}
	if s := os.Getenv("GROUNDCAP_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeFile(t, in, "data")
	ref, err := chaosGraph(t, filepath.Join(dir, "ref"), in, nil, nil).Make(context.Background(), "", MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	injected, failed := 0, 0
	for i := range trials {
		st := chaosStates[i%len(chaosStates)]
		host := fmt.Sprintf("chaos-random-%d", i)
		root := "fault://" + host + "/root"
		e := chaosGraph(t, root, in, nil, nil)
		_, damaged := st.prepare(t, e, root)
		rnd := faultblob.NewRandom(seed+uint64(i), 0.05, faultblob.Unreachable)
		faults.Store(host).SetPolicy(rnd.Policy())
		// Several runs under faults, as a user retrying would.
		for range 3 {
			if _, err := e.Make(context.Background(), "", MakeOptions{Verify: st.verify}); err != nil {
				failed++
			}
		}
		faults.Store(host).SetPolicy(nil)
		injected += rnd.Injected()
		what := fmt.Sprintf("trial %d (%s, seed %d)", i, st.name, seed+uint64(i))
		checkChaosStore(t, e, ref, what, damaged)
		if _, err := e.Make(context.Background(), "", MakeOptions{Verify: true}); err != nil {
			t.Fatalf("%s: the rerun on a healthy store: %v", what, err)
		}
		checkChaosStore(t, e, ref, what+", then rerun", "")
	}
	if !t.Failed() {
		t.Logf("%d trials, %d faults injected, %d runs failed; bad manifests: 0, outputs lost: 0", trials, injected, failed)
	}
	if injected == 0 {
		t.Error("no fault was injected")
	}
}

// checkChaosStore checks every manifest under e's root: it must list the files of the
// undamaged reference run, and they must verify, except for the manifest of the stage damaged
// before the trial (when the trial's runs failed before healing it, the damage is still there
// for the next run to find).
func checkChaosStore(t *testing.T, e *Engine, ref map[string]*Manifest, what, damaged string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range e.Stages() {
		objs, err := blobio.List(ctx, e.stageDir(s.Name))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, o := range objs {
			key, ok := strings.CutSuffix(o.Name, "/"+ManifestName)
			if !ok {
				continue
			}
			m, err := e.readManifest(ctx, s.Name, key, true)
			if err != nil && s.Name == damaged {
				// Its discarding may have stopped part-way: the manifest, deleted last, must
				// still be the undamaged run's, whatever files are left.
				data, rerr := blobio.ReadAll(ctx, blobio.Join(e.stageDir(s.Name), o.Name))
				m, err = &Manifest{}, rerr
				if rerr == nil {
					err = json.Unmarshal(data, m)
				}
			}
			if err != nil {
				t.Errorf("%s: a manifest over a bad output: %v", what, err)
				continue
			}
			if m.OutputDigest != ref[s.Name].OutputDigest {
				t.Errorf("%s: %s's manifest lists other bytes than the undamaged run's", what, s.Name)
			}
		}
	}
}
