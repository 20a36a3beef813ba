// Package engine runs groundcap's stages: content-addressed cache keys, manifests, early cutoff,
// resume and status.
//
// # Keys and outputs
//
// A stage's key is the SHA-256 of its name, version, the groundcap module version, the canonical
// JSON of its parameters, the content digests of its inputs and its output schema version (see
// Components). Its outputs live under <root>/<stage>/<key>/. MANIFEST.json is written last and
// lists the key's components and every output file with size, SHA-256 and row count: an output
// without a manifest does not exist. <root>/<stage>/LATEST names the key of the last completed
// run; status uses it to explain why a stage is stale.
//
// # Inputs
//
// An input reference is either "@<stage>/<path>" (a file or directory of another stage's output;
// its digest is computed from that stage's manifest entries, so a rerun that reproduces the same
// bytes leaves downstream keys unchanged: early cutoff) or a location (URL or plain path) outside
// the engine, whose digest is the SHA-256 of its content (a directory: of its files' names,
// sizes and hashes). Paths and modification times never enter a key.
//
// # Resume
//
// A stage that writes shards writes each one atomically under its final name and skips the
// shards that already exist (Run.Done). Since the output directory is named by the key, whatever
// a crashed run left there was produced from the same inputs and parameters. A completed output
// that turns out damaged (its manifest corrupt, a file missing, or, verifying, a file whose
// SHA-256 differs from the manifest's) is deleted whole before the stage reruns, so that a
// recompute never resumes from or keeps any of its files. A training stage keeps its resumable
// state outside the output (pipelines/trainrun); Run.Restart tells it to discard that state too.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/groundcap/groundcap/internal/blobio"
)

// ManifestName is the name of the file that makes a stage output exist.
const ManifestName = "MANIFEST.json"

// Stage declares one step of the chain.
type Stage struct {
	Name          string
	Description   string // one line, shown by status and help
	Version       string // bump by hand when the stage's semantics change
	SchemaVersion string // bump when the layout of the outputs changes
	Params        any    // encoded as canonical JSON into the key
	// Settings are the stage's typed parameters as the config resolved them, for tools that
	// read them (plan); they do not enter the key.
	Settings any
	Inputs   []Input
	// Run computes the outputs under r.Out. It may be called again after a crash with part of
	// the outputs present.
	Run func(ctx context.Context, r *Run) error
}

// Input is one named input of a stage.
type Input struct {
	Name string
	Ref  string // "@stage/path" or a location
}

// upstream returns the stage and path of an "@stage/path" reference.
func (in Input) upstream() (stage, path string, ok bool) {
	if !strings.HasPrefix(in.Ref, "@") {
		return "", "", false
	}
	s := in.Ref[1:]
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], strings.Trim(s[i+1:], "/"), true
	}
	return s, "", true
}

// Run is what a stage sees while it runs.
type Run struct {
	Stage *Stage
	Key   string
	Out   string // location of the output directory
	Log   io.Writer
	// Restart asks the stage to discard whatever state an earlier attempt kept outside the
	// output for resuming (a trainer's work directory) and start from its inputs alone: set
	// for --force and for an output found damaged.
	Restart bool
	inputs  map[string]string
	rows    map[string]int64
	info    map[string]any
}

// Input returns the location of a declared input.
func (r *Run) Input(name string) string {
	loc, ok := r.inputs[name]
	if !ok {
		panic(fmt.Sprintf("engine: stage %s has no input %q", r.Stage.Name, name))
	}
	return loc
}

// Output returns the location of an output file, name being relative to the output directory.
func (r *Run) Output(name string) string { return blobio.Join(r.Out, name) }

// Done reports whether an output file already exists (a shard finished by an earlier attempt).
func (r *Run) Done(ctx context.Context, name string) (bool, error) {
	return blobio.Exists(ctx, r.Output(name))
}

// SetRows records the number of rows of an output file for the manifest. A stage that resumes
// reports the rows of the shards an earlier attempt finished too (e.g. from a Parquet footer).
func (r *Run) SetRows(name string, n int64) { r.rows[name] = n }

