package optim

import "github.com/rst-bench/rst/suite/nn"

// PassOptions says how a forward-backward pass runs.
type PassOptions struct {
	// FreezeStats leaves batch-norm running statistics untouched: every
	// pass after a step's first (SAM's perturbed pass) sets it.
	FreezeStats bool
	// Subset, when non-nil, runs the pass on these positions of the batch
	// only (ESAM's sharpness-sensitive data selection).
	Subset []int
	// ForwardOnly runs the forward pass alone: the per-sample losses are
	// reported and G is left as it was (ESAM ranks samples by their loss
	// at θ+ε before choosing which to back-propagate). A pass function
	// that ignores it runs the backward too, which costs time but changes
	// no result of the methods here: each overwrites G afterwards.
	ForwardOnly bool
}

// PassResult is what a pass reports besides the gradient it leaves in G.
type PassResult struct {
	Loss      float64   // mean loss over the samples of the pass
	PerSample []float32 // each sample's loss, valid until the next pass
	Samples   int       // how many samples the pass ran on
}

// StepContext is what a method sees at one iteration.
type StepContext struct {
	Net         *nn.Net
	Step, Total int     // t and T, the number of steps of the whole run
	LR          float32 // this step's learning rate (GSAM ties ρ to it)
	Seed        uint64  // the run's seed, for methods with random choices
	BatchSize   int     // samples in the full batch, for pair accounting
	// StepsPerEpoch lets methods whose state refreshes once per epoch
	// (SSAM's masks) count in epochs; 0 when the trainer does not say.
	StepsPerEpoch int
	// Pass runs forward and backward on this step's batch at the current
	// weights and leaves ∇L (the L2 term included when the run uses one)
	// in Net.G. The batch is the same for every pass of a step.
	Pass func(PassOptions) PassResult
}

// StepResult reports one iteration.
type StepResult struct {
	Loss  float64 // loss of the first (unperturbed) pass
	Pairs float64 // forward-backward pairs run, fractional for partial passes
	Sharp bool    // whether a sharpness-aware step was taken
}

// Method turns one iteration's batch into an update direction in Net.G;
// the trainer then clips it and applies the base optimizer.
type Method interface {
	Name() string
	Step(c *StepContext) StepResult
}

// Plain is the SGD step: one forward-backward pair, update with g.
type Plain struct{}

func (Plain) Name() string { return "sgd" }

func (Plain) Step(c *StepContext) StepResult {
	r := c.Pass(PassOptions{})
	return StepResult{Loss: r.Loss, Pairs: 1}
}

// SAM is sharpness-aware minimisation: ε = ρ·g/‖g‖, g' = ∇L(θ+ε) with
// batch-norm statistics frozen, θ restored exactly, update with g'.
//
// M > 0 takes the perturbation per sub-batch of M samples (m-sharpness,
// see chunks); 0 perturbs with the whole batch's gradient.
type SAM struct {
	Rho   float64
	M     int
	saved *nn.Tensor
	eps   *nn.Tensor
	ch    *chunks
}

func (*SAM) Name() string { return "sam" }

// ExtraPairs is the expected number of forward-backward pairs a sharp
// step costs beyond a plain one; RST scales its expected Δη by it.
func (*SAM) ExtraPairs() float64 { return 1 }

// ExpectedDeltaEta is SAM's Δη: every step runs two pairs.
func (*SAM) ExpectedDeltaEta(int) float64 { return 1 }

func (m *SAM) Step(c *StepContext) StepResult {
	if m.M > 0 && m.M < c.BatchSize {
		if m.ch == nil || m.ch.size != m.M {
			m.ch = &chunks{size: m.M}
		}
		return m.ch.step(c, m, m.Rho, nil)
	}
	r := c.Pass(PassOptions{})
	m.sharpPass(c, m.along(c, m.Rho))
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// Every sharp step runs its second pass through these helpers: θ saved,
// θ+ε, the pass with batch-norm statistics frozen, θ put back bit for bit.

// sharpPass runs one pass at θ+ε, where fill writes ε (G still holds the
// first pass's gradient when it is called), and restores θ.
func (m *SAM) sharpPass(c *StepContext, fill func(eps *nn.Tensor)) PassResult {
	m.perturb(c, fill)
	r := c.Pass(PassOptions{FreezeStats: true})
	m.restore(c)
	return r
}

// perturb saves θ and moves to θ+ε, ε written by fill. A method that runs
// more than one pass at θ+ε (ESAM) calls it and restore itself.
func (m *SAM) perturb(c *StepContext, fill func(eps *nn.Tensor)) {
	b, net := c.Net.B, c.Net
	saved, eps := buffer(net, &m.saved), buffer(net, &m.eps)
	b.Copy(saved, net.W)
	fill(eps)
	b.Axpy(1, eps, net.W)
}

// along is SAM's ε = ρ·g/‖g‖.
func (m *SAM) along(c *StepContext, rho float64) func(eps *nn.Tensor) {
	return func(eps *nn.Tensor) {
		b, g := c.Net.B, c.Net.G
		norm := GlobalNorm(b, g)
		b.Copy(eps, g)
		b.Scale(float32(rho/(norm+1e-12)), eps)
	}
}

// restore puts back the θ saved by perturb, bit for bit.
func (m *SAM) restore(c *StepContext) { c.Net.B.Copy(c.Net.W, m.saved) }
