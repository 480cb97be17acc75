package train

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
)

// failingCPU is the CPU backend with a device failure after a number of
// optimizer updates, as a GPU's out-of-memory or failed launch would
// surface through Err.
type failingCPU struct {
	*nn.CPU
	updates, failAt int
}

var errLaunch = errors.New("kernel launch failed (simulated)")

func (f *failingCPU) SGDMomentum(w, g, v *nn.Tensor, lr, momentum float32, nesterov bool) {
	f.updates++
	f.CPU.SGDMomentum(w, g, v, lr, momentum, nesterov)
}

func (f *failingCPU) Err() error {
	if f.updates >= f.failAt {
		return errLaunch
	}
	return nil
}

// A backend failure stops the run with an error naming the device and the
// step; no record comes back that could be stored as a result.
func TestBackendFailureStopsTheRun(t *testing.T) {
	nn.Register("failing-test", func() (nn.Backend, error) {
		return &failingCPU{CPU: nn.NewCPU(), failAt: 5}, nil
	})
	cfg := Defaults()
	cfg.Model, cfg.Data, cfg.Batch, cfg.Steps, cfg.Epochs = "mlp", "synthetic", 16, 20, 0
	cfg.Device = "failing-test"
	train := data.Synthetic("synthetic", 160, 8, 8, 1, 10, nil, nil)
	test := data.Synthetic("synthetic", 32, 8, 8, 1, 10, nil, nil)
	rec, err := RunOn(context.Background(), cfg, train, test, nil)
	if rec != nil {
		t.Fatalf("a failed backend gave a record (test error %v)", rec.TestError)
	}
	if !errors.Is(err, errLaunch) || !strings.Contains(err.Error(), "failing-test") || !strings.Contains(err.Error(), "step 4") {
		t.Fatalf("error %v: want the backend's error, the device name and step 4", err)
	}
}
