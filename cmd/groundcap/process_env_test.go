package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/groundcap/groundcap/internal/treetest"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// groundcapBinary builds the groundcap command once per test run and returns its path (TestMain
// removes it).
func groundcapBinary(tb testing.TB) string {
	tb.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "groundcap-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "groundcap")
		if out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		tb.Fatal(binaryErr)
	}
	return binaryPath
}

// processEnvConfig is a tiny chain through the four Beam stages (captions, features, align,
// evaluate-xe) and the training stages they need.
func processEnvConfig(root string) string {
	return "root: " + root + "\nseed: 3\n" +
		"synth: {images: 30, feat_dim: 16, boxes: 10, tsv_files: 2, no_images: true}\n" +
		"captions: {dataset: \"@synth/dataset.json\", entities: \"@synth\", class_names: \"@synth/class_names.txt\", split_ids: \"@synth/split_ids.json\", num_shards: 2}\n" +
		"features: {inputs: [\"@synth/features\"], num_shards: 2, captions: \"@captions/captions\"}\n" +
		"scan: {embed: 16, word_dim: 8, batch_size: 16, epochs: 1}\n" +
		"align: {teacher: scan}\n" +
		"caption-xe: {input_encoding: 16, rnn_size: 16, att_hid: 16, batch_images: 8, epochs: 1, ss_every: -1}\n" +
		"evaluate-xe: {class_names: \"@synth/class_names.txt\"}\n"
}

// TestProcessEnvironment runs the chain's Beam stages on prism's job server (the Job API a Flink
// job server speaks) with --runner=universal --environment_type=PROCESS: the job server starts
// the groundcap binary as each job's SDK worker, a separate process that gets its endpoints and
// options from the provision service, as a Flink task manager's PROCESS environment does. Every
// stage's output must equal, file by file, that of the in-process run.
func TestProcessEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chain twice with a separately built binary")
	}
	bin := groundcapBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatal(err)
	}

	runChain := func(name string, beamFlags ...string) string {
		root := filepath.Join(dir, name)
		cfg := writeNamed(t, dir, name+".yaml", processEnvConfig(root))
		cmd := exec.Command(bin, append([]string{"run", "--config", cfg}, beamFlags...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s run: %v\n%s", name, err, tail(string(out), 4000))
		}
		return root
	}
	local := runChain("local")
	remote := runChain("process", "--runner=universal", fmt.Sprintf("--endpoint=localhost:%d", port),
		"--environment_type=PROCESS", fmt.Sprintf(`--environment_config={"command": %q}`, bin), "--worker_binary="+bin)

	// Outputs live under <root>/<stage>/<key>/: the same keys, the same bytes. Work folders and
	// locks are the runs' own.
	skip := func(rel string) bool { return strings.Contains(rel, ".work") || strings.HasSuffix(rel, ".lock") }
	a, b := treetest.Read(t, local, skip), treetest.Read(t, remote, skip)
	for _, stage := range []string{"captions", "features", "align", "evaluate-xe"} {
		n := 0
		for rel := range a {
			if strings.HasPrefix(rel, stage+"/") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no output of %s in the in-process run", stage)
		}
	}
	treetest.Equal(t, a, b)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
