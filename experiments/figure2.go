package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	models, datas := []string{ResNet18, WRN2810}, []string{CIFAR10, CIFAR100}
	groups := func() []Cell {
		var out []Cell
		for g := 1; g <= 2; g++ {
			fs, _ := schedule.PiecewiseGroup(g)
			out = append(out, scheduleCells([]string{"", "piecewise group 1 (SGD → SAM)", "piecewise group 2 (SAM → SGD)"}[g], false, fs)...)
		}
		fs, _ := schedule.LinearGroup(1)
		out = append(out, scheduleCells("linear group 1", false, fs)...)
		// Every member of these two groups has Δη = 0.5: they are placed
		// at their parameter a_p or b_l = 0.1 … 0.9 instead.
		g3, _ := schedule.PiecewiseGroup(3)
		l2, _ := schedule.LinearGroup(2)
		for _, g := range []struct {
			name string
			fs   []schedule.Func
		}{{"piecewise group 3 (b_p = 0.5) against a_p", g3}, {"linear group 2 against b_l", l2}} {
			for i, c := range scheduleCells(g.name, false, g.fs) {
				c.X, c.Param = float64(i+1)/10, true
				out = append(out, c)
			}
		}
		return out
	}
	cells := func() []Cell { return cross(models, datas, specs(SGD, SAM), groups()) }
	register(&Target{
		Name: "figure2", Title: "Figure 2: piecewise and linear scheduling",
		About: "error against Δη for piecewise groups 1–3 and linear groups 1–2, ResNet-18 and WRN-28-10 on CIFAR-10/100, with the SGD and SAM levels (group 3 and linear group 2 all have Δη = 0.5)",
		Cells: cells,
		Sweep: true,
		Render: func(r *Results) (Output, error) {
			f := &report.Figure{Name: "figure2", Title: "Figure 2: piecewise and linear scheduling", Cols: 2, PanelWidth: 5}
			for _, m := range models {
				for _, d := range datas {
					if runnable(r.Profile, m, d) {
						f.Panels = append(f.Panels, errorPanel(r, m, d, "", r.Cells()), paramPanel(r, m, d, "", r.Cells()))
					}
				}
			}
			f.Caption = r.Caption() + " Error bars and bands: std over seeds. Piecewise group 3 and linear group 2 have Δη = 0.5 for every member, so their panels place each run at its group parameter instead."
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}
