package features

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	feat "github.com/groundcap/groundcap/features"
	"github.com/groundcap/groundcap/internal/atomicfile"
	"github.com/groundcap/groundcap/internal/hostile"
	"github.com/groundcap/groundcap/internal/shard"
	gen "github.com/groundcap/groundcap/internal/synth"
	"github.com/groundcap/groundcap/internal/treetest"
	"github.com/groundcap/groundcap/pipelines/engine"
	"github.com/groundcap/groundcap/transforms/rejects"
)

func TestMain(m *testing.M) { ptest.Main(m) }

const testDim = 16

// randRaw makes a valid record (boxes inside the image, non-negative features).
func randRaw(rng *rand.Rand, id int64, k int, lx bool) *feat.Raw {
	w, h := int32(100+rng.IntN(500)), int32(100+rng.IntN(500))
	r := &feat.Raw{ImageID: id, Width: w, Height: h, NumBoxes: k}
	boxes := make([]float32, 4*k)
	for b := 0; b < k; b++ {
		x1, y1 := rng.Float32()*float32(w-1), rng.Float32()*float32(h-1)
		boxes[4*b], boxes[4*b+1] = x1, y1
		boxes[4*b+2] = x1 + rng.Float32()*(float32(w)-x1)
		boxes[4*b+3] = y1 + rng.Float32()*(float32(h)-y1)
	}
	feats := make([]float32, k*testDim)
	for i := range feats {
		feats[i] = float32(rng.ExpFloat64() * 3)
	}
	r.Boxes, r.Features = feat.Float32Bytes(boxes), feat.Float32Bytes(feats)
	if lx {
		ids, conf := make([]int64, k), make([]float32, k)
		for b := range ids {
			ids[b], conf[b] = rng.Int64N(1600), rng.Float32()
		}
		r.ObjectIDs, r.AttrIDs = feat.Int64Bytes(ids), feat.Int64Bytes(ids)
		r.ObjectConf, r.AttrConf = feat.Float32Bytes(conf), feat.Float32Bytes(conf)
	}
	return r
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// world is a hand-made input: two Anderson TSV files, one LXMERT file and an npz root.
type world struct {
	tsvDir, lxmert, npz, dataset string
	raws                         map[int64]*feat.Raw
}

func makeWorld(t *testing.T, rng *rand.Rand) world {
	dir := t.TempDir()
	w := world{tsvDir: filepath.Join(dir, "tsv"), lxmert: filepath.Join(dir, "lx.tsv"), npz: filepath.Join(dir, "sc"),
		dataset: filepath.Join(dir, "dataset.json"), raws: map[int64]*feat.Raw{}}
	id := int64(1000)
	next := func() int64 { id += 1 + int64(rng.IntN(50)); return id }
	for f := 0; f < 2; f++ {
		var buf []byte
		for i := 0; i < 12; i++ {
			r := randRaw(rng, next(), 10+rng.IntN(11), false)
			w.raws[r.ImageID] = r
			buf = feat.AppendTSV(buf, r, feat.LayoutAnderson)
			if i == 5 {
				buf = append(buf, '\n') // a blank line: not a record
			}
		}
		writeFile(t, filepath.Join(w.tsvDir, fmt.Sprintf("part-%d.tsv", f)), buf)
	}
	var buf []byte
	for i := 0; i < 10; i++ {
		r := randRaw(rng, next(), 10+rng.IntN(11), true)
		w.raws[r.ImageID] = r
		buf = feat.AppendTSV(buf, r, feat.LayoutLXMERT)
	}
	writeFile(t, w.lxmert, buf)
	for i := 0; i < 8; i++ {
		r := randRaw(rng, next(), 10+rng.IntN(11), false)
		r.Width, r.Height = 0, 0 // npz files carry no image size
		r.FC = feat.Float32Bytes(feat.MeanFC(r.Features, r.NumBoxes, nil))
		if i%2 == 0 {
			// A stored fc that differs from the recomputed mean must come back as stored.
			binary.LittleEndian.PutUint32(r.FC, math.Float32bits(1.25))
		}
		w.raws[r.ImageID] = r
		writeNPZ(t, w.npz, "bu", r)
	}
	var ids []map[string]any
	for id := range w.raws {
		ids = append(ids, map[string]any{"filename": fmt.Sprintf("%d.jpg", id)})
	}
	ids = append(ids, map[string]any{"filename": "7.jpg"}) // known to the dataset, no features
	data, _ := json.Marshal(map[string]any{"images": ids})
	writeFile(t, w.dataset, data)
	return w
}

func writeNPZ(t *testing.T, root, prefix string, r *feat.Raw) {
	t.Helper()
	npz, err := feat.EncodeNPZ(map[string][]byte{"feat": feat.EncodeNPY("<f4", []int{r.NumBoxes, r.Dim()}, r.Features)})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(r.ImageID)
	writeFile(t, filepath.Join(root, prefix+"_att", id+".npz"), npz)
	writeFile(t, filepath.Join(root, prefix+"_box", id+".npy"), feat.EncodeNPY("<f4", []int{r.NumBoxes, 4}, r.Boxes))
	if r.FC != nil {
		writeFile(t, filepath.Join(root, prefix+"_fc", id+".npy"), feat.EncodeNPY("<f4", []int{r.Dim()}, r.FC))
	}
}

// runStage runs the stage through the engine under root and returns its manifest and output dir.
func runStage(t *testing.T, root string, p Params) (*engine.Manifest, string, error) {
	t.Helper()
	st, err := Stage(p)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	e, err := engine.New(root, []*engine.Stage{st}, engine.Options{ModuleVersion: "test", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Make(context.Background(), "features", engine.MakeOptions{})
	t.Log(log.String())
	if err != nil {
		return nil, "", err
	}
	m := ms["features"]
	return m, filepath.Join(root, "features", m.Key), nil
}

// checkRecord compares a stored record with its source (float32: bit-identical; float16:
// within the bound documented in package features).
func checkRecord(t *testing.T, got *feat.Record, want *feat.Raw, dt feat.DType) {
	t.Helper()
	if got.ImageID != want.ImageID || got.Width != want.Width || got.Height != want.Height || got.NumBoxes != want.NumBoxes {
		t.Fatalf("image %d: header %+v", want.ImageID, got)
	}
	if !bytes.Equal(feat.Float32Bytes(got.Boxes), want.Boxes) {
		t.Fatalf("image %d: boxes differ", want.ImageID)
	}
	if dt == feat.DTypeFloat32 {
		if !bytes.Equal(feat.Float32Bytes(got.Features), want.Features) {
			t.Fatalf("image %d: features not bit-identical", want.ImageID)
		}
	} else {
		for i, x := range feat.Float32s(want.Features, nil) {
			if d, b := math.Abs(float64(got.Features[i])-float64(x)), math.Max(math.Abs(float64(x))*0x1p-11, 0x1p-25); d > b {
				t.Fatalf("image %d: feature %d error %g > bound %g", want.ImageID, i, d, b)
			}
		}
	}
	wantFC := want.FC
	if wantFC == nil {
		wantFC = feat.Float32Bytes(feat.MeanFC(want.Features, want.NumBoxes, nil))
	}
	if !bytes.Equal(feat.Float32Bytes(got.FC), wantFC) {
		t.Fatalf("image %d: fc differs", want.ImageID)
	}
	if !bytes.Equal(feat.Int64Bytes(got.ObjectIDs), want.ObjectIDs) || (want.AttrConf != nil && !bytes.Equal(feat.Float32Bytes(got.AttrConf), want.AttrConf)) {
		t.Fatalf("image %d: object columns differ", want.ImageID)
	}
}

// TestStageRoundTrip runs the stage on every layout at once (Anderson TSV directory, LXMERT
// file, npz root) with small byte ranges, in each encoding, and reads every image back.
func TestStageRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	w := makeWorld(t, rng)
	for _, c := range []struct {
		enc, dt string
	}{{"blob", "float32"}, {"list", "float32"}, {"blob", "float16"}} {
		t.Run(c.enc+"-"+c.dt, func(t *testing.T) {
			root := t.TempDir()
			m, out, err := runStage(t, root, params(func(p *Params) {
				p.Inputs, p.Encoding, p.DType, p.NumShards, p.RowsPerGroup, p.ByteRangeSize, p.Dataset = []string{w.tsvDir, w.lxmert, w.npz}, feat.Encoding(c.enc), feat.DType(c.dt), 3, 4, 4096, w.dataset
			}))
			if err != nil {
				t.Fatal(err)
			}
			s, err := feat.OpenStore(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Len() != len(w.raws) || s.Dim() != testDim {
				t.Fatalf("store holds %d images of D %d, want %d of D %d", s.Len(), s.Dim(), len(w.raws), testDim)
			}
			for id, r := range w.raws {
				got, err := s.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				checkRecord(t, got, r, feat.DType(c.dt))
			}
			// Manifest: rows of every file, counts, index summary and the image missing from features.
			rows := map[string]int64{}
			for _, f := range m.Files {
				rows[f.Name] = f.Rows
			}
			var total int64
			for i := 0; i < 3; i++ {
				total += rows[shard.Name(feat.FeaturesTable, i, 3)]
				if rows[shard.Name(feat.RejectsTable, i, 3)] != 0 {
					t.Errorf("shard %d has rejects", i)
				}
			}
			if total != int64(len(w.raws)) || rows[feat.IndexName] != total {
				t.Errorf("manifest rows: %v", rows)
			}
			info, _ := json.Marshal(m.Info)
			var got struct {
				Counts  map[string]int64 `json:"counts"`
				Missing struct {
					Count int     `json:"images_missing"`
					First []int64 `json:"first_missing"`
				} `json:"missing_images"`
				Shards []ShardSummary `json:"shards"`
			}
			if err := json.Unmarshal(info, &got); err != nil {
				t.Fatal(err)
			}
			if got.Counts["read"] != int64(len(w.raws)) || got.Counts["written"] != int64(len(w.raws)) || got.Missing.Count != 1 || got.Missing.First[0] != 7 {
				t.Errorf("manifest info: %s", info)
			}
			for _, sh := range got.Shards {
				if sh.Rows > 0 && (sh.NaNCount != 0 || sh.Min < 0 || sh.Max <= sh.Min || sh.Mean <= 0) {
					t.Errorf("shard stats %+v", sh)
				}
			}
		})
	}
}

// readRejects reads every rejects shard.
func readRejects(t *testing.T, out string, n int) []rejects.Reject {
	t.Helper()
	var all []rejects.Reject
	for i := 0; i < n; i++ {
		rows, err := parquet.ReadFile[rejects.Reject](filepath.Join(out, shard.Name(feat.RejectsTable, i, n)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	return all
}

// TestStageRejects feeds one bad record of each kind; the stage fails at the default
// max_reject_fraction 0 and succeeds with a larger one, with one reject row per bad record.
func TestStageRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	dir := t.TempDir()
	var good []*feat.Raw
	line := func(r *feat.Raw) string { return string(feat.AppendTSV(nil, r, feat.LayoutAnderson)) }
	var a strings.Builder
	for i := 0; i < 6; i++ {
		r := randRaw(rng, int64(100+i), 12, false)
		good = append(good, r)
		a.WriteString(line(r))
	}
	type bad struct {
		line   string
		id     int64
		reason error
	}
	fields := func(r *feat.Raw) []string { return strings.Split(strings.TrimSuffix(line(r), "\n"), "\t") }
	setF := func(r *feat.Raw, i int, v float32) {
		binary.LittleEndian.PutUint32(r.Features[4*i:], math.Float32bits(v))
	}
	var bads []bad
	{
		r := randRaw(rng, 201, 12, false)
		f := fields(r)
		f[5] = f[5][:len(f[5])-2] // truncated base64
		bads = append(bads, bad{strings.Join(f, "\t"), 201, feat.ErrBase64})
	}
	{
		r := randRaw(rng, 202, 12, false)
		f := fields(r)
		f[4] = "!!!!" + f[4][4:] // invalid base64
		bads = append(bads, bad{strings.Join(f, "\t"), 202, feat.ErrBase64})
	}
	{
		r := randRaw(rng, 203, 12, false)
		f := fields(r)
		f[3] = "11" // byte length ≠ num_boxes × 4 × 4
		bads = append(bads, bad{strings.Join(f, "\t"), 203, feat.ErrLength})
	}
	{
		r := randRaw(rng, 204, 5, false) // num_boxes below min_boxes
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 204, feat.ErrNumBoxes})
	}
	{
		r := randRaw(rng, 205, 12, false)
		setF(r, 17, float32(math.NaN()))
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 205, feat.ErrNonFinite})
	}
	{
		r := randRaw(rng, 206, 12, false)
		r.Width = 3 // boxes outside the image
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 206, feat.ErrBox})
	}
	{
		r := randRaw(rng, 207, 12, false)
		b := feat.Float32s(r.Boxes, nil)
		b[0], b[2] = 50, 10 // x2 < x1
		r.Boxes = feat.Float32Bytes(b)
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 207, feat.ErrBox})
	}
	{
		r := randRaw(rng, 208, 12, false)
		r.Features = r.Features[:len(r.Features)-12*4] // D 15 instead of 16
		r.NumBoxes = 12
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 208, feat.ErrDim})
	}
	{
		r := randRaw(rng, 209, 12, false)
		bads = append(bads, bad{strings.Join(fields(r)[:4], "\t"), 209, feat.ErrFields}) // cut after num_boxes
	}
	{
		r := randRaw(rng, 102, 12, false) // the same id as a good row of the other file
		bads = append(bads, bad{strings.TrimSuffix(line(r), "\n"), 102, feat.ErrDuplicate})
	}
	{
		f := fields(randRaw(rng, 1, 12, false))
		f[0] = "no-number-here"
		bads = append(bads, bad{strings.Join(f, "\t"), 0, feat.ErrImageID})
	}
	{
		// A 1 MiB line: longer than any record of max_boxes × D can be; rejected unread.
		bads = append(bads, bad{"210\t" + strings.Repeat("A", 1<<20), 210, feat.ErrTooLarge})
	}
	var b strings.Builder
	for _, x := range bads {
		b.WriteString(x.line + "\n")
	}
	writeFile(t, filepath.Join(dir, "in", "a.tsv"), []byte(a.String()))
	writeFile(t, filepath.Join(dir, "in", "b.tsv"), []byte(b.String()))
	// An npz set with one archive that lacks the "feat" key.
	okNPZ := randRaw(rng, 301, 12, false)
	okNPZ.Width, okNPZ.Height = 0, 0
	writeNPZ(t, filepath.Join(dir, "sc"), "bu", okNPZ)
	npz, _ := feat.EncodeNPZ(map[string][]byte{"features": feat.EncodeNPY("<f4", []int{12, testDim}, okNPZ.Features)})
	writeFile(t, filepath.Join(dir, "sc", "bu_att", "302.npz"), npz)
	writeFile(t, filepath.Join(dir, "sc", "bu_box", "302.npy"), feat.EncodeNPY("<f4", []int{12, 4}, okNPZ.Boxes))
	bads = append(bads, bad{"", 302, feat.ErrMissingKey})
	// A zip bomb (issue 16, finding 9): 64 KB that inflate to 64 MB of zeros, (1000000, 16)
	// float32; rejected by its declared size, never inflated.
	bomb, err := hostile.NPZBomb("feat", 1000000, testDim)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sc", "bu_att", "303.npz"), bomb)
	writeFile(t, filepath.Join(dir, "sc", "bu_box", "303.npy"), feat.EncodeNPY("<f4", []int{12, 4}, okNPZ.Boxes))
	bads = append(bads, bad{"", 303, feat.ErrTooLarge})

	p := params(func(p *Params) {
		p.Inputs, p.NumShards, p.FeatDim, p.ByteRangeSize = []string{filepath.Join(dir, "in"), filepath.Join(dir, "sc")}, 2, testDim, 4096
	})
	_, _, err = runStage(t, filepath.Join(dir, "root0"), p)
	if err == nil || !strings.Contains(err.Error(), "max_reject_fraction") {
		t.Fatalf("stage with rejects at max_reject_fraction 0: %v, want a max_reject_fraction error", err)
	}
	p.MaxRejectFraction = 0.9
	m, out, err := runStage(t, filepath.Join(dir, "root1"), p)
	if err != nil {
		t.Fatal(err)
	}
	rej := readRejects(t, out, 2)
	if len(rej) != len(bads) {
		t.Fatalf("%d rejects, want %d: %+v", len(rej), len(bads), rej)
	}
	for i, x := range bads {
		found := false
		for _, r := range rej {
			if r.ImageID == x.id && strings.Contains(r.Reason, x.reason.Error()) {
				found = true
				if x.line != "" && r.Record != fmt.Sprintf("line %d", i+1) {
					t.Errorf("bad record %d: reject record %q, want line %d", i, r.Record, i+1)
				}
				if x.line != "" && r.Source != filepath.Join(dir, "in")+"/b.tsv" {
					t.Errorf("bad record %d: source %q", i, r.Source)
				}
			}
		}
		if !found {
			t.Errorf("bad record %d (image %d): no reject with reason %q in %+v", i, x.id, x.reason, rej)
		}
	}
	if c := m.Info["counts"].(map[string]int64); c["read"] != int64(len(good)+1+len(bads)) || c["written"] != int64(len(good)+1) || c["rejected"] != int64(len(bads)) {
		t.Errorf("counts %v", c)
	}
	s, err := feat.OpenStore(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range append(good, okNPZ) {
		got, err := s.Get(context.Background(), r.ImageID)
		if err != nil {
			t.Fatal(err)
		}
		checkRecord(t, got, r, feat.DTypeFloat32)
	}
}

