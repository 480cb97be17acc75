package experiments

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	models, datas := []string{ResNet18, WRN2810}, []string{CIFAR10, CIFAR100}
	cells := func() []Cell {
		return cross(models, datas, specs(SGD, SAM), scheduleCells("RST, constant p", false, schedule.ConstantGroup()))
	}
	register(&Target{
		Name: "figure1", Title: "Figure 1: constant scheduling, a_c = 0.1 … 0.9",
		About: "(A) p(t); (B) expected Δη against the measured extra time relative to SAM's, with x = y; (C) onwards, one panel per model and dataset: error against Δη with the SGD and SAM levels; ResNet-18 and WRN-28-10 on CIFAR-10/100",
		Cells: cells,
		Render: func(r *Results) (Output, error) {
			f := &report.Figure{Name: "figure1", Title: "Figure 1: constant scheduling", Cols: 3}
			f.Panels = append(f.Panels, pOfT("(A) p(t), constant group", schedule.ConstantGroup(), r.Profile.Steps))
			// No YMin: a run timed on a quieter machine than SGD's comes out
			// negative, and a point outside the axes would vanish unseen.
			cost := report.Panel{Title: "(B) cost: expected against measured", XLabel: "expected Δη", YLabel: "measured extra cost / SAM's",
				Lines: []report.RefLine{{Name: "x = y", Slope: 1}}, XMin: report.Limit(0)}
			if s, ok := passSeries(r, r.Cells()); ok {
				cost.Series = append(cost.Series, s)
			}
			for _, m := range models {
				for _, d := range datas {
					if !runnable(r.Profile, m, d) {
						continue
					}
					if s, ok := costSeries(r, m, d, r.Cells()); ok {
						cost.Series = append(cost.Series, s)
					}
				}
			}
			if len(cost.Series) == 0 {
				cost.Title += " (no timed runs yet)"
			}
			f.Panels = append(f.Panels, cost)
			// One error panel per model and dataset: (C), (D), … (the paper's
			// figure has one per model, each named by its own letter).
			for _, m := range models {
				for _, d := range datas {
					if runnable(r.Profile, m, d) {
						p := errorPanel(r, m, d, "", r.Cells())
						p.Title = fmt.Sprintf("(%c) %s", 'A'+len(f.Panels), p.Title)
						f.Panels = append(f.Panels, p)
					}
				}
			}
			f.Caption = r.Caption() + " Error bars and bands: std over the seeds done so far (the manifest lists them; equal errors give no bar)." +
				" (B) realised Δη: the extra forward-backward passes the runs made, mean over every RST run of that p; training-time points are drawn only where every run compared comes from one build and thread count, and even then compare runs made at different moments, which on a shared machine measure the load as much as the method (rst bench --compare measures the cost side by side)."
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}

// costSeries places each RST cell at (expected Δη, measured extra training
// time relative to SAM's), the paper's check that cost follows Δη.
func costSeries(r *Results, model, data string, cells []Cell) (report.Series, bool) {
	tm := func(rec *train.Record) float64 { return rec.TrainSeconds }
	sgd := r.Stat(Cell{Model: model, Data: data, Method: SGD}).Mean(tm)
	sam := r.Stat(Cell{Model: model, Data: data, Method: SAM}).Mean(tm)
	s := report.Series{Name: panelTitle(r, model, data) + " (training time)", Style: report.Points}
	if math.IsNaN(sgd) || math.IsNaN(sam) || sam <= sgd {
		return s, false
	}
	base := []Stat{r.Stat(Cell{Model: model, Data: data, Method: SGD}), r.Stat(Cell{Model: model, Data: data, Method: SAM})}
	for _, c := range cells {
		if c.Model != model || c.Data != data || c.Series == "" {
			continue
		}
		st := r.Stat(c)
		t := st.Mean(tm)
		x := st.Mean(func(rec *train.Record) float64 { return rec.DeltaEtaExpected })
		if math.IsNaN(t) || math.IsNaN(x) || !sameBuild(append(base, st)...) {
			continue // times of different builds do not compare
		}
		s.X = append(s.X, x)
		s.Y = append(s.Y, (t-sgd)/(sam-sgd))
	}
	return s, len(s.X) > 0
}

// passSeries is the realised Δη of every RST run against its expected Δη:
// the extra passes counted, which no load on the machine can change.
func passSeries(r *Results, cells []Cell) (report.Series, bool) {
	s := report.Series{Name: "realised Δη (passes counted)", Style: report.Points}
	byX := map[float64][]float64{}
	var xs []float64
	for _, c := range cells {
		if c.Series == "" {
			continue
		}
		st := r.Stat(c)
		x := st.Mean(func(rec *train.Record) float64 { return rec.DeltaEtaExpected })
		y := st.Mean(func(rec *train.Record) float64 { return rec.DeltaEtaRealised })
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		if _, ok := byX[x]; !ok {
			xs = append(xs, x)
		}
		byX[x] = append(byX[x], y)
	}
	for _, x := range xs {
		var sum float64
		for _, y := range byX[x] {
			sum += y
		}
		s.X = append(s.X, x)
		s.Y = append(s.Y, sum/float64(len(byX[x])))
	}
	return s, len(s.X) > 0
}
