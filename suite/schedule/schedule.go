package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rst-bench/rst/suite/rng"
)

// Func is a scheduling function p(t) for t = 0..T-1 over a run of T steps.
type Func interface {
	// P is the probability of a sharp (SAM) step at step t, in [0,1].
	// For T <= 0 it returns 0.
	P(t, T int) float64
	// ExpectedDeltaEta is the mean of P(t,T) over t = 0..T-1: the exact
	// expected number of extra forward-backward pairs per step. It returns 0
	// for T <= 0 (see Validate).
	ExpectedDeltaEta(T int) float64
	// ClosedFormDeltaEta is the continuous-time mean ∫₀¹ p dx of docs/PAPER.md §2,
	// where a closed formula exists; ok is false otherwise.
	ClosedFormDeltaEta() (v float64, ok bool)
	// String is the canonical spec, which Parse reads back.
	String() string
}

// Validate reports whether T is a usable number of steps. P and
// ExpectedDeltaEta return 0 rather than panicking for T <= 0, so callers that
// take T from a user should call Validate first.
func Validate(T int) error {
	if T <= 0 {
		return fmt.Errorf("schedule: T = %d steps; the run length must be at least 1", T)
	}
	return nil
}

// Draw is RST's Bernoulli draw X_t: true means a sharp step. It is keyed only
// by (seed, t) so that it never depends on the data order or on other draws.
// p <= 0 never draws and p >= 1 always does.
func Draw(seed uint64, t int, p float64) bool {
	return rng.New(seed, "bernoulli", uint64(t)).Float64() < p
}

// Count is the realised number of sharp steps of f over a run of T steps.
func Count(f Func, seed uint64, T int) int {
	n := 0
	for t := 0; t < T; t++ {
		if Draw(seed, t, f.P(t, T)) {
			n++
		}
	}
	return n
}

// CountVariance is Σ p(t)(1−p(t)), the variance of Count (a Poisson-binomial
// count, since each step has its own probability).
func CountVariance(f Func, T int) float64 {
	v := 0.0
	for t := 0; t < T; t++ {
		p := f.P(t, T)
		v += p * (1 - p)
	}
	return v
}

// mean is the exact mean of f over the discrete steps.
func mean(f Func, T int) float64 {
	if T <= 0 {
		return 0
	}
	s := 0.0
	for t := 0; t < T; t++ {
		s += f.P(t, T)
	}
	return s / float64(T)
}

func clip01(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// frac is x = t/T, the position in the run.
func frac(t, T int) float64 { return float64(t) / float64(T) }

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ---- constant ----

type constant struct{ a float64 }

// Constant is p(t) = a, a in [0,1].
func Constant(a float64) (Func, error) {
	if err := unit("constant", "a_c", a); err != nil {
		return nil, err
	}
	return constant{a}, nil
}

func (c constant) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	return c.a
}
func (c constant) ExpectedDeltaEta(T int) float64      { return mean(c, T) }
func (c constant) ClosedFormDeltaEta() (float64, bool) { return c.a, true }
func (c constant) String() string                      { return "constant:" + num(c.a) }

// ---- piecewise ----

type piecewise struct{ a, b float64 }

// Piecewise is p(t) = a for t < b·T, then 1 − a; a and b in [0,1].
func Piecewise(a, b float64) (Func, error) {
	if err := unit("piecewise", "a_p", a); err != nil {
		return nil, err
	}
	if err := unit("piecewise", "b_p", b); err != nil {
		return nil, err
	}
	return piecewise{a, b}, nil
}

// switchStep is the first step that takes 1 − a: the smallest integer t with
// t >= b·T. The small tolerance keeps b·T = 3 from becoming 3.0000000000000004
// and moving the switch by one step.
func (p piecewise) switchStep(T int) int {
	return int(math.Ceil(p.b*float64(T) - 1e-9))
}

func (p piecewise) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	if t < p.switchStep(T) {
		return p.a
	}
	return 1 - p.a
}

