package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"codeberg.org/go-fonts/dejavu/dejavusans"
	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is one of the paper's figures: panels laid out in a grid of Cols
// columns (default: up to 3 per row), an optional title above and a
// caption below, saved as NAME.png and NAME.svg.
type Figure struct {
	Name, Title string
	Panels      []Panel
	Cols        int
	Caption     string
	// PanelWidth and PanelHeight give each panel's plot area with its axes,
	// in inches (default 4 × 3); a panel's legend goes below it.
	PanelWidth, PanelHeight float64
}

// Panel is one plot: series and reference lines on shared axes, or a heat
// map. XMin…YMax fix an axis end (see Limit); unset ends follow the data
// with a 5% margin, and horizontal reference lines are kept in view.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
	Lines                 []RefLine
	Heat                  *Heat // when set, Series and Lines must be empty
	XMin, XMax            *float64
	YMin, YMax            *float64
	// XTicks, when set, are the only ticks of the x axis, labelled by
	// their value (for categories numbered 1, 2, …).
	XTicks []float64
}

// Style says how a series is drawn.
type Style int

const (
	LinePoints Style = iota // markers joined by a line (the zero value)
	Line                    // a line only
	Points                  // markers only
)

// Series is one named curve. YErr, when given, holds one half-width per
// point (e.g. the standard deviation over seeds) drawn as an error bar.
type Series struct {
	Name       string
	X, Y, YErr []float64
	Style      Style
}

// RefLine is the dashed line y = Slope·x + Intercept across the panel:
// Slope 0 for a level such as the SGD or SAM endpoint, Slope 1 and
// Intercept 0 for x = y. Band > 0 shades ± Band around the line (a
// level's spread over seeds).
type RefLine struct {
	Name             string
	Slope, Intercept float64
	Band             float64
}

// Heat is a map of Z over a grid: Z[i][j] belongs to row Y[i] and column
// X[j]. Each cell is coloured on a blue–red scale with its value printed
// in it (Digits decimals); a colour bar labelled ZLabel sits to the right.
// NaN (or ±Inf) marks a cell without a value: white, hatched, no number.
// The axes take the Panel's XLabel and YLabel, with a tick at every X and Y.
type Heat struct {
	X, Y   []float64
	Z      [][]float64
	ZLabel string
	Digits int
}

// Limit returns a pointer to v, for Panel's optional axis ends:
// Panel{YMin: report.Limit(0)}.
func Limit(v float64) *float64 { return &v }

// Resolution of the PNG: 300 dots per inch, print quality.
const pngDPI = 300

// Font is the typeface of every figure the suite draws, here and in
// theory/: DejaVu Sans, since the plot library's default (Liberation) has
// no ∇ and no subscript letters, which the paper's labels need beside Δ,
// η, ρ and γ.
var Font = font.Font{Typeface: "DejaVu", Variant: "Sans"}

// TextHandler returns the text handler that sets text in Font. It has a
// font cache of its own, so gonum/plot's global defaults are left alone.
var TextHandler = sync.OnceValues(func() (text.Handler, error) {
	f, err := opentype.Parse(dejavusans.TTF)
	if err != nil {
		return nil, fmt.Errorf("report: parsing DejaVu Sans: %w", err)
	}
	return text.Plain{Fonts: font.NewCache(font.Collection{{Font: Font, Face: f}})}, nil
})

// handler is TextHandler's result once loadFont has succeeded.
var handler text.Handler

func loadFont() error {
	h, err := TextHandler()
	handler = h
	return err
}

func textStyle(size float64) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(Font, vg.Points(size)),
		Handler: handler,
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
	}
}

