package theory

import (
	"fmt"
	"math"
)

// Thm2Mode says which ρ_t goes into Theorem 2's factor 1 − μα_t(1 − p_tρ_t²β²).
type Thm2Mode int

const (
	// RealisedRhoT is the printed reading: ρ_t = ρ/‖∇L(θ_t)‖ along the path
	// (for a scaled perturbation ε = ρ∇L this is the constant ρ).
	RealisedRhoT Thm2Mode = iota
	// FixedRho puts the radius ρ itself in place of ρ_t.
	FixedRho
)

// thm2Bounds returns B_t, t = 0..T: (L0 − L*)·Π_{s<t}(1 − μα_s(1 − w_sρ_s²β²)),
// with w_s = X_s or p_s.
func thm2Bounds(tr *Trace, f Function, rho float64, mode Thm2Mode, useX bool) []float64 {
	mu, beta := f.Mu(), f.Beta()
	b := make([]float64, len(tr.Loss))
	b[0] = tr.Loss[0] - f.Min()
	for s := range tr.Alpha {
		w := tr.P[s]
		if useX {
			w = 0
			if tr.X[s] {
				w = 1
			}
		}
		r := tr.RhoT[s]
		if mode == FixedRho {
			r = rho
		}
		b[s+1] = b[s] * (1 - mu*tr.Alpha[s]*(1-w*r*r*beta*beta))
	}
	return b
}

// floor is the loss gap below which L − L* is rounding noise.
func floor(f Function) float64 { return 1e-12 * (1 + math.Abs(f.Min())) }

// pathFirstFailure is the first t with L_t − L* > B_t (beyond rounding),
// or −1.
func pathFirstFailure(tr *Trace, f Function, b []float64) int {
	for t := range b {
		if tr.Loss[t]-f.Min() > b[t]+floor(f)+tol(b[t]) {
			return t
		}
	}
	return -1
}

// mcCompare compares E[L_t − L*] over paths with a bound per path b[i][t]
// through the per-path difference D = B − (L − L*), so that a random bound
// (the printed reading) and a deterministic one are treated alike. It returns
// the first t where the mean difference is significantly negative (or −1),
// the t of the smallest relative slack (the lower end of D's interval over
// the bound), and the verdict over all t: violated if some t is
// significantly violated, holds if D's interval lies above 0 at every t,
// inconclusive otherwise.
func mcCompare(trs []*Trace, bs [][]float64, f Function) (first, worst int, obs, obsCI, bound []float64, v Verdict) {
	return mcCompareZ(trs, bs, f, z999)
}

// mcCompareZ is mcCompare with intervals of z standard errors.
func mcCompareZ(trs []*Trace, bs [][]float64, f Function, z float64) (first, worst int, obs, obsCI, bound []float64, v Verdict) {
	T := len(trs[0].Loss)
	obs, obsCI, bound = make([]float64, T), make([]float64, T), make([]float64, T)
	first, worst = -1, 0
	worstRel := math.Inf(1)
	straddles := false
	d := make([]float64, len(trs))
	g := make([]float64, len(trs))
	bb := make([]float64, len(trs))
	for t := 0; t < T; t++ {
		for i, tr := range trs {
			g[i] = tr.Loss[t] - f.Min()
			bb[i] = bs[i][t]
			d[i] = bb[i] - g[i]
		}
		obs[t], obsCI[t] = meanCI(g)
		bound[t], _ = meanCI(bb)
		md, dci := meanCI(d)
		obsCI[t] *= z / z999
		dci *= z / z999
		if t == 0 || bound[t] < floor(f) {
			continue // B_0 = L_0 − L* trivially; tiny bounds are beyond float64
		}
		if first < 0 && md+dci < -floor(f) {
			first = t
		}
		if md-dci < -floor(f) {
			straddles = true
		}
		if rel := (md - dci) / bound[t]; rel < worstRel {
			worstRel, worst = rel, t
		}
	}
	switch {
	case first >= 0:
		v = Violated
	case straddles:
		v = Inconclusive
	default:
		v = Holds
	}
	return
}

func meanGradRatio(trs []*Trace, t int, rhoBeta float64) float64 {
	s := 0.0
	for _, tr := range trs {
		s += math.Sqrt(tr.GradSq[t]) / rhoBeta
	}
	return s / float64(len(trs))
}

