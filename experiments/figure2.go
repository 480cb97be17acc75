package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	models, datas := []string{ResNet18, WRN2810}, []string{CIFAR10, CIFAR100}
	groups := func() []Cell {
		var out []Cell
		for g := 1; g <= 3; g++ {
			fs, _ := schedule.PiecewiseGroup(g)
			out = append(out, scheduleCells([]string{"", "piecewise group 1 (SGD → SAM)", "piecewise group 2 (SAM → SGD)", "piecewise group 3 (b_p = 0.5)"}[g], false, fs)...)
		}
		for g := 1; g <= 2; g++ {
			fs, _ := schedule.LinearGroup(g)
			out = append(out, scheduleCells([]string{"", "linear group 1", "linear group 2"}[g], false, fs)...)
		}
		return out
	}
	cells := func() []Cell { return cross(models, datas, specs(SGD, SAM), groups()) }
	register(&Target{
		Name: "figure2", Title: "Figure 2: piecewise and linear scheduling",
		About: "error against Δη for piecewise groups 1–3 and linear groups 1–2, ResNet-18 and WRN-28-10 on CIFAR-10/100, with the SGD and SAM levels (group 3 and linear group 2 all have Δη = 0.5)",
		Cells: cells,
		Render: func(r *Results) (Output, error) {
			f := &report.Figure{Name: "figure2", Title: "Figure 2: piecewise and linear scheduling", Cols: 2}
			for _, m := range models {
				for _, d := range datas {
					if runnable(r.Profile, m, d) {
						f.Panels = append(f.Panels, errorPanel(r, m, d, "", cells()))
					}
				}
			}
			f.Caption = r.Caption() + " Error bars and bands: std over seeds. Piecewise group 3 and linear group 2 have Δη = 0.5 for every member: their points stack at x = 0.5."
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}