// SetInfo records a stage-specific summary value (stats, an index) in the manifest. The value
// must be deterministic.
func (r *Run) SetInfo(key string, v any) { r.info[key] = v }

// Logf writes one progress line prefixed with the stage name.
func (r *Run) Logf(format string, args ...any) {
	fmt.Fprintf(r.Log, "[%s] %s\n", r.Stage.Name, fmt.Sprintf(format, args...))
}

// Manifest describes one completed stage output.
type Manifest struct {
	Stage        string         `json:"stage"`
	Key          string         `json:"key"`
	Components   Components     `json:"components"`
	Files        []FileEntry    `json:"files"`
	OutputDigest string         `json:"output_digest"`
	Info         map[string]any `json:"info,omitempty"`
}

// Engine runs a graph of stages over one artifact root.
type Engine struct {
	root          string
	stages        []*Stage // topological order
	byName        map[string]*Stage
	moduleVersion string
	log           io.Writer
	hashes        *hashCache
}

// Options configure an Engine.
type Options struct {
	// ModuleVersion is the groundcap version that enters every key.
	ModuleVersion string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// New checks the graph (unique names, known upstream stages, no cycles) and orders it.
func New(root string, stages []*Stage, opts Options) (*Engine, error) {
	nroot, err := blobio.Normalize(root)
	if err != nil {
		return nil, fmt.Errorf("engine: root: %w", err)
	}
	e := &Engine{root: nroot, byName: map[string]*Stage{}, moduleVersion: opts.ModuleVersion, log: opts.Log}
	if e.log == nil {
		e.log = io.Discard
	}
	for _, s := range stages {
		if s.Name == "" || strings.ContainsAny(s.Name, "/@ ") {
			return nil, fmt.Errorf("engine: bad stage name %q", s.Name)
		}
		if _, dup := e.byName[s.Name]; dup {
			return nil, fmt.Errorf("engine: stage %q declared twice", s.Name)
		}
		e.byName[s.Name] = s
	}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(s *Stage, path []string) error
	visit = func(s *Stage, path []string) error {
		switch state[s.Name] {
		case 1:
			return fmt.Errorf("engine: cycle: %s", strings.Join(append(path, s.Name), " -> "))
		case 2:
			return nil
		}
		state[s.Name] = 1
		for _, in := range s.Inputs {
			up, _, ok := in.upstream()
			if !ok {
				continue
			}
			u, known := e.byName[up]
			if !known {
				return fmt.Errorf("engine: stage %s input %s refers to unknown stage %q", s.Name, in.Name, up)
			}
			if err := visit(u, append(path, s.Name)); err != nil {
				return err
			}
		}
		state[s.Name] = 2
		e.stages = append(e.stages, s)
		return nil
	}
	for _, s := range stages {
		if err := visit(s, nil); err != nil {
			return nil, err
		}
	}
	e.hashes = newHashCache(blobio.Join(e.root, ".cache", "digests.json"))
	return e, nil
}

// Root returns the artifact root location.
func (e *Engine) Root() string { return e.root }

// Stages returns the stages in the order they run.
func (e *Engine) Stages() []*Stage { return e.stages }

// Stage returns the named stage or nil.
func (e *Engine) Stage(name string) *Stage { return e.byName[name] }

func (e *Engine) stageDir(name string) string { return blobio.Join(e.root, name) }

// OutputDir returns the output location of stage name under key.
func (e *Engine) OutputDir(name, key string) string { return blobio.Join(e.root, name, key) }

// errUpstream says a key cannot be computed because an upstream stage has no current output.
type errUpstream struct{ stage, reason string }

func (e *errUpstream) Error() string {
	return fmt.Sprintf("upstream stage %s is not up to date (%s)", e.stage, e.reason)
}

// components computes the key components of s, given the manifests of fresh upstream stages.
func (e *Engine) components(ctx context.Context, s *Stage, fresh map[string]*Manifest) (*Components, map[string]string, error) {
	params, err := CanonicalJSON(s.Params)
	if err != nil {
		return nil, nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	c := &Components{Stage: s.Name, Version: s.Version, ModuleVersion: e.moduleVersion, Params: params, SchemaVersion: s.SchemaVersion}
	locs := map[string]string{}
	var missing []string // external inputs that name nothing, all reported at once
	for _, in := range s.Inputs {
		var digest, loc string
		if up, p, ok := in.upstream(); ok {
			m := fresh[up]
			if m == nil {
				return nil, nil, &errUpstream{stage: up, reason: "no current output"}
			}
			d, n := digestFiles(m.Files, p)
			if n == 0 {
				return nil, nil, fmt.Errorf("stage %s input %s: stage %s has no output %q", s.Name, in.Name, up, p)
			}
			digest, loc = d, blobio.Join(e.OutputDir(up, m.Key), p)
		} else {
			l, err := blobio.Normalize(in.Ref)
			if err != nil {
				return nil, nil, fmt.Errorf("stage %s input %s: %w", s.Name, in.Name, err)
			}
			d, err := e.hashes.digest(ctx, l, e.log)
			if blobio.IsNotExist(err) {
				missing = append(missing, fmt.Sprintf("%s = %s", in.Name, l))
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("stage %s input %s: %w", s.Name, in.Name, err)
			}
			digest, loc = d, l
		}
		c.Inputs = append(c.Inputs, InputDigest{Name: in.Name, Ref: in.Ref, Digest: digest})
		locs[in.Name] = loc
	}
	if len(missing) > 0 {
		return nil, nil, &MissingInputsError{Stage: s.Name, Inputs: missing}
	}
	sort.Slice(c.Inputs, func(i, j int) bool { return c.Inputs[i].Name < c.Inputs[j].Name })
	return c, locs, nil
}

// MissingInputsError says that input files a stage reads from outside the artifact root do not
// exist: every such input of the stage, by name and location.
type MissingInputsError struct {
	Stage  string
	Inputs []string // "name = location"
}

func (e *MissingInputsError) Error() string {
	w := "input"
	if len(e.Inputs) > 1 {
		w = "inputs"
	}
	return fmt.Sprintf("stage %s: %d %s missing (no such file or directory): %s", e.Stage, len(e.Inputs), w, strings.Join(e.Inputs, "; "))
}

// unusableError says that a cached output was read and is damaged: a corrupt manifest, or an
// output file missing, of another size or (verifying) of another SHA-256. Such an output counts
// as missing and is recomputed. Any other error of reading the store (permissions, credentials,
// network: a blobio.StoreError) stops the run, and nothing is deleted because of it.
type unusableError struct{ msg string }

func (e *unusableError) Error() string { return e.msg }

func unusable(format string, args ...any) error {
	return &unusableError{msg: fmt.Sprintf(format, args...)}
}

// readManifest loads and checks the manifest of stage name under key. It returns (nil, nil)
// when there is none, an *unusableError when it was read but is corrupt or does not match its
// files, and any other error when the store could not be read.
func (e *Engine) readManifest(ctx context.Context, name, key string, verify bool) (*Manifest, error) {
	dir := e.OutputDir(name, key)
	data, err := blobio.ReadAll(ctx, blobio.Join(dir, ManifestName))
	if blobio.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, unusable("corrupt manifest %s: %v", blobio.Join(dir, ManifestName), err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, m.Components.Params); err != nil {
		return nil, unusable("corrupt manifest %s: params: %v", blobio.Join(dir, ManifestName), err)
	}
	m.Components.Params = compact.Bytes()
	if m.Stage != name || m.Key != key || m.Components.Key() != key {
		return nil, unusable("corrupt manifest %s: it names stage %q key %q", blobio.Join(dir, ManifestName), m.Stage, m.Key)
	}
	if d, _ := digestFiles(m.Files, ""); d != m.OutputDigest {
		return nil, unusable("corrupt manifest %s: output digest does not match its file list", blobio.Join(dir, ManifestName))
	}
	objs, err := blobio.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, o := range objs {
		sizes[o.Name] = o.Size
	}
	for _, f := range m.Files {
		sz, ok := sizes[f.Name]
		if !ok {
			return nil, unusable("output %s is missing (listed in %s)", blobio.Join(dir, f.Name), ManifestName)
		}
		if sz != f.Size {
			return nil, unusable("output %s has %d bytes, manifest says %d", blobio.Join(dir, f.Name), sz, f.Size)
		}
		if verify {
			sum, _, err := blobio.SHA256(ctx, blobio.Join(dir, f.Name))
			if blobio.IsNotExist(err) {
				return nil, unusable("output %s is missing (listed in %s)", blobio.Join(dir, f.Name), ManifestName)
			}
			if err != nil {
				return nil, err
			}
			if sum != f.SHA256 {
				return nil, unusable("output %s: SHA-256 %s, manifest says %s", blobio.Join(dir, f.Name), sum, f.SHA256)
			}
		}
	}
	return &m, nil
}

// latest returns the manifest of the last completed run of a stage, or nil when there is none
// or it is damaged. The error says the store could not be read.
func (e *Engine) latest(ctx context.Context, name string) (*Manifest, error) {
	key, err := blobio.ReadAll(ctx, blobio.Join(e.stageDir(name), "LATEST"))
	if blobio.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := e.readManifest(ctx, name, strings.TrimSpace(string(key)), false)
	var bad *unusableError
	if errors.As(err, &bad) {
		return nil, nil
	}
	return m, err
}

// MakeOptions control Make.
type MakeOptions struct {
	Force  []string // stages to recompute even when fresh
	Verify bool     // re-hash cached outputs instead of checking sizes only
}

// Make brings target and every stage it depends on up to date ("" means every stage) and
// returns the manifests of the stages it visited, by name.
func (e *Engine) Make(ctx context.Context, target string, opts MakeOptions) (map[string]*Manifest, error) {
	need := map[string]bool{}
	if target == "" {
		for _, s := range e.stages {
			need[s.Name] = true
		}
	} else {
		if e.byName[target] == nil {
			return nil, fmt.Errorf("engine: unknown stage %q", target)
		}
		var mark func(string)
		mark = func(n string) {
			if need[n] {
				return
			}
			need[n] = true
			for _, in := range e.byName[n].Inputs {
				if up, _, ok := in.upstream(); ok {
					mark(up)
				}
			}
		}
		mark(target)
	}
	force := map[string]bool{}
	for _, f := range opts.Force {
		if e.byName[f] == nil {
			return nil, fmt.Errorf("engine: --force: unknown stage %q", f)
		}
		force[f] = true
	}
	done := map[string]*Manifest{}
	for _, s := range e.stages {
		if !need[s.Name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		m, err := e.makeOne(ctx, s, done, force[s.Name], opts.Verify)
		if err != nil {
			return done, fmt.Errorf("stage %s: %w", s.Name, err)
		}
		done[s.Name] = m
	}
	return done, nil
}

func (e *Engine) makeOne(ctx context.Context, s *Stage, fresh map[string]*Manifest, force, verify bool) (*Manifest, error) {
	comp, locs, err := e.components(ctx, s, fresh)
	if err != nil {
		return nil, err
	}
	key := comp.Key()
	out := e.OutputDir(s.Name, key)
	restart := force
	if !force {
		m, err := e.readManifest(ctx, s.Name, key, verify)
		var bad *unusableError
		if errors.As(err, &bad) {
			// Nothing of a damaged output is reused: its files (shards, checkpoints a trainer
			// would resume from) go with it, and the stage recomputes from its inputs.
			fmt.Fprintf(e.log, "[%s] cached output unusable (%v): removing %s and recomputing\n", s.Name, err, out)
			if err := discard(ctx, out); err != nil {
				return nil, err
			}
			restart = true
		} else if err != nil {
			return nil, err
		} else if m != nil {
			fmt.Fprintf(e.log, "[%s] fresh (cached) %s\n", s.Name, out)
			return m, e.writeLatest(ctx, s.Name, key)
		}
	} else {
		fmt.Fprintf(e.log, "[%s] --force: removing %s\n", s.Name, out)
		if err := discard(ctx, out); err != nil {
			return nil, err
		}
	}
	// A stale or partial manifest must not survive a rerun that fails half-way.
	if err := blobio.Delete(ctx, blobio.Join(out, ManifestName)); err != nil {
		return nil, err
	}
	r := &Run{Stage: s, Key: key, Out: out, Log: e.log, Restart: restart, inputs: locs, rows: map[string]int64{}, info: map[string]any{}}
	fmt.Fprintf(e.log, "[%s] running (key %s) -> %s\n", s.Name, key[:12], out)
	start := time.Now()
	if err := s.Run(ctx, r); err != nil {
		return nil, err
	}
	m, err := e.writeManifest(ctx, r, comp)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "[%s] done in %s: %d files\n", s.Name, time.Since(start).Round(time.Millisecond), len(m.Files))
	// What the stage allocated is garbage now: hand the free heap back to the OS before the next
	// stage, so that a process running every stage (groundcap run) peaks at its largest stage
	// instead of carrying each stage's free, fragmented heap into the next.
	debug.FreeOSMemory()
	return m, e.writeLatest(ctx, s.Name, key)
}

// discard deletes the output directory out, its manifest last: a run killed part-way leaves the
// manifest, which still says the output is damaged, rather than files without one, which a
// resuming stage would take for work it had done.
func discard(ctx context.Context, out string) error {
	objs, err := blobio.List(ctx, out)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.Name == ManifestName {
			continue
		}
		if err := blobio.Delete(ctx, blobio.Join(out, o.Name)); err != nil {
			return err
		}
	}
	return blobio.Delete(ctx, blobio.Join(out, ManifestName))
}

func (e *Engine) writeLatest(ctx context.Context, name, key string) error {
	return blobio.WriteAll(ctx, blobio.Join(e.stageDir(name), "LATEST"), []byte(key+"\n"))
}

func (e *Engine) writeManifest(ctx context.Context, r *Run, comp *Components) (*Manifest, error) {
	objs, err := blobio.List(ctx, r.Out)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Stage: r.Stage.Name, Key: r.Key, Components: *comp, Files: []FileEntry{}}
	if len(r.info) > 0 {
		m.Info = r.info
	}
	for _, o := range objs {
		if o.Name == ManifestName {
			continue
		}
		sum, size, err := blobio.SHA256(ctx, blobio.Join(r.Out, o.Name))
		if err != nil {
			return nil, err
		}
		rows, ok := r.rows[o.Name]
		if !ok {
			rows = -1
		}
		m.Files = append(m.Files, FileEntry{Name: o.Name, Size: size, SHA256: sum, Rows: rows})
	}
	for name := range r.rows {
		found := false
		for _, f := range m.Files {
			found = found || f.Name == name
		}
		if !found {
			return nil, fmt.Errorf("engine: stage %s reported rows for %s, which it did not write", r.Stage.Name, name)
		}
	}
	m.OutputDigest, _ = digestFiles(m.Files, "")
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("engine: manifest: %w", err)
	}
	if err := blobio.WriteAll(ctx, blobio.Join(r.Out, ManifestName), append(data, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// Status describes one stage for 'groundcap status'.
type Status struct {
	Stage   string   `json:"stage"`
	State   string   `json:"state"` // "fresh", "stale" or "missing"
	Key     string   `json:"key"`   // "" when it cannot be known yet (an upstream stage is not fresh)
	Output  string   `json:"output"`
	Reason  string   `json:"reason"`
	Changes []Change `json:"changes,omitempty"`
}

// Change is one key component that differs from the last completed run.
type Change struct {
	Component string `json:"component"`
	Old       string `json:"old"`
	New       string `json:"new"`
}

// Status reports every stage's state without running anything. It fails when the store cannot
// be read (blobio.StoreError): that says nothing about any stage.
func (e *Engine) Status(ctx context.Context, verify bool) ([]Status, error) {
	fresh := map[string]*Manifest{}
	var out []Status
	for _, s := range e.stages {
		st := Status{Stage: s.Name}
		prev, err := e.latest(ctx, s.Name)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", s.Name, err)
		}
		comp, _, err := e.components(ctx, s, fresh)
		var up *errUpstream
		switch {
		case blobio.IsStoreError(err):
			return nil, err
		case errors.As(err, &up):
			st.State, st.Reason = "stale", err.Error()
			if prev == nil {
				st.State = "missing"
			}
		case err != nil:
			st.State, st.Reason = "missing", err.Error()
		default:
			st.Key = comp.Key()
			st.Output = e.OutputDir(s.Name, st.Key)
			m, merr := e.readManifest(ctx, s.Name, st.Key, verify)
			var bad *unusableError
			switch {
			case merr != nil && !errors.As(merr, &bad):
				return nil, fmt.Errorf("stage %s: %w", s.Name, merr)
			case merr != nil:
				st.State, st.Reason = "missing", merr.Error()
			case m != nil:
				st.State, st.Reason = "fresh", "output matches the current key"
				fresh[s.Name] = m
			case prev == nil:
				st.State, st.Reason = "missing", "never computed"
			default:
				st.State = "stale"
				st.Changes = diffComponents(&prev.Components, comp)
				var parts []string
				for _, c := range st.Changes {
					parts = append(parts, fmt.Sprintf("%s: %s -> %s", c.Component, c.Old, c.New))
				}
				st.Reason = "changed since last run: " + strings.Join(parts, "; ")
				if len(parts) == 0 {
					st.Reason = "no output for the current key"
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// diffComponents lists what changed between two sets of key components.
func diffComponents(old, cur *Components) []Change {
	var ch []Change
	add := func(c, o, n string) {
		if o != n {
			ch = append(ch, Change{Component: c, Old: o, New: n})
		}
	}
	add("version", old.Version, cur.Version)
	add("module_version", old.ModuleVersion, cur.ModuleVersion)
	add("schema_version", old.SchemaVersion, cur.SchemaVersion)
	if string(old.Params) != string(cur.Params) {
		var op, np map[string]any
		_ = json.Unmarshal(old.Params, &op)
		_ = json.Unmarshal(cur.Params, &np)
		ch = append(ch, diffParams("params", op, np)...)
	}
	oi := map[string]InputDigest{}
	for _, in := range old.Inputs {
		oi[in.Name] = in
	}
	seen := map[string]bool{}
	for _, in := range cur.Inputs {
		seen[in.Name] = true
		o, ok := oi[in.Name]
		if !ok {
			add("input "+in.Name, "(none)", in.Digest)
			continue
		}
		add("input "+in.Name+" ("+in.Ref+")", short(o.Digest), short(in.Digest))
	}
	for _, in := range old.Inputs {
		if !seen[in.Name] {
			add("input "+in.Name, in.Digest, "(none)")
		}
	}
	return ch
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// diffParams lists the parameter paths whose values differ.
func diffParams(prefix string, o, n map[string]any) []Change {
	keys := map[string]bool{}
	for k := range o {
		keys[k] = true
	}
	for k := range n {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var ch []Change
	for _, k := range sorted {
		ov, ook := o[k]
		nv, nok := n[k]
		om, oIsMap := ov.(map[string]any)
		nm, nIsMap := nv.(map[string]any)
		if oIsMap && nIsMap {
			ch = append(ch, diffParams(prefix+"."+k, om, nm)...)
			continue
		}
		os, ns := jsonString(ov, ook), jsonString(nv, nok)
		if os != ns {
			ch = append(ch, Change{Component: prefix + "." + k, Old: os, New: ns})
		}
	}
	return ch
}

func jsonString(v any, ok bool) string {
	if !ok {
		return "(unset)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
