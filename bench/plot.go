package main

import (
	"fmt"
	"image/color"
	"os"
	"sort"

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

// variantColors are the colors of the policy variants, in order.
var variantColors = []color.Color{
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
	color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
	color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, // cyan
	color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
}

// writePlot draws three panels into a PNG: the distribution (CDF) of the detection lag per
// strategy; the GetOperation calls each operation took against its length; and each strategy's
// p50 and p99 lag against its mean calls per operation.
func writePlot(rep *Report, file string) error {
	cdf, left, right := newPlots()
	others := 0
	for _, r := range rep.Results {
		col, ok := strategyColors[r.Strategy]
		if !ok { // variants
			col = variantColors[others%len(variantColors)]
			others++
		}
		if err := addCostScatter(left, r, col); err != nil {
			return err
		}
		if err := addLagCDF(cdf, r, col); err != nil {
			return err
		}
		if err := addLagPoints(right, r, col); err != nil {
			return err
		}
	}
	cdf.Add(plotter.NewGrid())
	left.Add(plotter.NewGrid())
	right.Add(plotter.NewGrid())
	// Room for the labels right of the points.
	right.X.Max = right.X.Max * 1.25
	right.Y.Max = right.Y.Max * 1.15
	return savePlots(rep, file, cdf, left, right)
}

// newPlots are the three empty plots: the lag CDF, the cost per operation, lag versus calls.
func newPlots() (cdf, left, right *plot.Plot) {
	cdf = plot.New()
	cdf.Title.Text = "Detection lag, all operations (CDF)"
	cdf.X.Label.Text = "detection lag (s, API clock)"
	cdf.Y.Label.Text = "fraction of all operations noticed"
	cdf.Legend.Top, cdf.Legend.Left = false, false
	cdf.X.Min, cdf.Y.Min, cdf.Y.Max = 0, 0, 1
	left = plot.New()
	left.Title.Text = "API cost of each operation"
	left.X.Label.Text = "operation length (min, API clock)"
	left.Y.Label.Text = "GetOperation calls"
	left.Legend.Top, left.Legend.Left = true, true
	right = plot.New()
	right.Title.Text = "Lag p50 (o) and p99 (^) vs calls"
	right.X.Label.Text = "GetOperation calls per operation (mean)"
	right.Y.Label.Text = "detection lag (s, API clock)"
	right.X.Min, right.Y.Min = 0, 0
	left.X.Min, left.Y.Min = 0, 0
	return cdf, left, right
}

// addCostScatter plots each operation's GetOperation calls against its length.
func addCostScatter(left *plot.Plot, r *Result, col color.Color) error {
	var pts plotter.XYs
	for _, o := range r.PerOp {
		pts = append(pts, plotter.XY{X: o.Duration / 60, Y: float64(o.Calls)})
	}
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = translucent(col)
	sc.GlyphStyle.Radius = vg.Points(1.5)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	left.Add(sc)
	left.Legend.Add(label(r), solid(col))
	return nil
}

// addLagCDF plots the distribution of detection lags.
func addLagCDF(cdf *plot.Plot, r *Result, col color.Color) error {
	var lags []float64
	for _, o := range r.PerOp {
		if o.Lag >= 0 {
			lags = append(lags, o.Lag)
		}
	}
	if len(lags) == 0 {
		return nil
	}
	sort.Float64s(lags)
	line := make(plotter.XYs, 0, 2*len(lags))
	// Over all the strategy's operations: a strategy that lost some never reaches 1.
	n := float64(max(r.Ops, len(lags)))
	for i, l := range lags {
		line = append(line, plotter.XY{X: l, Y: float64(i) / n}, plotter.XY{X: l, Y: float64(i+1) / n})
	}
	l, err := plotter.NewLine(line)
	if err != nil {
		return err
	}
	l.Color, l.Width = col, vg.Points(1.5)
	cdf.Add(l)
	cdf.Legend.Add(label(r), l)
	return nil
}

// addLagPoints plots the strategy's lag p50 and p99 against its calls per operation.
func addLagPoints(right *plot.Plot, r *Result, col color.Color) error {
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
		lbl, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: r.CallsPerOp, Y: q.lag}},
			Labels: []string{fmt.Sprintf("  %s %s%s", q.name, fmtSeconds(q.lag), survivors(r))},
		})
		if err != nil {
			return err
		}
		right.Add(lbl)
	}
	return nil
}

// savePlots lays the three plots side by side under a title and writes the PNG.
func savePlots(rep *Report, file string, cdf, left, right *plot.Plot) error {
	const w, h = 40 * vg.Centimeter, 13 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	top := draw.Crop(dc, 0, 0, 0, -vg.Points(16))
	dc.FillText(draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 11), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter}, vg.Point{X: w / 2, Y: h - vg.Points(12)},
		fmt.Sprintf("%d operations, %s, time scale %g", rep.Ops, rep.Distribution, rep.Scale))
	tiles := draw.Tiles{Rows: 1, Cols: 3, PadX: vg.Millimeter * 8, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{{cdf, left, right}}, tiles, top)
	cdf.Draw(canvases[0][0])
	left.Draw(canvases[0][1])
	right.Draw(canvases[0][2])
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

// label names a strategy, with how many operations it completed when it lost some.
func label(r *Result) string {
	if r.Completed < r.Ops {
		return fmt.Sprintf("%s: %d of %d completed", r.Label, r.Completed, r.Ops)
	}
	return r.Label
}

// survivors notes that a strategy's lag figures cover only the operations it completed.
func survivors(r *Result) string {
	if r.Completed < r.Ops {
		return fmt.Sprintf(" (%s, %d of %d ops)", r.Strategy, r.Completed, r.Ops)
	}
	return ""
}

// solid is a legend thumbnail: a filled dot of color c.
func solid(c color.Color) plot.Thumbnailer {
	sc, _ := plotter.NewScatter(plotter.XYs{{}})
	sc.GlyphStyle.Color = c
	sc.GlyphStyle.Radius = vg.Points(4)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	return sc
}

func translucent(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	const a = 0x80
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}
