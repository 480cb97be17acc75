package train

import (
	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

// Stepper runs single training steps of a config's model outside the
// training loop, for benchmarks (suite/bench): the very passes, clipping
// and optimizer update a run makes, without data order, evaluation,
// checkpoints or a record. It is the one exported seam into the trainer,
// so that what a benchmark times is what a run executes.
type Stepper struct {
	t  *trainer
	sc *optim.StepContext
}

// NewStepper builds cfg's model, optimizer and method for batches of set.
// total is the run length T the method and the lr schedule see (p(t) spans
// it); stepsPerEpoch tells methods that refresh once per epoch how long an
// epoch is (0 when there is no epoch).
func NewStepper(cfg Config, set *data.Set, total, stepsPerEpoch int, opts ...StepperOption) (*Stepper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o stepperOptions
	for _, opt := range opts {
		opt(&o)
	}
	t, err := newTrainerWrapped(cfg, set, o.wrap)
	if err != nil {
		return nil, err
	}
	sc := &optim.StepContext{Net: t.net, Total: total, Seed: cfg.Seed, BatchSize: cfg.Batch,
		StepsPerEpoch: stepsPerEpoch, Pass: t.runPass}
	return &Stepper{t: t, sc: sc}, nil
}

// A StepperOption changes how NewStepper builds the trainer.
type StepperOption func(*stepperOptions)

type stepperOptions struct {
	wrap func(nn.Backend) nn.Backend
}

// WithBackend has NewStepper pass the backend it opens through wrap before
// it builds the model on it: an nn.KernelTimer, to time each kernel.
func WithBackend(wrap func(nn.Backend) nn.Backend) StepperOption {
	return func(o *stepperOptions) { o.wrap = wrap }
}

// Load makes the samples idx of the set (epoch 0's augmentation) the batch
// of the following passes and steps.
func (s *Stepper) Load(idx []int) error { return s.t.load(idx, 0) }

// Net is the model being stepped.
func (s *Stepper) Net() *nn.Net { return s.t.net }

// Backend describes the engine backend and its BLAS.
func (s *Stepper) Backend() string { return s.t.b.Describe() }

// Method is the method built from the config's spec.
func (s *Stepper) Method() optim.Method { return s.t.method }

// Pass runs one plain forward and backward pass on the loaded batch, the
// unit of work every method step is made of.
func (s *Stepper) Pass() optim.PassResult {
	s.t.passNo = 0
	r := s.t.runPass(optim.PassOptions{})
	s.t.b.Sync() // a device backend returns before its kernels finish
	return r
}

// Step runs step number step of a run (its p(t), learning rate and random
// streams) with method m on the loaded batch, then clips and updates the
// weights, as the training loop does. m must have been built on Net (or be
// Method()).
func (s *Stepper) Step(m optim.Method, step int) optim.StepResult {
	s.t.method, s.t.step = m, step
	r := s.t.methodStep(s.sc, s.sc.Total)
	s.t.b.Sync()
	return r
}

// Err is the backend's first failure, if any (see nn.Backend.Err).
func (s *Stepper) Err() error { return s.t.b.Err() }
