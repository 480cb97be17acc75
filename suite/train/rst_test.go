package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

// spy wraps a method built from inner: it keeps the net the trainer built
// (so a test can read the final weights) and, after every step, a probe of
// the step's batch: each sample's loss at the initial weights θ₀. The probe
// depends on the batch alone, never on the training so far, so two runs see
// the same batches exactly when their probes agree. The probe pass comes
// after the step's own passes with G and W saved and restored, so it
// changes nothing the run computes (its batch-norm statistics are frozen,
// as every later pass of a step is).
type spy struct {
	inner  optim.Method
	net    *nn.Net
	theta0 []float32
	w, g   []float32
	probes [][]float32
}

func (s *spy) Name() string { return s.inner.Name() }

func (s *spy) Step(c *optim.StepContext) optim.StepResult {
	r := s.inner.Step(c)
	b := c.Net.B
	b.Download(s.w, c.Net.W)
	b.Download(s.g, c.Net.G)
	b.Upload(c.Net.W, s.theta0)
	p := c.Pass(optim.PassOptions{FreezeStats: true})
	s.probes = append(s.probes, slices.Clone(p.PerSample))
	b.Upload(c.Net.W, s.w)
	b.Upload(c.Net.G, s.g)
	return r
}

// State forwards the inner method's state, so checkpoints see it.
func (s *spy) State() []*nn.Tensor {
	if st, ok := s.inner.(interface{ State() []*nn.Tensor }); ok {
		return st.State()
	}
	return nil
}

func (s *spy) ExpectedDeltaEta(total int) float64 {
	if e, ok := s.inner.(interface{ ExpectedDeltaEta(int) float64 }); ok {
		return e.ExpectedDeltaEta(total)
	}
	return 0
}

var (
	spiesMu sync.Mutex
	spies   = map[string]*spy{}
)

// spyOn registers a method "spy-<label>" that builds inner and records.
func spyOn(label string, inner optim.Spec) string {
	name := "spy-" + label
	spiesMu.Lock()
	defer spiesMu.Unlock()
	optim.Register(name, func(_ optim.Spec, net *nn.Net) (optim.Method, error) {
		m, err := optim.New(inner, net)
		if err != nil {
			return nil, err
		}
		n := net.W.Len()
		s := &spy{inner: m, net: net, theta0: make([]float32, n), w: make([]float32, n), g: make([]float32, n)}
		net.B.Download(s.theta0, net.W)
		spiesMu.Lock()
		spies[name] = s
		spiesMu.Unlock()
		return s, nil
	})
	return name
}

// smallRun trains smallcnn (batch-norm included) on a synthetic set for
// a few steps with the given method and returns the record and the spy.
func smallRun(t *testing.T, label string, m optim.Spec) (*Record, *spy) {
	t.Helper()
	name := spyOn(label, m)
	cfg := Defaults()
	cfg.Model, cfg.Data, cfg.Batch, cfg.Steps, cfg.Epochs = "smallcnn", "synthetic", 16, 24, 0
	cfg.Method = optim.Spec{Name: name}
	train := data.Synthetic("synthetic", 160, 8, 8, 1, 10, nil, nil) // 10 steps per epoch: 3 epochs
	test := data.Synthetic("synthetic", 32, 8, 8, 1, 10, nil, nil)
	rec, err := RunOn(context.Background(), cfg, train, test, nil)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	spiesMu.Lock()
	defer spiesMu.Unlock()
	return rec, spies[name]
}

func sameBits(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, len(a) == len(b)
}

