package theory

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rst-bench/rst/suite/rng"
	"github.com/rst-bench/rst/suite/schedule"
)

// StepKind names a step-size rule.
type StepKind int

const (
	// ConstantStep is α_t = C/β.
	ConstantStep StepKind = iota
	// CosineStep is α_t = (C/β)·½(1 + cos(πt/T)), from C/β down towards 0.
	CosineStep
	// HarmonicStep is α_t = (C/β)/(t+1): the paper's α_t = C'/t with
	// C' = C/β, shifted by one because the first step is t = 0.
	HarmonicStep
)

// Steps is a step-size rule with its dimensionless constant C; C ≤ 1 keeps
// α_t ≤ 1/β, the theorems' condition.
type Steps struct {
	Kind StepKind
	C    float64
}

// Alpha is α_t for a run of T steps on a function with smoothness β.
func (s Steps) Alpha(t, T int, beta float64) float64 {
	switch s.Kind {
	case CosineStep:
		return s.C / beta * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(T)))
	case HarmonicStep:
		return s.C / beta / float64(t+1)
	}
	return s.C / beta
}

func (s Steps) String() string {
	switch s.Kind {
	case CosineStep:
		return fmt.Sprintf("cosine C=%g", s.C)
	case HarmonicStep:
		return fmt.Sprintf("C/(t+1) C=%g", s.C)
	}
	return fmt.Sprintf("constant C=%g", s.C)
}

// Config is one full-gradient RST run.
type Config struct {
	Steps    Steps
	Schedule schedule.Func
	Rho      float64
	T        int
	Seed     uint64
	// Scaled makes the SAM perturbation ε_t = ρ·∇L(θ_t) (so ρ_t = ρ is
	// deterministic) instead of the paper's ε_t = ρ·∇L/‖∇L‖.
	Scaled bool
	// Start overrides the function's starting point when non-nil.
	Start []float64
	// Noise is the per-coordinate standard deviation s of additive Gaussian
	// gradient noise: every gradient evaluation returns ∇L(θ) + s·ξ with
	// ξ ~ N(0, I_d), so the noise variance is σ² = E‖g − ∇L‖² = d·s²
	// (Sigma2). 0 gives exact gradients.
	Noise float64
	// FreshBatch gives a SAM step's second gradient its own noise (an
	// independent batch); otherwise both passes share ξ, as one mini-batch
	// does in the suite's trainer and in the official code.
	FreshBatch bool
	// NoiseSeed keys the noise streams; 0 means Seed. Keeping Seed (the
	// draws X_t) and varying NoiseSeed averages over the noise alone.
	NoiseSeed uint64
}

// Sigma2 is the gradient-noise variance σ² = E‖g − ∇L‖² on a d-dimensional
// function.
func (c Config) Sigma2(d int) float64 { return float64(d) * c.Noise * c.Noise }

func (c Config) String() string {
	kind := "ε=ρ∇L/‖∇L‖"
	if c.Scaled {
		kind = "ε=ρ∇L"
	}
	s := fmt.Sprintf("%s, p=%s, ρ=%.4g, %s, T=%d", c.Steps, c.Schedule, c.Rho, kind, c.T)
	if c.Noise > 0 {
		batch := "same batch"
		if c.FreshBatch {
			batch = "fresh batch"
		}
		s += fmt.Sprintf(", noise s=%.4g per coordinate (%s)", c.Noise, batch)
	}
	return s
}

// Trace is what one run saw. Index t of Loss and GradSq is θ_t, t = 0..T;
// the step arrays have T entries.
type Trace struct {
	Loss   []float64 // L(θ_t)
	GradSq []float64 // ‖∇L(θ_t)‖²
	Alpha  []float64 // α_t
	P      []float64 // p(t)
	X      []bool    // the draw X_t
	RhoT   []float64 // ρ_t = ρ/‖g_t‖ for the gradient g_t the step saw (or ρ for a scaled perturbation)
}

// Run performs RST on f: full-gradient when c.Noise is 0, otherwise with
// the additive gradient noise c.Noise describes. Loss and GradSq record the
// exact L(θ_t) and ‖∇L(θ_t)‖², whatever the steps saw.
func Run(f Function, c Config) *Trace {
	d := f.Dim()
	x := c.Start
	if x == nil {
		x = f.Start()
	} else {
		x = append([]float64(nil), x...)
	}
	g := make([]float64, d)
	gs := make([]float64, d)
	xp := make([]float64, d)
	tr := &Trace{
		Loss: make([]float64, c.T+1), GradSq: make([]float64, c.T+1),
		Alpha: make([]float64, c.T), P: make([]float64, c.T), X: make([]bool, c.T), RhoT: make([]float64, c.T),
	}
	beta := f.Beta()
	var noise1, noise2 *rand.Rand
	var xi []float64
	if c.Noise > 0 {
		ns := c.NoiseSeed
		if ns == 0 {
			ns = c.Seed
		}
		// Two streams, so that the first pass's noise is the same whether
		// or not the second pass draws its own.
		noise1, noise2 = rng.New(ns, "theory-gradient-noise", 1), rng.New(ns, "theory-gradient-noise", 2)
		xi = make([]float64, d)
	}
	for t := 0; t <= c.T; t++ {
		f.Grad(g, x)
		gn := norm(g)
		tr.Loss[t], tr.GradSq[t] = f.Value(x), gn*gn
		if t == c.T {
			break
		}
		if c.Noise > 0 {
			for i := range g {
				xi[i] = c.Noise * noise1.NormFloat64()
				g[i] += xi[i]
			}
			gn = norm(g) // the step sees only the noisy gradient
		}
		a := c.Steps.Alpha(t, c.T, beta)
		p := c.Schedule.P(t, c.T)
		X := schedule.Draw(c.Seed, t, p)
		tr.Alpha[t], tr.P[t], tr.X[t] = a, p, X
		scale := c.Rho // ε = scale·∇L
		if !c.Scaled {
			scale = c.Rho / gn
		}
		tr.RhoT[t] = scale
		step := g
		// At a stationary point the normalised perturbation is undefined; the
		// SAM step is then a gradient step (ε = 0), as in the usual code.
		if X && gn > 0 {
			for i := range xp {
				xp[i] = x[i] + scale*g[i]
			}
			f.Grad(gs, xp)
			for i := range xi {
				if c.FreshBatch {
					gs[i] += c.Noise * noise2.NormFloat64()
				} else {
					gs[i] += xi[i]
				}
			}
			step = gs
		}
		for i := range x {
			x[i] -= a * step[i]
		}
	}
	return tr
}
