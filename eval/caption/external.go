package caption

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrExternal marks a failure to run METEOR or SPICE: java or the jar is missing, or the jar failed
// or answered in an unexpected format. Test with errors.Is.
var ErrExternal = errors.New("caption: external scorer failed")

// External names the jars of the optional METEOR and SPICE scorers. The zero value computes neither;
// they are then reported as not computed, never approximated.
type External struct {
	// MeteorJar is the path of meteor-1.5.jar (coco-caption's copy; its paraphrase data must sit
	// beside it). Empty: METEOR is not computed.
	MeteorJar string
	// SpiceJar is the path of spice-1.0.jar (with its lib/ folder, as coco-caption ships it). Empty:
	// SPICE is not computed.
	SpiceJar string
	// Java is the java executable; empty means "java" looked up in PATH.
	Java string
	// SpiceCache is SPICE's parse cache folder; empty means a temporary folder removed afterwards.
	SpiceCache string
	// Context bounds the jars' run time; nil means context.Background().
	Context context.Context
}

// notComputed is the Reason of a metric whose jar was not given.
const notComputed = "not computed (no jar given)"

func (e External) ctx() context.Context {
	if e.Context != nil {
		return e.Context
	}
	return context.Background()
}

// java returns the java executable, checking that it and jar exist.
func (e External) java(metric, jar string) (string, error) {
	if _, err := os.Stat(jar); err != nil {
		return "", fmt.Errorf("%w: %s: jar %s: %w", ErrExternal, metric, jar, err)
	}
	name := e.Java
	if name == "" {
		name = "java"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s needs a Java runtime: %w", ErrExternal, metric, err)
	}
	return path, nil
}

// run computes the external metrics requested by e for the scored images and stores them in res.
func (e External) run(ids []int64, hyps []string, refs [][]string, res *Result) error {
	res.METEOR = ExternalStatus{Reason: notComputed}
	res.SPICE = ExternalStatus{Reason: notComputed}
	if e.MeteorJar != "" {
		per, corpus, err := e.meteor(hyps, refs)
		if err != nil {
			return err
		}
		for i := range per {
			res.PerImage[i].METEOR = per[i]
		}
		res.Corpus.METEOR = corpus
		res.METEOR = ExternalStatus{Computed: true}
	}
	if e.SpiceJar != "" {
		per, corpus, err := e.spice(ids, hyps, refs)
		if err != nil {
			return err
		}
		for i := range per {
			res.PerImage[i].SPICE = per[i]
		}
		res.Corpus.SPICE = corpus
		res.SPICE = ExternalStatus{Computed: true}
	}
	return nil
}

// meteorClean is coco-caption's cleaning of a METEOR input string.
func meteorClean(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|||", ""), "  ", " ")
}

// meteor runs coco-caption's METEOR protocol: java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en
// -norm; one "SCORE ||| ref … ||| hyp" line per image answered by a statistics line, then one "EVAL
// ||| stats …" line answered by the per-image scores and the corpus score.
func (e External) meteor(hyps []string, refs [][]string) ([]float64, float64, error) {
	java, err := e.java("METEOR", e.MeteorJar)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.CommandContext(e.ctx(), java, "-jar", "-Xmx2G", filepath.Base(e.MeteorJar), "-", "-", "-stdio", "-l", "en", "-norm")
	cmd.Dir = filepath.Dir(e.MeteorJar)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: METEOR: %w", ErrExternal, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: METEOR: %w", ErrExternal, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("%w: METEOR: %w", ErrExternal, err)
	}
	fail := func(err error) ([]float64, float64, error) {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, 0, fmt.Errorf("%w: METEOR: %w (stderr: %s)", ErrExternal, err, strings.TrimSpace(stderr.String()))
	}
	in := bufio.NewWriter(stdin)
	out := bufio.NewReader(stdout)
	readLine := func() (string, error) {
		l, err := out.ReadString('\n')
		if err != nil && !(err == io.EOF && l != "") {
			return "", err
		}
		return strings.TrimSpace(l), nil
	}
	stats := make([]string, len(hyps))
	for i := range hyps {
		cleaned := make([]string, len(refs[i]))
		for j, r := range refs[i] {
			cleaned[j] = meteorClean(r)
		}
		line := "SCORE ||| " + strings.Join(cleaned, " ||| ") + " ||| " + meteorClean(hyps[i])
		if _, err := in.WriteString(line + "\n"); err != nil {
			return fail(err)
		}
		if err := in.Flush(); err != nil {
			return fail(err)
		}
		if stats[i], err = readLine(); err != nil {
			return fail(fmt.Errorf("reading statistics of image %d: %w", i, err))
		}
	}
	if _, err := in.WriteString("EVAL ||| " + strings.Join(stats, " ||| ") + "\n"); err != nil {
		return fail(err)
	}
	if err := in.Flush(); err != nil {
		return fail(err)
	}
	per := make([]float64, len(hyps))
	for i := range per {
		l, err := readLine()
		if err != nil {
			return fail(err)
		}
		if per[i], err = strconv.ParseFloat(l, 64); err != nil {
			return fail(fmt.Errorf("score line %d: %w", i+1, err))
		}
	}
	l, err := readLine()
	if err != nil {
		return fail(err)
	}
	corpus, err := strconv.ParseFloat(l, 64)
	if err != nil {
		return fail(fmt.Errorf("corpus score line: %w", err))
	}
	if err := stdin.Close(); err != nil {
		return fail(err)
	}
	if err := cmd.Wait(); err != nil {
		return nil, 0, fmt.Errorf("%w: METEOR: %w (stderr: %s)", ErrExternal, err, strings.TrimSpace(stderr.String()))
	}
	return per, corpus, nil
}