// RST with p ≡ 0 ends with SGD's weights and with p ≡ 1 with SAM's, bit
// for bit, on a real model with batch-norm.
func TestRSTEndpointsBitIdentical(t *testing.T) {
	for _, c := range []struct {
		p    string
		ref  optim.Spec
		more bool // the reference takes sharp steps
	}{
		{"0", optim.Spec{Name: "sgd"}, false},
		{"1", optim.Spec{Name: "sam", Rho: 0.05}, true},
	} {
		rst := optim.Spec{Name: "rst", Sharp: "sam", Schedule: "constant:" + c.p, Rho: 0.05}
		recR, spyR := smallRun(t, "rst-p"+c.p, rst)
		recS, spyS := smallRun(t, "ref-p"+c.p, c.ref)
		if i, ok := sameBits(spyR.net.W.Data, spyS.net.W.Data); !ok {
			t.Errorf("rst p≡%s vs %s: weight %d differs: %v vs %v", c.p, c.ref.Name, i, spyR.net.W.Data[i], spyS.net.W.Data[i])
		}
		if i, ok := sameBits(spyR.net.S.Data, spyS.net.S.Data); !ok {
			t.Errorf("rst p≡%s vs %s: batch-norm statistic %d differs", c.p, c.ref.Name, i)
		}
		if recR.Pairs != recS.Pairs || recR.TestError != recS.TestError {
			t.Errorf("rst p≡%s: pairs %v, error %v; %s: %v, %v", c.p, recR.Pairs, recR.TestError, c.ref.Name, recS.Pairs, recS.TestError)
		}
		want := 0.0
		if c.more {
			want = 1
		}
		if recR.DeltaEtaRealised != want || recR.DeltaEtaExpected != want {
			t.Errorf("rst p≡%s: Δη realised %v expected %v, want %v", c.p, recR.DeltaEtaRealised, recR.DeltaEtaExpected, want)
		}
	}
}

// Changing p changes the draws and nothing else that is random: two RST
// runs with p = 0.2 and p = 0.8 see the same batches in the same order.
func TestRSTDataOrderIndependentOfP(t *testing.T) {
	recA, a := smallRun(t, "order-0.2", optim.Spec{Name: "rst", Sharp: "sam", Schedule: "constant:0.2", Rho: 0.05})
	recB, b := smallRun(t, "order-0.8", optim.Spec{Name: "rst", Sharp: "sam", Schedule: "constant:0.8", Rho: 0.05})
	if recA.Draws == recB.Draws || recA.Pairs == recB.Pairs {
		t.Fatalf("the two runs drew the same steps; the test shows nothing")
	}
	if len(a.probes) != recA.Steps || len(b.probes) != recB.Steps {
		t.Fatalf("probes: %d and %d for %d steps", len(a.probes), len(b.probes), recA.Steps)
	}
	distinct := 0
	for s := range a.probes {
		if i, ok := sameBits(a.probes[s], b.probes[s]); !ok {
			t.Fatalf("step %d: the batches differ (sample %d's probe loss %v vs %v)", s, i, a.probes[s][i], b.probes[s][i])
		}
		if s > 0 {
			if _, same := sameBits(a.probes[s], a.probes[s-1]); !same {
				distinct++
			}
		}
	}
	if distinct == 0 {
		t.Fatal("every step's probe is the same: the probe does not see the batch")
	}
}

// ESAM through the real trainer: the forward-only ranking pass leaves G
// alone, the second pass runs on ⌊γB⌋ samples, and the record counts
// 1 + ⌊γB⌋/B pairs per step. The sharp variants run on a real model and
// record their expected Δη.
func TestVariantsOnTrainer(t *testing.T) {
	for _, c := range []struct {
		spec     optim.Spec
		realised float64
		expected float64
	}{
		{optim.Spec{Name: "esam", Rho: 0.05, Params: map[string]float64{"beta": 0.6, "gamma": 0.3}}, 4.0 / 16, 0.3},
		{optim.Spec{Name: "looksam", Rho: 0.05, Params: map[string]float64{"k": 5}}, 5.0 / 24, 5.0 / 24},
		{optim.Spec{Name: "gsam", Rho: 0.05, Params: map[string]float64{"rho_min": 0.01}}, 1, 1},
		{optim.Spec{Name: "asam", Rho: 0.5}, 1, 1},
		{optim.Spec{Name: "ssam-f", Rho: 0.05}, 1, 1},
		{optim.Spec{Name: "ssam-d", Rho: 0.05}, 1, 1},
		{optim.Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Sharp: "asam"}, -1, 0.5},
		{optim.Spec{Name: "rst", Rho: 0.05, Schedule: "constant:0.5", Sharp: "esam"}, -1, 0.25},
	} {
		rec, _ := smallRun(t, fmt.Sprintf("variant-%s-%s", c.spec.Name, c.spec.Sharp), c.spec)
		if !rec.TestLoss.Finite() || rec.Steps != 24 {
			t.Errorf("%s: test loss %v after %d steps", c.spec.Name, rec.TestLoss, rec.Steps)
		}
		if c.realised >= 0 && math.Abs(rec.DeltaEtaRealised-c.realised) > 1e-12 {
			t.Errorf("%s: realised Δη %v, want %v", c.spec.Name, rec.DeltaEtaRealised, c.realised)
		}
		if math.Abs(rec.DeltaEtaExpected-c.expected) > 1e-12 {
			t.Errorf("%s: expected Δη %v, want %v", c.spec.Name, rec.DeltaEtaExpected, c.expected)
		}
	}
}

