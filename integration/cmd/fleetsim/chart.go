package main

import (
	"image/color"
	"os"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// panel is one scenario in the chart: vendor requests per second over the
// run, one line per mode, with the scenario's event shaded.
type panel struct {
	Title              string
	Bin                time.Duration
	Series             []series
	ShadeFrom, ShadeTo float64 // seconds from the start; equal: no shading
}

type series struct {
	Name      string
	PerSecond []float64
}

// colour is a series' line colour, by its mode: one replica alone grey,
// independent red, fleet blue, any other fleet run green.
func colour(name string) color.RGBA {
	switch {
	case strings.HasPrefix(name, modeOne):
		return color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
	case strings.HasPrefix(name, modeIndep):
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	case strings.HasPrefix(name, modeFleet+" ("):
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	}
	return color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
}

// renderChart draws the panels one above the other into a PNG file.
func renderChart(path string, panels []panel) error {
	if len(panels) == 0 {
		return nil
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.X.Label.Text = "seconds since the load started"
		p.Y.Label.Text = "vendor requests / s"
		p.X.Min, p.Y.Min = 0, 0
		p.Legend.Top = true
		top := 1.0
		for _, s := range pn.Series {
			for _, v := range s.PerSecond {
				top = max(top, v)
			}
		}
		p.Y.Max = 1.3 * top // room for the legend
		if pn.ShadeTo > pn.ShadeFrom {
			shade, err := plotter.NewPolygon(plotter.XYs{
				{X: pn.ShadeFrom, Y: 0}, {X: pn.ShadeTo, Y: 0}, {X: pn.ShadeTo, Y: top}, {X: pn.ShadeFrom, Y: top},
			})
			if err != nil {
				return err
			}
			shade.Color = color.RGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}
			shade.LineStyle.Width = 0
			p.Add(shade)
		}
		for _, s := range pn.Series {
			xys := make(plotter.XYs, len(s.PerSecond))
			for k, v := range s.PerSecond {
				xys[k] = plotter.XY{X: (float64(k) + 0.5) * pn.Bin.Seconds(), Y: v}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			l.Color = colour(s.Name)
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(s.Name, l)
		}
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(vg.Points(720), vg.Points(250*float64(len(panels))))
	dc := draw.New(img)
	canvases := plot.Align(plots, draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