// PLFunctions are the members of fns with a PL constant.
func PLFunctions(fns []Function) []Function {
	var out []Function
	for _, f := range fns {
		if f.Mu() > 0 {
			out = append(out, f)
		}
	}
	return out
}

// Theorem2Scaled checks Theorem 2 where its proof is valid: a deterministic
// ρ_t (the perturbation ε_t = ρ·∇L(θ_t), ρβ ≤ 1), both in expectation over
// n paths and along every path with X_t. Here
// L_{t+1} − L* ≤ (1 − μα_t(1 − X_tρ²β²))(L_t − L*) follows from smoothness and
// PL because the coefficient 1 − X_tρ²β² is never negative.
func Theorem2Scaled(fns []Function, T, n int) []Check {
	var out []Check
	for _, f := range PLFunctions(fns) {
		rho := 0.5 / f.Beta()
		for _, st := range []Steps{{ConstantStep, 1}, {CosineStep, 1}} {
			specs := []string{"constant:0.5"}
			if st.Kind == ConstantStep {
				specs = append(specs, "cos1")
			}
			for _, sp := range specs {
				c := Config{Steps: st, Schedule: mustSchedule(sp), Rho: rho, T: T, Scaled: true}
				trs := runPaths(f, c, n)
				bs := make([][]float64, n)
				pathFail := 0
				for i, tr := range trs {
					bs[i] = thm2Bounds(tr, f, rho, RealisedRhoT, false)
					if pathFirstFailure(tr, f, thm2Bounds(tr, f, rho, RealisedRhoT, true)) >= 0 {
						pathFail++
					}
				}
				first, worst, obs, ci, bound, v := mcCompare(trs, bs, f)
				note := fmt.Sprintf("tightest at t = %d", worst)
				if first >= 0 {
					worst, note = first, fmt.Sprintf("first violated at t = %d", first)
				}
				set := fmt.Sprintf("%s, ρβ = 0.5, %d paths", c, n)
				out = append(out, Check{Claim: "Theorem 2", Reading: "ε_t = ρ∇L (deterministic ρ_t), in expectation, all t ≤ T", Function: f.Name(),
					Setting: set, Bound: bound[worst], Observed: obs[worst], CI: ci[worst], Verdict: v, Expected: Holds,
					Note: note})
				pv := Holds
				if pathFail > 0 {
					pv = Violated
				}
				out = append(out, Check{Claim: "Theorem 2", Reading: "ε_t = ρ∇L, along every path with X_t", Function: f.Name(),
					Setting: set, Bound: 0, Observed: float64(pathFail), Verdict: pv, Expected: Holds,
					Note: "observed = number of paths with some t where L_t − L* exceeds its path bound"})
			}
		}
	}
	return out
}

// Theorem2FixedRho: the reading "Theorem 2 with the fixed radius ρ in place
// of ρ_t" is false. With ρβ < 1 the bound decays geometrically to 0, but
// normalised SAM cannot settle closer than about αρβ to the optimum (on
// L = ½x² it ends oscillating at |x| = αρ/(2 − α)), so E[L_t] − L* stays of
// order ρ² whenever SAM steps keep coming. Counterexample (the first check):
// L = ½x², α = 0.5, p = 0.5, ρ = 0.1.
func Theorem2FixedRho(fns []Function, T, n int) []Check {
	type job struct {
		f   Function
		c   Config
		rho float64
	}
	jobs := []job{{half(), Config{Steps: Steps{ConstantStep, 0.5}, Schedule: mustSchedule("constant:0.5"), Rho: 0.1, T: T}, 0.1}}
	for _, f := range PLFunctions(fns) {
		rho := 0.1 / f.Beta()
		// Long enough for the bound to fall by e^20: μα_t ≈ μ/β per step.
		Tf := max(T, int(20*f.Beta()/f.Mu()))
		jobs = append(jobs, job{f, Config{Steps: Steps{ConstantStep, 1}, Schedule: mustSchedule("constant:0.5"), Rho: rho, T: Tf}, rho})
	}
	var out []Check
	for _, j := range jobs {
		trs := runPaths(j.f, j.c, n)
		bs := make([][]float64, n)
		for i, tr := range trs {
			bs[i] = thm2Bounds(tr, j.f, j.rho, FixedRho, false)
		}
		first, _, obs, ci, bound, v := mcCompare(trs, bs, j.f)
		ck := Check{Claim: "Theorem 2", Reading: "fixed ρ in place of ρ_t, in expectation", Function: j.f.Name(),
			Setting: fmt.Sprintf("%s, ρβ = %.2g, %d paths", j.c, j.rho*j.f.Beta(), n), Expected: Violated, Verdict: v}
		if first < 0 {
			ck.Bound, ck.Observed, ck.CI = bound[j.c.T], obs[j.c.T], ci[j.c.T]
		} else {
			ck.Bound, ck.Observed, ck.CI = bound[first], obs[first], ci[first]
			ck.Note = fmt.Sprintf("first fails at t = %d, where mean ‖∇L‖/(ρβ) = %.3g; at T: E[L−L*] = %.3g vs bound %.3g",
				first, meanGradRatio(trs, first, j.rho*j.f.Beta()), obs[j.c.T], bound[j.c.T])
		}
		out = append(out, ck)
	}
	return out
}

