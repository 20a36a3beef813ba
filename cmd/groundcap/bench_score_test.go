package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groundcap/groundcap/internal/peers"
	"github.com/groundcap/groundcap/internal/treetest"
)

// BenchmarkScoreProcess measures 'groundcap score' as a whole process (start, streaming JSON
// decoding, BLEU-1..4, ROUGE-L, CIDEr-D, the table, exit) against the coco-caption peer
// (scripts/bench/coco_caption_peer.py: pycocoevalcap itself when it imports, else the same work in
// Python and NumPy) on the same files: 5,000 images × 5 references, pre-tokenised captions of 8–16
// words drawn from a Zipf(1.1) distribution over 10,000 words. "groundcap" is the launcher that
// make build installs as bin/groundcap (cmd/groundcap-launcher); "core" is this package's complete
// command, which scores the same way after its heavier package initialisation. Each iteration runs
// the three, one after the other, so that the ratio compares them under the same load; all must
// agree on every corpus score (the peer to 1e-9). Without Python and NumPy the peer is left out.
//
//	go test -run XXX -bench ScoreProcess -benchtime 5x ./cmd/groundcap
func BenchmarkScoreProcess(b *testing.B) {
	dir := b.TempDir()
	core := groundcapBinary(b)
	launcher := filepath.Join(dir, "groundcap")
	if out, err := exec.Command("go", "build", "-o", launcher, "../groundcap-launcher").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	refs, preds := writeScoreCorpus(b, dir, 5000, 5, 1)
	py := peers.NumpyPython()
	script := peers.Script(b, "coco_caption_peer.py")
	if py == "" {
		b.Log(peers.SkipReason, ": timing groundcap alone")
	}
	var ours, coreWall, theirs, oursCPU, coreCPU, theirsCPU time.Duration
	for b.Loop() {
		out := filepath.Join(dir, "m.json")
		wall, cpu, _ := timeProcess(b, launcher, "score", "--refs", refs, "--preds", preds, "--tokenize=false", "--out", out)
		ours, oursCPU = ours+wall, oursCPU+cpu
		got := readCorpus(b, out)
		wall, cpu, _ = timeProcess(b, core, "score", "--refs", refs, "--preds", preds, "--tokenize=false", "--out", out)
		coreWall, coreCPU = coreWall+wall, coreCPU+cpu
		if fromCore := readCorpus(b, out); fmt.Sprint(fromCore) != fmt.Sprint(got) {
			b.Fatalf("the complete command scored %v, the launcher %v", fromCore, got)
		}
		if py == "" {
			continue
		}
		wall, cpu, stdout := timeProcess(b, py, script, "--refs", refs, "--preds", preds)
		theirs, theirsCPU = theirs+wall, theirsCPU+cpu
		var peer struct {
			Impl   string
			Images int
			Scores map[string]float64
		}
		if err := json.Unmarshal(stdout, &peer); err != nil || peer.Images != 5000 {
			b.Fatalf("peer output %q: %v", stdout, err)
		}
		for k, v := range peer.Scores {
			if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9*math.Max(1, math.Abs(v)) {
				b.Fatalf("%s: groundcap %v, peer (%s) %v", k, got[k], peer.Impl, v)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "groundcap-s/op")
	b.ReportMetric(oursCPU.Seconds()/n, "groundcap-cpu-s/op")
	b.ReportMetric(coreWall.Seconds()/n, "core-s/op")
	b.ReportMetric(coreCPU.Seconds()/n, "core-cpu-s/op")
	if theirs > 0 {
		b.ReportMetric(theirs.Seconds()/n, "peer-s/op")
		b.ReportMetric(theirsCPU.Seconds()/n, "peer-cpu-s/op")
		b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
		b.ReportMetric(theirsCPU.Seconds()/oursCPU.Seconds(), "speedup-cpu")
	}
}

// timeProcess runs name with args and returns its wall-clock and CPU (user + system) time and
// its standard output.
func timeProcess(b *testing.B, name string, args ...string) (wall, cpu time.Duration, stdout []byte) {
	b.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	wall = time.Since(start)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return wall, cpu, out.Bytes()
}

// readCorpus returns the corpus scores of a 'groundcap score --out' file.
func readCorpus(b *testing.B, path string) map[string]float64 {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var m struct {
		Corpus map[string]any `json:"corpus"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		b.Fatal(err)
	}
	got := map[string]float64{}
	for k, v := range m.Corpus {
		if f, ok := v.(float64); ok {
			got[k] = f
		}
	}
	return got
}

// writeScoreCorpus writes a COCO annotation file and a COCO results file of nImages images with
// nRefs references and one prediction each: 8–16 words from a Zipf(1.1) law over 10,000 words,
// fixed seed.
func writeScoreCorpus(b *testing.B, dir string, nImages, nRefs int, seed uint64) (refsPath, predsPath string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	zipf := rand.NewZipf(rng, 1.1, 1, 9999)
	sent := func() string {
		w := make([]string, 8+rng.IntN(9))
		for i := range w {
			w[i] = fmt.Sprintf("w%d", zipf.Uint64())
		}
		return strings.Join(w, " ")
	}
	type ann struct {
		ImageID int64  `json:"image_id"`
		ID      int    `json:"id,omitempty"`
		Caption string `json:"caption"`
	}
	type img struct {
		ID int64 `json:"id"`
	}
	var refs struct {
		Images      []img `json:"images"`
		Annotations []ann `json:"annotations"`
	}
	var preds []ann
	for i := range nImages {
		id := int64(1000 + i)
		refs.Images = append(refs.Images, img{id})
		for range nRefs {
			refs.Annotations = append(refs.Annotations, ann{ImageID: id, ID: len(refs.Annotations) + 1, Caption: sent()})
		}
		preds = append(preds, ann{ImageID: id, Caption: sent()})
	}
	write := func(name string, v any) string { return treetest.WriteJSON(b, dir, name, v) }
	return write("captions_5k.json", refs), write("results_5k.json", preds)
}
