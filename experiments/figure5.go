package experiments

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/report"
)

// Figure 5's grid: p and the penalty degree γ_rst = p·γ_gnr in units of
// SAM's ρ; G-RST's multiplier is then k = γ_rst / p.
var (
	figure5P     = []float64{0.1, 0.3, 0.5, 0.7, 0.9}
	figure5Gamma = []float64{0.5, 1.0, 1.5}
)

func init() {
	cells := func() []Cell {
		var out []Cell
		for _, g := range figure5Gamma {
			for _, p := range figure5P {
				out = append(out, Cell{Method: optim.Spec{Name: "grst", Schedule: fmt.Sprintf("constant:%g", p),
					Params: map[string]float64{"k": g / p}}, X: p, Series: fmt.Sprintf("γ=%g", g)})
			}
		}
		return cross([]string{WRN2810}, []string{CIFAR10}, out)
	}
	register(&Target{
		Name: "figure5", Title: "Figure 5: error over p and the penalty degree, WRN-28-10",
		About: "G-RST on WRN-28-10, CIFAR-10: p ∈ {0.1, 0.3, 0.5, 0.7, 0.9} × γ_rst ∈ {0.5, 1, 1.5}·ρ → test error, as a heat map",
		Cells: cells,
		Render: func(r *Results) (Output, error) {
			h := &report.Heat{X: figure5P, Y: figure5Gamma, ZLabel: "test error (%)", Digits: 2}
			for _, g := range figure5Gamma {
				row := make([]float64, len(figure5P))
				for j, p := range figure5P {
					row[j] = math.NaN()
					for _, c := range r.Cells() {
						if c.X == p && c.Series == fmt.Sprintf("γ=%g", g) {
							if s := r.Stat(c).Summary(); s.N > 0 {
								row[j] = s.Mean
							}
						}
					}
				}
				h.Z = append(h.Z, row)
			}
			f := &report.Figure{Name: "figure5", Title: "Figure 5: G-RST error over p and γ_rst", Cols: 1,
				Panels: []report.Panel{{Title: panelTitle(r, WRN2810, CIFAR10), XLabel: "p (probability of a GNR step)", YLabel: "γ_rst / ρ", Heat: h}}}
			f.Caption = r.Caption() + " Cell: mean test error over seeds; a hatched cell has no run yet."
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}