// Theorem2PrintedCounterexample: the printed reading (ρ_t = ρ/‖∇L(θ_t)‖) is
// false once ‖∇L(θ_t)‖ < ρβ. The proof then multiplies PL's lower bound on
// ‖∇L‖² by a negative coefficient. Counterexample, exact (one step, both
// outcomes of X_0 enumerated): L = ½(x² + 10y²) (β = 10, μ = 1), θ_0 = (0,
// 0.002), ρ = 0.1, α = 1/β, p = 0.5. The gradient step lands on the optimum;
// the SAM step lands at y = −ρ, L = 0.05. So E[L_1] = 0.025, while the bound
// is 2·10⁻⁵·(1 − 0.1(1 − 0.5·25·100)) ≈ 0.0025; along the SAM path the bound
// (with X_0 = 1) is ≈ 0.0050 against 0.05. The same construction on the
// 20-dimensional quadratic-ill (β = 100, μ = 1), starting a distance 0.1ρ from
// the minimiser along the top eigenvector, fails by a factor of about β/μ.
func Theorem2PrintedCounterexample(fns []Function) []Check {
	f := NewDiagQuadratic("½(x²+10y²)", []float64{1, 10}, []float64{0, 0}, []float64{0, 0.002})
	out := oneStepCounterexample(f, f.Start(), 0.1, "θ_0 = (0, 0.002)")
	for _, g := range fns {
		q, ok := g.(*Quadratic)
		if !ok || q.Name() != "quadratic-ill" {
			continue
		}
		rho := 1 / q.Beta()
		v := topEigenvector(q, q.c)
		x0 := make([]float64, q.d)
		for i := range x0 {
			x0[i] = q.c[i] + 0.1*rho*v[i]
		}
		out = append(out, oneStepCounterexample(q, x0, rho, "θ_0 = x* + 0.1ρ·v_max")...)
	}
	return out
}

func oneStepCounterexample(f Function, x0 []float64, rho float64, start string) []Check {
	const p = 0.5
	var sam, gd *Trace
	for seed := uint64(1); sam == nil || gd == nil; seed++ {
		tr := Run(f, Config{Steps: Steps{ConstantStep, 1}, Schedule: mustSchedule("constant:0.5"), Rho: rho, T: 1, Seed: seed, Start: x0})
		if tr.X[0] {
			sam = tr
		} else {
			gd = tr
		}
	}
	e := p*(sam.Loss[1]-f.Min()) + (1-p)*(gd.Loss[1]-f.Min())
	be := thm2Bounds(sam, f, rho, RealisedRhoT, false)[1] // the p-bound is the same on both paths
	bx := thm2Bounds(sam, f, rho, RealisedRhoT, true)[1]
	ratio := math.Sqrt(sam.GradSq[0]) / (rho * f.Beta())
	set := fmt.Sprintf("α = 1/β, p = 0.5, ρβ = %g, %s, T = 1", rho*f.Beta(), start)
	note := fmt.Sprintf("‖∇L(θ_0)‖/(ρβ) = %.3g; observed/bound = %.3g", ratio, e/be)
	return []Check{
		{Claim: "Theorem 2", Reading: "as printed, ρ_t = ρ/‖∇L(θ_t)‖, in expectation (exact)", Function: f.Name(), Setting: set,
			Bound: be, Observed: e, Verdict: judge(be, e, 0, be), Expected: Violated, Note: note},
		{Claim: "Theorem 2", Reading: "as printed, along the SAM path (X_0 = 1)", Function: f.Name(), Setting: set,
			Bound: bx, Observed: sam.Loss[1] - f.Min(), Verdict: judge(bx, sam.Loss[1]-f.Min(), 0, bx), Expected: Violated,
			Note: fmt.Sprintf("‖∇L(θ_0)‖/(ρβ) = %.3g", ratio)},
	}
}