// Colours for series (Okabe–Ito, readable by colour-blind readers and in
// grey scale together with the marker shapes) and for reference lines.
var (
	seriesColors = []color.Color{
		rgb(0x00, 0x72, 0xB2), rgb(0xD5, 0x5E, 0x00), rgb(0x00, 0x9E, 0x73),
		rgb(0xCC, 0x79, 0xA7), rgb(0xE6, 0x9F, 0x00), rgb(0x56, 0xB4, 0xE9), rgb(0, 0, 0),
	}
	seriesGlyphs = []draw.GlyphDrawer{
		draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
		draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{},
	}
	lineColors = []color.Color{rgb(0x22, 0x22, 0x22), rgb(0x88, 0x22, 0x55), rgb(0x11, 0x77, 0x33), rgb(0x66, 0x66, 0x66)}
	lineDashes = [][]vg.Length{
		{vg.Points(5), vg.Points(3)},
		{vg.Points(1.5), vg.Points(2)},
		{vg.Points(7), vg.Points(2), vg.Points(1.5), vg.Points(2)},
		{vg.Points(2.5), vg.Points(2.5)},
	}
	missingColor = color.White
)

func rgb(r, g, b uint8) color.Color { return color.NRGBA{R: r, G: g, B: b, A: 255} }

// check reports the first thing that would make the figure unreadable or
// impossible to draw, naming the panel and series.
func (f *Figure) check() error {
	if err := checkName("figure", f.Name); err != nil {
		return err
	}
	if len(f.Panels) == 0 {
		return fmt.Errorf("report: figure %s has no panels", f.Name)
	}
	if f.Cols < 0 || f.PanelWidth < 0 || f.PanelHeight < 0 {
		return fmt.Errorf("report: figure %s: Cols, PanelWidth and PanelHeight must not be negative (0 = default)", f.Name)
	}
	for i := range f.Panels {
		p := &f.Panels[i]
		where := fmt.Sprintf("report: figure %s panel %d (%q)", f.Name, i+1, p.Title)
		if p.Heat != nil {
			if len(p.Series) > 0 || len(p.Lines) > 0 {
				return fmt.Errorf("%s: a heat-map panel cannot also hold series or lines; put them in another panel", where)
			}
			if err := p.Heat.check(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			continue
		}
		if len(p.Series) == 0 && len(p.Lines) == 0 {
			return fmt.Errorf("%s: nothing to draw; give it Series, Lines or a Heat map", where)
		}
		for k, s := range p.Series {
			sw := fmt.Sprintf("%s series %d (%q)", where, k+1, s.Name)
			if len(s.X) != len(s.Y) {
				return fmt.Errorf("%s: %d x values for %d y values; give one x per y", sw, len(s.X), len(s.Y))
			}
			if len(s.YErr) != 0 && len(s.YErr) != len(s.Y) {
				return fmt.Errorf("%s: %d error bars for %d points; give one per point or none", sw, len(s.YErr), len(s.Y))
			}
			for j := range s.X {
				if !isFinite(s.X[j]) || !isFinite(s.Y[j]) || (len(s.YErr) > 0 && (!isFinite(s.YErr[j]) || s.YErr[j] < 0)) {
					return fmt.Errorf("%s: point %d is not finite (or has a negative error bar); leave diverged or missing runs out of the series", sw, j+1)
				}
			}
			if s.Style < LinePoints || s.Style > Points {
				return fmt.Errorf("%s: unknown Style %d; use Line, Points or LinePoints", sw, s.Style)
			}
		}
		for k, l := range p.Lines {
			if !isFinite(l.Slope) || !isFinite(l.Intercept) || !isFinite(l.Band) || l.Band < 0 {
				return fmt.Errorf("%s line %d (%q): slope, intercept and band must be finite, band ≥ 0", where, k+1, l.Name)
			}
		}
		for _, lim := range [][2]*float64{{p.XMin, p.XMax}, {p.YMin, p.YMax}} {
			if lim[0] != nil && lim[1] != nil && !(*lim[0] < *lim[1]) {
				return fmt.Errorf("%s: axis limits %v ≥ %v; the lower limit must be below the upper", where, *lim[0], *lim[1])
			}
		}
	}
	return nil
}

func (h *Heat) check() error {
	if len(h.X) == 0 || len(h.Y) == 0 {
		return fmt.Errorf("heat map needs at least one X and one Y value")
	}
	if len(h.Z) != len(h.Y) {
		return fmt.Errorf("heat map has %d rows of Z for %d Y values; Z[i] is the row at Y[i]", len(h.Z), len(h.Y))
	}
	for i, row := range h.Z {
		if len(row) != len(h.X) {
			return fmt.Errorf("heat map row %d has %d values for %d X values", i+1, len(row), len(h.X))
		}
	}
	for _, v := range [][]float64{h.X, h.Y} {
		for i := 1; i < len(v); i++ {
			if !(v[i] > v[i-1]) {
				return fmt.Errorf("heat map X and Y must be increasing; got %v", v)
			}
		}
	}
	if h.Digits < 0 {
		return fmt.Errorf("heat map Digits %d is negative", h.Digits)
	}
	return nil
}

// Save writes dir/NAME.png (300 dpi) and dir/NAME.svg, each atomically;
// dir is created when missing. Nothing is written when the figure is
// malformed.
func (f *Figure) Save(dir string) error {
	if err := f.check(); err != nil {
		return err
	}
	if err := loadFont(); err != nil {
		return err
	}
	var pb, sb bytes.Buffer
	if err := f.PNG(&pb); err != nil {
		return err
	}
	if err := f.SVG(&sb); err != nil {
		return err
	}
	return writeFiles(dir, []namedBytes{{f.Name + ".png", pb.Bytes()}, {f.Name + ".svg", sb.Bytes()}})
}

// SVG writes the figure as SVG to w (Save writes it to a file). Fonts are
// named, not embedded: DejaVu Sans, which most systems have.
func (f *Figure) SVG(w io.Writer) error {
	return f.write(w, func(cw, ch vg.Length) vg.CanvasWriterTo { return vgsvg.New(cw, ch) })
}

// PNG writes the figure as a 300 dpi PNG to w.
func (f *Figure) PNG(w io.Writer) error {
	return f.write(w, func(cw, ch vg.Length) vg.CanvasWriterTo {
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(cw, ch), vgimg.UseDPI(pngDPI))}
	})
}

