package theory

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"strings"

	"github.com/rst-bench/rst/suite/report"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figures are set in the suite's figure font (report.Font, DejaVu Sans):
// gonum/plot's default has no ∇ and no subscript letters (ₜ, ₛ).
// TestPlotGlyphs checks every string the figures draw against it.
var plotFont = report.Font

// plotHandler is the text handler of every figure.
var plotHandler = report.TextHandler

// Figure geometry. The legend is not part of the plot area: it gets its own
// rows below the x axis label, so it can never cover data or be clipped.
const (
	figWidth      = 7 * vg.Inch
	plotHeight    = 4.2 * vg.Inch // title, axes and data, without the legend
	figMargin     = vg.Length(6)  // around everything
	figRight      = vg.Length(18) // room for the last x tick label
	legendGap     = vg.Length(8)  // between the x axis label and the legend
	legendColGap  = vg.Length(18)
	legendRowGap  = vg.Length(3)
	legendThumb   = vg.Length(24)
	legendMaxCols = 3
	pngDPI        = 128
	// Values more than yDecades decades below the top of the y axis are
	// rounding noise or exact zeros: they are drawn below the axis (clipped),
	// so a curve that reaches 0 visibly leaves the plot at the bottom.
	yDecades = 24
	// Dashed bounds that blow up are cut at 10³ × the highest solid curve.
	yHeadroom = 1e3
)

var palette = []color.Color{
	color.RGBA{0, 90, 181, 255}, color.RGBA{220, 50, 32, 255}, color.RGBA{0, 150, 80, 255},
	color.RGBA{120, 60, 160, 255}, color.RGBA{230, 140, 0, 255}, color.RGBA{90, 90, 90, 255},
}

type series struct {
	name  string
	x, y  []float64
	dash  bool
	color color.Color // nil: the palette colour of the series' position
	// floor: values under it are rounding noise (L − L* near a non-zero L*)
	// and are drawn like zeros, under the axis.
	floor float64
	// glyph draws a mark series' points (nil: a cross) with radius (0: 4
	// points); marks are black unless color is set.
	glyph  draw.GlyphDrawer
	radius vg.Length
}

// noiseFloor is the resolution of L − L* in float64 when L* ≠ 0: a few ulps
// of L*.
func noiseFloor(lstar float64) float64 { return 4 * math.Abs(lstar) * 0x1p-52 }

// figure is one plot of the report: a log-scaled y axis, lines (solid for
// observations, dashed for bounds) and marked points.
type figure struct {
	name            string // file name without extension
	title, subtitle string
	xLabel, yLabel  string
	xSym            string // the x variable, for "leaves the plot at t = …"
	logX            bool
	lines, marks    []series
	caption         string // one paragraph under the figure in README.md
}

func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// yRange is the y axis: up to the highest value within yHeadroom of the
// highest solid curve or mark, down to the lowest value but at most
// yDecades, both rounded out to whole decades.
func (f figure) yRange() (lo, hi float64) {
	top := 0.0
	for _, s := range append(append([]series(nil), f.lines...), f.marks...) {
		if s.dash {
			continue
		}
		for _, v := range s.y {
			if positive(v) {
				top = math.Max(top, v)
			}
		}
	}
	hi, lo = 0, math.Inf(1)
	for _, s := range append(append([]series(nil), f.lines...), f.marks...) {
		for _, v := range s.y {
			if positive(v) && v >= s.floor && (top == 0 || v <= yHeadroom*top) {
				hi, lo = math.Max(hi, v), math.Min(lo, v)
			}
		}
	}
	if hi == 0 {
		return 0.1, 1
	}
	b := math.Ceil(math.Log10(hi))
	a := math.Max(math.Floor(math.Log10(lo)), b-yDecades)
	if a >= b {
		a = b - 1
	}
	// Extend the bottom so that both ends of the axis carry a label.
	step := float64(decadeStep(int(a), int(b)))
	a = b - step*math.Ceil((b-a)/step)
	return math.Pow(10, a), math.Pow(10, b)
}