// ExpectedDeltaEta counts the steps on each side of the switch exactly.
func (p piecewise) ExpectedDeltaEta(T int) float64 {
	if T <= 0 {
		return 0
	}
	k := min(max(p.switchStep(T), 0), T)
	return (p.a*float64(k) + (1-p.a)*float64(T-k)) / float64(T)
}
func (p piecewise) ClosedFormDeltaEta() (float64, bool) {
	return p.a*p.b + (1-p.a)*(1-p.b), true
}
func (p piecewise) String() string { return "piecewise:" + num(p.a) + "," + num(p.b) }

// ---- linear ----

type linear struct{ a, b float64 }

// Linear is p = a·(t/T) + b clipped to [0,1]: a is the change of p over the
// whole run (per unit of t/T), so the same spec means the same shape for any
// T. a and b may be any finite numbers.
func Linear(a, b float64) (Func, error) {
	for _, v := range []struct {
		n string
		x float64
	}{{"a_l", a}, {"b_l", b}} {
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return nil, fmt.Errorf("schedule linear: %s = %v must be a finite number", v.n, v.x)
		}
	}
	return linear{a, b}, nil
}

func (l linear) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	return clip01(l.a*frac(t, T) + l.b)
}
func (l linear) ExpectedDeltaEta(T int) float64 { return mean(l, T) }

// ClosedFormDeltaEta is p at the middle of the run, which is the mean only
// while the line stays inside [0,1] on all of [0,1].
func (l linear) ClosedFormDeltaEta() (float64, bool) {
	if l.b < 0 || l.b > 1 || l.a+l.b < 0 || l.a+l.b > 1 {
		return 0, false
	}
	return l.a/2 + l.b, true
}
func (l linear) String() string { return "linear:" + num(l.a) + "," + num(l.b) }

// linear1 is the paper's linear group 1, kept as its own type so that its
// spec stays "linear1:m".
type linear1 struct {
	m float64
	linear
}

// Linear1 is linear group 1: through (0,0) and (T/2, m) for m <= 0.5, else
// through (T/2, m) and (T, 1). Its expected Δη is m.
func Linear1(m float64) (Func, error) {
	if err := unit("linear1", "m", m); err != nil {
		return nil, err
	}
	if m <= 0.5 {
		return linear1{m, linear{2 * m, 0}}, nil
	}
	return linear1{m, linear{2 * (1 - m), 2*m - 1}}, nil
}
func (l linear1) ExpectedDeltaEta(T int) float64 { return mean(l, T) }
func (l linear1) String() string                 { return "linear1:" + num(l.m) }

type linear2 struct {
	b0 float64
	linear
}

// Linear2 is linear group 2: through (0, b) and (T/2, 0.5), so that it ends
// at 1 − b and its expected Δη is 0.5 for every b.
func Linear2(b float64) (Func, error) {
	if err := unit("linear2", "b_l", b); err != nil {
		return nil, err
	}
	return linear2{b, linear{1 - 2*b, b}}, nil
}
func (l linear2) ExpectedDeltaEta(T int) float64 { return mean(l, T) }
func (l linear2) String() string                 { return "linear2:" + num(l.b0) }

// ---- trigonometric ----

type trig string

// Trig returns cos1, cos2, sin1 or sin2.
func Trig(name string) (Func, error) {
	switch name {
	case "cos1", "cos2", "sin1", "sin2":
		return trig(name), nil
	}
	return nil, fmt.Errorf("schedule: unknown trigonometric schedule %q (accepted: cos1, cos2, sin1, sin2)", name)
}

func (k trig) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	x := math.Pi * frac(t, T)
	switch k {
	case "cos1":
		return clip01(0.5 + 0.5*math.Cos(x))
	case "cos2":
		return clip01(0.5 - 0.5*math.Cos(x))
	case "sin1":
		return clip01(math.Sin(x))
	default:
		return clip01(1 - math.Sin(x))
	}
}
func (k trig) ExpectedDeltaEta(T int) float64 { return mean(k, T) }