// write checks the figure, draws it on the canvas newCanvas makes for its
// size, and writes the canvas to w.
func (f *Figure) write(w io.Writer, newCanvas func(cw, ch vg.Length) vg.CanvasWriterTo) error {
	if err := f.check(); err != nil {
		return err
	}
	if err := loadFont(); err != nil {
		return err
	}
	c := newCanvas(f.size())
	if err := f.draw(draw.New(c)); err != nil {
		return err
	}
	_, err := c.WriteTo(w)
	return err
}

// Layout constants, in points.
const (
	margin      = 8
	titleSize   = 12
	panelTitle  = 11
	labelSize   = 10
	tickSize    = 9
	legendSize  = 9
	captionSize = 9
	cellSize    = 9
	thumbWidth  = 22
	legendGap   = 12 // between legend entries
)

func (f *Figure) grid() (cols, rows int) {
	cols = f.Cols
	if cols == 0 {
		cols = min(len(f.Panels), 3)
	}
	cols = min(cols, len(f.Panels))
	rows = (len(f.Panels) + cols - 1) / cols
	return cols, rows
}

func (f *Figure) panelSize() (w, h vg.Length) {
	pw, ph := f.PanelWidth, f.PanelHeight
	if pw == 0 {
		pw = 4
	}
	if ph == 0 {
		ph = 3
	}
	return vg.Length(pw) * vg.Inch, vg.Length(ph) * vg.Inch
}

// legendHeight is the tallest legend strip of any panel, so that every
// row of plots has the same height and the panels line up.
func (f *Figure) legendHeight() vg.Length {
	pw, _ := f.panelSize()
	var hmax vg.Length
	for i := range f.Panels {
		if rows := len(layoutLegend(legendEntries(&f.Panels[i]), pw)); rows > 0 {
			hmax = max(hmax, vg.Length(rows)*legendRowHeight()+vg.Points(6))
		}
	}
	return hmax
}

func legendRowHeight() vg.Length { return vg.Points(legendSize * 1.6) }

func (f *Figure) size() (w, h vg.Length) {
	cols, rows := f.grid()
	pw, ph := f.panelSize()
	w = vg.Length(cols)*pw + 2*vg.Points(margin)
	h = vg.Length(rows)*(ph+f.legendHeight()) + 2*vg.Points(margin)
	if f.Title != "" {
		h += vg.Points(titleSize * 1.8)
	}
	if lines := wrapText(f.Caption, textStyle(captionSize), w-2*vg.Points(margin)); len(lines) > 0 {
		h += vg.Length(len(lines))*vg.Points(captionSize*1.4) + vg.Points(6)
	}
	return w, h
}

