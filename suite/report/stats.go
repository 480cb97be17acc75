package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// Missing is what a table cell shows when there is no number: no finished
// run, or a spread that one value cannot give.
const Missing = "–"

// Summary aggregates one metric over the seeds of one configuration.
// Only finite values enter N, Mean and Std; runs that diverged and runs
// that have no record yet are counted apart, so a diverged run can never
// pull a mean.
type Summary struct {
	N         int     // finite values aggregated
	Mean, Std float64 // Std is the sample standard deviation (n−1); NaN when N < 2
	Missing   int     // runs expected but without a record
	Diverged  int     // runs that ended with a non-finite loss or were stopped as diverged
}

// Summarize returns the mean and the sample standard deviation (divisor
// n−1) of values, with the counts of missing and diverged runs carried
// along. values must hold only finite numbers; callers filter diverged runs
// out and pass their count instead. Mean is NaN when values is empty, Std
// is NaN when it has fewer than two elements.
func Summarize(values []float64, missing, diverged int) Summary {
	s := Summary{N: len(values), Mean: math.NaN(), Std: math.NaN(), Missing: missing, Diverged: diverged}
	if s.N == 0 {
		return s
	}
	s.Mean = mean(values)
	if s.N >= 2 {
		s.Std = sampleStd(values, s.Mean)
	}
	return s
}

