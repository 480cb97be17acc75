package experiments

import (
	"github.com/rst-bench/rst/suite/report"
)

func init() {
	register(&Target{
		Name: "table1", Title: "Table 1: SGD and SAM on CIFAR",
		About: "{ResNet-18, WRN-28-10} × {CIFAR-10, CIFAR-100} × {SGD, SAM}: error, time, Δη",
		Cells: func() []Cell {
			return cross([]string{ResNet18, WRN2810}, []string{CIFAR10, CIFAR100}, specs(SGD, SAM))
		},
		Render: func(r *Results) (Output, error) {
			return Output{Tables: []*report.Table{methodTable(r, officialLog)}}, nil
		},
	})
}

// officialLog holds the one run the official repository logs (ResNet-18,
// CIFAR-10, batch 256, 200 epochs, one seed): SGD 95.32% and SAM (ρ 0.05)
// 95.78% accuracy.
var officialLog = map[string]PaperValue{
	paperKey(ResNet18, CIFAR10, "SGD"): {Error: 100 - 95.32, Source: "official log, 1 seed"},
	paperKey(ResNet18, CIFAR10, "SAM"): {Error: 100 - 95.78, Source: "official log, 1 seed"},
}