// wrapText breaks s into lines no wider than width in the given style.
func wrapText(s string, sty text.Style, width vg.Length) []string {
	words := strings.Fields(s)
	var lines []string
	cur := ""
	for _, w := range words {
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		if cur != "" && sty.Width(try) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		cur = try
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func (f *Figure) draw(dc draw.Canvas) error {
	// A white page: SVG has no background of its own.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	area := draw.Crop(dc, vg.Points(margin), -vg.Points(margin), vg.Points(margin), -vg.Points(margin))
	if f.Title != "" {
		sty := textStyle(titleSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		area.FillText(sty, vg.Point{X: (area.Min.X + area.Max.X) / 2, Y: area.Max.Y}, oneLine(f.Title))
		area.Max.Y -= vg.Points(titleSize * 1.8)
	}
	if lines := wrapText(f.Caption, textStyle(captionSize), area.Max.X-area.Min.X); len(lines) > 0 {
		sty := textStyle(captionSize)
		sty.YAlign = draw.YBottom
		lh := vg.Points(captionSize * 1.4)
		y := area.Min.Y + vg.Length(len(lines)-1)*lh
		for _, l := range lines {
			area.FillText(sty, vg.Point{X: area.Min.X, Y: y}, l)
			y -= lh
		}
		area.Min.Y += vg.Length(len(lines))*lh + vg.Points(6)
	}
	cols, rows := f.grid()
	tiles := draw.Tiles{Cols: cols, Rows: rows}
	legendH := f.legendHeight()
	for i := range f.Panels {
		tile := tiles.At(area, i%cols, i/cols)
		if err := drawPanel(&f.Panels[i], tile, legendH); err != nil {
			return fmt.Errorf("report: figure %s panel %d (%q): %w", f.Name, i+1, f.Panels[i].Title, err)
		}
	}
	return nil
}

// newPlot makes a plot with this package's fonts and a light grid.
func newPlot(p *Panel) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.Title.TextStyle = textStyle(panelTitle)
	pl.Title.TextStyle.XAlign, pl.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	pl.Title.Padding = vg.Points(6)
	for _, ax := range []*plot.Axis{&pl.X, &pl.Y} {
		ls := ax.Label.TextStyle
		ax.Label.TextStyle = textStyle(labelSize)
		ax.Label.TextStyle.XAlign, ax.Label.TextStyle.YAlign, ax.Label.TextStyle.Rotation = ls.XAlign, ls.YAlign, ls.Rotation
		ax.Label.Padding = vg.Points(4)
		ts := ax.Tick.Label
		ax.Tick.Label = textStyle(tickSize)
		ax.Tick.Label.XAlign, ax.Tick.Label.YAlign = ts.XAlign, ts.YAlign
		// The data range carries its own margin (see ranges).
		ax.Padding = 0
		ax.Tick.Marker = niceTicks{}
	}
	pl.X.Label.Text = p.XLabel
	pl.Y.Label.Text = p.YLabel
	if len(p.XTicks) > 0 {
		pl.X.Tick.Marker = centreTicks(p.XTicks)
	}
	return pl
}

func drawPanel(p *Panel, tile draw.Canvas, legendH vg.Length) error {
	plotArea := tile
	plotArea.Min.Y += legendH
	legendArea := tile
	legendArea.Max.Y = plotArea.Min.Y
	// A little air between neighbouring panels.
	plotArea = draw.Crop(plotArea, vg.Points(4), -vg.Points(10), 0, -vg.Points(4))
	if p.Heat != nil {
		return drawHeat(p, plotArea)
	}
	pl := newPlot(p)
	pl.Add(lightGrid())
	xmin, xmax, ymin, ymax := ranges(p)

	// Reference lines are drawn first, under the data; the legend lists
	// the data first.
	var lineEntries, entries []legendEntry
	for k, l := range p.Lines {
		col, dash := lineColors[k%len(lineColors)], lineDashes[k%len(lineDashes)]
		var thumbs []plot.Thumbnailer
		y0, y1 := l.Slope*xmin+l.Intercept, l.Slope*xmax+l.Intercept
		if l.Band > 0 {
			band, err := plotter.NewPolygon(plotter.XYs{
				{X: xmin, Y: y0 - l.Band}, {X: xmax, Y: y1 - l.Band},
				{X: xmax, Y: y1 + l.Band}, {X: xmin, Y: y0 + l.Band},
			})
			if err != nil {
				return err
			}
			band.Color = withAlpha(col, 0x30)
			band.LineStyle.Width = 0
			pl.Add(band)
			thumbs = append(thumbs, band)
		}
		// Two points span the axis range; the line is clipped to the
		// data area, so a sloped line may leave through the top.
		ln, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: y0}, {X: xmax, Y: y1}})
		if err != nil {
			return err
		}
		ln.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.2), Dashes: dash}
		pl.Add(ln)
		thumbs = append(thumbs, ln)
		if l.Name != "" {
			lineEntries = append(lineEntries, legendEntry{l.Name, thumbs})
		}
	}
	for k, s := range p.Series {
		// Past the seventh series the marker shifts against the colour, so
		// no two of the first 49 series look alike.
		col := seriesColors[k%len(seriesColors)]
		gl := seriesGlyphs[(k+k/len(seriesColors))%len(seriesGlyphs)]
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		var thumbs []plot.Thumbnailer
		if len(s.YErr) > 0 {
			eb, err := plotter.NewYErrorBars(errXYs{xys, s.YErr})
			if err != nil {
				return err
			}
			eb.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1)}
			eb.CapWidth = vg.Points(5)
			pl.Add(eb)
		}
		if s.Style != Points {
			ln, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			ln.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
			pl.Add(ln)
			thumbs = append(thumbs, ln)
		}
		if s.Style != Line {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.8), Shape: gl}
			pl.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Name != "" {
			entries = append(entries, legendEntry{s.Name, thumbs})
		}
	}
	// Add widened the axes to the plotters' data; the computed range
	// (margins, user limits, reference levels) replaces it.
	pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = xmin, xmax, ymin, ymax
	pl.Draw(plotArea)
	drawLegend(legendArea, append(entries, lineEntries...))
	return nil
}

