package bench

import (
	"context"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/schedule"
	"github.com/rst-bench/rst/suite/train"
)

func smallConfig() train.Config {
	cfg := train.Defaults()
	cfg.Model, cfg.Data, cfg.Batch = "mlp", "mnist", 16
	return cfg
}

// What the stepper runs is what a training run runs: stepping one epoch
// through train.Stepper on the run's batches ends on bit-identical weights.
func TestStepperIsTheTrainingStep(t *testing.T) {
	cfg := smallConfig()
	cfg.Method = optim.Spec{Name: "rst", Sharp: "sam", Schedule: "constant:0.5", Rho: 0.05}
	tr := data.Synthetic("synthetic", 64, 28, 28, 1, 10, nil, nil)
	te := data.Synthetic("synthetic", 16, 28, 28, 1, 10, nil, nil)
	cfg.Epochs = 1
	_, net, err := train.RunModel(context.Background(), cfg, tr, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	perEpoch := tr.Len() / cfg.Batch
	// The same with every kernel timed (rst bench --kernels): the timer
	// only watches.
	var timer *nn.KernelTimer
	timed := train.WithBackend(func(b nn.Backend) nn.Backend { timer = nn.NewKernelTimer(b); return timer })
	for _, opts := range [][]train.StepperOption{nil, {timed}} {
		s, err := train.NewStepper(cfg, tr, perEpoch, perEpoch, opts...)
		if err != nil {
			t.Fatal(err)
		}
		order := data.Order(tr.Len(), cfg.Seed, 0)
		for i := 0; i < perEpoch; i++ {
			s.Load(order[i*cfg.Batch : (i+1)*cfg.Batch])
			s.Step(s.Method(), i)
		}
		got, want := s.Net().W.Data, net.W.Data
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("timed %v, weight %d: stepper %v, training run %v", opts != nil, i, got[i], want[i])
			}
		}
	}
	kinds := map[string]bool{}
	for _, k := range timer.Times() {
		kinds[k.Kernel] = k.Time > 0
	}
	for _, want := range []string{"gemm", "bias", "bias-bwd", "relu", "relu-bwd", "loss"} {
		if !kinds[want] {
			t.Errorf("the timed stepper's kernels %v: no time for %s", kinds, want)
		}
	}
}

