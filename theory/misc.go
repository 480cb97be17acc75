package theory

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/rng"
	"github.com/rst-bench/rst/suite/schedule"
)

// ---- the test functions themselves ----

// FunctionChecks verifies each function's gradient and Hessian-vector
// product against central differences and its β by sampling
// ‖∇L(a) − ∇L(b)‖/‖a − b‖: never above β, and near β for a short step along
// the top eigenvector of the Hessian at the point where β is attained
// (found by power iteration), so that β is not a loose overestimate.
func FunctionChecks(fns []Function) []Check {
	var out []Check
	for _, f := range fns {
		d := f.Dim()
		r := rng.New(11, "theory-fd", uint64(d))
		x := f.Start()
		g := make([]float64, d)
		f.Grad(g, x)
		const h = 1e-6
		worst := 0.0
		xp := append([]float64(nil), x...)
		for i := 0; i < d; i++ {
			xp[i] = x[i] + h
			fp := f.Value(xp)
			xp[i] = x[i] - h
			fm := f.Value(xp)
			xp[i] = x[i]
			worst = math.Max(worst, math.Abs((fp-fm)/(2*h)-g[i])/(1+math.Abs(g[i])))
		}
		out = append(out, Check{Claim: "test function", Reading: "gradient = central difference of L", Function: f.Name(),
			Setting: describe(f), Bound: 1e-6, Observed: worst, Verdict: judge(1e-6, worst, 0, 0), Expected: Holds})

		v := gaussian(r, d, 1)
		hv := make([]float64, d)
		f.HessVec(hv, x, v)
		gp, gm := make([]float64, d), make([]float64, d)
		for i := range xp {
			xp[i] = x[i] + h*v[i]
		}
		f.Grad(gp, xp)
		for i := range xp {
			xp[i] = x[i] - h*v[i]
		}
		f.Grad(gm, xp)
		hw := 0.0
		for i := range hv {
			hw = math.Max(hw, math.Abs((gp[i]-gm[i])/(2*h)-hv[i])/(1+math.Abs(hv[i])))
		}
		out = append(out, Check{Claim: "test function", Reading: "Hessian·v = central difference of ∇L", Function: f.Name(),
			Setting: describe(f), Bound: 1e-5, Observed: hw, Verdict: judge(1e-5, hw, 0, 0), Expected: Holds})

		// Random pairs near the start, near the minimiser region and far out.
		maxRatio := 0.0
		for k := 0; k < 2000; k++ {
			scale := []float64{0.01, 1, 5}[k%3]
			a := gaussian(r, d, scale)
			for i := range a {
				a[i] += x[i] * float64(k%2)
			}
			b := append([]float64(nil), a...)
			dir := gaussian(r, d, scale)
			for i := range b {
				b[i] += dir[i]
			}
			maxRatio = math.Max(maxRatio, gradRatio(f, a, b))
		}
		tight := tightRatio(f)
		maxRatio = math.Max(maxRatio, tight)
		out = append(out, Check{Claim: "test function", Reading: "sampled ‖∇L(a)−∇L(b)‖/‖a−b‖ ≤ β", Function: f.Name(),
			Setting: describe(f), Bound: f.Beta(), Observed: maxRatio, Verdict: judge(f.Beta()*(1+1e-9), maxRatio, 0, 0), Expected: Holds,
			Note: "rounding allowance 1e-9 relative"})
		out = append(out, Check{Claim: "test function", Reading: "β is attained (ratio ≥ 0.99β)", Function: f.Name(),
			Setting: describe(f), Bound: tight, Observed: 0.99 * f.Beta(), Verdict: judge(tight, 0.99*f.Beta(), 0, 0), Expected: Holds,
			Note: "bound = the largest ratio found; observed = 0.99β"})
	}
	return out
}

