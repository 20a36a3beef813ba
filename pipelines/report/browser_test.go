package report_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browserTimeout bounds one headless Chromium run (a safety net, not a measurement).
const browserTimeout = 2 * time.Minute

// chromiumPath returns a headless-capable Chromium, or skips the test when none is installed
// (Debian: apt-get install chromium; CI installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install chromium)")
	return ""
}

// runChromium runs headless Chromium on a local file with a fresh profile and no network use;
// extra gives the action (--dump-dom, --screenshot=…). It returns stdout.
func runChromium(t *testing.T, bin, file string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--hide-scrollbars"}
	args = append(append(args, extra...), "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	return stdout.Bytes()
}

// imageCheck, added before </body> of a copy of the page, records on <body> once the page has
// loaded how many images it has and how many did not decode (naturalWidth 0).
const imageCheck = `<script>
window.addEventListener("load", function () {
  var n = 0, broken = 0;
  for (const img of document.images) { n++; if (!img.complete || img.naturalWidth === 0) broken++; }
  document.body.setAttribute("data-images", n + "/" + broken);
});
</script>
`

// CheckInBrowser loads html in headless Chromium and checks that every image decodes, that the
// comparison table has rows rows and the gallery figures figures; it returns the DOM after load
// and a screenshot of the top of the page.
func checkInBrowser(t *testing.T, html []byte, rows, figures int) (dom string, shot image.Image) {
	t.Helper()
	bin := chromiumPath(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	i := bytes.LastIndex(html, []byte("</body>"))
	if i < 0 {
		t.Fatal("report.html has no </body>")
	}
	checked := append(append(append([]byte{}, html[:i]...), imageCheck...), html[i:]...)
	if err := os.WriteFile(page, checked, 0o644); err != nil {
		t.Fatal(err)
	}
	dom = string(runChromium(t, bin, page, "--dump-dom"))
	m := regexp.MustCompile(`<body data-images="(\d+)/(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not finish loading (no data-images on <body>):\n%.2000s", dom)
	}
	n, _ := strconv.Atoi(m[1])
	if m[2] != "0" {
		t.Errorf("%s of %d images did not load", m[2], n)
	}
	if want := figures + strings.Count(string(html), `<figure class="curve"`); n != want {
		t.Errorf("the browser saw %d images, want %d", n, want)
	}
	table := regexp.MustCompile(`(?s)<table id="comparison-table">.*?</table>`).FindString(dom)
	if got := strings.Count(table, "<tr data-stage="); got != rows {
		t.Errorf("the comparison table shows %d rows, want %d", got, rows)
	}
	gallery := regexp.MustCompile(`(?s)<section id="gallery">.*?</section>`).FindString(dom)
	if got := strings.Count(gallery, "<img "); got != figures {
		t.Errorf("the gallery shows %d pictures, want %d", got, figures)
	}
	shotFile := filepath.Join(dir, "shot.png")
	runChromium(t, bin, page, "--screenshot="+shotFile, "--window-size=1280,1000")
	data, err := os.ReadFile(shotFile)
	if err != nil {
		t.Fatal(err)
	}
	shot, err = png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return dom, shot
}

// TestHTMLInBrowser renders the test page in headless Chromium: every embedded picture decodes,
// the table and the gallery are there, and the screenshot shows the page (not a blank window).
func TestHTMLInBrowser(t *testing.T) {
	html, err := testPage(t).HTML()
	if err != nil {
		t.Fatal(err)
	}
	dom, shot := checkInBrowser(t, html, 3, 8)
	if !strings.Contains(dom, "Test &lt;report&gt;</h1>") {
		t.Error("the DOM lacks the title")
	}
	if b := shot.Bounds(); b.Dx() != 1280 || b.Dy() != 1000 {
		t.Errorf("screenshot %v, want 1280×1000", b)
	}
	// The page's background is #fafbfc; the title and table draw darker pixels in the top part.
	dark := 0
	for y := 0; y < 300; y++ {
		for x := 0; x < 800; x++ {
			r, g, b, _ := shot.At(x, y).RGBA()
			if r>>8 < 100 && g>>8 < 100 && b>>8 < 100 {
				dark++
			}
		}
	}
	if dark < 500 {
		t.Errorf("the screenshot's top has %d dark pixels: nothing drawn?", dark)
	}
}
