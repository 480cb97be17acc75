package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	register(&Target{
		Name: "table10", Title: "Table 10: VGG16-BN, constant schedules",
		About: "VGG16-BN × {CIFAR-10, CIFAR-100} × {SGD, SAM, RST constant 0.1…0.9}",
		Cells: func() []Cell {
			return cross([]string{VGG16BN}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM), scheduleCells("", false, schedule.ConstantGroup()))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
