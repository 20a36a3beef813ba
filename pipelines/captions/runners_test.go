package captions

import (
	"context"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/groundcap/groundcap/internal/treetest"
)

// setFlags sets Beam's process-wide flags for one test and restores them afterwards.
func setFlags(t *testing.T, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		f := flag.CommandLine.Lookup(k)
		if f == nil {
			t.Fatalf("no flag --%s", k)
		}
		old := f.Value.String()
		if err := flag.Set(k, v); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(k, old) })
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestJobServer submits the pipeline to prism's standalone Job API server (the server of
// cmd/prism, the protocol a Flink job server speaks) with --runner=universal in LOOPBACK mode and
// checks the outputs equal the in-process run's bytes.
func TestJobServer(t *testing.T) {
	ctx := context.Background()
	w := smallWorld(t)
	local := filepath.Join(w.dir, "local")
	if _, err := runWorld(t, w, local, params(func(p *Params) { p.WordCountThreshold = 1 })); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := prism.CreateJobServer(cctx, prism.Options{Port: port}); err != nil {
		t.Fatal(err)
	}
	setFlags(t, map[string]string{"runner": "universal", "endpoint": fmt.Sprintf("localhost:%d", port), "environment_type": "LOOPBACK"})
	remote := filepath.Join(w.dir, "remote")
	if _, err := runWorld(t, w, remote, params(func(p *Params) { p.WordCountThreshold = 1 })); err != nil {
		t.Fatal(err)
	}
	a, b := treetest.Read(t, local, nil), treetest.Read(t, remote, nil)
	if len(a) < 5 {
		t.Fatalf("only %d files", len(a))
	}
	treetest.Equal(t, a, b)
}

// logCapture collects Beam log lines.
type logCapture struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logCapture) Log(_ context.Context, _ beamlog.Severity, _ int, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(msg)
	l.buf.WriteByte('\n')
}

// TestDataflowDryRun builds the Dataflow job offline (--dry_run) and checks that it names every
// transform of the pipeline.
func TestDataflowDryRun(t *testing.T) {
	w := smallWorld(t)
	setFlags(t, map[string]string{"project": "groundcap-test", "region": "europe-west1", "staging_location": "gs://groundcap-test/staging", "dry_run": "true", "environment_type": "DOCKER"})
	capture := &logCapture{}
	beamlog.SetLogger(capture)
	t.Cleanup(func() { beamlog.SetLogger(&beamlog.Standard{}) })
	p, s := beam.NewPipelineWithRoot()
	Build(s, Locations{Dataset: w.dataset, Entities: w.entities, ClassNames: w.classNames, Out: "gs://groundcap-test/out"}, params(func(p *Params) { p.Dataset = w.dataset }))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := beam.Run(ctx, "dataflow", p); err != nil {
		t.Fatal(err)
	}
	job := capture.buf.String()
	// The translated job (runner v2: the pipeline travels as its portable model, printed above it).
	if !strings.Contains(job, "Dry-run: not submitting job!") || !strings.Contains(job, `"projectId": "groundcap-test"`) ||
		!strings.Contains(job, `"region": "europe-west1"`) {
		t.Fatalf("no Dataflow job printed:\n%.2000s", job)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`unique_name:"([^"]+)"`).FindAllStringSubmatch(job, -1) {
		names[m[1]] = true
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	// Every transform the stage defines, by its full name.
	for _, want := range []string{
		"captions/Read/captions.ReadFn", "captions/ListEntities/captions.ListEntitiesFn", "captions/captions.shardSeed",
		"captions/GroupByShard/CoGBK", "captions/WriteShards/captions.ShardFn", "captions/vocab.Count/CombinePerKey/vocab.CountFn",
		"captions/rejects.Write/rejects.WriteFn", "captions/DocFreq/vocab.Sum/CombinePerKey/vocab.SumFn", "captions/Finalize/captions.FinalizeFn",
	} {
		if !names[want] {
			t.Errorf("the Dataflow job has no transform %s; it has:\n%s", want, strings.Join(list, "\n"))
		}
	}
}
