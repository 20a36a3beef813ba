// Package picture draws a caption's attention on its image: each marked word's attended region
// outlined in its own colour and labelled with the word, the caption in a band below. The
// evaluate stage draws its test pictures with it and the training stages their TensorBoard
// attention images.
package picture

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Text is drawn with the 7×13 fixed-width face of golang.org/x/image/font/basicfont.
const (
	charW  = 7  // advance of one character, pixels
	lineH  = 13 // height of one line of text, pixels
	ascent = 11 // baseline below the top of a line
)

// textWidth returns the pixel width of s.
func textWidth(s string) int { return len([]rune(s)) * charW }

// drawText draws s with its top left at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y+ascent)}
	d.DrawString(s)
}

// palette gives each drawn word its colour.
var palette = []color.RGBA{
	{230, 25, 75, 255}, {60, 180, 75, 255}, {0, 130, 200, 255}, {245, 130, 48, 255},
	{145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255}, {210, 245, 60, 255},
}

// rectOutline draws a rectangle outline of width w.
func rectOutline(img *image.RGBA, r image.Rectangle, w int, c color.RGBA) {
	u := image.NewUniform(c)
	for _, s := range []image.Rectangle{
		image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+w), image.Rect(r.Min.X, r.Max.Y-w, r.Max.X, r.Max.Y),
		image.Rect(r.Min.X, r.Min.Y, r.Min.X+w, r.Max.Y), image.Rect(r.Max.X-w, r.Min.Y, r.Max.X, r.Max.Y),
	} {
		draw.Draw(img, s.Intersect(img.Bounds()), u, image.Point{}, draw.Src)
	}
}

// Word is one word drawn on a picture with the box (x1 y1 x2 y2, pixels) it attended.
type Word struct {
	Text string
	Box  [4]float32
}

// Draw draws caption below the picture and each of words' boxes on it, labelled with the word:
// the picture is src, or when src is nil a grey canvas of width × height, or of the boxes'
// extent (at least 64 × 64) when those are not positive. It returns the picture.
func Draw(src image.Image, width, height int, caption string, words []Word) *image.RGBA {
	w, h := width, height
	if src != nil {
		b := src.Bounds()
		w, h = b.Dx(), b.Dy()
	}
	if w <= 0 || h <= 0 {
		for _, m := range words {
			w, h = max(w, int(m.Box[2])+1), max(h, int(m.Box[3])+1)
		}
		w, h = max(w, 64), max(h, 64)
	}
	// The caption band: as many lines of text as the caption needs at this width.
	lineChars := max(1, (w-8)/charW)
	lines := wrap(caption, lineChars)
	band := 8 + len(lines)*(lineH+4)
	img := image.NewRGBA(image.Rect(0, 0, w, h+band))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	if src != nil {
		draw.Draw(img, image.Rect(0, 0, w, h), src, src.Bounds().Min, draw.Src)
	} else {
		draw.Draw(img, image.Rect(0, 0, w, h), image.NewUniform(color.RGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
	}
	for n, m := range words {
		c := palette[n%len(palette)]
		b := m.Box
		r := image.Rect(int(b[0]), int(b[1]), int(b[2])+1, int(b[3])+1)
		rectOutline(img, r, 2, c)
		lw, lh := textWidth(m.Text)+4, lineH+4
		lx, ly := r.Min.X, r.Min.Y-lh
		if ly < 0 {
			ly = r.Min.Y
		}
		lx = max(0, min(lx, w-lw))
		draw.Draw(img, image.Rect(lx, ly, lx+lw, ly+lh), image.NewUniform(c), image.Point{}, draw.Src)
		drawText(img, lx+2, ly+2, m.Text, color.RGBA{255, 255, 255, 255})
	}
	for i, l := range lines {
		drawText(img, 4, h+6+i*(lineH+4), l, color.RGBA{0, 0, 0, 255})
	}
	return img
}

// PNG is Draw encoded as PNG.
func PNG(src image.Image, width, height int, caption string, words []Word) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Draw(src, width, height, caption, words)); err != nil {
		return nil, fmt.Errorf("picture: %w", err)
	}
	return buf.Bytes(), nil
}

// wrap splits s into lines of at most n characters at spaces (longer words are cut).
func wrap(s string, n int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		for len(w) > n {
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			lines, w = append(lines, w[:n]), w[n:]
		}
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= n:
			cur += " " + w
		default:
			lines, cur = append(lines, cur), w
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// MostAttended returns the box (x1 y1 x2 y2) of the region with the largest weight in attention
// (the first of equal weights); boxes holds 4 values per region, as many regions as attention.
func MostAttended(attention, boxes []float32) [4]float32 {
	best := 0
	for i, a := range attention {
		if a > attention[best] {
			best = i
		}
	}
	var b [4]float32
	copy(b[:], boxes[4*best:4*best+4])
	return b
}
