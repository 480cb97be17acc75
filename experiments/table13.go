package experiments

import (
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/report"
)

func init() {
	register(&Target{
		Name: "table13", Title: "Table 13: RST with LookSAM, ESAM and SSAM",
		About: "ResNet-18 × {CIFAR-10, CIFAR-100}: LookSAM(5), ESAM and SSAM-F alone and as RST's sharp step with p = 0.5 and 0.75",
		Cells: func() []Cell {
			var ms []optim.Spec
			for _, sharp := range []string{"looksam", "esam", "ssam-f"} {
				ms = append(ms, optim.Spec{Name: sharp})
				for _, p := range []string{"constant:0.5", "constant:0.75"} {
					ms = append(ms, optim.Spec{Name: "rst", Sharp: sharp, Schedule: p})
				}
			}
			return cross([]string{ResNet18}, []string{CIFAR10, CIFAR100}, specs(append([]optim.Spec{SGD, SAM}, ms...)...))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, nil)}}, nil
		},
	})
}