// points turns a series into plottable points for y axis [lo, hi]: NaN is
// a gap, values ≤ 0 or under lo or s.floor are drawn just under the axis and +Inf just
// above it, so the line runs off that edge. It also reports the first x where
// the series leaves the top of the axis and whether any point is visible.
func (f figure) points(s series, lo, hi float64) (pts plotter.XYs, exit float64, visible bool) {
	exit = math.NaN()
	for k := range s.x {
		x, y := s.x[k], s.y[k]
		if math.IsNaN(x) || math.IsInf(x, 0) || (f.logX && x <= 0) || math.IsNaN(y) {
			continue
		}
		switch {
		case y < lo || y < s.floor:
			y = lo / 10
		case y > hi:
			y = math.Min(y, hi*10)
		}
		if y <= hi {
			visible = true
		} else if visible && math.IsNaN(exit) {
			exit = x
		}
		pts = append(pts, plotter.XY{X: x, Y: y})
	}
	return pts, exit, visible
}

// legendItem is one legend entry; thumbs draw its sample.
type legendItem struct {
	name  string
	thumb plot.Thumbnailer
}

func textStyle(h text.Handler, size vg.Length) text.Style {
	return text.Style{Font: font.From(plotFont, size), Handler: h, Color: color.Black}
}

// build makes the plot (axes and data, no title, no legend) and its legend
// entries, with every text drawn through h.
func (f figure) build(h text.Handler) (*plot.Plot, []legendItem, error) {
	p := plot.New()
	p.BackgroundColor = nil // the figure fills its own background
	// The axis labels are drawn by draw, not by gonum/plot: on a log axis it
	// places a label's box at the log of the arithmetic mid-range and then
	// shrinks the data area to make room for a box that is not there.
	for _, st := range []*text.Style{&p.X.Tick.Label, &p.Y.Tick.Label} {
		st.Font, st.Handler = font.From(plotFont, 10), h
	}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, decades{}
	if f.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, decades{}
	}
	lo, hi := f.yRange()
	var items []legendItem
	for i, s := range f.lines {
		pts, exit, visible := f.points(s, lo, hi)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", f.name, s.name, err)
		}
		l.Color = s.color
		if l.Color == nil {
			l.Color = palette[i%len(palette)]
		}
		l.Width = vg.Points(1.4)
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		name := s.name
		switch {
		case !visible:
			name += " (above the axis)"
		case !math.IsNaN(exit):
			name += fmt.Sprintf(" (off the top from %s = %s)", f.xSym, fmtNum(exit))
		}
		items = append(items, legendItem{name, l})
	}
	for _, m := range f.marks {
		pts, _, _ := f.points(m, lo, hi)
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", f.name, m.name, err)
		}
		sc.Shape, sc.Color = m.glyph, m.color
		if sc.Shape == nil {
			sc.Shape = draw.CrossGlyph{}
		}
		if sc.Color == nil {
			sc.Color = color.Black
		}
		sc.Radius = m.radius
		if sc.Radius == 0 {
			sc.Radius = vg.Points(4)
		}
		p.Add(sc)
		items = append(items, legendItem{m.name, sc})
	}
	// After Add, which widens the range to all the data.
	p.Y.Min, p.Y.Max = lo, hi
	return p, items, nil
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}

// layout is where each part of a figure goes, in points from the bottom left.
type layout struct {
	w, h       vg.Length
	title      vg.Point     // top centre of the title; the subtitle follows
	plot       vg.Rectangle // axes, tick labels and data
	xLabelTop  vg.Length    // the x axis label hangs from here
	yLabelLeft vg.Length    // the rotated y axis label starts here
	legendCols []legendCol
}

type legendCol struct {
	rect  vg.Rectangle
	items []legendItem
}

