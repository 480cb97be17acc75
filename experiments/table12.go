package experiments

import (
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/report"
)

func init() {
	half := "constant:0.5"
	register(&Target{
		Name: "table12", Title: "Table 12: ASAM and GSAM with RST and G-RST",
		About: "ResNet-18 × {CIFAR-10, CIFAR-100}: ASAM and GSAM alone, as RST's sharp step (p = 0.5), and as G-RST's (p = 0.5, degree ×2)",
		Cells: func() []Cell {
			return cross([]string{ResNet18}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM,
				optim.Spec{Name: "asam"},
				optim.Spec{Name: "rst", Sharp: "asam", Schedule: half},
				optim.Spec{Name: "grst", Sharp: "asam", Schedule: half},
				optim.Spec{Name: "gsam"},
				optim.Spec{Name: "rst", Sharp: "gsam", Schedule: half},
				optim.Spec{Name: "grst", Sharp: "gsam", Schedule: half}))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
