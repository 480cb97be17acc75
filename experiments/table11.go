package experiments

import (
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

func init() {
	register(&Target{
		Name: "table11", Title: "Table 11: ViT-S16, constant schedules (300 epochs, no mixup)",
		About: "ViT-S16 × {CIFAR-10, CIFAR-100} × {SGD, SAM, RST constant 0.1…0.9}",
		Cells: func() []Cell {
			return cross([]string{ViTS}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM), scheduleCells("", false, schedule.ConstantGroup()))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