// ClosedFormDeltaEta: the mean of sin(πx) on [0,1] is 2/π ≈ 0.637 (the
// paper's text prints π/2, which is not even a probability).
func (k trig) ClosedFormDeltaEta() (float64, bool) {
	switch k {
	case "sin1":
		return 2 / math.Pi, true
	case "sin2":
		return 1 - 2/math.Pi, true
	}
	return 0.5, true
}
func (k trig) String() string { return string(k) }

// ---- table ----

type table []float64

// Table is piecewise constant: v[k] on the k-th of len(v) equal segments of
// the run (step t is in segment ⌊t·n/T⌋). Each value must be in [0,1].
func Table(v ...float64) (Func, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("schedule table: needs at least one value in [0,1]")
	}
	for i, x := range v {
		if err := unit("table", fmt.Sprintf("value %d", i+1), x); err != nil {
			return nil, err
		}
	}
	return table(append([]float64(nil), v...)), nil
}

func (tb table) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	n := len(tb)
	k := min(max(t*n/T, 0), n-1)
	return tb[k]
}
func (tb table) ExpectedDeltaEta(T int) float64 { return mean(tb, T) }

// ClosedFormDeltaEta is the plain mean of the values: each covers the same
// share of the run.
func (tb table) ClosedFormDeltaEta() (float64, bool) {
	s := 0.0
	for _, x := range tb {
		s += x
	}
	return s / float64(len(tb)), true
}
func (tb table) String() string {
	s := make([]string, len(tb))
	for i, x := range tb {
		s[i] = num(x)
	}
	return "table:" + strings.Join(s, ",")
}

// ---- helpers ----

// unit checks that a parameter is a probability.
func unit(family, name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return fmt.Errorf("schedule %s: %s = %v is outside the accepted range [0,1]", family, name, v)
	}
	return nil
}

// ---- the paper's groups ----

// tenths is 0.1, 0.2, ..., 0.9, each computed as i/10 so that it prints as
// the short decimal.
func tenths() []float64 {
	v := make([]float64, 9)
	for i := range v {
		v[i] = float64(i+1) / 10
	}
	return v
}

func must(f Func, err error) Func {
	if err != nil {
		panic(err) // only reached with the fixed, valid parameters below
	}
	return f
}

// ConstantGroup is the constant group a_c = 0.1, ..., 0.9.
func ConstantGroup() []Func {
	var g []Func
	for _, a := range tenths() {
		g = append(g, must(Constant(a)))
	}
	return g
}

// PiecewiseGroup returns the paper's piecewise groups: 1 is a_p = 0 with
// b_p = 0.1..0.9 (SGD then SAM), 2 is a_p = 1 (SAM then SGD) and 3 is
// b_p = 0.5 with a_p = 0.1..0.9 (Δη = 0.5 for all).
func PiecewiseGroup(group int) ([]Func, error) {
	var g []Func
	for _, v := range tenths() {
		switch group {
		case 1:
			g = append(g, must(Piecewise(0, v)))
		case 2:
			g = append(g, must(Piecewise(1, v)))
		case 3:
			g = append(g, must(Piecewise(v, 0.5)))
		default:
			return nil, fmt.Errorf("schedule: piecewise group %d does not exist (accepted: 1, 2, 3)", group)
		}
	}
	return g, nil
}

// LinearGroup returns linear group 1 (m = 0.1..0.9) or 2 (b_l = 0.1..0.9).
func LinearGroup(group int) ([]Func, error) {
	var g []Func
	for _, v := range tenths() {
		switch group {
		case 1:
			g = append(g, must(Linear1(v)))
		case 2:
			g = append(g, must(Linear2(v)))
		default:
			return nil, fmt.Errorf("schedule: linear group %d does not exist (accepted: 1, 2)", group)
		}
	}
	return g, nil
}

// TrigGroup is cos1, cos2, sin1, sin2 (the paper's Table 5).
func TrigGroup() []Func {
	return []Func{trig("cos1"), trig("cos2"), trig("sin1"), trig("sin2")}
}