// spice runs coco-caption's SPICE protocol: a JSON list of {image_id, test, refs} in a temporary
// file, java -jar -Xmx8G spice-1.0.jar IN -cache DIR -out OUT -subset -silent, and the mean of each
// image's scores.All.f.
func (e External) spice(ids []int64, hyps []string, refs [][]string) ([]float64, float64, error) {
	java, err := e.java("SPICE", e.SpiceJar)
	if err != nil {
		return nil, 0, err
	}
	tmp, err := os.MkdirTemp("", "groundcap-spice-")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: %w", ErrExternal, err)
	}
	defer os.RemoveAll(tmp)
	type item struct {
		ImageID int64    `json:"image_id"`
		Test    string   `json:"test"`
		Refs    []string `json:"refs"`
	}
	items := make([]item, len(ids))
	for i := range ids {
		items[i] = item{ids[i], hyps[i], refs[i]}
	}
	data, err := json.Marshal(items)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: %w", ErrExternal, err)
	}
	inPath := filepath.Join(tmp, "in.json")
	outPath := filepath.Join(tmp, "out.json")
	if err := os.WriteFile(inPath, data, 0o644); err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: %w", ErrExternal, err)
	}
	cache := e.SpiceCache
	if cache == "" {
		cache = filepath.Join(tmp, "cache")
	}
	cmd := exec.CommandContext(e.ctx(), java, "-jar", "-Xmx8G", e.SpiceJar, inPath, "-cache", cache, "-out", outPath, "-subset", "-silent")
	cmd.Dir = filepath.Dir(e.SpiceJar)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: %w (output: %s)", ErrExternal, err, strings.TrimSpace(string(b)))
	}
	outData, err := os.ReadFile(outPath)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: %w", ErrExternal, err)
	}
	var results []struct {
		ImageID json.Number `json:"image_id"`
		Scores  struct {
			All struct {
				F *float64 `json:"f"`
			} `json:"All"`
		} `json:"scores"`
	}
	if err := json.Unmarshal(outData, &results); err != nil {
		return nil, 0, fmt.Errorf("%w: SPICE: output %s: %w", ErrExternal, outPath, err)
	}
	byID := make(map[string]float64, len(results))
	for _, r := range results {
		if r.Scores.All.F == nil {
			return nil, 0, fmt.Errorf("%w: SPICE: output for image %s has no scores.All.f", ErrExternal, r.ImageID)
		}
		byID[r.ImageID.String()] = *r.Scores.All.F
	}
	per := make([]float64, len(ids))
	var sum float64
	for i, id := range ids {
		v, ok := byID[strconv.FormatInt(id, 10)]
		if !ok {
			return nil, 0, fmt.Errorf("%w: SPICE: no output for image %d", ErrExternal, id)
		}
		per[i] = v
		sum += v
	}
	return per, sum / float64(len(ids)), nil
}