// lightGrid keeps the grid behind the data and faint enough not to be
// mistaken for it.
func lightGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical = draw.LineStyle{Color: rgb(0xE4, 0xE4, 0xE4), Width: vg.Points(0.5)}
	g.Horizontal = g.Vertical
	return g
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// errXYs feeds error bars to plotter.NewYErrorBars: symmetric half-widths.
type errXYs struct {
	plotter.XYs
	err []float64
}

func (e errXYs) YError(i int) (float64, float64) { return e.err[i], e.err[i] }

// ranges computes the axis ranges of a series panel: the data with its
// error bars and the levels (and bands) of horizontal reference lines,
// widened by 5% on each side that the user did not fix.
func ranges(p *Panel) (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, s := range p.Series {
		for j := range s.X {
			e := 0.0
			if len(s.YErr) > 0 {
				e = s.YErr[j]
			}
			xmin, xmax = math.Min(xmin, s.X[j]), math.Max(xmax, s.X[j])
			ymin, ymax = math.Min(ymin, s.Y[j]-e), math.Max(ymax, s.Y[j]+e)
		}
	}
	if math.IsInf(xmin, 1) { // lines only
		xmin, xmax = 0, 1
	}
	for _, l := range p.Lines {
		if l.Slope == 0 {
			ymin, ymax = math.Min(ymin, l.Intercept-l.Band), math.Max(ymax, l.Intercept+l.Band)
		} else if len(p.Series) == 0 {
			for _, x := range []float64{xmin, xmax} {
				ymin, ymax = math.Min(ymin, l.Slope*x+l.Intercept), math.Max(ymax, l.Slope*x+l.Intercept)
			}
		}
	}
	xmin, xmax = pad(xmin, xmax, p.XMin, p.XMax)
	ymin, ymax = pad(ymin, ymax, p.YMin, p.YMax)
	return xmin, xmax, ymin, ymax
}

