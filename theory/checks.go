package theory

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/rst-bench/rst/suite/schedule"
)

// Verdict is the outcome of one check. A Monte Carlo check holds only when
// its interval lies on the right side of the bound (or, for an identity,
// inside the stated margin around it); when it straddles the bound the check
// is inconclusive, which is not counted as holding.
type Verdict string

const (
	Holds    Verdict = "holds"
	Violated Verdict = "violated"
	// Inconclusive: a Monte Carlo interval straddles the bound (or, for an
	// identity, is too wide to resolve the margin).
	Inconclusive Verdict = "inconclusive"
)

// Check is one reading of one statement on one function and setting.
type Check struct {
	Claim    string  // "Theorem 1", "Corollary 2", "Lemma 1", ...
	Reading  string  // which reading of the claim
	Function string  // test function (or "-")
	Setting  string  // step rule, schedule, ρ, T, ...
	Bound    float64 // the claimed upper bound (or the claimed value)
	Observed float64 // what the runs gave (a mean for Monte Carlo)
	CI       float64 // half-width of the 99.9% interval of Observed; 0 if exact
	Verdict  Verdict
	Expected Verdict // what the mathematics predicts
	Note     string
	// ZeroNoise is, for a check of a σ² bound, the verdict of the same
	// bound with σ = 0 on the same observation ("" elsewhere). Where it
	// holds, the check cannot tell the σ² form from the deterministic one.
	ZeroNoise Verdict
}

// Slack is Bound − Observed: positive when the bound is met.
func (c Check) Slack() float64 { return c.Bound - c.Observed }

const z999 = 3.2905 // two-sided 99.9% normal quantile

// tol is the rounding allowance of an exact comparison.
func tol(scale float64) float64 { return 1e-11 * math.Max(1, math.Abs(scale)) }

// judge compares an observation (with its interval) to an upper bound.
func judge(bound, obs, ci, scale float64) Verdict {
	switch {
	case obs+ci <= bound+tol(scale):
		return Holds
	case obs-ci > bound+tol(scale):
		return Violated
	}
	return Inconclusive
}

// judgeEqual is the verdict on an identity E[obs] = want: violated when the
// interval excludes want, holds when the whole interval lies within margin
// of want (so the check resolves differences of that size), and
// inconclusive when it contains want but is wider than that.
func judgeEqual(want, obs, ci, margin float64) Verdict {
	d := math.Abs(obs - want)
	switch {
	case d > ci+tol(want):
		return Violated
	case d+ci <= margin+tol(want):
		return Holds
	}
	return Inconclusive
}

func meanCI(v []float64) (mean, ci float64) {
	n := float64(len(v))
	for _, x := range v {
		mean += x
	}
	mean /= n
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, z999 * math.Sqrt(ss/(n-1)/n)
}

// runPaths runs n independent paths (seeds 1..n) in parallel.
func runPaths(f Function, c Config, n int) []*Trace {
	out := make([]*Trace, n)
	parallel(n, func(i int) {
		ci := c
		ci.Seed = uint64(i + 1)
		out[i] = Run(f, ci)
	})
	return out
}

// parallel calls do(i) for i = 0..n−1 on GOMAXPROCS goroutines.
func parallel(n int, do func(i int)) {
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for i := k; i < n; i += w {
				do(i)
			}
		}(k)
	}
	wg.Wait()
}

