package evaluate

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // the images directory may hold JPEGs
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

// Marked is one word drawn on a picture: the word and its index in the caption.
type Marked struct {
	Index int
	Word  string
}

// DrawPicture draws the decoded caption's marked words' attended boxes on the image (nil: a grey
// canvas of the decode's width and height, or the boxes' extent when unknown), each box labelled
// with its word, and the caption in a band below. It returns PNG bytes.
func DrawPicture(src image.Image, d *Decode, marked []Marked) ([]byte, error) {
	w, h := int(d.Width), int(d.Height)
	if src != nil {
		b := src.Bounds()
		w, h = b.Dx(), b.Dy()
	}
	if w <= 0 || h <= 0 {
		for i := range d.Tokens {
			b := d.Box(i)
			w, h = max(w, int(b[2])+1), max(h, int(b[3])+1)
		}
		w, h = max(w, 64), max(h, 64)
	}
	// The caption band: as many lines of text as the caption needs at this width.
	lineChars := max(1, (w-8)/charW)
	lines := wrap(d.Caption, lineChars)
	band := 8 + len(lines)*(lineH+4)
	img := image.NewRGBA(image.Rect(0, 0, w, h+band))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	if src != nil {
		draw.Draw(img, image.Rect(0, 0, w, h), src, src.Bounds().Min, draw.Src)
	} else {
		draw.Draw(img, image.Rect(0, 0, w, h), image.NewUniform(color.RGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
	}
	for n, m := range marked {
		if m.Index < 0 || m.Index >= len(d.Tokens) {
			return nil, fmt.Errorf("evaluate: image %d: marked word %d outside the caption", d.ImageID, m.Index)
		}
		c := palette[n%len(palette)]
		b := d.Box(m.Index)
		r := image.Rect(int(b[0]), int(b[1]), int(b[2])+1, int(b[3])+1)
		rectOutline(img, r, 2, c)
		lw, lh := textWidth(m.Word)+4, lineH+4
		lx, ly := r.Min.X, r.Min.Y-lh
		if ly < 0 {
			ly = r.Min.Y
		}
		lx = max(0, min(lx, w-lw))
		draw.Draw(img, image.Rect(lx, ly, lx+lw, ly+lh), image.NewUniform(c), image.Point{}, draw.Src)
		drawText(img, lx+2, ly+2, m.Word, color.RGBA{255, 255, 255, 255})
	}
	for i, l := range lines {
		drawText(img, 4, h+6+i*(lineH+4), l, color.RGBA{0, 0, 0, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("evaluate: picture of image %d: %w", d.ImageID, err)
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