func pad(lo, hi float64, fixLo, fixHi *float64) (float64, float64) {
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(lo)*0.1, 0.5)
	}
	if fixLo != nil {
		lo = *fixLo
	} else {
		lo -= 0.05 * span
	}
	if fixHi != nil {
		hi = *fixHi
	} else {
		hi += 0.05 * span
	}
	if fixLo != nil && fixHi == nil && hi <= lo {
		hi = lo + span
	}
	if fixHi != nil && fixLo == nil && lo >= hi {
		lo = hi - span
	}
	return lo, hi
}

type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// legendEntries lists a panel's named series, then its named lines, as
// drawPanel's legend does, for measuring the legend before drawing.
func legendEntries(p *Panel) []string {
	var names []string
	for _, s := range p.Series {
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	for _, l := range p.Lines {
		if l.Name != "" {
			names = append(names, l.Name)
		}
	}
	return names
}

// layoutLegend flows the entries into rows that fit width: each entry is a
// thumbnail and its name. It returns the entries' indices per row.
func layoutLegend(names []string, width vg.Length) [][]int {
	sty := textStyle(legendSize)
	var rows [][]int
	var cur []int
	var x vg.Length
	for i, n := range names {
		w := entryWidth(sty, n)
		if len(cur) > 0 && x+w > width {
			rows = append(rows, cur)
			cur, x = nil, 0
		}
		cur = append(cur, i)
		x += w + vg.Points(legendGap)
	}
	if len(cur) > 0 {
		rows = append(rows, cur)
	}
	return rows
}

func entryWidth(sty text.Style, name string) vg.Length {
	return vg.Points(thumbWidth+4) + sty.Width(oneLine(name))
}

// drawLegend draws the entries in rows below the plot, each row centred:
// outside the data area, so the legend never hides a point.
func drawLegend(c draw.Canvas, entries []legendEntry) {
	if len(entries) == 0 {
		return
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	sty := textStyle(legendSize)
	sty.YAlign = draw.YCenter
	rh := legendRowHeight()
	y := c.Max.Y - vg.Points(3) - rh/2
	for _, row := range layoutLegend(names, c.Max.X-c.Min.X) {
		var total vg.Length
		for k, i := range row {
			if k > 0 {
				total += vg.Points(legendGap)
			}
			total += entryWidth(sty, names[i])
		}
		x := (c.Min.X+c.Max.X)/2 - total/2
		for _, i := range row {
			thumb := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - rh/2 + vg.Points(2)},
				Max: vg.Point{X: x + vg.Points(thumbWidth), Y: y + rh/2 - vg.Points(2)},
			}}
			for _, t := range entries[i].thumbs {
				t.Thumbnail(&thumb)
			}
			c.FillText(sty, vg.Point{X: x + vg.Points(thumbWidth+4), Y: y}, oneLine(names[i]))
			x += entryWidth(sty, names[i]) + vg.Points(legendGap)
		}
		y -= rh
	}
}

// hatchMissing draws diagonal lines over the cells without a value: a
// plain grey could be read as the middle of the colour scale.
type hatchMissing struct{ h *Heat }

func (m hatchMissing) Plot(c draw.Canvas, pl *plot.Plot) {
	trX, trY := pl.Transforms(&c)
	sty := draw.LineStyle{Color: rgb(0x77, 0x77, 0x77), Width: vg.Points(0.7)}
	step := vg.Points(5)
	for i, row := range m.h.Z {
		for j, z := range row {
			if isFinite(z) {
				continue
			}
			xlo, xhi := cellEdges(m.h.X, j)
			ylo, yhi := cellEdges(m.h.Y, i)
			cell := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: trX(xlo), Y: trY(ylo)}, Max: vg.Point{X: trX(xhi), Y: trY(yhi)},
			}}
			w, ht := cell.Max.X-cell.Min.X, cell.Max.Y-cell.Min.Y
			for off := -ht; off < w; off += step {
				a := vg.Point{X: cell.Min.X + off, Y: cell.Min.Y}
				b := vg.Point{X: a.X + ht, Y: cell.Max.Y}
				cell.StrokeLines(sty, cell.ClipLinesXY([]vg.Point{a, b})...)
			}
		}
	}
}

