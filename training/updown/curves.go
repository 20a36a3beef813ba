package updown

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Curve image geometry (pixels).
const (
	curvePanelW = 420
	curvePanelH = 280
	curveMargin = 36
	glyphScale  = 2
)

// WriteCurves draws the training loss against the step (left panel) and the
// validation CIDEr-D against the epoch (right panel; empty without a
// validation hook) as a PNG at path, written atomically. It uses only the
// standard library's image packages, with a built-in 3×5 pixel font for the
// axis labels and ranges.
func WriteCurves(path string, h *History) (err error) {
	img := image.NewRGBA(image.Rect(0, 0, 2*curvePanelW, curvePanelH))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	xs := make([]float64, len(h.Steps))
	for i, s := range h.Steps {
		xs[i] = float64(s)
	}
	ex := make([]float64, len(h.Epochs))
	for i, e := range h.Epochs {
		ex[i] = float64(e)
	}
	drawPanel(img, 0, "LOSS", "STEP", xs, h.Loss, color.RGBA{0x1f, 0x77, 0xb4, 0xff})
	drawPanel(img, curvePanelW, "CIDER-D", "EPOCH", ex, h.ValCIDEr, color.RGBA{0xd6, 0x27, 0x28, 0xff})

	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("updown: curves: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err = png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("updown: curves: encoding %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("updown: curves: closing %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("updown: curves: %w", err)
	}
	return nil
}

// drawPanel draws one line chart with its frame, title and value ranges.
func drawPanel(img *image.RGBA, x0 int, title, xlabel string, xs, ys []float64, c color.RGBA) {
	grey := color.RGBA{0x60, 0x60, 0x60, 0xff}
	l, r := x0+curveMargin+24, x0+curvePanelW-curveMargin/2
	t, b := curveMargin, curvePanelH-curveMargin
	for x := l; x <= r; x++ {
		img.SetRGBA(x, b, grey)
		img.SetRGBA(x, t, grey)
	}
	for y := t; y <= b; y++ {
		img.SetRGBA(l, y, grey)
		img.SetRGBA(r, y, grey)
	}
	drawText(img, x0+curveMargin, 10, title, grey)
	drawText(img, (l+r)/2-len(xlabel)*4*glyphScale/2, b+20, xlabel, grey)
	if len(xs) == 0 {
		return
	}
	xmin, xmax := minMax(xs)
	ymin, ymax := minMax(ys)
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax = ymin + 1
	}
	drawText(img, x0+4, t, fmtNum(ymax), grey)
	drawText(img, x0+4, b-5*glyphScale, fmtNum(ymin), grey)
	drawText(img, l, b+6, fmtNum(xmin), grey)
	drawText(img, r-len(fmtNum(xmax))*4*glyphScale, b+6, fmtNum(xmax), grey)
	px := func(i int) (int, int) {
		x := l + int(math.Round((xs[i]-xmin)/(xmax-xmin)*float64(r-l)))
		y := b - int(math.Round((ys[i]-ymin)/(ymax-ymin)*float64(b-t)))
		return x, y
	}
	for i := range xs {
		x, y := px(i)
		if i == 0 || len(xs) < 40 {
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					img.SetRGBA(x+dx, y+dy, c)
				}
			}
		}
		if i > 0 {
			px0, py0 := px(i - 1)
			line(img, px0, py0, x, y, c)
		}
	}
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if lo > hi {
		return 0, 1
	}
	return lo, hi
}

func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e7 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// line draws a straight segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// glyphs is a 3×5 pixel font: each rune's rows top to bottom, 3 bits each
// (4 = left column).
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 1, 1},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'+': {0, 2, 7, 2, 0}, 'e': {7, 5, 7, 4, 7}, 'C': {7, 4, 4, 4, 7}, 'D': {6, 5, 5, 5, 6},
	'E': {7, 4, 7, 4, 7}, 'H': {5, 5, 7, 5, 5}, 'I': {7, 2, 2, 2, 7}, 'L': {4, 4, 4, 4, 7},
	'O': {7, 5, 5, 5, 7}, 'P': {7, 5, 7, 4, 4}, 'R': {7, 5, 6, 5, 5}, 'S': {7, 4, 7, 1, 7},
	'T': {7, 2, 2, 2, 2},
}

func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, ch := range s {
		g, ok := glyphs[ch]
		if ok {
			for row, bits := range g {
				for col := 0; col < 3; col++ {
					if bits&(4>>col) == 0 {
						continue
					}
					for dy := 0; dy < glyphScale; dy++ {
						for dx := 0; dx < glyphScale; dx++ {
							img.SetRGBA(x+col*glyphScale+dx, y+row*glyphScale+dy, c)
						}
					}
				}
			}
		}
		x += 4 * glyphScale
	}
}