func TestRun(t *testing.T) {
	for _, c := range []struct {
		method optim.Spec
		pairs  float64
	}{{optim.Spec{Name: "sgd"}, 1}, {optim.Spec{Name: "sam", Rho: 0.05}, 2}} {
		cfg := smallConfig()
		cfg.Method = c.method
		r, err := Run(cfg, 3, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.PairsPerStep != c.pairs || r.Steps != 3 || r.Params <= 0 || !(r.FwdBwdMS > 0) || !(r.StepMS > 0) || !(r.GFLOP > 0) {
			t.Errorf("%s: %+v: want %v pairs per step over 3 steps and positive times, work and size", c.method.Name, r, c.pairs)
		}
		if len(r.Input) != 3 || r.Input[0] != 28 || r.Input[2] != 1 {
			t.Errorf("%s: input %v, want MNIST's 28×28×1", c.method.Name, r.Input)
		}
	}
	// --kernels: each kind's time per pass and share, the untimed rest
	// last, the shares adding up to the whole of the timed passes.
	r, err := Run(smallConfig(), 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var share float64
	seen := map[string]bool{}
	for _, k := range r.Kernels {
		if k.MS < 0 || k.Share < 0 {
			t.Errorf("kernel %+v: negative time", k)
		}
		share += k.Share
		seen[k.Kernel] = true
	}
	if n := len(r.Kernels); n < 3 || r.Kernels[n-1].Kernel != "untimed" || !seen["gemm"] || math.Abs(share-1) > 1e-6 {
		t.Errorf("kernels %+v: want gemm among them, untimed last, shares adding up to 1 (%v)", r.Kernels, share)
	}
	cfg := smallConfig()
	if _, err := Run(cfg, 0, false); err == nil {
		t.Error("Run with 0 steps: no error")
	}
	cfg.Data = "svhn"
	if _, err := Run(cfg, 1, false); err == nil {
		t.Error("Run on svhn: no error")
	}
}

// Each method of a comparison sees its own run of `steps` steps: RST's
// realised pairs are exactly its draws over t = 0..steps-1.
func TestCompareDraws(t *testing.T) {
	const steps, rounds = 20, 4
	cfg := smallConfig()
	specs := []optim.Spec{{Name: "sgd"}, {Name: "sam", Rho: 0.05},
		{Name: "rst", Sharp: "sam", Schedule: "constant:0.5", Rho: 0.05}}
	rs, err := Compare(cfg, specs, []string{"sgd", "sam", "rst:0.5"}, steps, rounds)
	if err != nil {
		t.Fatal(err)
	}
	f, err := schedule.Parse("constant:0.5")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 2, 1 + float64(schedule.Count(f, cfg.Seed, steps))/steps}
	for i, r := range rs {
		if r.PairsPerStep != want[i] || len(r.RoundMS) != rounds || len(r.RoundPairs) != rounds || r.Label != []string{"sgd", "sam", "rst:0.5"}[i] {
			t.Errorf("%s: %v pairs/step, %d rounds; want %v and %d", r.Label, r.PairsPerStep, len(r.RoundMS), want[i], rounds)
		}
	}
	if _, err := Compare(cfg, specs, []string{"sgd", "sam", "rst"}, 10, 4); err == nil {
		t.Error("Compare with 4 rounds of 10 steps: no error")
	}
}

// The cost claims of the issue, measured side by side on the reference
// small CNN (CIFAR shape, batch 128). Long: about five minutes.
func TestCostRatios(t *testing.T) {
	if testing.Short() {
		t.Skip("long: times 200 steps of six methods")
	}
	cfg := train.Defaults()
	cfg.Data, cfg.Model, cfg.Batch = "cifar10", "smallcnn", 128
	labels := []string{"sgd", "sam", "rst:0.25", "rst:0.5", "rst:0.75", "looksam:5"}
	specs := []optim.Spec{{Name: "sgd"}, {Name: "sam", Rho: 0.05},
		{Name: "rst", Sharp: "sam", Schedule: "constant:0.25", Rho: 0.05},
		{Name: "rst", Sharp: "sam", Schedule: "constant:0.5", Rho: 0.05},
		{Name: "rst", Sharp: "sam", Schedule: "constant:0.75", Rho: 0.05},
		{Name: "looksam", Rho: 0.05, Params: map[string]float64{"k": 5}}}
	// One step of each method per round: the least sensitive to drift.
	rs, err := Compare(cfg, specs, labels, 200, 200)
	if err != nil {
		t.Fatal(err)
	}
	sgd, sam := rs[0].MeanStepMS, rs[1].MeanStepMS
	if r := sam / sgd; r > 2.05 {
		t.Errorf("time(SAM)/time(SGD) = %.3f > 2.05", r)
	}
	for i, p := range []float64{0.25, 0.5, 0.75} {
		r := rs[2+i]
		x := (r.MeanStepMS - sgd) / (sam - sgd)
		// Over 200 steps the realised Δη itself strays from p by a binomial
		// sd of up to 0.035, so the cost is held to the draws actually
		// taken; the log shows it beside p.
		d := r.PairsPerStep - 1
		t.Logf("rst:%v extra/extra(SAM) %.3f, realised Δη %.3f", p, x, d)
		if math.Abs(x-d) > 0.05 {
			t.Errorf("rst:%v: extra/extra(SAM) = %.3f, want the realised Δη %.3f ± 0.05", p, x, d)
		}
	}
	if x := (rs[5].MeanStepMS - sgd) / (sam - sgd); math.Abs(x-0.2) > 0.05 {
		t.Errorf("looksam:5: extra/extra(SAM) = %.3f, want 0.2 ± 0.05", x)
	}
}