const labelSize, labelGap = 11, vg.Length(6)

// layout puts the legend in as many columns (≤ legendMaxCols) as fit the
// width, fills them top to bottom, and grows the figure by the rows needed.
func (f figure) layout(h text.Handler, items []legendItem) layout {
	lt := textStyle(h, 10)
	width := func(it legendItem) vg.Length { return legendThumb + lt.Width(" "+it.name) }
	// Row pitch as plot.Legend.Draw steps it.
	rowH := vg.Length(0)
	for _, it := range items {
		rowH = max(rowH, lt.Rectangle(it.name).Max.Y)
	}
	rowH += legendRowGap
	avail := figWidth - 2*figMargin
	var cols [][]legendItem
	var widths []vg.Length
	for n := min(legendMaxCols, len(items)); n >= 1; n-- {
		rows := (len(items) + n - 1) / n
		cols, widths = nil, nil
		total := vg.Length(0)
		for c := 0; c*rows < len(items); c++ {
			col := items[c*rows : min((c+1)*rows, len(items))]
			w := vg.Length(0)
			for _, it := range col {
				w = max(w, width(it))
			}
			cols, widths = append(cols, col), append(widths, w)
			total += w
		}
		total += legendColGap * vg.Length(len(cols)-1)
		if total <= avail || n == 1 {
			break
		}
	}
	rows := 0
	for _, c := range cols {
		rows = max(rows, len(c))
	}
	legendH := vg.Length(0)
	if rows > 0 {
		legendH = legendGap + vg.Length(rows)*rowH + lt.FontExtents().Descent
	}
	L := layout{w: figWidth, h: plotHeight + legendH}
	L.title = vg.Point{X: L.w / 2, Y: L.h - figMargin}
	titleH := textStyle(h, 12).Height(f.title)
	if f.subtitle != "" {
		titleH += 2 + textStyle(h, 10).Height(f.subtitle)
	}
	ls := textStyle(h, labelSize)
	L.xLabelTop = figMargin + legendH + ls.Height(f.xLabel)
	L.yLabelLeft = figMargin
	L.plot = vg.Rectangle{
		Min: vg.Point{X: figMargin + ls.Height(f.yLabel) + labelGap, Y: L.xLabelTop + labelGap/2},
		Max: vg.Point{X: L.w - figRight, Y: L.h - figMargin - titleH - 8},
	}
	// Centre the legend block under the figure.
	total := vg.Length(0)
	for _, w := range widths {
		total += w
	}
	total += legendColGap * vg.Length(max(len(cols)-1, 0))
	x := (L.w - total) / 2
	for i, c := range cols {
		top := figMargin + legendH - legendGap
		L.legendCols = append(L.legendCols, legendCol{
			rect:  vg.Rectangle{Min: vg.Point{X: x, Y: figMargin}, Max: vg.Point{X: x + widths[i], Y: top}},
			items: c,
		})
		x += widths[i] + legendColGap
	}
	return L
}

// draw renders the figure on c, whose size is L.w × L.h.
func (f figure) draw(c draw.Canvas, h text.Handler, p *plot.Plot, L layout) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	ts := textStyle(h, 12)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	c.FillText(ts, L.title, f.title)
	if f.subtitle != "" {
		ss := textStyle(h, 10)
		ss.XAlign, ss.YAlign = draw.XCenter, draw.YTop
		ss.Color = color.Gray{Y: 60}
		c.FillText(ss, vg.Point{X: L.title.X, Y: L.title.Y - ts.Height(f.title) - 2}, f.subtitle)
	}
	pc := draw.Canvas{Canvas: c.Canvas, Rectangle: L.plot}
	p.Draw(pc)
	// Axis labels centred on the data area.
	data := p.DataCanvas(pc).Rectangle
	ls := textStyle(h, labelSize)
	ls.XAlign, ls.YAlign = draw.XCenter, draw.YTop
	c.FillText(ls, vg.Point{X: (data.Min.X + data.Max.X) / 2, Y: L.xLabelTop}, f.xLabel)
	ls.Rotation = math.Pi / 2
	c.FillText(ls, vg.Point{X: L.yLabelLeft, Y: (data.Min.Y + data.Max.Y) / 2}, f.yLabel)
	for _, col := range L.legendCols {
		lg := plot.NewLegend()
		lg.TextStyle = textStyle(h, 10)
		lg.Left, lg.Top = true, true
		lg.ThumbnailWidth = legendThumb - 4
		lg.Padding = legendRowGap
		for _, it := range col.items {
			lg.Add(it.name, it.thumb)
		}
		lg.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: col.rect})
	}
}

