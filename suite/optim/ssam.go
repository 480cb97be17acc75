package optim

import (
	"math"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// SSAM is sparse SAM (Mi et al.): ε = ρ·m⊙g/‖g‖ with a binary mask m over
// all trainable scalars (the norm is of the dense g, as in the official
// code). A fraction Sparsity of the scalars is left unperturbed. The mask
// is refreshed every Refresh epochs (or every RefreshSteps steps when set).
// It still runs two dense passes: no saving, as docs/PAPER.md says.
//
// SSAM-F (Dynamic false) keeps the scalars with the largest Fisher
// information. The official code estimates it from NumSamples single-
// sample gradients drawn at refresh time; a method here only sees batch
// gradients, so we use the squared first-pass batch gradients g⊙g summed
// over the NumSamples steps that end at each refresh (the first mask, at
// the first step, has that one batch). It costs no extra pass, and a batch
// gradient's square is the empirical Fisher's mean plus the squared mean
// gradient, so it ranks scalars by the same gradient magnitudes; it is not
// the per-sample Fisher, and the mask can differ from the official one.
//
// SSAM-D (Dynamic true) starts from a random mask and at every refresh
// drops the live scalars with the smallest |g| (the official "gradient"
// death) and grows as many dead ones at random (the official "random"
// growth); the death rate is Drop·½(1 + cos(π·t/T)). The mask is updated
// before this step's perturbation (the official code updates it after the
// first perturbation of the step; the difference is one step).
type SSAM struct {
	Rho, Sparsity float64
	Dynamic       bool
	NumSamples    int     // SSAM-F: steps of g⊙g per Fisher estimate
	Drop          float64 // SSAM-D: death rate at the start of the run
	Refresh       float64 // epochs between mask updates
	RefreshSteps  int     // steps between mask updates; overrides Refresh

	net          *nn.Net
	meta         scalars // [calls so far]
	sam          SAM
	mask, fisher *nn.Tensor
	score, kept  *nn.Tensor // SSAM-D's scratch at refresh time
}

func (m *SSAM) Name() string {
	if m.Dynamic {
		return "ssam-d"
	}
	return "ssam-f"
}
func (*SSAM) ExtraPairs() float64 { return 1 }

func (m *SSAM) Bind(net *nn.Net) { m.net = net }

// State is the mask, the Fisher sum (SSAM-F) and the call count.
func (m *SSAM) State() []*nn.Tensor {
	s := []*nn.Tensor{buffer(m.net, &m.mask), m.meta.tensor(m.net, 1)}
	if !m.Dynamic {
		s = append(s, buffer(m.net, &m.fisher))
	}
	return s
}
func (*SSAM) ExpectedDeltaEta(int) float64 { return 1 }

// defaultRefreshSteps is the refresh period when neither RefreshSteps nor
// the trainer's StepsPerEpoch is known.
const defaultRefreshSteps = 100

// Period is the number of steps between mask refreshes.
func (m *SSAM) Period(c *StepContext) int {
	switch {
	case m.RefreshSteps > 0:
		return m.RefreshSteps
	case c.StepsPerEpoch > 0:
		return max(1, int(math.Round(m.Refresh*float64(c.StepsPerEpoch))))
	}
	return defaultRefreshSteps
}

// Live is the number of perturbed scalars out of n.
func (m *SSAM) Live(n int) int {
	if m.Dynamic {
		return n - int(math.Ceil(float64(n)*m.Sparsity-1e-9))
	}
	return int(float64(n)*(1-m.Sparsity) + 1e-9)
}

func (m *SSAM) Step(c *StepContext) StepResult {
	b, net := c.Net.B, c.Net
	r := c.Pass(PassOptions{})
	m.net = net // State may be asked for later
	period, n := m.Period(c), net.W.Len()
	mask := buffer(net, &m.mask)
	meta := m.meta.load(net, 1)
	calls := int(meta[0])
	meta[0] = float32(calls + 1)
	m.meta.store(net)
	if m.Dynamic {
		switch {
		case calls == 0:
			m.randomMask(c, mask)
		case calls%period == 0:
			m.dropGrow(c, mask)
		}
	} else {
		fisher, sq := buffer(net, &m.fisher), buffer(net, &m.sam.eps)
		next := (calls + period - 1) / period * period // the next refresh, this one included
		if next-calls < m.NumSamples {
			b.Mul(net.G, net.G, sq)
			b.Axpy(1, sq, fisher)
		}
		if calls%period == 0 {
			b.TopKMask(fisher, mask, m.Live(n))
			b.Fill(fisher, 0)
		}
	}
	m.sam.sharpPass(c, func(eps *nn.Tensor) {
		scale := m.Rho / (GlobalNorm(b, net.G) + 1e-12)
		b.Mul(mask, net.G, eps)
		b.Scale(float32(scale), eps)
	})
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// randomMask keeps a uniformly random set of Live(n) scalars: the largest
// counter values of the stream "ssam-d-init".
func (m *SSAM) randomMask(c *StepContext, mask *nn.Tensor) {
	b, net := c.Net.B, c.Net
	score := buffer(net, &m.score)
	b.Uniform(score, rng.NewKey(c.Seed, "ssam-d-init"))
	b.TopKMask(score, mask, m.Live(mask.Len()))
}

// dropGrow is SSAM-D's refresh: drop the live scalars of smallest |g|,
// grow as many among the previously dead at random (stream
// "ssam-d-grow", keyed by the step). Scores of −1, below any |g| and any
// uniform draw, keep the other group out of each choice.
func (m *SSAM) dropGrow(c *StepContext, mask *nn.Tensor) {
	b, net := c.Net.B, c.Net
	n := mask.Len()
	live := int(b.Dot(mask, mask)) // the mask is 0/1: exact up to 2⁵³ scalars
	rate := m.Drop * 0.5 * (1 + math.Cos(math.Pi*float64(c.Step)/float64(max(c.Total, 1))))
	death := int(min(float64(live)*rate, float64(n)*m.Sparsity))
	score, kept, low := buffer(net, &m.score), buffer(net, &m.kept), buffer(net, &m.sam.eps)
	b.Fill(low, -1) // eps is free until the perturbation is written
	b.AbsPlus(net.G, score, 0)
	b.Where(mask, score, low, score) // live: |g|; dead: −1
	b.TopKMask(score, kept, live-death)
	b.Uniform(score, rng.NewKey(c.Seed, "ssam-d-grow", uint64(c.Step)))
	b.Where(mask, low, score, score) // dead: a uniform draw; live: −1
	b.TopKMask(score, mask, death)   // the grown ones
	b.Add(mask, kept, mask)
}
