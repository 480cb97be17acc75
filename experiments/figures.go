package experiments

import (
	"math"
	"strings"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
	"github.com/rst-bench/rst/suite/train"
)

// point is one cell on an error-vs-Δη panel.
type point struct {
	x, y, err float64
	n         int
}

// cellPoint places a cell at its expected Δη (from its records, which hold
// the exact mean of p(t) over the run) and its mean error ± std.
func cellPoint(r *Results, c Cell) (point, bool) {
	st := r.Stat(c)
	s := st.Summary()
	if s.N == 0 {
		return point{}, false
	}
	x := st.Mean(func(rec *train.Record) float64 { return rec.DeltaEtaExpected })
	if math.IsNaN(x) {
		x = c.X
	}
	e := s.Std
	if math.IsNaN(e) {
		e = 0
	}
	return point{x: x, y: s.Mean, err: e, n: s.N}, true
}

// seriesOf turns cells into one series of error against Δη.
func seriesOf(r *Results, name string, cells []Cell, byParam bool) (report.Series, bool) {
	s := report.Series{Name: name}
	for _, c := range cells {
		if p, ok := cellPoint(r, c); ok {
			if byParam {
				p.x = c.X
			}
			s.X = append(s.X, p.x)
			s.Y = append(s.Y, p.y)
			s.YErr = append(s.YErr, p.err)
		}
	}
	return s, len(s.X) > 0
}

// baselines are the SGD (Δη 0) and SAM (Δη 1) levels of a model and data,
// with their spread over seeds as a band.
func baselines(r *Results, model, data, aug string) []report.RefLine {
	var lines []report.RefLine
	for _, m := range []struct {
		name string
		c    Cell
	}{{"SGD", Cell{Model: model, Data: data, Method: SGD, Augment: aug}}, {"SAM", Cell{Model: model, Data: data, Method: SAM, Augment: aug}}} {
		s := r.Stat(m.c).Summary()
		if s.N == 0 {
			continue
		}
		band := s.Std
		if math.IsNaN(band) {
			band = 0
		}
		lines = append(lines, report.RefLine{Name: m.name + " (mean ± std)", Intercept: s.Mean, Band: band})
	}
	return lines
}

// errorPanel is an error-vs-Δη panel for one model and dataset: one series
// per schedule group, the SGD and SAM levels as reference lines.
func errorPanel(r *Results, model, data, aug string, groups []Cell) report.Panel {
	return groupPanel(r, model, data, aug, groups, false)
}

// paramPanel is errorPanel for the groups whose members share one Δη
// (piecewise group 3, linear group 2): error against the schedule's
// parameter, where the Δη axis would stack them all at one x.
func paramPanel(r *Results, model, data, aug string, groups []Cell) report.Panel {
	p := groupPanel(r, model, data, aug, groups, true)
	p.Title += ", Δη = 0.5"
	p.XLabel = "the group's parameter (a_p or b_l)"
	return p
}

func groupPanel(r *Results, model, data, aug string, groups []Cell, byParam bool) report.Panel {
	p := report.Panel{
		Title:  panelTitle(r, model, data),
		XLabel: "expected Δη (extra passes per step)", YLabel: "test error (%)",
		Lines: baselines(r, model, data, aug),
	}
	var order []string
	bySeries := map[string][]Cell{}
	for _, c := range groups {
		if c.Model != model || c.Data != data || c.Series == "" || c.Param != byParam {
			continue
		}
		if _, ok := bySeries[c.Series]; !ok {
			order = append(order, c.Series)
		}
		bySeries[c.Series] = append(bySeries[c.Series], c)
	}
	for _, name := range order {
		if s, ok := seriesOf(r, name, bySeries[name], byParam); ok {
			p.Series = append(p.Series, s)
		}
	}
	return p
}

// pOfT plots each schedule's p(t) over t/T.
func pOfT(title string, group []schedule.Func, T int) report.Panel {
	p := report.Panel{Title: title, XLabel: "t / T", YLabel: "p(t)", YMin: report.Limit(0), YMax: report.Limit(1)}
	const n = 200
	for _, f := range group {
		s := report.Series{Name: f.String(), Style: report.Line}
		for i := 0; i <= n; i++ {
			t := i * (T - 1) / n
			s.X = append(s.X, float64(t)/float64(T))
			s.Y = append(s.Y, f.P(t, T))
		}
		p.Series = append(p.Series, s)
	}
	return p
}

// runnable reports whether the profile can run model on data.
func runnable(p *Profile, model, data string) bool {
	_, okM := p.Models[model]
	_, okD := p.Data[data]
	return okM && okD
}

// panelTitle names what a panel's runs trained: the profile's model on its
// dataset ("small CNN on Fashion-MNIST"); the caption says what they stand
// in for. Table rows spell out both; a panel title has no room.
func panelTitle(r *Results, model, data string) string {
	m, d := model, data
	if v, ok := r.Profile.Models[model]; ok {
		m = v
	}
	if v, ok := r.Profile.Data[data]; ok {
		d = v
	}
	if note := r.Profile.dataNote(model); note != "" {
		// A panel title has one line: the note's short form.
		return Display(m) + " on " + Display(d) + ", " + strings.Replace(note, " training labels", " labels", 1)
	}
	return Display(m) + " on " + Display(d)
}
