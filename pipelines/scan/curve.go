package scan

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Curve picture geometry (pixels).
const (
	curveW, curveH = 800, 520
	curveMargin    = 56
	glyphScale     = 2
)

var (
	colBG    = color.RGBA{255, 255, 255, 255}
	colAxis  = color.RGBA{0, 0, 0, 255}
	colGrid  = color.RGBA{225, 225, 225, 255}
	colRaw   = color.RGBA{190, 200, 225, 255}
	colMean  = color.RGBA{30, 70, 180, 255}
	colRSum  = color.RGBA{200, 40, 40, 255}
	colLabel = color.RGBA{60, 60, 60, 255}
)

// DrawCurve writes a PNG with two panels: the training loss of every step (light) with its
// running mean over a window of about 2% of the steps (dark) above, and the val rsum of every
// validation against its step below. Each panel is labelled with its name and the values of its
// top and bottom grid lines; the x axis of both is the step, 0 … the last step.
func DrawCurve(w io.Writer, loss []float32, val []EpochVal) error {
	img := image.NewRGBA(image.Rect(0, 0, curveW, curveH))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBG}, image.Point{}, draw.Src)
	steps := float64(max(len(loss), 1))
	for _, v := range val {
		steps = max(steps, float64(v.Step))
	}
	half := (curveH - 3*curveMargin/2) / 2
	top := image.Rect(curveMargin, curveMargin/2, curveW-curveMargin/2, curveMargin/2+half)
	bot := image.Rect(curveMargin, top.Max.Y+curveMargin/2+10, curveW-curveMargin/2, curveH-curveMargin/2-10)

	// Loss panel.
	ys := make([]float64, len(loss))
	for i, l := range loss {
		ys[i] = float64(l)
	}
	lo, hi := bounds(ys)
	panel(img, top, "LOSS", lo, hi, steps)
	xs := make([]float64, len(loss))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	polyline(img, top, xs, ys, 0, steps, lo, hi, colRaw)
	win := max(1, len(ys)/50)
	mean := make([]float64, len(ys))
	var s float64
	for i, y := range ys {
		s += y
		if i >= win {
			s -= ys[i-win]
		}
		mean[i] = s / float64(min(i+1, win))
	}
	polyline(img, top, xs, mean, 0, steps, lo, hi, colMean)

	// rsum panel.
	vx := make([]float64, len(val))
	vy := make([]float64, len(val))
	for i, v := range val {
		vx[i], vy[i] = float64(v.Step), v.RSum
	}
	lo, hi = bounds(vy)
	panel(img, bot, "RSUM", lo, hi, steps)
	polyline(img, bot, vx, vy, 0, steps, lo, hi, colRSum)
	for i := range vx {
		x, y := project(bot, vx[i], vy[i], 0, steps, lo, hi)
		fill(img, image.Rect(x-2, y-2, x+3, y+3), colRSum)
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("scan: curve: %w", err)
	}
	return nil
}

// bounds returns the range of ys, widened when flat or empty.
func bounds(ys []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, y := range ys {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			lo, hi = min(lo, y), max(hi, y)
		}
	}
	if lo > hi {
		return 0, 1
	}
	if hi-lo < 1e-9 {
		return lo - 0.5, hi + 0.5
	}
	return lo, hi
}

func project(r image.Rectangle, x, y, x0, x1, y0, y1 float64) (int, int) {
	px := float64(r.Min.X) + (x-x0)/(x1-x0)*float64(r.Dx()-1)
	py := float64(r.Max.Y-1) - (y-y0)/(y1-y0)*float64(r.Dy()-1)
	return int(math.Round(px)), int(math.Round(py))
}

// panel draws the frame, four grid lines, the title and the y labels of a panel.
func panel(img *image.RGBA, r image.Rectangle, title string, lo, hi, steps float64) {
	for k := 1; k < 4; k++ {
		y := r.Min.Y + k*r.Dy()/4
		fill(img, image.Rect(r.Min.X, y, r.Max.X, y+1), colGrid)
	}
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), colAxis)
	fill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), colAxis)
	text(img, r.Min.X+8, r.Min.Y+4, title, colLabel)
	text(img, 2, r.Min.Y, short(hi), colLabel)
	text(img, 2, r.Max.Y-5*glyphScale, short(lo), colLabel)
	text(img, r.Max.X-len(short(steps))*4*glyphScale, r.Max.Y+4, short(steps), colLabel)
	text(img, r.Min.X, r.Max.Y+4, "0", colLabel)
}

func short(v float64) string {
	s := strconv.FormatFloat(v, 'g', 4, 64)
	if len(s) > 7 {
		s = strconv.FormatFloat(v, 'e', 1, 64)
	}
	return s
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r.Intersect(img.Bounds()), &image.Uniform{c}, image.Point{}, draw.Src)
}

// polyline draws the points (xs[i], ys[i]) joined by straight segments.
func polyline(img *image.RGBA, r image.Rectangle, xs, ys []float64, x0, x1, y0, y1 float64, c color.RGBA) {
	px, py := -1, -1
	for i := range xs {
		if math.IsNaN(ys[i]) || math.IsInf(ys[i], 0) {
			px = -1
			continue
		}
		x, y := project(r, xs[i], ys[i], x0, x1, y0, y1)
		if px >= 0 {
			line(img, px, py, x, y, c)
		} else {
			img.SetRGBA(x, y, c)
		}
		px, py = x, y
	}
}

// line draws a segment with Bresenham's algorithm.
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
		} else if e2 <= dx {
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

// glyphs is a 3×5 pixel font for the labels (rows top to bottom, bit 2 = left column).
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 1, 1},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'+': {0, 2, 7, 2, 0}, 'e': {0, 7, 7, 4, 7}, 'L': {4, 4, 4, 4, 7}, 'O': {7, 5, 5, 5, 7},
	'S': {7, 4, 7, 1, 7}, 'R': {6, 5, 6, 5, 5}, 'U': {5, 5, 5, 5, 7}, 'M': {5, 7, 7, 5, 5},
}

// text draws s at (x, y) (top left) with the 3×5 font scaled by glyphScale.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, ch := range s {
		g := glyphs[ch]
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) != 0 {
					fill(img, image.Rect(x+col*glyphScale, y+row*glyphScale, x+(col+1)*glyphScale, y+(row+1)*glyphScale), c)
				}
			}
		}
		x += 4 * glyphScale
	}
}
