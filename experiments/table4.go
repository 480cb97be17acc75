package experiments

import (
	"github.com/rst-bench/rst/suite/report"
)

func init() {
	register(&Target{
		Name: "table4", Title: "Table 4: ImageNet, ResNet-50 and ResNet-101",
		About:      "{ResNet-50, ResNet-101} × ImageNet × {SGD, SAM, G-RST constant 0.5}, three seeds",
		PaperSeeds: 3,
		Cells: func() []Cell {
			return cross([]string{ResNet50, ResNet101}, []string{ImageNet}, specs(SGD, SAM, GRST("constant:0.5")))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
