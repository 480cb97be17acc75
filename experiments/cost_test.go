package experiments

import (
	"sync"
	"testing"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

var registerCostToy sync.Once

// The planner's cost asks the method: a step registered in a test file is
// costed from its declared extra passes, alone and under rst.
func TestCostAsksTheMethod(t *testing.T) {
	registerCostToy.Do(func() {
		optim.RegisterSharp(optim.SharpStep{
			Name: "toy-cost", About: "SAM (a test-only step)", ExtraPasses: 3,
			Build: func(a *optim.SharpArgs) (optim.Method, error) {
				return struct{ optim.Plain }{}, a.Err()
			},
		})
	})
	cost := func(s optim.Spec) float64 {
		return Planned{Config: train.Config{Method: s}}.Cost(100)
	}
	for _, c := range []struct {
		spec optim.Spec
		want float64
	}{
		{optim.Spec{Name: "sgd"}, 1},
		{optim.Spec{Name: "sam", Rho: 0.05}, 2},
		{optim.Spec{Name: "looksam", Rho: 0.05, Params: map[string]float64{"k": 4}}, 1.25},
		{optim.Spec{Name: "rst", Sharp: "sam", Rho: 0.05, Schedule: "constant:0.5"}, 1.5},
		{optim.Spec{Name: "toy-cost", Rho: 0.05}, 4},
		{optim.Spec{Name: "rst", Sharp: "toy-cost", Rho: 0.05, Schedule: "constant:0.5"}, 2.5},
	} {
		if got := cost(c.spec); got != c.want {
			t.Errorf("Cost(%+v) = %v, want %v", c.spec, got, c.want)
		}
	}
}
