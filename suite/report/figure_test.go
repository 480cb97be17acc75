package report

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/text"
)

// demoFigures are the shapes the paper's figures take: error against Δη
// with error bars and the SGD/SAM levels, expected against measured cost
// with the x = y line, and a heat map. Their numbers are made up.
func demoFigures() []*Figure {
	ps := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
	var errR, errW, sdR, sdW, measured, measSd []float64
	for i, p := range ps {
		wob := 0.04 * math.Sin(float64(i)*2.1)
		errR = append(errR, 4.62-0.42*p+wob)
		errW = append(errW, 3.30-0.55*p-wob)
		sdR = append(sdR, 0.08+0.02*math.Cos(float64(i)))
		sdW = append(sdW, 0.07+0.02*math.Sin(float64(i)))
		measured = append(measured, 0.93*p+0.01*math.Sin(float64(i)*3))
		measSd = append(measSd, 0.015)
	}
	one := &Figure{
		Name:  "demo_constant",
		Title: "Constant schedules p(t) = a_c, CIFAR-10",
		Cols:  2,
		Panels: []Panel{
			{
				Title: "(C) test error vs extra cost", XLabel: "Δη (extra forward-backward passes per step)", YLabel: "test error (%)",
				Series: []Series{
					{Name: "RST, ResNet-18", X: ps, Y: errR, YErr: sdR},
					{Name: "RST, WRN-28-10", X: ps, Y: errW, YErr: sdW},
				},
				Lines: []RefLine{
					{Name: "SGD, ResNet-18", Intercept: 4.68, Band: 0.11},
					{Name: "SAM (ρ = 0.05), ResNet-18", Intercept: 4.22, Band: 0.09},
				},
			},
			{
				Title: "(B) expected vs measured extra time", XLabel: "expected Δη = E[Σ p(t)]/T", YLabel: "measured extra time (× SAM's)",
				Series: []Series{{Name: "ResNet-18", X: ps, Y: measured, YErr: measSd, Style: Points}},
				Lines:  []RefLine{{Name: "x = y", Slope: 1}},
				XMin:   Limit(0), XMax: Limit(1), YMin: Limit(0), YMax: Limit(1),
			},
		},
		Caption: "Mean ± std over 5 seeds (error bars, shaded bands). Made-up numbers for the report package's demo; η is the cost ratio, ∇ and ‖·‖ render too.",
	}
	pgrid := []float64{0.1, 0.3, 0.5, 0.7, 0.9}
	gam := []float64{0.5, 0.75, 1, 1.25, 1.5}
	z := make([][]float64, len(gam))
	for i, g := range gam {
		z[i] = make([]float64, len(pgrid))
		for j, p := range pgrid {
			z[i][j] = 2.9 - 0.3*p + 0.2*(g-1)*(g-1) + 0.05*math.Sin(float64(i*5+j))
		}
	}
	z[4][0] = math.NaN() // a run that has not finished
	heat := &Figure{
		Name: "demo_heat",
		Panels: []Panel{{
			Title: "G-RST, WRN-28-10, CIFAR-10", XLabel: "p (probability of a sharp step)", YLabel: "γ_rst / ρ",
			Heat: &Heat{X: pgrid, Y: gam, Z: z, ZLabel: "test error (%)", Digits: 2},
		}},
		PanelWidth: 5, PanelHeight: 4,
		Caption: "Test error over p × γ_rst; hatched: no run yet.",
	}
	// Many schedules in one scatter (the paper's summary figure) and the
	// four trigonometric p(t) with realised draws: long legends, thousands
	// of points, a lines-only look.
	var many []Series
	for k, name := range []string{"constant", "piecewise 1", "piecewise 2", "piecewise 3", "linear 1", "linear 2", "cos1", "cos2", "sin1", "sin2"} {
		var x, y []float64
		for i := range 4 {
			d := 0.15 + 0.2*float64(i) + 0.01*float64(k)
			x = append(x, d)
			y = append(y, 2.95-0.3*d+0.03*math.Sin(float64(k*4+i)))
		}
		many = append(many, Series{Name: name, X: x, Y: y, Style: Points})
	}
	var trig []Panel
	for k, name := range []string{"cos1", "cos2", "sin1", "sin2"} {
		var t, p, draws, drawY []float64
		for i := range 400 {
			x := float64(i) / 399
			var v float64
			switch k {
			case 0:
				v = 0.5 + 0.5*math.Cos(math.Pi*x)
			case 1:
				v = 0.5 - 0.5*math.Cos(math.Pi*x)
			case 2:
				v = math.Sin(math.Pi * x)
			default:
				v = 1 - math.Sin(math.Pi*x)
			}
			t = append(t, x)
			p = append(p, v)
			if i%4 == 0 {
				draws = append(draws, x)
				// a fixed pseudo-random pattern: deterministic, no generator
				if math.Mod(float64(i)*0.6180339887, 1) < v {
					drawY = append(drawY, 1)
				} else {
					drawY = append(drawY, 0)
				}
			}
		}
		trig = append(trig, Panel{
			Title: name, XLabel: "t / T", YLabel: "p(t)",
			Series: []Series{{Name: "p(t)", X: t, Y: p, Style: Line}, {Name: "realised draws X_t", X: draws, Y: drawY, Style: Points}},
			YMin:   Limit(-0.05), YMax: Limit(1.05),
		})
	}
	summary := &Figure{
		Name: "demo_many", Title: "Every schedule, WRN-28-10", Cols: 3,
		Panels: append([]Panel{{
			Title: "error vs Δη", XLabel: "Δη", YLabel: "test error (%)", Series: many,
			Lines: []RefLine{{Name: "SGD", Intercept: 3.05}, {Name: "SAM", Intercept: 2.62, Band: 0.04}},
		}}, trig...),
	}
	return []*Figure{one, heat, summary}
}

