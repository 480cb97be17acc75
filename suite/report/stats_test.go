package report

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestSummarize(t *testing.T) {
	// values 3.5, 3.7, 3.9: mean = 11.1/3 = 3.7; deviations −0.2, 0, 0.2;
	// Σd² = 0.08; sample variance 0.08/2 = 0.04; std = 0.2.
	s := Summarize([]float64{3.5, 3.7, 3.9}, 1, 2)
	if s.N != 3 || s.Missing != 1 || s.Diverged != 2 {
		t.Fatalf("counts: %+v", s)
	}
	if !approx(s.Mean, 3.7, 1e-12) || !approx(s.Std, 0.2, 1e-12) {
		t.Fatalf("mean, std = %v, %v, want 3.7, 0.2", s.Mean, s.Std)
	}

	// One value: no spread.
	s = Summarize([]float64{2.5}, 0, 0)
	if s.N != 1 || s.Mean != 2.5 || !math.IsNaN(s.Std) {
		t.Fatalf("one value: %+v", s)
	}
	// None: no mean.
	s = Summarize(nil, 5, 0)
	if s.N != 0 || !math.IsNaN(s.Mean) || !math.IsNaN(s.Std) || s.Missing != 5 {
		t.Fatalf("no value: %+v", s)
	}

	// Two-pass std keeps the digits a one-pass Σx² formula loses:
	// 1e8 + {1, 2, 3} has std 1 exactly.
	s = Summarize([]float64{1e8 + 1, 1e8 + 2, 1e8 + 3}, 0, 0)
	if !approx(s.Std, 1, 1e-9) {
		t.Fatalf("std of 1e8+{1,2,3} = %v, want 1", s.Std)
	}
}

func TestFormatMeanStd(t *testing.T) {
	for _, c := range []struct {
		s      Summary
		digits int
		want   string
	}{
		{Summarize([]float64{3.5, 3.7, 3.9}, 0, 0), 2, "3.70 ± 0.20"},
		{Summarize([]float64{3.5, 3.7, 3.9}, 0, 0), 1, "3.7 ± 0.2"},
		{Summarize([]float64{3.65}, 0, 0), 2, "3.65 ± –"},
		{Summarize(nil, 3, 0), 2, "–"},
		{Summarize(nil, 0, 0), 2, "–"},
		{Summarize(nil, 0, 5), 2, "diverged (5/5)"},
		{Summarize(nil, 2, 3), 2, "diverged (3/3)"},
		// 3 finite + 2 diverged = 5 finished runs.
		{Summarize([]float64{3.5, 3.7, 3.9}, 0, 2), 2, "3.70 ± 0.20 (diverged 2/5)"},
		{Summarize([]float64{3.5, 3.7, 3.9}, 2, 0), 2, "3.70 ± 0.20 (2 missing)"},
		{Summarize([]float64{3.5, 3.7, 3.9}, 1, 1), 2, "3.70 ± 0.20 (diverged 1/4, 1 missing)"},
		// A rounded tiny negative mean must not print as "-0.00".
		{Summarize([]float64{-0.001, 0.0004}, 0, 0), 2, "0.00 ± 0.00"},
		{Summarize([]float64{1, 2}, 0, 0), -1, "2 ± 1"},
	} {
		if got := FormatMeanStd(c.s, c.digits); got != c.want {
			t.Errorf("FormatMeanStd(%+v, %d) = %q, want %q", c.s, c.digits, got, c.want)
		}
	}
}