// unfinished is a temporary file of an interrupted write.
func unfinished(rel string) bool { return atomicfile.IsTemp(rel) }

// TestStageResume kills a shard writer half-way (leaving its temporary file, as kill -9 would),
// then reruns: the output must be byte-identical to an uninterrupted run, and shards finished
// before the crash must not be rewritten.
func TestStageResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := makeWorld(t, rng)
	p := params(func(p *Params) {
		p.Inputs, p.NumShards, p.RowsPerGroup, p.ByteRangeSize = []string{w.tsvDir, w.lxmert, w.npz}, 4, 2, 4096
	})
	clean := t.TempDir()
	if _, _, err := runStage(t, clean, p); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	restore := failShardHalfWay(t, 2)
	logs := t.TempDir()
	t.Setenv("TMPDIR", logs)
	var console bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&console, nil)))
	_, _, err := runStage(t, root, p)
	restore()
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("crashing run: %v, want the injected failure", err)
	}
	// Issue 16, finding 8: the cause first, in one line; the runner's report in a log file.
	msg := err.Error()
	cause := "stage features: features: pipeline: features: injected failure (test): shard 2 after "
	logFile := filepath.Join(logs, "groundcap-logs", "features-")
	if !strings.HasPrefix(msg, cause) || strings.Contains(msg, "\n") || !strings.Contains(msg, "(the runner's full report: "+logFile) {
		t.Errorf("crashing run: %q, want one line starting %q and naming a log under %s", msg, cause, logFile)
	} else if report, err := os.ReadFile(msg[strings.LastIndex(msg, ": ")+2 : len(msg)-1]); err != nil || !strings.Contains(string(report), "writeShardFn") ||
		!strings.Contains(string(report), "level=ERROR") {
		t.Errorf("the runner's report: %v\n%s", err, report)
	}
	if strings.Contains(console.String(), "level=ERROR") || strings.Contains(console.String(), "Plan[") {
		t.Errorf("the runner's dump reached the console:\n%s", console.String())
	}
	st, _ := Stage(p)
	e, _ := engine.New(root, []*engine.Stage{st}, engine.Options{ModuleVersion: "test"})
	status, err := e.Status(context.Background(), false)
	if err != nil || status[0].State == "fresh" {
		t.Fatalf("after the crash the stage is %+v, %v; want not fresh", status, err)
	}
	out := filepath.Join(root, "features", status[0].Key)
	if _, err := os.Stat(filepath.Join(out, shard.Name(feat.FeaturesTable, 2, 4))); err == nil {
		t.Fatal("the crashed shard exists")
	}
	before := map[string]int64{}
	for i := 0; i < 4; i++ {
		if fi, err := os.Stat(filepath.Join(out, shard.Name(feat.FeaturesTable, i, 4))); err == nil {
			before[fi.Name()] = fi.ModTime().UnixNano()
		}
	}
	t.Logf("shards finished before the crash: %d", len(before))
	if _, _, err := runStage(t, root, p); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		fi, err := os.Stat(filepath.Join(out, shard.Name(feat.FeaturesTable, i, 4)))
		if err != nil {
			t.Fatal(err)
		}
		if mt, ok := before[fi.Name()]; ok && fi.ModTime().UnixNano() != mt {
			t.Errorf("shard %d was rewritten on resume", i)
		}
	}
	treetest.Equal(t, treetest.Read(t, filepath.Join(clean, "features"), unfinished), treetest.Read(t, filepath.Join(root, "features"), unfinished))

	// Resume with one finished shard removed (and the manifest): only it is rewritten.
	if err := os.Remove(filepath.Join(out, shard.Name(feat.FeaturesTable, 1, 4))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(out, engine.ManifestName)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runStage(t, root, p); err != nil {
		t.Fatal(err)
	}
	treetest.Equal(t, treetest.Read(t, filepath.Join(clean, "features"), unfinished), treetest.Read(t, filepath.Join(root, "features"), unfinished))
}