func mustSchedule(spec string) schedule.Func {
	s, err := schedule.Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// ---- Theorem 1 ----

// thm1Bound is [2(L0 − L*) + Σ_{t<n} α_t w_t ρ²β²] / Σ_{t<n} α_t with
// w_t = X_t (along the path) or p_t (in expectation).
func thm1Bound(tr *Trace, lstar, rho, beta float64, useX bool, n int) float64 {
	num, den := 2*(tr.Loss[0]-lstar), 0.0
	for t := 0; t < n; t++ {
		w := tr.P[t]
		if useX {
			w = 0
			if tr.X[t] {
				w = 1
			}
		}
		num += tr.Alpha[t] * w * rho * rho * beta * beta
		den += tr.Alpha[t]
	}
	return num / den
}

// minGradSq is min over t < n of ‖∇L(θ_t)‖².
func minGradSq(tr *Trace, n int) float64 {
	m := math.Inf(1)
	for t := 0; t < n; t++ {
		m = math.Min(m, tr.GradSq[t])
	}
	return m
}

// Thm1Schedules are one or more members of every family of docs/PAPER.md §2, plus
// the two ends (plain gradient descent and SAM every step).
var Thm1Schedules = []string{"constant:0", "constant:0.5", "constant:1", "piecewise:0,0.5", "piecewise:1,0.3",
	"piecewise:0.2,0.5", "linear1:0.3", "linear1:0.8", "linear2:0.1", "cos1", "cos2", "sin1", "sin2", "table:0.9,0.1,0.6"}

// Thm1Steps are the step rules of Theorem 1 and its corollaries, all with
// α_t ≤ 1/β.
var Thm1Steps = []Steps{{ConstantStep, 1}, {ConstantStep, 0.5}, {CosineStep, 1}, {HarmonicStep, 1}}

// Thm1Rhos spans SAM radii from negligible to ρβ far above the gradient
// norm near the optimum.
var Thm1Rhos = []float64{1e-3, 1e-2, 1e-1, 1}

// Theorem1Paths checks Theorem 1 along single paths, with the realised X_t in
// place of p_t, for every function, step rule, schedule and radius.
func Theorem1Paths(fns []Function, T int) []Check {
	var out []Check
	for _, f := range fns {
		for _, st := range Thm1Steps {
			for _, sp := range Thm1Schedules {
				for _, rho := range Thm1Rhos {
					c := Config{Steps: st, Schedule: mustSchedule(sp), Rho: rho, T: T, Seed: 7}
					tr := Run(f, c)
					b := thm1Bound(tr, f.Min(), rho, f.Beta(), true, T)
					o := minGradSq(tr, T)
					out = append(out, Check{Claim: "Theorem 1", Reading: "along the path, X_t for p_t", Function: f.Name(),
						Setting: c.String(), Bound: b, Observed: o, Verdict: judge(b, o, 0, b), Expected: Holds})
				}
			}
		}
	}
	return out
}

// Theorem1Expectation checks Theorem 1 and Corollaries 1–2 in expectation:
// the mean over n paths of min_t ‖∇L(θ_t)‖² (with its interval) against the
// bound with p_t.
func Theorem1Expectation(fns []Function, T, n int) []Check {
	var out []Check
	const rho = 0.1
	for _, f := range fns {
		beta, gap := f.Beta(), f.Value(f.Start())-f.Min()
		for _, st := range []Steps{{ConstantStep, 1}, {CosineStep, 1}, {HarmonicStep, 1}} {
			specs := []string{"constant:0.5"}
			if st.Kind == ConstantStep {
				specs = append(specs, "sin1") // a time-varying p once per function
			}
			for _, sp := range specs {
				c := Config{Steps: st, Schedule: mustSchedule(sp), Rho: rho, T: T}
				trs := runPaths(f, c, n)
				mins := make([]float64, n)
				for i, tr := range trs {
					mins[i] = minGradSq(tr, T)
				}
				m, ci := meanCI(mins)
				b := thm1Bound(trs[0], f.Min(), rho, beta, false, T)
				set := fmt.Sprintf("%s, %d paths", c, n)
				out = append(out, Check{Claim: "Theorem 1", Reading: "in expectation, p_t", Function: f.Name(), Setting: set,
					Bound: b, Observed: m, CI: ci, Verdict: judge(b, m, ci, b), Expected: Holds})
				if sp != "constant:0.5" {
					continue // the corollaries are for a constant p
				}
				p := 0.5
				sam := p * rho * rho * beta * beta
				C := st.C
				switch st.Kind {
				case ConstantStep:
					cb := 2*beta*gap/(C*float64(T)) + sam
					out = append(out, Check{Claim: "Corollary 1", Reading: "α = C/β constant", Function: f.Name(), Setting: set,
						Bound: cb, Observed: m, CI: ci, Verdict: judge(cb, m, ci, cb), Expected: Holds})
				case CosineStep:
					printed := 2*beta*gap/(C*float64(T)) + sam
					derived := 4*beta*gap/(C*float64(T+1)) + sam
					out = append(out, Check{Claim: "Corollary 1", Reading: "cosine α, as Theorem 1 gives it: 4β(L0−L*)/(C(T+1)) + pρ²β²",
						Function: f.Name(), Setting: set, Bound: derived, Observed: m, CI: ci, Verdict: judge(derived, m, ci, derived), Expected: Holds})
					out = append(out, Check{Claim: "Corollary 1", Reading: "cosine α, as printed: 2β(L0−L*)/(CT) + pρ²β² (not implied by the proof)",
						Function: f.Name(), Setting: set, Bound: printed, Observed: m, CI: ci, Verdict: judge(printed, m, ci, printed), Expected: "unproven",
						Note: "Σα_t = C(T+1)/(2β) for the cosine rule, half of CT/β"})
				case HarmonicStep:
					cp := C / beta // the paper's C in α_t = C/t
					cb := 2*gap/(cp*math.Log(float64(T))) + sam
					out = append(out, Check{Claim: "Corollary 2", Reading: "α_t = C'/(t+1), C' ≤ 1/β", Function: f.Name(), Setting: set,
						Bound: cb, Observed: m, CI: ci, Verdict: judge(cb, m, ci, cb), Expected: Holds})
				}
			}
		}
	}
	return out
}

// half is L = ½x² in one dimension (β = μ = 1, L* = 0), started at x = 1.
func half() *Quadratic { return NewDiagQuadratic("½x²", []float64{1}, []float64{0}, []float64{1}) }

// Theorem1StepTooLarge: the reading "Theorem 1 for any stable step, α_t < 2/β"
// is false. Counterexample: L = ½x², α = 1.9, RST p = 0.5, ρ = 0.01, T = 10.
// Each step multiplies |x| by at least 0.9, so min_t ‖∇L‖² ≥ 0.9^18 ≈ 0.15,
// while the bound is (1 + Σ1.9·X_t·10⁻⁴)/19 ≈ 0.053.
func Theorem1StepTooLarge() Check {
	c := Config{Steps: Steps{ConstantStep, 1.9}, Schedule: mustSchedule("constant:0.5"), Rho: 0.01, T: 10, Seed: 1}
	tr := Run(half(), c)
	b, o := thm1Bound(tr, 0, c.Rho, 1, true, c.T), minGradSq(tr, c.T)
	return Check{Claim: "Theorem 1", Reading: "with 1/β < α_t < 2/β", Function: "½x²", Setting: c.String(),
		Bound: b, Observed: o, Verdict: judge(b, o, 0, b), Expected: Violated,
		Note: "the proof needs α_t ≤ 1/β to turn βα²/2 into α/2"}
}

// Theorem1LastIterate: the reading "the bound holds for the last iterate"
// (rather than the minimum over t) is false along paths. Counterexample:
// L = ½x², α = 0.9, p = 0.5, ρ = 1, T = 200: near 0 a gradient step gives
// x → 0.1x but a SAM step gives |x| → 0.9 − 0.1|x| ≥ 0.81, so after a final
// SAM step ‖∇L(θ_T)‖² ≥ 0.65 while the bound is about (1 + 0.9·ΣX_t)/180 ≈ 0.5.
func Theorem1LastIterate() Check {
	c := Config{Steps: Steps{ConstantStep, 0.9}, Schedule: mustSchedule("constant:0.5"), Rho: 1, T: 200}
	for seed := uint64(1); ; seed++ {
		c.Seed = seed
		tr := Run(half(), c)
		if !tr.X[c.T-1] {
			continue
		}
		b, o := thm1Bound(tr, 0, c.Rho, 1, true, c.T), tr.GradSq[c.T]
		minOK := minGradSq(tr, c.T) <= b
		return Check{Claim: "Theorem 1", Reading: "for the last iterate θ_T instead of min_t", Function: "½x²",
			Setting: fmt.Sprintf("%s, seed %d (last draw X=1)", c, seed), Bound: b, Observed: o, Verdict: judge(b, o, 0, b), Expected: Violated,
			Note: fmt.Sprintf("the min over t on the same path meets the bound: %v", minOK)}
	}
}

// Corollary2LargeC: the reading "Corollary 2 for any C" is false; it needs
// α_0 = C ≤ 1/β. Counterexample: L = ½x², α_t = 10.5/(t+1), p = 0.5,
// ρ = 0.01, T = 8: |1 − α_t| ≥ 1 for the early steps, so |x| grows and the
// minimum is ‖∇L(θ_0)‖² = 1, against 2·½/(10.5·log 8) + 0.5·10⁻⁴ ≈ 0.046.
func Corollary2LargeC() Check {
	c := Config{Steps: Steps{HarmonicStep, 10.5}, Schedule: mustSchedule("constant:0.5"), Rho: 0.01, T: 8, Seed: 1}
	tr := Run(half(), c)
	b := 2*0.5/(10.5*math.Log(float64(c.T))) + 0.5*c.Rho*c.Rho
	o := minGradSq(tr, c.T)
	return Check{Claim: "Corollary 2", Reading: "with C' > 1/β", Function: "½x²", Setting: c.String(),
		Bound: b, Observed: o, Verdict: judge(b, o, 0, b), Expected: Violated}
}