func TestPairedTwo(t *testing.T) {
	// a = {3, 5}, b = {1, 2}: d = {2, 3}, mean 2.5, deviations ±0.5,
	// Σd² = 0.5, variance 0.5/1, std √0.5 = 0.70710678.
	// t_{0.975, 1} = tan(π·0.475) = 12.7062047 (Cauchy quantile, the t
	// distribution with one degree of freedom).
	// half-width = 12.7062047 · 0.70710678 / √2 = 12.7062047 · 0.5 = 6.35310237;
	// CI = [2.5 − 6.35310237, 2.5 + 6.35310237] = [−3.85310237, 8.85310237].
	d, err := Paired(bySeed(3, 5), bySeed(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	tq := math.Tan(math.Pi * 0.475)
	if d.N != 2 || !approx(d.Mean, 2.5, 1e-12) || !approx(d.Std, math.Sqrt(0.5), 1e-12) || !approx(d.T, tq, 1e-6) {
		t.Fatalf("Paired n=2: %+v, want mean 2.5 std 0.7071 t %.7f", d, tq)
	}
	if !approx(d.T, 12.7062047, 1e-6) || !approx(d.Lo, -3.85310237, 1e-6) || !approx(d.Hi, 8.85310237, 1e-6) {
		t.Fatalf("Paired n=2 interval: %+v, want t 12.7062047 [−3.85310237, 8.85310237]", d)
	}
	if got, want := FormatDiff(d, 2), "+2.50 [−3.85, +8.85]"; got != want {
		t.Fatalf("FormatDiff = %q, want %q", got, want)
	}
}

func TestPairedFive(t *testing.T) {
	// a = {2, 4, 6, 8, 10}, b = {1, 2, 3, 4, 5}: d = {1, 2, 3, 4, 5},
	// mean 3, Σ(d−3)² = 4+1+0+1+4 = 10, variance 10/4 = 2.5,
	// std √2.5 = 1.58113883.
	// t_{0.975, 4} = 2.77644511 (standard t table).
	// half-width = 2.77644511 · 1.58113883 / √5 = 2.77644511 · 0.70710678
	//            = 1.96324316; CI = [1.03675684, 4.96324316].
	d, err := Paired(bySeed(2, 4, 6, 8, 10), bySeed(1, 2, 3, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 5 || !approx(d.Mean, 3, 1e-12) || !approx(d.Std, math.Sqrt(2.5), 1e-12) {
		t.Fatalf("Paired n=5: %+v", d)
	}
	if !approx(d.T, 2.77644511, 1e-7) || !approx(d.Lo, 1.03675684, 1e-7) || !approx(d.Hi, 4.96324316, 1e-7) {
		t.Fatalf("Paired n=5 interval: %+v, want t 2.77644511 [1.03675684, 4.96324316]", d)
	}
	// A difference that goes the other way prints the minus sign.
	d, err = Paired(bySeed(1, 2, 3, 4, 5), bySeed(2, 4, 6, 8, 10))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FormatDiff(d, 3), "−3.000 [−4.963, −1.037]"; got != want {
		t.Fatalf("FormatDiff = %q, want %q", got, want)
	}
}

func TestPairedErrors(t *testing.T) {
	for _, c := range []struct {
		a, b map[int]float64
		want string
	}{
		{bySeed(1), bySeed(2), "at least 2 seeds"},
		{nil, nil, "at least 2 seeds"},
		{map[int]float64{1: 1, 2: 2}, map[int]float64{3: 1, 4: 2}, "got 0 (of 2 and 2)"},
		{bySeed(1, math.NaN()), bySeed(1, 2), "seed 2"},
		{bySeed(1, 2), bySeed(math.Inf(1), 2), "seed 1"},
	} {
		_, err := Paired(c.a, c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Paired(%v, %v) error = %v, want one containing %q", c.a, c.b, err, c.want)
		}
	}
}

// bySeed keys values by seeds 1, 2, …
func bySeed(v ...float64) map[int]float64 {
	m := map[int]float64{}
	for i, x := range v {
		m[i+1] = x
	}
	return m
}

// Values are paired by seed, never by position: a seed only one side has
// is left out, and the order in which seeds finished cannot matter.
func TestPairedBySeed(t *testing.T) {
	a := map[int]float64{5: 10, 1: 12, 3: 11, 4: 99}
	b := map[int]float64{3: 10, 5: 9, 1: 10, 2: 50}
	d, err := Paired(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// seeds 1, 3, 5: differences 2, 1, 1.
	if d.N != 3 || fmt.Sprint(d.Seeds) != "[1 3 5]" || !approx(d.Mean, 4.0/3, 1e-12) {
		t.Fatalf("Paired by seed: %+v, want seeds [1 3 5] mean 1.3333", d)
	}
}

func TestPValueAndHolm(t *testing.T) {
	// d = {1, 2, 3, 4, 5}: mean 3, se √2.5/√5 = 0.70710678, t = 4.2426407
	// against 0; two-sided p with 4 degrees of freedom = 0.0132449
	// (P(|T₄| > 4.2426) from the t distribution's closed form for ν = 4:
	// F(t) = ½ + (t/(2√(t²+4)))·(1 + 2/(t²+4))).
	d := OneSample([]float64{1, 2, 3, 4, 5})
	tv := 3 / math.Sqrt(0.5)
	cdf := 0.5 + tv/(2*math.Sqrt(tv*tv+4))*(1+2/(tv*tv+4))
	if want := 2 * (1 - cdf); !approx(d.PValue(0), want, 1e-9) {
		t.Errorf("PValue(0) = %v, want %v", d.PValue(0), want)
	}
	if !approx(d.PValue(3), 1, 1e-12) {
		t.Errorf("PValue at the mean = %v, want 1", d.PValue(3))
	}
	if lo, hi := d.Interval(0.05); !approx(lo, d.Lo, 1e-12) || !approx(hi, d.Hi, 1e-12) {
		t.Errorf("Interval(0.05) = [%v, %v], want the 95%% interval [%v, %v]", lo, hi, d.Lo, d.Hi)
	}
	if lo, _ := d.Interval(0.01); lo >= d.Lo {
		t.Errorf("a 99%% interval starts at %v, inside the 95%% one's %v", lo, d.Lo)
	}
	// Holm on {0.01, 0.04, 0.03, NaN}: sorted 0.01, 0.03, 0.04 with m = 3:
	// 0.03, 0.06, max(0.06, 0.04) = 0.06.
	got := Holm([]float64{0.01, 0.04, 0.03, math.NaN()})
	want := []float64{0.03, 0.06, 0.06, math.NaN()}
	for i := range want {
		if !(approx(got[i], want[i], 1e-12) || (math.IsNaN(got[i]) && math.IsNaN(want[i]))) {
			t.Errorf("Holm[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