// cellEdges gives cell i's extent along a grid axis with the rule
// plotter.HeatMap uses: halfway to each neighbour, mirrored at the ends.
func cellEdges(v []float64, i int) (lo, hi float64) {
	if len(v) == 1 {
		return v[0] - 0.5, v[0] + 0.5
	}
	switch i {
	case 0:
		d := (v[1] - v[0]) / 2
		return v[0] - d, v[0] + d
	case len(v) - 1:
		d := (v[i] - v[i-1]) / 2
		return v[i] - d, v[i] + d
	default:
		return v[i] - (v[i]-v[i-1])/2, v[i] + (v[i+1]-v[i])/2
	}
}

// heatGrid adapts Heat to plotter.GridXYZ: column c is X[c], row r is Y[r].
type heatGrid struct{ h *Heat }

func (g heatGrid) Dims() (c, r int)   { return len(g.h.X), len(g.h.Y) }
func (g heatGrid) Z(c, r int) float64 { return g.h.Z[r][c] }
func (g heatGrid) X(c int) float64    { return g.h.X[c] }
func (g heatGrid) Y(r int) float64    { return g.h.Y[r] }

func drawHeat(p *Panel, c draw.Canvas) error {
	h := p.Heat
	zmin, zmax := math.Inf(1), math.Inf(-1)
	for _, row := range h.Z {
		for _, z := range row {
			if isFinite(z) {
				zmin, zmax = math.Min(zmin, z), math.Max(zmax, z)
			}
		}
	}
	if math.IsInf(zmin, 1) { // no value at all: an all-grey map
		zmin, zmax = 0, 1
	}
	if zmin == zmax {
		zmin, zmax = zmin-0.5, zmax+0.5
	}
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(zmin)
	cmap.SetMax(zmax)
	pal := cmap.Palette(255)

	pl := newPlot(p)
	hm := plotter.NewHeatMap(heatGrid{h}, pal)
	hm.Min, hm.Max = zmin, zmax
	// Values outside [zmin, zmax] can only be ±Inf: no value, like NaN.
	hm.NaN, hm.Underflow, hm.Overflow = missingColor, missingColor, missingColor
	pl.Add(hm, hatchMissing{h})

	// Ticks at the cell centres, labelled with the grid's own values.
	pl.X.Tick.Marker = centreTicks(h.X)
	pl.Y.Tick.Marker = centreTicks(h.Y)

	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	for i, row := range h.Z {
		for j, z := range row {
			xys = append(xys, plotter.XY{X: h.X[j], Y: h.Y[i]})
			sty := textStyle(cellSize)
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
			if isFinite(z) {
				labels = append(labels, formatFixed(z, h.Digits))
				sty.Color = contrastOn(colorAt(pal, z, zmin, zmax))
			} else {
				labels = append(labels, "") // the hatching says it
			}
			styles = append(styles, sty)
		}
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	lb.TextStyle = styles
	pl.Add(lb)

	main := c
	main.Max.X -= colorBarWidth(h.ZLabel, zmin, zmax)
	pl.Draw(main)
	drawColorBar(c, pl.DataCanvas(main), cmap, h.ZLabel)
	return nil
}

// Colour bar geometry, in points: the bar, the gap before it, its ticks
// and the gaps around the tick labels.
const (
	barGap   = 14
	barWidth = 12
	barTick  = 3
	barPad   = 3
)

func colorBarWidth(label string, zmin, zmax float64) vg.Length {
	sty := textStyle(tickSize)
	var lw vg.Length
	for _, t := range (niceTicks{}).Ticks(zmin, zmax) {
		lw = max(lw, sty.Width(t.Label))
	}
	w := vg.Points(barGap+barWidth+barTick+barPad) + lw
	if label != "" {
		w += vg.Points(2*barPad) + textStyle(labelSize).Height(label)
	}
	return w
}

// drawColorBar draws the colour scale at the right edge of c, as tall as
// the heat map's data area da, with ticks and labels on its right and the
// rotated ZLabel beyond them: nothing of it overlaps the map.
func drawColorBar(c, da draw.Canvas, cmap palette.ColorMap, label string) {
	zmin, zmax := cmap.Min(), cmap.Max()
	// The bar starts where the space drawHeat reserved for it begins.
	x0 := c.Max.X - colorBarWidth(label, zmin, zmax) + vg.Points(barGap)
	x1 := x0 + vg.Points(barWidth)
	y0, y1 := da.Min.Y, da.Max.Y
	const slices = 128
	for i := range slices {
		z := zmin + (zmax-zmin)*(float64(i)+0.5)/slices
		col, err := cmap.At(z)
		if err != nil {
			col = missingColor
		}
		lo := y0 + (y1-y0)*vg.Length(i)/slices
		hi := y0 + (y1-y0)*vg.Length(i+1)/slices
		// Overlap the slices by a hair so no seam shows between them.
		c.FillPolygon(col, []vg.Point{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: min(hi+0.2, y1)}, {X: x0, Y: min(hi+0.2, y1)}})
	}
	edge := draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}
	c.StrokeLines(edge, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
	sty := textStyle(tickSize)
	sty.YAlign = draw.YCenter
	var lw vg.Length
	for _, t := range (niceTicks{}).Ticks(zmin, zmax) {
		y := y0 + (y1-y0)*vg.Length((t.Value-zmin)/(zmax-zmin))
		c.StrokeLine2(edge, x1, y, x1+vg.Points(barTick), y)
		c.FillText(sty, vg.Point{X: x1 + vg.Points(barTick+barPad), Y: y}, t.Label)
		lw = max(lw, sty.Width(t.Label))
	}
	if label != "" {
		ls := textStyle(labelSize)
		// Rotated a quarter turn anticlockwise the text reads upwards and
		// its top faces left: YTop hangs it to the right of the anchor.
		ls.Rotation = math.Pi / 2
		ls.XAlign, ls.YAlign = draw.XCenter, draw.YTop
		c.FillText(ls, vg.Point{X: x1 + vg.Points(barTick+3*barPad) + lw, Y: (y0 + y1) / 2}, oneLine(label))
	}
}

