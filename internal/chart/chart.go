// Package chart draws training curves as PNG images with gonum.org/v1/plot: one or more panels
// stacked vertically, each with its own lines, sharing nothing but the image.
package chart

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one line of a panel.
type Series struct {
	Name   string // legend entry ("" for none)
	X, Y   []float64
	Color  color.Color // nil: a colour chosen by position
	Points bool        // mark each point (for sparse series such as per-epoch validation)
}

// Panel is one plot.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// palette colours series that do not set their own.
var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

// WritePNG draws the panels one above the other into a width×height pixel PNG. A series with
// no points is skipped; a panel with no points at all still shows its title and axes.
func WritePNG(w io.Writer, width, height int, panels ...Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("chart: no panels")
	}
	rows := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.X.Label.Text = pn.XLabel
		p.Y.Label.Text = pn.YLabel
		p.Add(plotter.NewGrid())
		for j, s := range pn.Series {
			if len(s.X) != len(s.Y) {
				return fmt.Errorf("chart: panel %q series %q: %d x values, %d y values", pn.Title, s.Name, len(s.X), len(s.Y))
			}
			if len(s.X) == 0 {
				continue
			}
			xy := make(plotter.XYs, len(s.X))
			for k := range s.X {
				xy[k].X, xy[k].Y = s.X[k], s.Y[k]
			}
			c := s.Color
			if c == nil {
				c = palette[j%len(palette)]
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("chart: panel %q series %q: %w", pn.Title, s.Name, err)
			}
			l.Color = c
			l.Width = vg.Points(1.2)
			p.Add(l)
			if s.Name != "" {
				p.Legend.Add(s.Name, l)
			}
			if s.Points {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return fmt.Errorf("chart: panel %q series %q: %w", pn.Title, s.Name, err)
				}
				sc.Color = c
				sc.Shape = draw.CircleGlyph{}
				p.Add(sc)
			}
		}
		p.Legend.Top = true
		rows[i] = []*plot.Plot{p}
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(width)*vg.Inch/96, vg.Length(height)*vg.Inch/96), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("chart: png: %w", err)
	}
	return nil
}
