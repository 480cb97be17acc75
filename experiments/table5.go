package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	register(&Target{
		Name: "table5", Title: "Table 5: trigonometric schedules, WRN-28-10",
		About: "WRN-28-10 × {CIFAR-10, CIFAR-100} × RST with cos1, cos2, sin1, sin2 (and SGD, SAM)",
		Cells: func() []Cell {
			return cross([]string{WRN2810}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM), scheduleCells("", false, schedule.TrigGroup()))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