// niceTicks puts 4 to 8 labelled ticks at multiples of 1, 2, 2.5 or 5
// times a power of ten, all printed with the same number of decimals
// (the library's default ticker may pick 2.75, 3.75, … and label one
// tick in three).
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || !isFinite(lo) || !isFinite(hi) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := niceStep(hi - lo)
	// Decimals that the step needs: 0.25 needs 2, 0.5 needs 1, 20 needs 0.
	dec := 0
	for d := 0; d < 10; d++ {
		if v := step * math.Pow(10, float64(d)); math.Abs(v-math.Round(v)) < 1e-9*v {
			dec = d
			break
		}
	}
	var ts []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+1e-9*step; k++ {
		v := k * step
		if math.Abs(v) < 1e-12*step {
			v = 0
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', dec, 64)})
	}
	return ts
}

// niceStep is the smallest of 1, 2, 2.5, 5 × 10^k that cuts span into at
// most 7 intervals.
func niceStep(span float64) float64 {
	base := math.Pow(10, math.Floor(math.Log10(span/7)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if span/(m*base) <= 7 {
			return m * base
		}
	}
	return 10 * base
}

// centreTicks labels each grid value, with no minor ticks: the cells are
// the only positions that mean something.
func centreTicks(v []float64) plot.ConstantTicks {
	ts := make(plot.ConstantTicks, len(v))
	for i, x := range v {
		ts[i] = plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 4, 64)}
	}
	return ts
}

// colorAt is the palette colour the heat map gives z (the same index rule
// as plotter.HeatMap).
func colorAt(pal palette.Palette, z, zmin, zmax float64) color.Color {
	cs := pal.Colors()
	i := int((z-zmin)/(zmax-zmin)*float64(len(cs)-1) + 0.5)
	return cs[min(max(i, 0), len(cs)-1)]
}

// contrastOn picks black or white text for a background by its relative
// luminance (sRGB weights), so every printed value stays legible.
func contrastOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	lum := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
	if lum < 0.45 {
		return color.White
	}
	return color.Black
}