// render builds and lays out the figure with handler h, creates a canvas of
// the right size with mk and draws on it.
func (f figure) render(h text.Handler, mk func(w, ht vg.Length) vg.CanvasSizer) (layout, error) {
	p, items, err := f.build(h)
	if err != nil {
		return layout{}, err
	}
	L := f.layout(h, items)
	f.draw(draw.New(mk(L.w, L.h)), h, p, L)
	return L, nil
}

func (f figure) writeSVG(w io.Writer) error {
	h, err := plotHandler()
	if err != nil {
		return err
	}
	var cv *vgsvg.Canvas
	if _, err := f.render(h, func(w, ht vg.Length) vg.CanvasSizer { cv = vgsvg.New(w, ht); return cv }); err != nil {
		return err
	}
	_, err = cv.WriteTo(w)
	return err
}

func (f figure) writePNG(w io.Writer) error {
	h, err := plotHandler()
	if err != nil {
		return err
	}
	var cv *vgimg.Canvas
	if _, err := f.render(h, func(w, ht vg.Length) vg.CanvasSizer {
		cv = vgimg.NewWith(vgimg.UseWH(w, ht), vgimg.UseDPI(pngDPI))
		return cv
	}); err != nil {
		return err
	}
	_, err = vgimg.PngCanvas{Canvas: cv}.WriteTo(w)
	return err
}

// save writes base.png and base.svg.
func (f figure) save(base string) error {
	for _, out := range []struct {
		ext   string
		write func(io.Writer) error
	}{{".png", f.writePNG}, {".svg", f.writeSVG}} {
		file, err := os.Create(base + out.ext)
		if err != nil {
			return err
		}
		err = out.write(file)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s%s: %w", base, out.ext, err)
		}
	}
	return nil
}

// decades ticks a log axis at powers of ten, labelled 10ⁿ at every
// decadeStep-th power from the bottom, with minor ticks at 2–9 × 10ⁿ when
// every power is labelled.
type decades struct{}

func (decades) Ticks(lo, hi float64) []plot.Tick {
	a, b := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	step := decadeStep(a, b)
	var ts []plot.Tick
	for e := a; e <= b; e++ {
		v := math.Pow(10, float64(e))
		t := plot.Tick{Value: v}
		if (e-a)%step == 0 {
			t.Label = pow10(e)
		}
		ts = append(ts, t)
		if step == 1 && e < b {
			for k := 2; k <= 9; k++ {
				ts = append(ts, plot.Tick{Value: float64(k) * v})
			}
		}
	}
	return ts
}

// decadeStep labels every step-th power of ten from 10ᵃ to 10ᵇ: at most
// about eight labels.
func decadeStep(a, b int) int { return max(1, (b-a+7)/8) }

// pow10 writes 10ⁿ with superscript digits.
func pow10(e int) string {
	const sup = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	digits := []rune(sup)
	var b strings.Builder
	b.WriteString("10")
	if e < 0 {
		b.WriteRune('⁻')
		e = -e
	}
	for _, d := range fmt.Sprint(e) {
		b.WriteRune(digits[d-'0'])
	}
	return b.String()
}
