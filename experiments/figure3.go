package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	datas := []string{CIFAR10, CIFAR100}
	cells := func() []Cell {
		out := scheduleCells("constant", false, schedule.ConstantGroup())
		for g := 1; g <= 3; g++ {
			fs, _ := schedule.PiecewiseGroup(g)
			out = append(out, scheduleCells("piecewise", false, fs)...)
		}
		for g := 1; g <= 2; g++ {
			fs, _ := schedule.LinearGroup(g)
			out = append(out, scheduleCells("linear", false, fs)...)
		}
		out = append(out, scheduleCells("trigonometric", false, schedule.TrigGroup())...)
		return cross([]string{WRN2810}, datas, specs(SGD, SAM), out)
	}
	register(&Target{
		Name: "figure3", Title: "Figure 3: every schedule, WRN-28-10",
		About: "summary scatter, WRN-28-10 on CIFAR-10/100: error against Δη for every schedule family",
		Cells: cells,
		Sweep: true,
		Render: func(r *Results) (Output, error) {
			f := &report.Figure{Name: "figure3", Title: "Figure 3: every schedule, WRN-28-10", Cols: 2, PanelWidth: 5}
			for _, d := range datas {
				if !runnable(r.Profile, WRN2810, d) {
					continue
				}
				p := errorPanel(r, WRN2810, d, "", r.Cells())
				for i := range p.Series {
					p.Series[i].Style = report.Points
				}
				f.Panels = append(f.Panels, p)
			}
			f.Caption = r.Caption() + " Error bars and bands: std over seeds."
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}
