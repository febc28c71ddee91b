package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var strategyColors = map[string]color.Color{
	stratOpWait:   color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	stratWorkflow: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	stratRetry:    color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
}

// writePlot draws two panels into a PNG: left, every operation's detection lag against the
// GetOperation calls it took, one color per strategy; right, each strategy's p50 and p99 lag
// against its mean calls per operation.
func writePlot(rep *Report, file string) error {
	left := plot.New()
	left.Title.Text = fmt.Sprintf("Each operation (%d per strategy)", rep.Ops)
	left.X.Label.Text = "GetOperation calls for the operation"
	left.Y.Label.Text = "detection lag (s, API clock)"
	left.Legend.Top = true
	right := plot.New()
	right.Title.Text = "Per strategy: lag p50 (o) and p99 (^)"
	right.X.Label.Text = "GetOperation calls per operation (mean)"
	right.Y.Label.Text = "detection lag (s, API clock)"
	right.Legend.Top = true
	right.X.Min, right.Y.Min = 0, 0
	left.X.Min, left.Y.Min = 0, 0

	for _, r := range rep.Results {
		col := strategyColors[r.Strategy]
		var pts plotter.XYs
		for _, o := range r.PerOp {
			if o.Lag < 0 {
				continue
			}
			// Calls are integers: spread each column a little (deterministically) to show density.
			jitter := (float64((o.Index*7919)%101)/100 - 0.5) * 0.6
			pts = append(pts, plotter.XY{X: float64(o.Calls) + jitter, Y: o.Lag})
		}
		if len(pts) > 0 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = translucent(col)
			sc.GlyphStyle.Radius = vg.Points(1.5)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			left.Add(sc)
			left.Legend.Add(r.Label, sc)
		}
		for _, q := range []struct {
			lag   float64
			shape draw.GlyphDrawer
			name  string
		}{{r.LagP50, draw.CircleGlyph{}, "p50"}, {r.LagP99, draw.TriangleGlyph{}, "p99"}} {
			sc, err := plotter.NewScatter(plotter.XYs{{X: r.CallsPerOp, Y: q.lag}})
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = col
			sc.GlyphStyle.Radius = vg.Points(5)
			sc.GlyphStyle.Shape = q.shape
			right.Add(sc)
			if q.name == "p50" {
				right.Legend.Add(r.Label, sc)
			}
			lbl, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    []plotter.XY{{X: r.CallsPerOp, Y: q.lag}},
				Labels: []string{fmt.Sprintf("  %s %s", q.name, fmtSeconds(q.lag))},
			})
			if err != nil {
				return err
			}
			right.Add(lbl)
		}
	}
	left.Add(plotter.NewGrid())
	right.Add(plotter.NewGrid())
	// Room for the labels right of the points.
	right.X.Max = right.X.Max * 1.25
	right.Y.Max = right.Y.Max * 1.15

	const w, h = 30 * vg.Centimeter, 12 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	top := draw.Crop(dc, 0, 0, 0, -vg.Points(16))
	dc.FillText(draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 11), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter}, vg.Point{X: w / 2, Y: h - vg.Points(12)},
		fmt.Sprintf("Detection lag vs GetOperation calls: %d operations, %s, time scale %g", rep.Ops, rep.Distribution, rep.Scale))
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 8, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, top)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func translucent(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	const a = 0x80
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}
