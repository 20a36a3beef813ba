package synth

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"sort"
	"sync"
)

// Palette layout: colour attributes, their shades, scene grounds, sky, outlines.
var colourRGB = [numColours][3]uint8{
	{200, 30, 30}, {40, 70, 210}, {40, 160, 50}, {240, 220, 40}, {25, 25, 25},
	{245, 245, 245}, {130, 80, 35}, {245, 140, 20}, {245, 150, 190}, {140, 140, 140},
}

var shadeRGB = [numColours][3]uint8{
	{120, 10, 10}, {20, 35, 120}, {20, 90, 25}, {170, 150, 10}, {100, 100, 100},
	{175, 175, 175}, {80, 45, 15}, {170, 85, 5}, {200, 90, 140}, {90, 90, 90},
}

const (
	palShade   = numColours
	palScene   = 2 * numColours
	palSky     = palScene + 6
	palOutline = palSky + 1
	palLight   = palOutline + 1
	skyFrac    = 0.3 // top fraction of the image drawn as sky
)

// palette is built once per Generate (it is read-only afterwards).
func newPalette() color.Palette {
	p := make(color.Palette, 0, palLight+1)
	for _, c := range colourRGB {
		p = append(p, color.RGBA{c[0], c[1], c[2], 255})
	}
	for _, c := range shadeRGB {
		p = append(p, color.RGBA{c[0], c[1], c[2], 255})
	}
	for _, s := range scenes {
		p = append(p, color.RGBA{s.rgb[0], s.rgb[1], s.rgb[2], 255})
	}
	p = append(p, color.RGBA{170, 210, 240, 255}, color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255})
	return p
}

// renderScratch is one worker's reusable drawing buffers.
type renderScratch struct {
	img  *image.Paletted
	mask []bool
	enc  png.Encoder
}

// pngPool shares PNG encoder buffers across workers (png.EncoderBufferPool).
type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	if b, ok := p.p.Get().(*png.EncoderBuffer); ok {
		return b
	}
	return nil
}
func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// inShape reports whether normalised point (u, v) ∈ [0,1]² lies inside shape.
func inShape(shape string, u, v float64) bool {
	disc := func(cu, cv, ru, rv float64) bool {
		du, dv := (u-cu)/ru, (v-cv)/rv
		return du*du+dv*dv <= 1
	}
	rect := func(u0, v0, u1, v1 float64) bool { return u >= u0 && u <= u1 && v >= v0 && v <= v1 }
	switch shape {
	case "figure": // head, body, two legs
		return disc(0.5, 0.12, 0.2, 0.12) || rect(0.2, 0.25, 0.8, 0.65) ||
			rect(0.25, 0.65, 0.45, 1) || rect(0.55, 0.65, 0.75, 1)
	case "dress": // head and a widening dress
		half := 0.12 + 0.38*(v-0.25)/0.75
		return disc(0.5, 0.12, 0.2, 0.12) || (v >= 0.25 && math.Abs(u-0.5) <= half)
	case "animal": // body, head, four legs
		return disc(0.45, 0.45, 0.38, 0.25) || disc(0.85, 0.25, 0.15, 0.18) ||
			(v >= 0.55 && (rect(0.12, 0, 0.2, 1) || rect(0.3, 0, 0.38, 1) || rect(0.55, 0, 0.63, 1) || rect(0.7, 0, 0.78, 1)))
	case "vehicle": // body, cabin, wheels
		return rect(0, 0.35, 1, 0.8) || rect(0.2, 0.05, 0.7, 0.35) || disc(0.22, 0.82, 0.12, 0.18) || disc(0.78, 0.82, 0.12, 0.18)
	case "wheels": // two rings and a frame
		ring := func(cu float64) bool { return disc(cu, 0.68, 0.22, 0.3) && !disc(cu, 0.68, 0.14, 0.2) }
		return ring(0.25) || ring(0.75) || rect(0.25, 0.3, 0.75, 0.4) || rect(0.45, 0.1, 0.52, 0.68)
	case "hull": // sail and hull
		return (v >= 0.6 && math.Abs(u-0.5) <= 0.5-0.2*(v-0.6)/0.4) || (v < 0.6 && u >= 0.45 && u <= 0.45+0.4*v/0.6)
	case "tshirt": // body with sleeves
		return rect(0.2, 0, 0.8, 1) || rect(0, 0, 1, 0.35)
	case "hat": // crown and brim
		return rect(0.2, 0, 0.8, 0.7) || rect(0, 0.7, 1, 1)
	case "guitar":
		return disc(0.5, 0.75, 0.45, 0.22) || disc(0.5, 0.48, 0.33, 0.14) || rect(0.42, 0, 0.58, 0.5)
	case "drum":
		return rect(0, 0.2, 1, 0.85) || disc(0.5, 0.2, 0.5, 0.18)
	case "ellipse":
		return disc(0.5, 0.5, 0.5, 0.5)
	case "tree": // canopy and trunk
		return (v <= 0.75 && math.Abs(u-0.5) <= 0.5*v/0.75) || rect(0.4, 0.75, 0.6, 1)
	case "table": // top and legs
		return rect(0, 0, 1, 0.3) || rect(0.05, 0.3, 0.15, 1) || rect(0.85, 0.3, 0.95, 1)
	case "chair": // back, seat, legs
		return rect(0.1, 0, 0.3, 0.6) || rect(0.1, 0.5, 0.9, 0.65) || rect(0.1, 0.65, 0.2, 1) || rect(0.8, 0.65, 0.9, 1)
	case "semicircle": // umbrella canopy and handle
		return (v <= 0.5 && disc(0.5, 0.5, 0.5, 0.5)) || rect(0.46, 0.5, 0.54, 1)
	case "diamond":
		return math.Abs(u-0.5)+math.Abs(v-0.5) <= 0.5
	case "flower": // blossom and stem
		return disc(0.5, 0.25, 0.5, 0.25) || rect(0.44, 0.5, 0.56, 1)
	case "bag": // body and handle
		return rect(0, 0.3, 1, 1) || (disc(0.5, 0.3, 0.3, 0.3) && !disc(0.5, 0.3, 0.18, 0.2) && v <= 0.3)
	case "sign": // board on a pole
		return rect(0, 0, 1, 0.55) || rect(0.45, 0.55, 0.55, 1)
	default: // "rect"
		return true
	}
}