func gradRatio(f Function, a, b []float64) float64 {
	d := f.Dim()
	ga, gb := make([]float64, d), make([]float64, d)
	f.Grad(ga, a)
	f.Grad(gb, b)
	num, den := 0.0, 0.0
	for i := range ga {
		num += (ga[i] - gb[i]) * (ga[i] - gb[i])
		den += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(num / den)
}

// tightRatio is the gradient ratio for a tiny step along the top
// eigenvector of the Hessian at the point where each function's β is
// attained: the minimiser for the quadratics and the rippled quadratic, the
// centre for the Cauchy loss, and the point x = 0 for logistic regression,
// where all σ(1−σ) equal ¼ (the only place its bound could be reached).
func tightRatio(f Function) float64 {
	d := f.Dim()
	x := make([]float64, d)
	switch g := f.(type) {
	case *Quadratic:
		copy(x, g.c)
	case *Cauchy:
		copy(x, g.c)
	case *LeastSquares:
		copy(x, g.x0)
	}
	v := topEigenvector(f, x)
	b := make([]float64, d)
	for i := range b {
		b[i] = x[i] + 1e-3*v[i]
	}
	return gradRatio(f, x, b)
}

// ---- Lemma 1 ----

// Lemma1 checks Σ_{t=0}^{T} cos(tπ/T) = 0 for T = 1..maxT (true: the terms t
// and T − t cancel), and the reading with the run's own range t = 0..T−1,
// which is false: that sum is exactly 1 (the t = T term, −1, is missing),
// which is why the cos schedules' exact mean is ½ + 1/(2T), not ½.
func Lemma1(maxT int) []Check {
	worst, worstT := 0.0, 0
	short := math.Inf(1)
	for T := 1; T <= maxT; T++ {
		s := 0.0
		for t := 0; t <= T; t++ {
			s += math.Cos(float64(t) * math.Pi / float64(T))
		}
		if math.Abs(s) > worst {
			worst, worstT = math.Abs(s), T
		}
		short = math.Min(short, math.Abs(s-math.Cos(math.Pi)))
	}
	return []Check{
		{Claim: "Lemma 1", Reading: "Σ_{t=0}^{T} cos(tπ/T) = 0", Function: "-", Setting: fmt.Sprintf("T = 1..%d", maxT),
			Bound: 1e-9, Observed: worst, Verdict: judge(1e-9, worst, 0, 0), Expected: Holds, Note: fmt.Sprintf("largest |sum| at T = %d", worstT)},
		{Claim: "Lemma 1", Reading: "over the run's steps, Σ_{t=0}^{T−1} cos(tπ/T) = 0", Function: "-", Setting: fmt.Sprintf("T = 1..%d", maxT),
			Bound: 1e-9, Observed: short, Verdict: judge(1e-9, short, 0, 0), Expected: Violated, Note: "observed = smallest |sum| over T; the sum is 1 for every T"},
	}
}

// ---- Equations 5–7 ----

// gnrTarget is ∇(L + γ‖∇L‖) = ∇L + γ·H∇L/‖∇L‖.
func gnrTarget(f Function, x []float64, gamma float64) []float64 {
	d := f.Dim()
	g, hg := make([]float64, d), make([]float64, d)
	f.Grad(g, x)
	f.HessVec(hg, x, g)
	n := norm(g)
	for i := range g {
		g[i] += gamma * hg[i] / n
	}
	return g
}

// gnrStep is the GNR step (1 − γ/ρ)g + (γ/ρ)g' with g' = ∇L(θ + ρ∇L/‖∇L‖);
// with γ = pρ it is RST's expected gradient (1 − p)g + p·g' (equation 5).
func gnrStep(f Function, x []float64, gamma, rho float64) []float64 {
	g, gs := samGradients(f, x, rho)
	k := gamma / rho
	for i := range g {
		g[i] = (1-k)*g[i] + k*gs[i]
	}
	return g
}

// samGradients returns g = ∇L(x) and the SAM gradient g' = ∇L(x + ρg/‖g‖).
func samGradients(f Function, x []float64, rho float64) (g, gs []float64) {
	d := f.Dim()
	g, gs, xp := make([]float64, d), make([]float64, d), make([]float64, d)
	f.Grad(g, x)
	n := norm(g)
	for i := range xp {
		xp[i] = x[i] + rho*g[i]/n
	}
	f.Grad(gs, xp)
	return g, gs
}

// orderFit is the least-squares slope of log err against log ρ.
func orderFit(rhos, errs []float64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(rhos))
	for i := range rhos {
		x, y := math.Log(rhos[i]), math.Log(errs[i])
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// GNRRhos is the range of ρ for the order fits.
func GNRRhos() []float64 {
	r := make([]float64, 9)
	for k := range r {
		r[k] = 0.05 * math.Pow(2, -float64(k))
	}
	return r
}

// GNRErrors returns ‖GNR step − ∇(L + γ‖∇L‖)‖ at the function's start over
// GNRRhos, for a fixed γ (fixedGamma > 0) or for γ = p·ρ (fixedGamma = 0).
func GNRErrors(f Function, fixedGamma, p float64) []float64 {
	x := f.Start()
	var errs []float64
	for _, rho := range GNRRhos() {
		gamma := fixedGamma
		if gamma == 0 {
			gamma = p * rho
		}
		a, b := gnrStep(f, x, gamma, rho), gnrTarget(f, x, gamma)
		s := 0.0
		for i := range a {
			s += (a[i] - b[i]) * (a[i] - b[i])
		}
		errs = append(errs, math.Sqrt(s))
	}
	return errs
}

// Equation5 checks RST's expected gradient: (a) the Monte Carlo mean of the
// realised gradient (one draw X per sample, as in training) equals
// (1 − p)∇L(θ) + p∇L(θ + ε) within its interval; (b) that expectation is
// exactly GNR's finite-difference step with γ = pρ; (c) GNR's step
// approximates ∇(L + γ‖∇L‖) with an error O(γρ): order 1 in ρ at fixed γ,
// order 2 when γ = pρ shrinks with ρ, and zero on a quadratic (constant
// Hessian).
func Equation5(fns []Function, draws int) []Check {
	var out []Check
	const p, rho = 0.3, 0.05
	for _, f := range fns {
		x := f.Start()
		g, gs := samGradients(f, x, rho)
		n := norm(g)
		hits := 0
		for k := 0; k < draws; k++ {
			if schedule.Draw(uint64(k+1), 0, p) {
				hits++
			}
		}
		// The realised mean is (1−q)g + q g' with q the hit frequency, so it
		// equals the formula exactly when q = p: an identity in q, tested
		// two-sided, holding when q's interval lies within 0.1p of p.
		q := float64(hits) / float64(draws)
		ci := z999 * math.Sqrt(q*(1-q)/float64(draws))
		out = append(out, Check{Claim: "Eq. 5", Reading: "E[g_t] = (1−p)∇L(θ) + p∇L(θ+ε), Monte Carlo: the realised mean is (1−q)∇L(θ) + q∇L(θ+ε)", Function: f.Name(),
			Setting: fmt.Sprintf("p = %g, ρ = %g, %d draws", p, rho, draws), Bound: p, Observed: q, CI: ci, Verdict: judgeEqual(p, q, ci, 0.1*p), Expected: Holds,
			Note: "bound = p, observed = the SAM-step frequency q (two-sided; holds = q's interval within 0.1p of p)"})

		a := gnrStep(f, x, p*rho, rho)
		e := 0.0
		for i := range a {
			e = math.Max(e, math.Abs(a[i]-((1-p)*g[i]+p*gs[i])))
		}
		out = append(out, Check{Claim: "Eq. 5–7", Reading: "RST's expected gradient = GNR step with γ = pρ (identity)", Function: f.Name(),
			Setting: fmt.Sprintf("p = %g, ρ = %g", p, rho), Bound: 1e-12 * (1 + n), Observed: e, Verdict: judge(1e-12*(1+n), e, 0, 0), Expected: Holds})

		fixed := GNRErrors(f, 0.05, 0)
		scaled := GNRErrors(f, 0, p)
		switch f.(type) {
		case *Quadratic, *LeastSquares: // constant Hessian
			m := 0.0
			for _, v := range append(fixed, scaled...) {
				m = math.Max(m, v)
			}
			out = append(out, Check{Claim: "Eq. 5–7", Reading: "GNR step = ∇(L + γ‖∇L‖) exactly on a quadratic", Function: f.Name(),
				Setting: "ρ = 0.05 … 2⁻⁸·0.05", Bound: 1e-10 * (1 + n), Observed: m, Verdict: judge(1e-10*(1+n), m, 0, 0), Expected: Holds})
			continue
		}
		for _, c := range []struct {
			name  string
			errs  []float64
			order float64
		}{{"γ = 0.05 fixed", fixed, 1}, {"γ = pρ", scaled, 2}} {
			s := orderFit(GNRRhos(), c.errs)
			v := Violated
			if math.Abs(s-c.order) < 0.1 {
				v = Holds
			}
			out = append(out, Check{Claim: "Eq. 5–7", Reading: fmt.Sprintf("GNR step → ∇(L + γ‖∇L‖) with error of order ρ^%g (%s)", c.order, c.name),
				Function: f.Name(), Setting: "ρ = 0.05 … 2⁻⁸·0.05, fitted log-log slope", Bound: c.order, Observed: s, Verdict: v, Expected: Holds,
				Note: fmt.Sprintf("error %.3g at ρ = 0.05, %.3g at the smallest ρ; holds = slope within 0.1", c.errs[0], c.errs[len(c.errs)-1])})
		}
	}
	return out
}

// ---- Table 2 ----

// Table2Specs is every member of every group of docs/PAPER.md §2.
func Table2Specs() []schedule.Func {
	fs := schedule.ConstantGroup()
	for g := 1; g <= 3; g++ {
		p, _ := schedule.PiecewiseGroup(g)
		fs = append(fs, p...)
	}
	for g := 1; g <= 2; g++ {
		l, _ := schedule.LinearGroup(g)
		fs = append(fs, l...)
	}
	return append(fs, schedule.TrigGroup()...)
}

// Table2 checks each schedule's closed-form Δη against the exact mean over
// the steps (the gap must be within 1/T) and against Monte Carlo counts of
// the Bernoulli draws (runs of T steps, their mean realised Δη within the
// 99.9% interval of the exact mean). It also checks the text's printed
// "π/2" for the sin schedule, which is wrong (2/π is right).
func Table2(T, runs int) []Check {
	var out []Check
	for _, f := range Table2Specs() {
		cf, _ := f.ClosedFormDeltaEta()
		ex := f.ExpectedDeltaEta(T)
		gap := math.Abs(cf - ex)
		out = append(out, Check{Claim: "Table 2", Reading: "closed-form Δη vs exact mean over t = 0..T−1 (|gap| ≤ 1/T)", Function: f.String(),
			Setting: fmt.Sprintf("T = %d; closed form %.6g, exact %.6g", T, cf, ex), Bound: 1 / float64(T), Observed: gap,
			Verdict: judge(1/float64(T), gap, 0, 0), Expected: Holds})
		var real []float64
		for s := 0; s < runs; s++ {
			real = append(real, float64(schedule.Count(f, uint64(s+1), T))/float64(T))
		}
		m, _ := meanCI(real)
		ci := z999 * math.Sqrt(schedule.CountVariance(f, T)/float64(runs)) / float64(T)
		out = append(out, Check{Claim: "Table 2", Reading: "realised Δη (Bernoulli counts) vs exact mean", Function: f.String(),
			Setting: fmt.Sprintf("T = %d, %d runs", T, runs), Bound: ex, Observed: m, CI: ci,
			Verdict: judgeEqual(ex, m, ci, 0.01), Expected: Holds,
			Note: "bound = exact mean; two-sided: violated = outside the 99.9% interval, holds = the interval within 0.01 of the exact mean"})
	}
	sin := mustSchedule("sin1").ExpectedDeltaEta(100000)
	out = append(out, Check{Claim: "Table 2", Reading: "sin1 Δη = π/2 as printed", Function: "sin1", Setting: "T = 100000",
		Bound: math.Pi / 2, Observed: sin, Verdict: map[bool]Verdict{true: Holds, false: Violated}[math.Abs(sin-math.Pi/2) < 1e-3], Expected: Violated,
		Note: fmt.Sprintf("the mean is 2/π = %.6f; π/2 > 1 cannot be a mean probability", 2/math.Pi)})
	return out
}