// mean sums in order; the inputs are a handful of seeds, so compensated
// summation would not change a printed digit.
func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// sampleStd uses the two-pass formula (deviations from the mean) rather than
// Σx² − n·mean², which loses every digit when the spread is small against
// the mean, as it is for test errors over seeds.
func sampleStd(v []float64, m float64) float64 {
	var ss float64
	for _, x := range v {
		d := x - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// FormatMeanStd writes s as "mean ± std" with digits decimals, e.g.
// "3.65 ± 0.12". The number of seeds is not part of the cell: the table
// says it (a column or the caption). Marks:
//
//   - no finite value and nothing diverged: "–";
//   - one value: "3.65 ± –" (no spread from one seed);
//   - some runs diverged: "3.65 ± 0.12 (diverged 2/5)", where 5 counts the
//     finished runs (N + Diverged); all diverged: "diverged (5/5)";
//   - some runs missing but at least one value: "3.65 ± 0.12 (2 missing)".
//
// Negative digits are treated as 0.
func FormatMeanStd(s Summary, digits int) string {
	digits = max(digits, 0)
	done := s.N + s.Diverged
	if s.N == 0 {
		if s.Diverged > 0 {
			return fmt.Sprintf("diverged (%d/%d)", s.Diverged, done)
		}
		return Missing
	}
	var b strings.Builder
	b.WriteString(formatFixed(s.Mean, digits))
	b.WriteString(" ± ")
	b.WriteString(formatFixed(s.Std, digits))
	var marks []string
	if s.Diverged > 0 {
		marks = append(marks, fmt.Sprintf("diverged %d/%d", s.Diverged, done))
	}
	if s.Missing > 0 {
		marks = append(marks, fmt.Sprintf("%d missing", s.Missing))
	}
	if len(marks) > 0 {
		b.WriteString(" (" + strings.Join(marks, ", ") + ")")
	}
	return b.String()
}

// formatFixed prints x with a fixed number of decimals, "–" for NaN and ±∞,
// and never "-0.00" (a rounded tiny negative would read as a sign).
func formatFixed(x float64, digits int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return Missing
	}
	s := fmt.Sprintf("%.*f", digits, x)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// Diff is the paired difference a_s − b_s over the seeds s both have,
// with its 95% confidence interval from Student's t distribution with N−1
// degrees of freedom: Mean ± T·Std/√N = [Lo, Hi].
type Diff struct {
	N         int
	Seeds     []int   // the seeds paired, ascending
	Mean, Std float64 // of the differences; Std with divisor n−1
	T         float64 // the 0.975 quantile of Student's t with N−1 degrees of freedom
	Lo, Hi    float64 // the 95% confidence interval of the mean difference
}

// Paired returns the mean paired difference of a and b over the seeds both
// have (the keys), and its 95% confidence interval. Values are keyed by
// seed so that a value can only ever be paired with its own seed's; a seed
// only one side has is left out (Diff.N and Diff.Seeds say which were
// used). It needs at least two shared seeds, and finite values on them.
func Paired(a, b map[int]float64) (Diff, error) {
	var seeds []int
	for s := range a {
		if _, ok := b[s]; ok {
			seeds = append(seeds, s)
		}
	}
	slices.Sort(seeds)
	n := len(seeds)
	if n < 2 {
		return Diff{}, fmt.Errorf("report: paired difference needs at least 2 seeds that both sides have for a confidence interval, got %d (of %d and %d); run more seeds", n, len(a), len(b))
	}
	d := make([]float64, n)
	for i, s := range seeds {
		if !isFinite(a[s]) || !isFinite(b[s]) {
			return Diff{}, fmt.Errorf("report: paired difference: seed %d is (%v, %v), not finite; drop diverged seeds", s, a[s], b[s])
		}
		d[i] = a[s] - b[s]
	}
	diff := OneSample(d)
	diff.Seeds = seeds
	return diff, nil
}

// OneSample is the mean of v with its 95% Student-t interval (v must hold
// at least two finite values; otherwise N is 0). Paired differences, or
// per-seed averages of them, are its usual input.
func OneSample(v []float64) Diff {
	n := len(v)
	if n < 2 {
		return Diff{}
	}
	m := mean(v)
	sd := sampleStd(v, m)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	h := t * sd / math.Sqrt(float64(n))
	return Diff{N: n, Mean: m, Std: sd, T: t, Lo: m - h, Hi: m + h}
}

// PValue is the two-sided p-value of the t test of "the mean difference is
// null": small when the data put the mean far from null on either side.
// A difference without spread (Std 0) gives 0 or 1.
func (d Diff) PValue(null float64) float64 {
	if d.N < 2 {
		return math.NaN()
	}
	se := d.Std / math.Sqrt(float64(d.N))
	if se == 0 {
		if d.Mean == null {
			return 1
		}
		return 0
	}
	t := math.Abs(d.Mean-null) / se
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(d.N - 1)}.Survival(t)
}

// Interval is d's confidence interval at level 1 − alpha (two-sided), for
// the simultaneous intervals of a family of comparisons.
func (d Diff) Interval(alpha float64) (lo, hi float64) {
	if d.N < 2 {
		return math.NaN(), math.NaN()
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(d.N - 1)}.Quantile(1 - alpha/2)
	h := t * d.Std / math.Sqrt(float64(d.N))
	return d.Mean - h, d.Mean + h
}

// Holm adjusts a family's p-values for multiple comparisons (Holm's
// step-down method): rejecting where the adjusted value is below α keeps
// the chance of any false rejection in the family below α. NaN entries
// (no test) stay NaN and do not count toward the family's size.
func Holm(p []float64) []float64 {
	type kv struct {
		i int
		p float64
	}
	var ps []kv
	for i, v := range p {
		if !math.IsNaN(v) {
			ps = append(ps, kv{i, v})
		}
	}
	slices.SortStableFunc(ps, func(a, b kv) int { return cmp.Compare(a.p, b.p) })
	out := make([]float64, len(p))
	for i := range out {
		out[i] = math.NaN()
	}
	m := len(ps)
	running := 0.0
	for k, e := range ps {
		adj := min(1, float64(m-k)*e.p)
		running = max(running, adj) // adjusted values never decrease down the order
		out[e.i] = running
	}
	return out
}

// FormatDiff writes d as "+0.12 [−0.03, +0.27]" with digits decimals: the
// signed mean difference and its 95% confidence interval. An interval that
// excludes 0 is the reader's cue that the difference is not seed noise.
func FormatDiff(d Diff, digits int) string {
	digits = max(digits, 0)
	if d.N == 0 {
		return Missing
	}
	return fmt.Sprintf("%s [%s, %s]", signed(d.Mean, digits), signed(d.Lo, digits), signed(d.Hi, digits))
}

// signed prints an explicit sign, with the typographic minus so that a
// column of differences lines up and reads as numbers.
func signed(x float64, digits int) string {
	s := formatFixed(x, digits)
	switch {
	case s == Missing:
		return s
	case strings.HasPrefix(s, "-"):
		return "−" + s[1:]
	case strings.Trim(s, "0.") == "":
		return s
	default:
		return "+" + s
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
