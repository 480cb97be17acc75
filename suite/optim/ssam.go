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

	net              *nn.Net
	meta             scalars // [calls so far]
	sam              SAM
	mask, fisher     *nn.Tensor
	hm, hf, hg, hw   []float32
	score, sorted, k []float32
}

func (m *SSAM) Name() string {
	if m.Dynamic {
		return "ssam-d"
	}
	return "ssam-f"
}
func (*SSAM) ExtraPairs() float64 { return 1 }

func (m *SSAM) bind(net *nn.Net) { m.net = net }

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
			f, h := onHost(b, fisher, &m.hf), onHost(b, mask, &m.hm)
			topMask(f.data, m.Live(n), h.data, &m.sorted)
			h.sync()
			b.Fill(fisher, 0)
		}
	}
	saved, eps := buffer(net, &m.sam.saved), buffer(net, &m.sam.eps)
	b.Copy(saved, net.W)
	scale := m.Rho / (GlobalNorm(b, net.G) + 1e-12)
	b.Mul(mask, net.G, eps)
	b.Scale(float32(scale), eps)
	b.Axpy(1, eps, net.W)
	c.Pass(PassOptions{FreezeStats: true})
	m.sam.restore(c)
	return StepResult{Loss: r.Loss, Pairs: 2, Sharp: true}
}

// randomMask keeps a uniformly random set of Live(n) scalars, drawn from
// the stream "ssam-d-init".
func (m *SSAM) randomMask(c *StepContext, mask *nn.Tensor) {
	h := onHost(c.Net.B, mask, &m.hm)
	src := rng.New(c.Seed, "ssam-d-init")
	m.score = grow(m.score, len(h.data))
	for i := range m.score {
		m.score[i] = src.Float32()
	}
	topMask(m.score, m.Live(len(h.data)), h.data, &m.sorted)
	h.sync()
}

// dropGrow is SSAM-D's refresh: drop the live scalars of smallest |g|,
// grow as many among the previously dead at random (stream
// "ssam-d-grow", keyed by the step).
func (m *SSAM) dropGrow(c *StepContext, mask *nn.Tensor) {
	b := c.Net.B
	h := onHost(b, mask, &m.hm)
	g := onHost(b, c.Net.G, &m.hg)
	n := len(h.data)
	live := 0
	for _, v := range h.data {
		if v == 1 {
			live++
		}
	}
	rate := m.Drop * 0.5 * (1 + math.Cos(math.Pi*float64(c.Step)/float64(max(c.Total, 1))))
	death := int(min(float64(live)*rate, float64(n)*m.Sparsity))
	// Dead scalars score −1, below any |g|, so only live ones are kept.
	m.score = grow(m.score, n)
	for i, v := range h.data {
		m.score[i] = -1
		if v == 1 {
			m.score[i] = float32(math.Abs(float64(g.data[i])))
		}
	}
	m.k = grow(m.k, n)
	topMask(m.score, live-death, m.k, &m.sorted)
	src := rng.New(c.Seed, "ssam-d-grow", uint64(c.Step))
	for i, v := range h.data {
		m.score[i] = -1
		if v == 0 {
			m.score[i] = src.Float32()
		}
	}
	topMask(m.score, death, h.data, &m.sorted) // h.data now holds the grown ones
	for i := range h.data {
		h.data[i] += m.k[i]
	}
	h.sync()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