// TestFigureDemo writes the demo figures (to $REPORT_DEMO_DIR when set,
// for looking at them) and checks the PNG's size and resolution.
func TestFigureDemo(t *testing.T) {
	dir := os.Getenv("REPORT_DEMO_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, f := range demoFigures() {
		if err := f.Save(dir); err != nil {
			t.Fatal(err)
		}
		w, h := f.size()
		b, err := os.ReadFile(filepath.Join(dir, f.Name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// 300 dpi: a 72-point inch is 300 pixels.
		wantW, wantH := int(math.Ceil(w.Points()/72*pngDPI)), int(math.Ceil(h.Points()/72*pngDPI))
		if got := img.Bounds().Size(); abs(got.X-wantW) > 1 || abs(got.Y-wantH) > 1 {
			t.Errorf("%s.png is %v px, want %dx%d (300 dpi)", f.Name, got, wantW, wantH)
		}
		if _, err := os.Stat(filepath.Join(dir, f.Name+".svg")); err != nil {
			t.Error(err)
		}
	}
}

func abs(x int) int { return max(x, -x) }

// goldenFigure is small on purpose: one series panel (a line with error
// bars, a level with a band, x = y) and a 2×2 heat map with a missing cell.
func goldenFigure() *Figure {
	return &Figure{
		Name:  "figure_golden",
		Title: "Golden figure: Δη, ρ, γ, ∇",
		Panels: []Panel{
			{
				Title: "error vs Δη", XLabel: "Δη", YLabel: "error (%)",
				Series: []Series{{Name: "RST", X: []float64{0.25, 0.5, 0.75}, Y: []float64{4.5, 4.3, 4.2}, YErr: []float64{0.1, 0.05, 0.1}}},
				Lines:  []RefLine{{Name: "SGD", Intercept: 4.7, Band: 0.05}, {Name: "fit", Slope: -0.6, Intercept: 4.65}},
			},
			{
				Title: "map", XLabel: "p", YLabel: "γ",
				Heat: &Heat{X: []float64{0.1, 0.9}, Y: []float64{0.5, 1.5}, Z: [][]float64{{1, 2}, {math.NaN(), 4}}, ZLabel: "z", Digits: 1},
			},
		},
		PanelWidth: 3, PanelHeight: 2.4,
		Caption: "A caption long enough to wrap onto a second line below the two panels, with ± and ‖∇L‖².",
	}
}

// TestFigureGolden compares the SVG with testdata/figure_golden.svg. The
// text must match exactly; coordinates may differ by 0.01 pt, so a
// different floating-point unit (FMA on arm64) does not fail the test.
func TestFigureGolden(t *testing.T) {
	var b bytes.Buffer
	if err := goldenFigure().SVG(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "figure_golden.svg")
	if *update {
		golden(t, "figure_golden.svg", b.Bytes())
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./suite/report -update to create it)", err)
	}
	if msg := svgDiff(b.String(), string(want), 0.01); msg != "" {
		t.Fatalf("figure_golden.svg: %s (look at the figure; if the change is meant, run go test ./suite/report -update)", msg)
	}
}

var number = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?`)

// svgDiff compares two SVG texts, numbers within tol and everything else
// exactly; it returns where they first differ, or "".
func svgDiff(got, want string, tol float64) string {
	gt, gn := splitNumbers(got)
	wt, wn := splitNumbers(want)
	if len(gt) != len(wt) {
		return fmt.Sprintf("%d text pieces, want %d", len(gt), len(wt))
	}
	for i := range gt {
		if gt[i] != wt[i] {
			return fmt.Sprintf("text %q, want %q", gt[i], wt[i])
		}
	}
	for i := range gn {
		if math.Abs(gn[i]-wn[i]) > tol {
			return fmt.Sprintf("number %d is %v, want %v (after %q)", i, gn[i], wn[i], gt[i])
		}
	}
	return ""
}

func splitNumbers(s string) (texts []string, nums []float64) {
	last := 0
	for _, m := range number.FindAllStringIndex(s, -1) {
		texts = append(texts, s[last:m[0]])
		v, _ := strconv.ParseFloat(s[m[0]:m[1]], 64)
		nums = append(nums, v)
		last = m[1]
	}
	return append(texts, s[last:]), nums
}

func TestSVGDiff(t *testing.T) {
	if msg := svgDiff(`<path d="M1.001,2"/>`, `<path d="M1,2"/>`, 0.01); msg != "" {
		t.Errorf("a 0.001 shift must pass: %s", msg)
	}
	if msg := svgDiff(`<path d="M1.1,2"/>`, `<path d="M1,2"/>`, 0.01); msg == "" {
		t.Error("a 0.1 shift must fail")
	}
	if msg := svgDiff(`<text>SGD</text>`, `<text>SAM</text>`, 0.01); msg == "" {
		t.Error("changed text must fail")
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		// span 2.05: steps 0.1, 0.2, 0.25 cut it into more than 7; 0.5 does not.
		{2.75, 4.8, "3.0 3.5 4.0 4.5"},
		{0, 1, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{-0.05, 0.95, "0.0 0.2 0.4 0.6 0.8"},
		{0, 120, "0 20 40 60 80 100 120"},
		{2.63, 2.92, "2.65 2.70 2.75 2.80 2.85 2.90"},
		{-1, 1, "-1.0 -0.5 0.0 0.5 1.0"},
	} {
		var got []string
		for _, tk := range (niceTicks{}).Ticks(c.lo, c.hi) {
			got = append(got, tk.Label)
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("ticks on [%v, %v] = %s, want %s", c.lo, c.hi, s, c.want)
		}
	}
}

func TestLegendLayout(t *testing.T) {
	// Short names share a row; a panel too narrow for two takes two rows.
	names := []string{"SGD", "SAM (ρ = 0.05)", "RST, ResNet-18"}
	if rows := layoutLegend(names, 4*72); len(rows) != 1 {
		t.Errorf("4 in wide: %d legend rows, want 1", len(rows))
	}
	if rows := layoutLegend(names, 1.5*72); len(rows) < 2 {
		t.Errorf("1.5 in wide: %d legend rows, want at least 2", len(rows))
	}
	// Every entry appears once, in order.
	var seen []int
	for _, r := range layoutLegend(names, 1.5*72) {
		seen = append(seen, r...)
	}
	if fmt.Sprint(seen) != "[0 1 2]" {
		t.Errorf("legend order %v", seen)
	}
}

func TestHeatTextContrast(t *testing.T) {
	if contrastOn(color.Black) != color.White || contrastOn(color.White) != color.Black {
		t.Fatal("values on dark cells must be white, on light cells black")
	}
	// The darkest ends of the blue–red scale take white text.
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	pal := cm.Palette(255)
	for _, z := range []float64{0, 1} {
		if contrastOn(colorAt(pal, z, 0, 1)) != color.White {
			t.Errorf("text on the scale's end z=%v is not white", z)
		}
	}
	if contrastOn(colorAt(pal, 0.5, 0, 1)) != color.Black {
		t.Error("text on the scale's light middle is not black")
	}
}

func TestFontHasGlyphs(t *testing.T) {
	if err := loadFont(); err != nil {
		t.Fatal(err)
	}
	face := handler.(text.Plain).Fonts.Lookup(Font, 10)
	if face.Font.Typeface != Font.Typeface {
		t.Fatalf("font lookup fell back to %q", face.Font.Typeface)
	}
	var buf sfnt.Buffer
	for _, r := range "ΔηρβγεμσΣ∇≈±–×‖²·≤≥" {
		if i, err := face.Face.GlyphIndex(&buf, r); err != nil || i == 0 {
			t.Errorf("DejaVu Sans has no glyph for %q", r)
		}
	}
}

func TestFigureErrors(t *testing.T) {
	ok := Series{X: []float64{1, 2}, Y: []float64{1, 2}}
	for _, c := range []struct {
		f    Figure
		want string
	}{
		{Figure{Name: "a/b", Panels: []Panel{{Series: []Series{ok}}}}, "not usable as a file name"},
		{Figure{Name: "f"}, "no panels"},
		{Figure{Name: "f", Panels: []Panel{{Title: "A"}}}, `panel 1 ("A"): nothing to draw`},
		{Figure{Name: "f", Panels: []Panel{{Series: []Series{ok, {Name: "s", X: []float64{1}, Y: []float64{1, 2}}}}}}, `series 2 ("s"): 1 x values for 2 y values`},
		{Figure{Name: "f", Panels: []Panel{{Series: []Series{{X: []float64{1, 2}, Y: []float64{1, math.NaN()}}}}}}, "point 2 is not finite"},
		{Figure{Name: "f", Panels: []Panel{{Series: []Series{{X: []float64{1}, Y: []float64{1}, YErr: []float64{1, 2}}}}}}, "2 error bars for 1 points"},
		{Figure{Name: "f", Panels: []Panel{{Series: []Series{ok}, YMin: Limit(2), YMax: Limit(1)}}}, "lower limit must be below"},
		{Figure{Name: "f", Panels: []Panel{{Series: []Series{ok}, Heat: &Heat{X: []float64{1}, Y: []float64{1}, Z: [][]float64{{1}}}}}}, "cannot also hold series"},
		{Figure{Name: "f", Panels: []Panel{{Heat: &Heat{X: []float64{1, 2}, Y: []float64{1}, Z: [][]float64{{1}}}}}}, "row 1 has 1 values for 2 X values"},
		{Figure{Name: "f", Panels: []Panel{{Heat: &Heat{X: []float64{2, 1}, Y: []float64{1}, Z: [][]float64{{1, 2}}}}}}, "must be increasing"},
	} {
		dir := t.TempDir()
		err := c.f.Save(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("figure %+v: error %v, want one containing %q", c.f, err, c.want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("figure %+v: wrote %d files before failing", c.f, len(ents))
		}
	}
}
