package theory

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// boundForm is which terms the stochastic bounds are built with. derived
// is the form theory/README.md derives; the mutants are deliberately wrong
// forms. The stochastic checks judge their runs against a form, so the
// mutation test can feed the same runs every mutant and count the checks
// that reject it: a check suite that a wrong bound can pass has no power.
type boundForm struct {
	name      string
	sam       float64 // factor on the SAM term α_t p_t ρ²β²
	pPow      float64 // p_t enters the SAM and cross terms as p_t^pPow
	noise     float64 // factor on σ² in Theorem 1 and the corollaries
	cross     float64 // factor on the one-batch cross term 2κp_tβρσ
	scale     float64 // factor on the whole Theorem 1 / corollary bound
	cosFrom   int     // the least T for which the cosine closed forms are claimed
	thm2Noise float64 // factor on Theorem 2's σ² terms, cross term included
}

var derived = boundForm{name: "derived", sam: 1, pPow: 1, noise: 1, cross: 1, scale: 1, cosFrom: 2, thm2Noise: 1}

// w is p_t (or X_t) as the form uses it. math.Pow(w, 1) is w exactly, so
// the derived form evaluates the formula as written.
func (b boundForm) w(p float64) float64 { return math.Pow(p, b.pPow) }

// quiet is the form with every σ² term removed: the deterministic bound.
func (b boundForm) quiet() boundForm {
	b.noise, b.cross, b.thm2Noise = 0, 0, 0
	return b
}

// mutants are the wrong bounds the stochastic checks must reject (issue
// 21): each drops or shrinks one ingredient of the derived forms.
func mutants() []boundForm {
	m := func(name string, edit func(*boundForm)) boundForm {
		b := derived
		b.name = name
		edit(&b)
		return b
	}
	return []boundForm{
		m("Theorem 1: one-batch cross term dropped (κ = 0)", func(b *boundForm) { b.cross = 0 }),
		m("Theorem 1: σ² halved and κ = 0", func(b *boundForm) { b.noise, b.cross = 0.5, 0 }),
		m("Theorem 1: no noise term (the printed bound)", func(b *boundForm) { b.noise, b.cross = 0, 0 }),
		m("Theorem 1: no SAM term", func(b *boundForm) { b.sam = 0 }),
		m("Theorem 1: 0.6 × the bound", func(b *boundForm) { b.scale = 0.6 }),
		m("Theorem 1: p² for p", func(b *boundForm) { b.pPow = 2 }),
		m("Corollary 1: cosine closed form claimed at T = 1", func(b *boundForm) { b.cosFrom = 1 }),
		m("Theorem 2: noise term × 0.8", func(b *boundForm) { b.thm2Noise = 0.8 }),
		m("Theorem 2: noise term × 0.5", func(b *boundForm) { b.thm2Noise = 0.5 }),
		m("Theorem 2: no noise term", func(b *boundForm) { b.thm2Noise = 0 }),
	}
}

// noisyCheck is one stochastic check whose runs are done: it judges them
// against the bounds in form b.
type noisyCheck func(b boundForm) Check

func evalChecks(ncs []noisyCheck, b boundForm) []Check {
	out := make([]Check, len(ncs))
	for i, nc := range ncs {
		out[i] = nc(b)
	}
	return out
}

// Mutations judges the runs behind ncs against every mutant. One check per
// mutant: it holds when at least one check that holds with the derived
// bounds reports the mutant violated.
func Mutations(ncs []noisyCheck) []Check {
	base := evalChecks(ncs, derived)
	var out []Check
	for _, m := range mutants() {
		got := evalChecks(ncs, m)
		eligible, rejected, inconclusive := 0, 0, 0
		by := map[string]int{}
		for i, c := range got {
			if base[i].Expected != Holds || base[i].Verdict != Holds {
				continue // only checks that the derived bound passes can reject
			}
			eligible++
			switch c.Verdict {
			case Violated:
				rejected++
				by[c.Claim+" ["+shortReading(c.Reading)+"]"]++
			case Inconclusive:
				inconclusive++
			}
		}
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %d", k, by[k]))
		}
		v := Violated
		if rejected > 0 {
			v = Holds
		}
		// As a bound: of the eligible checks, all but one at most may let the
		// mutant pass (not report it violated).
		out = append(out, Check{Claim: "mutation test", Reading: m.name + " is rejected", Function: "-",
			Setting: fmt.Sprintf("%d checks that the derived bounds pass, on their runs", eligible),
			Bound:   float64(eligible - 1), Observed: float64(eligible - rejected), Verdict: v, Expected: Holds,
			Note: fmt.Sprintf("rejected (reported violated) by %d checks, %d more inconclusive; bound = all but one of the checks, observed = the checks it passes. %s",
				rejected, inconclusive, strings.Join(parts, "; "))})
	}
	return out
}

// shortReading is a reading up to its formula, for the mutation notes.
func shortReading(r string) string {
	for _, sep := range []string{":", " ≤"} {
		if i := strings.Index(r, sep); i > 0 {
			r = r[:i]
		}
	}
	return strings.TrimSpace(r)
}