// topEigenvector is the unit eigenvector of ∇²L(x) with the largest
// eigenvalue, by power iteration.
func topEigenvector(f Function, x []float64) []float64 {
	d := f.Dim()
	v := make([]float64, d)
	for i := range v {
		v[i] = 1 / math.Sqrt(float64(d)+float64(i))
	}
	hv := make([]float64, d)
	for it := 0; it < 3000; it++ {
		f.HessVec(hv, x, v)
		n := norm(hv)
		for i := range v {
			v[i] = hv[i] / n
		}
	}
	return v
}

// Theorem2PrintedRuns runs the printed reading on the PL functions from their
// usual starts, over a range of ρ. Along each path it finds the first step
// where the bound (with X_t) fails and the first SAM step taken with
// ‖∇L(θ_t)‖ < ρβ. The proof is valid up to that SAM step, so "holds before
// it" is asserted; whether and where the bound fails afterwards is reported.
func Theorem2PrintedRuns(fns []Function, T, n int) []Check {
	var out []Check
	for _, f := range PLFunctions(fns) {
		beta := f.Beta()
		for _, rb := range []float64{0.01, 0.1, 1} {
			rho := rb / beta
			c := Config{Steps: Steps{ConstantStep, 1}, Schedule: mustSchedule("constant:0.5"), Rho: rho, T: T}
			trs := runPaths(f, c, n)
			early, failed, firstFail := 0, 0, T+1
			ratioAt := math.NaN()
			bs := make([][]float64, n)
			for i, tr := range trs {
				bs[i] = thm2Bounds(tr, f, rho, RealisedRhoT, false)
				bx := thm2Bounds(tr, f, rho, RealisedRhoT, true)
				ff := pathFirstFailure(tr, f, bx)
				bad := len(tr.X) + 1
				for s, x := range tr.X {
					if x && math.Sqrt(tr.GradSq[s]) < rho*beta {
						bad = s
						break
					}
				}
				if ff >= 0 {
					failed++
					if ff <= bad {
						early++
					}
					if ff < firstFail {
						firstFail = ff
						ratioAt = math.Sqrt(tr.GradSq[ff-1]) / (rho * beta)
					}
				}
			}
			set := fmt.Sprintf("%s, ρβ = %g, %d paths", c, rb, n)
			v := Holds
			if early > 0 {
				v = Violated
			}
			out = append(out, Check{Claim: "Theorem 2", Reading: "as printed, along the path with X_t, up to the first SAM step with ‖∇L‖ < ρβ",
				Function: f.Name(), Setting: set, Observed: float64(early), Verdict: v, Expected: Holds,
				Note: "observed = paths failing before that step"})
			note := "no path failed"
			pv := Holds
			if failed > 0 {
				pv = Violated
				note = fmt.Sprintf("%d/%d paths fail; earliest at t = %d, after a step with ‖∇L‖/(ρβ) = %.3g", failed, n, firstFail, ratioAt)
			}
			first, worst, obs, ci, bound, ev := mcCompare(trs, bs, f)
			k := worst
			if first >= 0 {
				k = first
			}
			out = append(out, Check{Claim: "Theorem 2", Reading: "as printed, along the path with X_t, all t", Function: f.Name(), Setting: set,
				Observed: float64(failed), Verdict: pv, Expected: "reported", Note: note})
			out = append(out, Check{Claim: "Theorem 2", Reading: "as printed, E[L_t] − L* ≤ E[(L0−L*)Π(1−μα(1−pρ_t²β²))]", Function: f.Name(),
				Setting: set, Bound: bound[k], Observed: obs[k], CI: ci[k], Verdict: ev, Expected: "reported", Note: fmt.Sprintf("at t = %d", k)})
		}
	}
	return out
}
