package theory

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var update = flag.Bool("update", false, "rewrite the golden files in theory/testdata")

// drawnText is one call to a text handler's Draw.
type drawnText struct {
	txt string
	sty text.Style
	pt  vg.Point
}

// box is where the text lands on the canvas.
func (d drawnText) box() vg.Rectangle { return d.sty.Rectangle(d.txt).Add(d.pt) }

// recorder is a text handler that remembers what it draws.
type recorder struct {
	text.Handler
	drawn []drawnText
}

func (r *recorder) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	r.drawn = append(r.drawn, drawnText{txt, sty, pt})
	r.Handler.Draw(c, txt, sty, pt)
}

// missingGlyphs lists the runes of s that fnt has no glyph for (spaces aside);
// text.Plain draws nothing for them.
func missingGlyphs(h text.Handler, fnt font.Font, s string) (string, error) {
	face := h.Cache().Lookup(fnt, fnt.Size)
	if face.Face == nil {
		return "", fmt.Errorf("no font face for %s", fnt.Name())
	}
	var buf sfnt.Buffer
	var miss []rune
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		if i, err := face.Face.GlyphIndex(&buf, r); err != nil || i == 0 {
			miss = append(miss, r)
		}
	}
	return string(miss), nil
}

// The check has teeth: gonum/plot's default font, the one the report used
// before, really lacks ∇ and the subscript t.
func TestMissingGlyphsFindsLiberationGaps(t *testing.T) {
	fnt := font.From(plot.DefaultFont, 10)
	miss, err := missingGlyphs(plot.DefaultTextHandler, fnt, "‖∇L(θₜ)‖²")
	if err != nil {
		t.Fatal(err)
	}
	if miss != "∇ₜ" {
		t.Errorf("Liberation: missing %q, want \"∇ₜ\"", miss)
	}
	h, err := plotHandler()
	if err != nil {
		t.Fatal(err)
	}
	if miss, _ := missingGlyphs(h, font.From(plotFont, 10), "‖∇L(θₜ)‖² min over s < t 10⁻¹⁸ ρβ ε γ μ ½x² L*"); miss != "" {
		t.Errorf("DejaVu Sans: missing %q", miss)
	}
}

func overlap(a, b vg.Rectangle, tol vg.Length) bool {
	return a.Min.X+tol < b.Max.X && b.Min.X+tol < a.Max.X && a.Min.Y+tol < b.Max.Y && b.Min.Y+tol < a.Max.Y
}

