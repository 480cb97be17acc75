package optim

import (
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/schedule"
)

// RST is randomized sharpness-aware training: at step t it draws
// X_t ~ Bernoulli(p(t)) with schedule.Draw(seed, t, p(t)) — a stream keyed
// by (seed, t) alone, so the data order and every other stream are the
// same whatever p is — and takes the Plain step when X_t = 0 and the Sharp
// one when X_t = 1. Both share the trainer's base optimizer and its
// momentum. The record's draw for the step is X_t, whatever the sharp
// method reports (LookSAM's cheap steps are still X_t = 1).
type RST struct {
	Plain, Sharp Method
	P            schedule.Func
	Label        string // "rst" or "grst", for Name
	// Penalty, when positive, is G-RST's k=auto: at a sharp step t the
	// degree multiplier is k(t) = Penalty/p(t), so that the expected
	// penalty p(t)·k(t)·ρ is Penalty·ρ at every step whatever the
	// schedule. With a constant p it is the fixed k = Penalty/p of the
	// paper's γ_rst = p·γ_gnr (docs/PAPER.md §1); the paper's own G-RST
	// keeps k fixed, which is the default (Penalty = 0).
	Penalty float64
}

func (m *RST) Name() string { return m.Label }

func (m *RST) Bind(net *nn.Net) {
	if b, ok := m.Sharp.(Binder); ok {
		b.Bind(net)
	}
}

// State is the sharp method's state, for checkpoints.
func (m *RST) State() []*nn.Tensor { return state(m.Sharp) }

func state(m Method) []*nn.Tensor {
	if s, ok := m.(interface{ State() []*nn.Tensor }); ok {
		return s.State()
	}
	return nil
}

// Draw is X_t of this run at step t of total.
func (m *RST) Draw(seed uint64, t, total int) bool {
	return schedule.Draw(seed, t, m.P.P(t, total))
}

// SetDegree lets G-RST's k=auto change k between steps: GNR takes it as
// γ = k·ρ, Degree as the factor on any other step's direction.
func (m *GNR) SetDegree(k float64)    { m.Gamma = k * m.Rho }
func (m *Degree) SetDegree(k float64) { m.K = k }

func (m *RST) Step(c *StepContext) StepResult {
	p := m.P.P(c.Step, c.Total)
	if schedule.Draw(c.Seed, c.Step, p) {
		if m.Penalty > 0 {
			// p > 0 here: a step with p = 0 is never drawn.
			m.Sharp.(DegreeSetter).SetDegree(m.Penalty / p)
		}
		r := m.Sharp.Step(c)
		r.Sharp = true
		return r
	}
	r := m.Plain.Step(c)
	r.Sharp = false
	return r
}

// ExpectedDeltaEta is the mean of p(t) over the run times the extra pairs
// of one sharp step (1 for SAM and GNR, γ for ESAM, ~1/k for LookSAM).
func (m *RST) ExpectedDeltaEta(total int) float64 {
	return m.P.ExpectedDeltaEta(total) * extraPairs(m.Sharp)
}

func extraPairs(m Method) float64 {
	if e, ok := m.(interface{ ExtraPairs() float64 }); ok {
		return e.ExtraPairs()
	}
	return 1
}

// Degree scales a sharp step's penalty degree by K, as G-RST does for the
// variants (docs/PAPER.md §1, Table 12: "degree ×2"): with g the gradient of the
// inner method's first pass and G its update, the update becomes
// K·G + (1 − K)·g. For SAM this is exactly GNR with γ = K·ρ.
type Degree struct {
	Inner Method
	K     float64

	g      *nn.Tensor
	outer  *StepContext
	inner  StepContext
	first  bool
	passFn func(PassOptions) PassResult
}

func (m *Degree) Name() string        { return m.Inner.Name() }
func (m *Degree) ExtraPairs() float64 { return extraPairs(m.Inner) }
func (m *Degree) State() []*nn.Tensor { return state(m.Inner) }

func (m *Degree) Bind(net *nn.Net) {
	if b, ok := m.Inner.(Binder); ok {
		b.Bind(net)
	}
}

func (m *Degree) Step(c *StepContext) StepResult {
	if m.passFn == nil {
		// Made once, so that steps allocate nothing.
		m.passFn = func(o PassOptions) PassResult {
			r := m.outer.Pass(o)
			if m.first && !o.ForwardOnly {
				m.first = false
				m.outer.Net.B.Copy(buffer(m.outer.Net, &m.g), m.outer.Net.G)
			}
			return r
		}
	}
	m.outer, m.first = c, true
	m.inner = *c
	m.inner.Pass = m.passFn
	r := m.Inner.Step(&m.inner)
	b := c.Net.B
	b.Scale(float32(m.K), c.Net.G)
	b.Axpy(float32(1-m.K), m.g, c.Net.G)
	return r
}