// TestStageSynth runs the stage on a small synthetic world (internal/synth) and checks every
// row against the TSV it came from, and that every dataset image has features.
func TestStageSynth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := gen.Generate(ctx, gen.Options{Images: 40, Seed: 5, FeatDim: testDim, Boxes: 12, TSVFiles: 3, NoImages: true}, gen.DirSink(dir), nil); err != nil {
		t.Fatal(err)
	}
	m, out, err := runStage(t, t.TempDir(), params(func(p *Params) {
		p.Inputs, p.Dataset, p.ByteRangeSize = []string{filepath.Join(dir, "features")}, filepath.Join(dir, "dataset.json"), 8192
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := feat.OpenStore(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for k := 0; k < 3; k++ {
		data, err := os.ReadFile(filepath.Join(dir, gen.TSVName(k)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			var r feat.Raw
			if _, err := feat.ParseTSV(l, feat.LayoutAuto, &r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, r.ImageID)
			if err != nil {
				t.Fatal(err)
			}
			checkRecord(t, got, &r, feat.DTypeFloat32)
			n++
		}
	}
	if n != 40 || s.Len() != 40 {
		t.Fatalf("%d TSV rows, %d stored, want 40", n, s.Len())
	}
	miss, _ := json.Marshal(m.Info["missing_images"])
	if !strings.Contains(string(miss), `"images_missing":0`) || !strings.Contains(string(miss), `"images_known":40`) {
		t.Errorf("missing_images %s, want 40 images known, none missing", miss)
	}
	// Iterating a shard goes in increasing id order and covers the shard.
	for i := 0; i < s.NumShards(); i++ {
		sr, err := s.Shard(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		last := int64(math.MinInt64)
		for {
			rec, err := sr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.ImageID <= last {
				t.Fatalf("shard %d out of order", i)
			}
			last = rec.ImageID
		}
		sr.Close()
	}
}

func TestParamsValidate(t *testing.T) {
	for i, c := range []struct {
		p     Params
		field string
	}{
		{params(func(*Params) {}), "inputs"},                                                                                      // 0
		{params(func(p *Params) { p.Inputs, p.Layout = []string{"x"}, "csv" }), "layout"},                                         // 1
		{params(func(p *Params) { p.Inputs, p.Encoding, p.DType = []string{"x"}, "list", "float16" }), "dtype"},                   // 2
		{params(func(p *Params) { p.Inputs, p.MinBoxes, p.MaxBoxes = []string{"x"}, 50, 20 }), "max_boxes"},                       // 3
		{params(func(p *Params) { p.Inputs, p.MaxRejectFraction = []string{"x"}, 2 }), "max_reject_fraction"},                     // 4
		{params(func(p *Params) { p.Inputs, p.NumShards = []string{"x"}, -1 }), "num_shards"},                                     // 5
		{params(func(p *Params) { p.Inputs, p.Captions, p.Dataset = []string{"x"}, "@captions/captions", "d.json" }), "captions"}, // 6
		{params(func(p *Params) { p.Inputs, p.Encoding = []string{"x"}, "parquet" }), `encoding: "parquet" (want blob or list)`},  // 7
		{params(func(p *Params) { p.Inputs, p.DType = []string{"x"}, "" }), `dtype: "" (want float32 or float16)`},                // 8
	} {
		_, err := Stage(c.p)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%d: %v, want an error naming %s", i, err, c.field)
		}
	}
	st, err := Stage(params(func(p *Params) { p.Inputs, p.Captions = []string{"a", "b"}, "@captions/captions" }))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Inputs) != 3 || st.Inputs[1].Name != "input-1" || st.Inputs[2].Name != InputCaptions {
		t.Errorf("inputs %+v", st.Inputs)
	}
}

// TestMissingImagesCountsImages (issue 16, finding 5): the known ids are those of caption rows,
// several per image; missing_images counts images.
func TestMissingImagesCountsImages(t *testing.T) {
	known := []int64{5, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3}
	info, images, missing := missingImages("@captions/captions", known, []feat.IndexEntry{{ImageID: 1}, {ImageID: 4}})
	if images != 4 || info["images_known"] != 4 || info["images_missing"] != 3 || !slices.Equal(missing, []int64{2, 3, 5}) {
		t.Errorf("missing_images %v (%d images, missing %v), want 4 images known, 3 missing: 2, 3, 5", info, images, missing)
	}
}

// TestEmptyTSVFile (issue 16, finding 5): an empty TSV file among the inputs, or as the input, is
// an error naming it, not a source of zero records.
func TestEmptyTSVFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.tsv"), feat.AppendTSV(nil, randRaw(rng, 100, 12, false), feat.LayoutAnderson))
	writeFile(t, filepath.Join(dir, "in", "b.tsv"), nil)
	writeFile(t, filepath.Join(dir, "c.tsv"), nil)
	for i, c := range []struct{ input, want string }{
		{filepath.Join(dir, "in"), "b.tsv is empty"},   // 0
		{filepath.Join(dir, "c.tsv"), "file is empty"}, // 1
	} {
		_, _, err := runStage(t, filepath.Join(dir, fmt.Sprintf("root%d", i)), params(func(p *Params) { p.Inputs, p.NumShards, p.FeatDim = []string{c.input}, 2, testDim }))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.input) {
			t.Errorf("%d: %v, want an error naming %s: %q", i, err, c.input, c.want)
		}
	}
}

// params returns DefaultParams changed by set: a test states only what it changes.
func params(set func(*Params)) Params {
	p := DefaultParams()
	set(&p)
	return p
}