// TestPlotLayout draws every figure of the report and checks what a reader
// would: every character has a glyph in the font, no text leaves the canvas,
// no two texts overlap, no text and no legend lies on the data area, and the
// title, labels and every legend entry were drawn.
func TestPlotLayout(t *testing.T) {
	h, err := plotHandler()
	if err != nil {
		t.Fatal(err)
	}
	figs := reportFigures(Suite())
	if len(figs) != 13 {
		t.Errorf("%d figures, want 13", len(figs))
	}
	v := figVerdicts(sampleVerdicts())
	if len(v.marks) != 3 {
		t.Errorf("verdict figure: %d mark series, want one per verdict", len(v.marks))
	}
	for _, f := range append(figs, v) {
		rec := &recorder{Handler: h}
		var data vg.Rectangle
		L, err := f.render(rec, func(w, ht vg.Length) vg.CanvasSizer { return vgimg.New(w, ht) })
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		{
			p, _, _ := f.build(h)
			data = p.DataCanvas(draw.Canvas{Rectangle: L.plot}).Rectangle
		}
		canvas := vg.Rectangle{Max: vg.Point{X: L.w, Y: L.h}}
		seen := map[string]bool{}
		for i, d := range rec.drawn {
			seen[d.txt] = true
			for _, line := range h.Lines(d.txt) {
				miss, err := missingGlyphs(h, d.sty.Font, line)
				if err != nil {
					t.Fatalf("%s: %v", f.name, err)
				}
				if miss != "" {
					t.Errorf("%s: %q: no glyph for %q in %s", f.name, line, miss, d.sty.Font.Name())
				}
			}
			b := d.box()
			if b.Min.X < canvas.Min.X || b.Min.Y < canvas.Min.Y || b.Max.X > canvas.Max.X || b.Max.Y > canvas.Max.Y {
				t.Errorf("%s: %q at %v leaves the %v canvas", f.name, d.txt, b, canvas.Max)
			}
			if overlap(b, data, 0.5) {
				t.Errorf("%s: %q at %v lies on the data area %v", f.name, d.txt, b, data)
			}
			for _, e := range rec.drawn[:i] {
				if overlap(b, e.box(), 0.5) {
					t.Errorf("%s: %q at %v overlaps %q at %v", f.name, d.txt, b, e.txt, e.box())
				}
			}
		}
		want := []string{f.title, f.subtitle, f.xLabel, f.yLabel}
		for _, col := range L.legendCols {
			if overlap(col.rect, L.plot, 0) || col.rect.Min.X < 0 || col.rect.Min.Y < 0 || col.rect.Max.X > L.w {
				t.Errorf("%s: legend column %v is not below the plot %v inside the canvas", f.name, col.rect, L.plot)
			}
			for _, it := range col.items {
				want = append(want, it.name)
			}
		}
		if n := len(f.lines) + len(f.marks); len(want)-4 != n {
			t.Errorf("%s: %d legend entries for %d series", f.name, len(want)-4, n)
		}
		for _, s := range want {
			if !seen[s] {
				t.Errorf("%s: %q was not drawn", f.name, s)
			}
		}
	}
}

func TestPlotPoints(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5}
	f := figure{lines: []series{
		{x: x, y: []float64{1, 0.1, 0.01, 0, 0, 0}},
		{x: x, y: []float64{1, 0.1, 0, math.NaN(), 1e30, math.Inf(1)}, dash: true},
	}}
	lo, hi := f.yRange()
	if hi != 1 || lo != 1e-2 {
		t.Errorf("y range [%g, %g], want [0.01, 1]: zeros and a bound beyond the headroom stay out", lo, hi)
	}
	pts, exit, visible := f.points(f.lines[1], lo, hi)
	if len(pts) != 5 || !visible || exit != 4 {
		t.Fatalf("%d points, visible %v, exit %v; want 5 (NaN dropped), true, 4", len(pts), visible, exit)
	}
	if pts[2].Y >= lo || pts[3].Y <= hi || pts[4].Y <= hi || math.IsInf(pts[4].Y, 0) {
		t.Errorf("0 → %g (want under %g), 1e30 → %g and +Inf → %g (want finite, over %g)", pts[2].Y, lo, pts[3].Y, pts[4].Y, hi)
	}
	if s := pow10(-18) + " " + pow10(0) + " " + pow10(3); s != "10⁻¹⁸ 10⁰ 10³" {
		t.Errorf("pow10: %q", s)
	}
	// Both ends of a y axis carry a label.
	for _, r := range [][2]float64{{1e-19, 100}, {3e-7, 0.5}, {1e-24, 1}} {
		f := figure{lines: []series{{x: []float64{0, 1}, y: r[:]}}}
		lo, hi := f.yRange()
		ts := decades{}.Ticks(lo, hi)
		if ts[0].Label == "" || ts[len(ts)-1].Label == "" || ts[0].Value != lo || ts[len(ts)-1].Value != hi {
			t.Errorf("data %v: axis [%g, %g] with end ticks %+v, %+v", r, lo, hi, ts[0], ts[len(ts)-1])
		}
	}
}