// textured reports whether pixel (x, y) takes the shade colour of texture t.
func textured(t string, x, y int) bool {
	switch t {
	case "hstripes":
		return (y/4)%2 == 0
	case "vstripes":
		return (x/4)%2 == 0
	case "checker":
		return (x/6+y/6)%2 == 0
	case "dots":
		return x%6 < 2 && y%6 < 2
	case "diag":
		return ((x+y)/5)%2 == 0
	}
	return false
}

// render draws im into s.img and encodes it as PNG to w.
func render(im *imageData, pal color.Palette, s *renderScratch, w io.Writer) error {
	if s.img == nil || s.img.Rect.Dx() != im.w || s.img.Rect.Dy() != im.h {
		s.img = image.NewPaletted(image.Rect(0, 0, im.w, im.h), pal)
	}
	img := s.img
	sky := int(skyFrac * float64(im.h))
	for y := 0; y < im.h; y++ {
		idx := uint8(palScene + im.scene)
		if y < sky {
			idx = palSky
		}
		row := img.Pix[y*img.Stride : y*img.Stride+im.w]
		for x := range row {
			row[x] = idx
		}
	}
	// Big objects first so small ones stay visible; clothing after its wearer.
	order := make([]int, len(im.objects))
	for i := range order {
		order[i] = i
	}
	area := func(i int) int {
		b := im.objects[i].box
		a := (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
		if im.objects[i].parent >= 0 {
			a = -a // clothing last
		}
		return a
	}
	sort.SliceStable(order, func(a, b int) bool { return area(order[a]) > area(order[b]) })
	for _, i := range order {
		drawObject(img, im.objects[i], s)
	}
	return s.enc.Encode(w, img)
}

// drawObject rasterises one object: its shape filled with its colour, texture in the shade, and a
// one-pixel outline.
func drawObject(img *image.Paletted, o object, s *renderScratch) {
	spec := categories[o.cat]
	b := o.box
	w, h := b[2]-b[0]+1, b[3]-b[1]+1
	mw, mh := w+2, h+2
	if cap(s.mask) < mw*mh {
		s.mask = make([]bool, mw*mh)
	}
	mask := s.mask[:mw*mh]
	clear(mask)
	for y := 0; y < h; y++ {
		v := (float64(y) + 0.5) / float64(h)
		for x := 0; x < w; x++ {
			mask[(y+1)*mw+x+1] = inShape(spec.Shape, (float64(x)+0.5)/float64(w), v)
		}
	}
	fill, shade, line := uint8(o.colour), uint8(palShade+o.colour), uint8(palOutline)
	if o.colour == colBlack {
		line = palLight
	}
	for y := 0; y < h; y++ {
		py := b[1] + y
		row := img.Pix[py*img.Stride:]
		for x := 0; x < w; x++ {
			m := (y+1)*mw + x + 1
			if !mask[m] {
				continue
			}
			px := b[0] + x
			switch {
			case !mask[m-1] || !mask[m+1] || !mask[m-mw] || !mask[m+mw]:
				row[px] = line
			case textured(spec.Texture, px, py):
				row[px] = shade
			default:
				row[px] = fill
			}
		}
	}
}
