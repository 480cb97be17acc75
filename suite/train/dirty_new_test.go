package train

import (
	"context"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/nn/nntest"
	"github.com/rst-bench/rst/suite/optim"
)

// Every method trains the same on nntest.DirtyNewCPU (New returns NaN, as
// reused device memory may hold anything) as on the plain CPU backend.
func TestEveryMethodReadsNoUnwrittenMemory(t *testing.T) {
	nn.Register("dirty-new-test", func() (nn.Backend, error) { return &nntest.DirtyNewCPU{CPU: nn.NewCPU()}, nil })
	train := data.Synthetic("synthetic", 96, 8, 8, 1, 10, nil, nil)
	test := data.Synthetic("synthetic", 32, 8, 8, 1, 10, nil, nil)
	for _, method := range optim.MethodNames() {
		for _, opt := range []string{"sgd", "adamw"} {
			cfg := Defaults()
			cfg.Model, cfg.Data, cfg.Batch, cfg.Steps, cfg.Epochs = "mlp", "synthetic", 16, 6, 0
			cfg.Method.Name, cfg.Optimizer = method, opt
			if opt == "adamw" {
				cfg.LR = 0.01
			}
			if method == "rst" || method == "grst" {
				cfg.Method.Schedule = "constant:0.5"
			}
			run := func(device string) *Record {
				c := cfg
				c.Device = device
				rec, err := RunOn(context.Background(), c, train, test, nil)
				if err != nil {
					t.Fatalf("%s/%s on %s: %v", method, opt, device, err)
				}
				return rec
			}
			clean, dirty := run("cpu"), run("dirty-new-test")
			if clean.TestLoss != dirty.TestLoss || *clean.FinalTrain != *dirty.FinalTrain {
				t.Errorf("%s with %s: test loss %v, final train %+v on memory left dirty; %v, %+v on cleared memory",
					method, opt, dirty.TestLoss, *dirty.FinalTrain, clean.TestLoss, *clean.FinalTrain)
			}
		}
	}
}