var svgNumber = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?`)

// sameSVG compares two SVG texts, numbers within tol (coordinates in points,
// so a platform's last-digit rounding passes and a moved element does not).
func sameSVG(got, want string, tol float64) error {
	gn, wn := svgNumber.FindAllStringIndex(got, -1), svgNumber.FindAllStringIndex(want, -1)
	gs, ws := svgNumber.Split(got, -1), svgNumber.Split(want, -1)
	for i := 0; i < min(len(gs), len(ws)); i++ {
		if gs[i] != ws[i] {
			return fmt.Errorf("text differs: got %q, want %q", gs[i], ws[i])
		}
		if i < min(len(gn), len(wn)) {
			g, _ := strconv.ParseFloat(got[gn[i][0]:gn[i][1]], 64)
			w, _ := strconv.ParseFloat(want[wn[i][0]:wn[i][1]], 64)
			if math.Abs(g-w) > tol {
				ctx := got[max(0, gn[i][0]-60):min(len(got), gn[i][1]+20)]
				return fmt.Errorf("number %d differs: got %g, want %g, in …%s…", i, g, w, ctx)
			}
		}
	}
	if len(gs) != len(ws) || len(gn) != len(wn) {
		return fmt.Errorf("got %d numbers, want %d", len(gn), len(wn))
	}
	return nil
}

// TestPlotGolden pins the layout of one figure: the last-iterate
// counterexample (cheap and deterministic, with a legend of lines and marks).
// Run `go test ./theory -run TestPlotGolden -update` after an intended change
// and look at the new file.
func TestPlotGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := figLastIterate().writeSVG(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "thm1_last_iterate_counterexample.svg")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if err := sameSVG(buf.String(), string(want), 0.01); err != nil {
		t.Errorf("%s: %v; if the change is intended, rerun with -update and look at the figure", path, err)
	}
}

// The comparison itself fails on a moved element.
func TestSameSVG(t *testing.T) {
	a := `<path d="M10.5,20L30,40.25" />`
	if err := sameSVG(a, `<path d="M10.5,20L30,40.253" />`, 0.01); err != nil {
		t.Errorf("rounding difference rejected: %v", err)
	}
	if sameSVG(a, `<path d="M10.5,21L30,40.25" />`, 0.01) == nil || sameSVG(a, `<path d="M10.5,20L30,40.25" /><g/>`, 0.01) == nil ||
		sameSVG(a, `<path x="M10.5,20L30,40.25" />`, 0.01) == nil {
		t.Error("a moved point, an extra element or a changed attribute passed")
	}
}

// sampleVerdicts are Monte Carlo checks with every verdict, and an exact
// one, which the verdict figure leaves out.
func sampleVerdicts() []Section {
	var cs []Check
	for i := 0; i < 30; i++ {
		r := 0.3 + 0.05*float64(i)
		v := judge(1, r, 0.1, 1)
		cs = append(cs, Check{Bound: 1, Observed: r, CI: 0.1, Verdict: v})
	}
	cs = append(cs, Check{Bound: 1, Observed: 2, Verdict: Violated})
	return []Section{{Name: "sample", Checks: cs}}
}

// TestFigVerdicts: one mark per Monte Carlo check, in the series of its
// verdict.
func TestFigVerdicts(t *testing.T) {
	f := figVerdicts(sampleVerdicts())
	n := map[string]int{}
	total := 0
	for _, m := range f.marks {
		n[strings.Fields(m.name)[0]] = len(m.x)
		total += len(m.x)
	}
	if total != 30 || n["holds"] == 0 || n["violated"] == 0 || n["inconclusive"] == 0 {
		t.Errorf("marks per verdict %v (total %d, want 30)", n, total)
	}
}

// TestWriteReport runs `rst theory` end to end (the checks take ~30 s on 2 idle cores).
func TestWriteReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every check")
	}
	dir := t.TempDir()
	var log strings.Builder
	if err := WriteReport(dir, &log); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Inconclusive checks", "| inconclusive |", "mutation test", "(verdicts.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	for _, f := range append(reportFigures(Suite()), figure{name: "verdicts"}) {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(dir, f.name+ext)); err != nil || st.Size() < 1000 {
				t.Errorf("%s%s: %v", f.name, ext, err)
			}
		}
		if !strings.Contains(string(md), "("+f.name+".png)") {
			t.Errorf("README.md does not show %s.png", f.name)
		}
	}
}