// Methods that keep state across steps (LookSAM's g_v and count, SSAM's
// mask, Fisher sum and count, GSAM's largest lr) resume from a checkpoint
// to the weights an uninterrupted run ends with, inside RST too.
func TestStatefulMethodsResumeBitIdentical(t *testing.T) {
	for i, m := range []optim.Spec{
		{Name: "looksam", Rho: 0.05, Params: map[string]float64{"k": 3}},
		{Name: "ssam-f", Rho: 0.05, Params: map[string]float64{"refresh_steps": 7, "num_samples": 3}},
		{Name: "ssam-d", Rho: 0.05, Params: map[string]float64{"refresh_steps": 7}},
		{Name: "gsam", Rho: 0.05, Params: map[string]float64{"rho_min": 0.01}},
		{Name: "rst", Rho: 0.05, Sharp: "looksam", Schedule: "constant:0.6", Params: map[string]float64{"k": 2}},
	} {
		label := fmt.Sprintf("resume-%d-%s", i, m.Name)
		name := spyOn(label, m)
		cfg := Defaults()
		cfg.Model, cfg.Data, cfg.Batch, cfg.Steps, cfg.Epochs = "smallcnn", "synthetic", 16, 0, 3
		cfg.Method = optim.Spec{Name: name}
		tr := data.Synthetic("synthetic", 160, 8, 8, 1, 10, nil, nil)
		te := data.Synthetic("synthetic", 32, 8, 8, 1, 10, nil, nil)
		get := func() *spy { spiesMu.Lock(); defer spiesMu.Unlock(); return spies[name] }
		full, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(get().net.W.Data)
		cfg.Checkpoint = t.TempDir() + "/run.ckpt"
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := RunOn(ctx, cfg, tr, te, &cancelAt{step: 15, cancel: cancel}); err == nil {
			t.Fatalf("%s: the interrupted run did not stop", m.Name)
		}
		resumed, err := RunOn(context.Background(), cfg, tr, te, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i, ok := sameBits(get().net.W.Data, want); !ok {
			t.Errorf("%s: weight %d: resumed %v, uninterrupted %v", m.Name, i, get().net.W.Data[i], want[i])
		}
		if resumed.Pairs != full.Pairs || resumed.Draws != full.Draws {
			t.Errorf("%s: resumed pairs %v draws %q; uninterrupted %v %q", m.Name, resumed.Pairs, resumed.Draws, full.Pairs, full.Draws)
		}
	}
}

// SAM, RST(0.5) and G-RST(0.5) train smallcnn on MNIST for 3 epochs to
// within 0.5 points of SGD's test error (or better). Long: about 45 minutes
// on two cores.
func TestMNISTMethodsTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("long: four 3-epoch MNIST runs")
	}
	trainSet, testSet, err := data.Load("mnist", "")
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	errs := map[string]float64{}
	for _, m := range []optim.Spec{{Name: "sgd"}, {Name: "sam", Rho: 0.05},
		{Name: "rst", Sharp: "sam", Schedule: "constant:0.5", Rho: 0.05},
		{Name: "grst", Schedule: "constant:0.5", Rho: 0.05}} {
		cfg := Defaults()
		cfg.Epochs, cfg.Method = 3, m
		rec, err := RunOn(context.Background(), cfg, trainSet, testSet, nil)
		if err != nil {
			t.Fatal(err)
		}
		errs[m.Name] = float64(rec.TestError)
		t.Logf("%s: test error %.2f%%", m.Name, rec.TestError)
	}
	for _, n := range []string{"sam", "rst", "grst"} {
		if errs[n] > errs["sgd"]+0.5 {
			t.Errorf("%s: test error %.2f%% is more than 0.5 points above SGD's %.2f%%", n, errs[n], errs["sgd"])
		}
	}
}
