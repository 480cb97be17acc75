package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

// Tables 6–9 repeat the schedule groups on WRN-28-10 with Cutout.
func init() {
	groups := []struct {
		name, title string
		group       func() []schedule.Func
	}{
		{"table6", "Table 6: constant schedules with Cutout, WRN-28-10", schedule.ConstantGroup},
		{"table7", "Table 7: piecewise group 1 (SGD then SAM) with Cutout, WRN-28-10", func() []schedule.Func { g, _ := schedule.PiecewiseGroup(1); return g }},
		{"table8", "Table 8: linear group 1 with Cutout, WRN-28-10", func() []schedule.Func { g, _ := schedule.LinearGroup(1); return g }},
		{"table9", "Table 9: trigonometric schedules with Cutout, WRN-28-10", schedule.TrigGroup},
	}
	for _, g := range groups {
		g := g
		cells := func() []Cell {
			return withAugment("crop-flip-cutout", cross([]string{WRN2810}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM), scheduleCells("", false, g.group())))
		}
		register(&Target{
			Name: g.name, Title: g.title,
			About: "WRN-28-10 × {CIFAR-10, CIFAR-100} with crop, flip and Cutout 16×16: SGD, SAM and RST under each schedule of the group",
			Cells: cells,
			Render: func(r *Results) (Output, error) {
				return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
			},
		})
	}
}
