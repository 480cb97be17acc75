package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rst-bench/rst/suite/bench"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
	"github.com/rst-bench/rst/suite/store"
)

// Verdict is what the store says about one of the paper's claims.
type Verdict string

const (
	Reproduced    Verdict = "reproduced"
	NotReproduced Verdict = "not reproduced"
	Inconclusive  Verdict = "inconclusive"
)

// alpha is the family-wise error rate of every claim's verdicts.
const alpha = 0.05

// Test says what a finding's statistic is claimed to do relative to its
// threshold m: Below (the mean is below m: SAM − SGD < 0, or RST − SAM
// below a margin) or Within (|mean| < m: an equality up to a tolerance).
type Test int

const (
	Below Test = iota
	Within
)

// Finding is one claim checked on one subject (a stand-in, a p, a variant).
type Finding struct {
	Subject   string
	Statistic string      // what Diff is the mean of, in words
	Diff      report.Diff // N = 0 when nothing could be computed
	Test      Test
	Threshold float64
	// P is the p-value of the test that decides the verdict, PAdj the same
	// after Holm's adjustment over the claim's findings.
	P, PAdj float64
	Verdict Verdict
	Why     string // why inconclusive without data, or how the verdict came
}

// Claim is one of the paper's qualitative claims as a check over the store.
type Claim struct {
	ID, Statement string
	Targets       []string // whose runs the check reads
	check         func(*claimData) []Finding
}

// ClaimResult is a claim with its findings, verdicts decided.
type ClaimResult struct {
	Claim    *Claim
	Findings []Finding
}

// Verdict summarises the findings: reproduced when every finding is, not
// reproduced when any is not, inconclusive otherwise.
func (c ClaimResult) Verdict() Verdict {
	if len(c.Findings) == 0 {
		return Inconclusive
	}
	all := true
	for _, f := range c.Findings {
		if f.Verdict == NotReproduced {
			return NotReproduced
		}
		all = all && f.Verdict == Reproduced
	}
	if all {
		return Reproduced
	}
	return Inconclusive
}

// Summary is the verdict with how many findings were reproduced, e.g.
// "not reproduced (2 of 3 findings reproduced)".
func (c ClaimResult) Summary() string {
	k := 0
	for _, f := range c.Findings {
		if f.Verdict == Reproduced {
			k++
		}
	}
	return fmt.Sprintf("%s (%d of %d findings reproduced)", c.Verdict(), k, len(c.Findings))
}

// claimData reads the targets' results from one store and profile, once.
type claimData struct {
	st      *store.Store
	p       *Profile
	seeds   int
	results map[string]*Results
	err     error
}

func (d *claimData) get(target string) *Results {
	if r, ok := d.results[target]; ok {
		return r
	}
	t, err := Lookup(target)
	if err != nil {
		d.err = err
		return nil
	}
	r, err := Collect(d.st, t, d.p, d.seeds)
	if err != nil && d.err == nil {
		d.err = err
	}
	d.results[target] = r
	return r
}

// subject names a model and dataset as the profile trains them.
func subject(r *Results, model, data string) string {
	m, d := Display(model), Display(data)
	if s, ok := r.Profile.Models[model]; ok && s != model {
		m = Display(s) + " for " + m
	}
	if s, ok := r.Profile.Data[data]; ok && s != data {
		d = Display(s) + " for " + d
		if note := r.Profile.dataNote(model); note != "" {
			d = Display(s) + " with " + note + " for " + Display(data)
		}
	}
	return m + ", " + d
}

// Claims are the paper's qualitative claims (docs/PAPER.md §4), in the
// order REPRODUCE.md discusses them.
var Claims = []*Claim{
	{ID: "sam-beats-sgd", Statement: "SAM's test error is below SGD's", Targets: []string{"table3"},
		check: func(d *claimData) []Finding {
			r := d.get("table3")
			var out []Finding
			for _, m := range []string{ResNet18, WRN2810, ViTS} {
				if !runnable(r.Profile, m, CIFAR10) {
					continue
				}
				sgd, sam := r.Stat(cellOf(r, m, CIFAR10, SGD)), r.Stat(cellOf(r, m, CIFAR10, SAM))
				out = append(out, pairedFinding(subject(r, m, CIFAR10), "SAM − SGD", sam, sgd, Below, 0))
			}
			return out
		}},
	{ID: "rst-constant-reaches-sam", Statement: "RST with constant p ≈ 0.6–0.8 keeps SAM's gain: its error is less than half of SAM's gain over SGD above SAM's", Targets: []string{"figure1"},
		check: func(d *claimData) []Finding {
			return reachesSAM(d.get("figure1"), []string{ResNet18, WRN2810}, "", func(p float64) optim.Spec { return RST(fmt.Sprintf("constant:%g", p)) }, []float64{0.6, 0.7, 0.8}, "RST p = %g")
		}},
	{ID: "grst-half-cost", Statement: "G-RST (p = 0.5) keeps SAM's gain at half of SAM's extra passes (0.5 within ±0.1)", Targets: []string{"table3"},
		check: func(d *claimData) []Finding {
			r := d.get("table3")
			out := reachesSAM(r, []string{ResNet18, WRN2810, ViTS}, "", func(float64) optim.Spec { return GRST("constant:0.5") }, []float64{0.5}, "G-RST p = %g")
			for _, m := range []string{ResNet18, WRN2810, ViTS} {
				if !runnable(r.Profile, m, CIFAR10) {
					continue
				}
				st := r.Stat(cellOf(r, m, CIFAR10, GRST("constant:0.5")))
				out = append(out, sampleFinding(subject(r, m, CIFAR10), "G-RST's realised Δη − 0.5 (extra passes per step, SAM's is 1)", deltaEtaBySeed(st, 0.5), Within, 0.1))
			}
			return out
		}},
	{ID: "realised-delta-eta", Statement: "the realised Δη (extra passes per step) equals the schedule's expectation, within 0.05 (5% of a SAM step's extra pass)", Targets: []string{"figure1", "table5"},
		check: func(d *claimData) []Finding {
			var out []Finding
			r := d.get("figure1")
			// The draws depend on (seed, t) alone, not on the model: one
			// stand-in's runs say it for all. The schedules of one seed
			// share that seed's uniform draws, so each seed's differences
			// are averaged over the family first: the seed is the unit.
			if m := firstRunnable(r.Profile, ResNet18, WRN2810); m != "" {
				out = append(out, sampleFinding("constant group, p = 0.1 … 0.9", "realised − expected Δη, averaged over the group within each seed",
					familyDeltaEta(r, m, schedule.ConstantGroup()), Within, 0.05))
			}
			r5 := d.get("table5")
			if runnable(r5.Profile, WRN2810, CIFAR10) {
				out = append(out, sampleFinding("trigonometric group (cos1, cos2, sin1, sin2)", "realised − expected Δη, averaged over the group within each seed",
					familyDeltaEta(r5, WRN2810, schedule.TrigGroup()), Within, 0.05))
			}
			return out
		}},
	{ID: "cost-follows-delta-eta", Statement: "RST's extra time over SGD is p times SAM's: the cost follows the extra passes Δη", Targets: []string{"rst bench --compare (STORE/PROFILE/bench/)"},
		check: func(d *claimData) []Finding { return costFindings(d) }},
	{ID: "sgd-first-beats-sam-first", Statement: "at equal Δη, SGD first then SAM (piecewise group 1) has lower error than SAM first then SGD (group 2)", Targets: []string{"figure2"},
		check: func(d *claimData) []Finding {
			r := d.get("figure2")
			var out []Finding
			for _, m := range []string{ResNet18, WRN2810} {
				if !runnable(r.Profile, m, CIFAR10) {
					continue
				}
				out = append(out, sampleFinding(subject(r, m, CIFAR10),
					"group 1 − group 2, averaged over Δη = 0.1 … 0.9 within each seed (the seed is the unit)",
					piecewiseBySeed(r, m), Below, 0))
			}
			return out
		}},
	{ID: "trig-sam-late", Statement: "of the trigonometric schedules with Δη = ½, cos2 (sharp steps late) has lower error than cos1 (sharp steps early): this suite's reading of Table 5, whose values the text we have lacks, by the ordering the piecewise groups show", Targets: []string{"table5", "table9"},
		check: func(d *claimData) []Finding {
			var out []Finding
			for _, tg := range []string{"table5", "table9"} {
				r := d.get(tg)
				if !runnable(r.Profile, WRN2810, CIFAR10) {
					continue
				}
				aug := ""
				if tg == "table9" {
					aug = "crop-flip-cutout"
				}
				c2, c1 := cellOf(r, WRN2810, CIFAR10, RST("cos2")), cellOf(r, WRN2810, CIFAR10, RST("cos1"))
				c2.Augment, c1.Augment = aug, aug
				out = append(out, pairedFinding(subject(r, WRN2810, CIFAR10)+" ("+tg+")", "cos2 − cos1", r.Stat(c2), r.Stat(c1), Below, 0))
			}
			return out
		}},
	{ID: "variants-keep-error", Statement: "RST (p = 0.5) with ASAM, GSAM, LookSAM, ESAM or SSAM-F as its sharp step keeps that method's gain over SGD (less than half of it lost)", Targets: []string{"table12", "table13"},
		check: func(d *claimData) []Finding {
			var out []Finding
			for _, v := range []struct{ target, sharp string }{{"table12", "asam"}, {"table12", "gsam"}, {"table13", "looksam"}, {"table13", "esam"}, {"table13", "ssam-f"}} {
				r := d.get(v.target)
				if !runnable(r.Profile, ResNet18, CIFAR10) {
					continue
				}
				alone := r.Stat(cellOf(r, ResNet18, CIFAR10, optim.Spec{Name: v.sharp}))
				sgd := r.Stat(cellOf(r, ResNet18, CIFAR10, SGD))
				rst := r.Stat(cellOf(r, ResNet18, CIFAR10, optim.Spec{Name: "rst", Sharp: v.sharp, Schedule: "constant:0.5"}))
				name := strings.ToUpper(v.sharp)
				out = append(out, keepsGain(subject(r, ResNet18, CIFAR10)+", "+name, "RST p = 0.5 with "+name+" − "+name+" alone", rst, alone, sgd))
			}
			return out
		}},
	{ID: "cutout-rst-reaches-sam", Statement: "with Cutout, RST with constant p ≈ 0.6–0.8 keeps SAM's gain (less than half of it lost)", Targets: []string{"table6"},
		check: func(d *claimData) []Finding {
			return reachesSAM(d.get("table6"), []string{WRN2810}, "crop-flip-cutout", func(p float64) optim.Spec { return RST(fmt.Sprintf("constant:%g", p)) }, []float64{0.6, 0.7, 0.8}, "RST p = %g, Cutout")
		}},
}

// cellOf is the cell of a target with this model, data and method (the
// target's own cell when it has one, so that its Series and X match).
func cellOf(r *Results, model, data string, m optim.Spec) Cell {
	want := Cell{Model: model, Data: data, Method: m}
	for _, run := range r.Runs {
		c := run.Cell
		if c.Model == model && c.Data == data && c.Method.Name == m.Name && c.Method.Sharp == m.Sharp && c.Method.Schedule == m.Schedule && c.Method.Rho == m.Rho {
			return c
		}
	}
	return want
}

func firstRunnable(p *Profile, models ...string) string {
	for _, m := range models {
		if runnable(p, m, CIFAR10) {
			return m
		}
	}
	return ""
}

// pairedFinding tests a − b over the seeds both have.
func pairedFinding(subj, stat string, a, b Stat, test Test, threshold float64) Finding {
	f := Finding{Subject: subj, Statistic: stat, Test: test, Threshold: threshold}
	d, ok := Paired(a, b)
	if !ok {
		f.Why = fmt.Sprintf("fewer than 2 seeds with both runs (%d and %d finished)", len(a.Errors), len(b.Errors))
		return f
	}
	f.Diff = d
	return f
}

// sampleFinding tests the mean of per-seed values.
func sampleFinding(subj, stat string, bySeed map[int]float64, test Test, threshold float64) Finding {
	f := Finding{Subject: subj, Statistic: stat, Test: test, Threshold: threshold}
	var v []float64
	var seeds []int
	for s, x := range bySeed {
		if !math.IsNaN(x) {
			seeds = append(seeds, s)
		}
	}
	slices.Sort(seeds)
	for _, s := range seeds {
		v = append(v, bySeed[s])
	}
	if len(v) < 2 {
		f.Why = fmt.Sprintf("%d seed(s) with data; needs 2", len(v))
		return f
	}
	f.Diff = report.OneSample(v)
	f.Diff.Seeds = seeds
	return f
}

// reachesSAM checks "method m(p) keeps SAM's gain" on each model: the
// error of m(p) − SAM's is below half of SAM's gain over SGD.
func reachesSAM(r *Results, models []string, aug string, m func(float64) optim.Spec, ps []float64, label string) []Finding {
	var out []Finding
	for _, model := range models {
		if !runnable(r.Profile, model, CIFAR10) {
			continue
		}
		with := func(c Cell) Cell { c.Augment = aug; return c }
		sgd, sam := r.Stat(with(cellOf(r, model, CIFAR10, SGD))), r.Stat(with(cellOf(r, model, CIFAR10, SAM)))
		for _, p := range ps {
			st := r.Stat(with(cellOf(r, model, CIFAR10, m(p))))
			lab := fmt.Sprintf(label, p)
			out = append(out, keepsGain(subject(r, model, CIFAR10)+", "+lab, lab+" − SAM", st, sam, sgd))
		}
	}
	return out
}

// keepsGain tests "x keeps ref's gain over SGD": x − ref is below half of
// ref's mean gain over SGD. Without a gain (ref not better than SGD by a
// significant margin) there is nothing to keep, and the finding says so.
func keepsGain(subj, stat string, x, ref, sgd Stat) Finding {
	gain, ok := Paired(sgd, ref)
	f := pairedFinding(subj, stat, x, ref, Below, math.NaN())
	if !ok {
		f.Diff = report.Diff{}
		f.Why = "no paired SGD and reference runs to measure the gain"
		return f
	}
	if gain.PValue(0) >= alpha || gain.Mean <= 0 {
		f.Why = fmt.Sprintf("the reference does not beat SGD here (its gain %s): no gain to keep", report.FormatDiff(gain, 2))
		f.Threshold = math.NaN()
		return f
	}
	f.Threshold = gain.Mean / 2
	return f
}

// deltaEtaBySeed is each seed's realised Δη minus target.
func deltaEtaBySeed(st Stat, target float64) map[int]float64 {
	out := map[int]float64{}
	for _, rec := range st.Records {
		out[int(rec.Config.Seed)] = rec.DeltaEtaRealised - target
	}
	return out
}

// familyDeltaEta is, for each seed with a run of every schedule of the
// group, the mean over the group of realised − expected Δη.
func familyDeltaEta(r *Results, model string, group []schedule.Func) map[int]float64 {
	sum, n := map[int]float64{}, map[int]int{}
	for _, f := range group {
		for _, rec := range r.Stat(cellOf(r, model, CIFAR10, RST(f.String()))).Records {
			if rec.Diverged != nil {
				continue
			}
			s := int(rec.Config.Seed)
			sum[s] += rec.DeltaEtaRealised - rec.DeltaEtaExpected
			n[s]++
		}
	}
	out := map[int]float64{}
	for s := range sum {
		if n[s] == len(group) {
			out[s] = sum[s] / float64(n[s])
		}
	}
	return out
}

// piecewiseBySeed pairs each member of piecewise group 1 with the member
// of group 2 of the same expected Δη, and averages their error difference
// over Δη within each seed: the differences of one seed share its data
// order and initialisation, so the seed, not the (seed, Δη) pair, is the
// independent unit.
func piecewiseBySeed(r *Results, model string) map[int]float64 {
	key := func(x float64) int { return int(math.Round(100 * x)) }
	g1, _ := schedule.PiecewiseGroup(1)
	g2, _ := schedule.PiecewiseGroup(2)
	second := map[int]schedule.Func{}
	for _, f := range g2 {
		second[key(f.ExpectedDeltaEta(1000))] = f
	}
	sum, n := map[int]float64{}, map[int]int{}
	members := 0
	for _, f := range g1 {
		g, ok := second[key(f.ExpectedDeltaEta(1000))]
		if !ok {
			continue
		}
		members++
		a := r.Stat(cellOf(r, model, CIFAR10, RST(f.String())))
		b := r.Stat(cellOf(r, model, CIFAR10, RST(g.String())))
		for s, e := range a.Errors {
			if e2, ok := b.Errors[s]; ok {
				sum[s] += e - e2
				n[s]++
			}
		}
	}
	out := map[int]float64{}
	for s := range sum {
		if n[s] == members { // a seed missing a pair would average over a different set
			out[s] = sum[s] / float64(n[s])
		}
	}
	return out
}

// CheckClaims runs every claim on the store for profile p and decides the
// verdicts: within each claim, the p-values are adjusted by Holm's method
// over its findings, so that a claim tested on many subjects at once
// (stand-ins, values of p) keeps its family-wise error below 5%.
func CheckClaims(st *store.Store, p *Profile, seeds int) ([]ClaimResult, error) {
	d := &claimData{st: st, p: p, seeds: seeds, results: map[string]*Results{}}
	var out []ClaimResult
	for _, c := range Claims {
		fs := c.check(d)
		if d.err != nil {
			return nil, fmt.Errorf("claim %s: %w", c.ID, d.err)
		}
		decide(fs)
		out = append(out, ClaimResult{Claim: c, Findings: fs})
	}
	return out, nil
}

// decide sets each finding's p-values and verdict. Below: the two-sided
// test of mean = threshold; a significant result on the claimed side
// reproduces, on the other side refutes. Within: two one-sided tests
// (equivalence): the interval inside ±threshold reproduces; a mean
// significantly outside it refutes.
func decide(fs []Finding) {
	p := make([]float64, len(fs))
	for i := range fs {
		f := &fs[i]
		p[i] = math.NaN()
		if f.Diff.N < 2 || math.IsNaN(f.Threshold) {
			continue
		}
		switch f.Test {
		case Below:
			p[i] = f.Diff.PValue(f.Threshold)
		case Within:
			// Equivalence when both one-sided tests reject, i.e. when the
			// larger of their p-values (each half a two-sided one on the
			// right side) is small; otherwise the two-sided test of the
			// nearer edge says whether the mean is clearly outside.
			lo, hi := oneSided(f.Diff, -f.Threshold, true), oneSided(f.Diff, f.Threshold, false)
			if eq := max(lo, hi); eq < alpha {
				p[i] = eq
			} else {
				edge := f.Threshold
				if f.Diff.Mean < 0 {
					edge = -edge
				}
				p[i] = f.Diff.PValue(edge)
			}
		}
		f.P = p[i]
	}
	adj := report.Holm(p)
	for i := range fs {
		f := &fs[i]
		f.PAdj = adj[i]
		switch {
		case math.IsNaN(adj[i]):
			f.Verdict = Inconclusive
			if f.Why == "" {
				f.Why = "nothing to test"
			}
		case f.Test == Below && adj[i] < alpha && f.Diff.Mean < f.Threshold:
			f.Verdict = Reproduced
		case f.Test == Below && adj[i] < alpha:
			f.Verdict = NotReproduced
		case f.Test == Within && adj[i] < alpha && math.Abs(f.Diff.Mean) < f.Threshold:
			f.Verdict = Reproduced
		case f.Test == Within && adj[i] < alpha:
			f.Verdict = NotReproduced
		default:
			f.Verdict = Inconclusive
		}
	}
}

// oneSided is the p-value of the one-sided t test that the mean is above
// edge (above = true) or below it.
func oneSided(d report.Diff, edge float64, above bool) float64 {
	two := d.PValue(edge)
	if (d.Mean > edge) == above {
		return two / 2
	}
	return 1 - two/2
}

// ClaimsTable renders the verdicts: one row per finding, with the claim's
// overall verdict on its first row.
func ClaimsTable(p *Profile, res []ClaimResult, seeds int) *report.Table {
	t := &report.Table{
		Name: "claims", Title: "The paper's claims, checked on the " + p.Name + " profile's store",
		Header: []string{"Claim", "Verdict", "Subject", "Statistic", "Estimate [95% CI]", "n", "Claimed", "p (Holm)", "Finding", "Why"},
	}
	for _, c := range res {
		for i, f := range c.Findings {
			claim, overall := "", ""
			if i == 0 {
				claim, overall = c.Claim.ID, c.Summary()
			}
			est, n, claimed, pv := report.Missing, "0", report.Missing, report.Missing
			if f.Diff.N >= 2 {
				est, n = report.FormatDiff(f.Diff, 3), fmt.Sprint(f.Diff.N)
			}
			if !math.IsNaN(f.Threshold) {
				if f.Test == Below {
					claimed = "< " + formatSigned(f.Threshold)
				} else {
					claimed = fmt.Sprintf("within ±%.3f", f.Threshold)
				}
			}
			if !math.IsNaN(f.PAdj) {
				pv = fmt.Sprintf("%.3g", f.PAdj)
			}
			t.Rows = append(t.Rows, []string{claim, overall, f.Subject, f.Statistic, est, n, claimed, pv, string(f.Verdict), f.Why})
		}
		if len(c.Findings) == 0 {
			t.Rows = append(t.Rows, []string{c.Claim.ID, string(Inconclusive), report.Missing, report.Missing, report.Missing, "0", report.Missing, report.Missing, string(Inconclusive), "the profile runs none of its cells"})
		}
	}
	var statements []string
	for _, c := range res {
		statements = append(statements, c.Claim.ID+": "+c.Claim.Statement+" ("+strings.Join(c.Claim.Targets, ", ")+")")
	}
	t.Caption = fmt.Sprintf("Profile %s (%s). Seeds 1–%d (the sweeps' own default where smaller). ", p.Name, p.About, seeds) +
		"Each claim is checked on every subject the profile can run. Estimate: mean over seeds with its 95% Student-t interval (differences paired by seed; errors in points). " +
		"Claimed: where the claim puts the mean (\"keeps the gain\" means below half of the reference's mean gain over SGD). " +
		"p (Holm): the p-value of the test that decides the finding, adjusted by Holm's method over the claim's findings, so each claim's family-wise error is at most 5%. " +
		"A finding is reproduced when that test rejects on the claimed side, not reproduced when it rejects on the other, inconclusive otherwise; a claim is reproduced when all its findings are, not reproduced when any is not. " +
		"Claims: " + strings.Join(statements, "; ") + "."
	return t
}

func formatSigned(x float64) string {
	if x == 0 {
		return "0"
	}
	return fmt.Sprintf("%+.3f", x)
}

// BenchDir is where a profile's side-by-side timings are kept in a store:
// one `rst bench --compare … --out` file per model.
func BenchDir(st *store.Store, profile string) string {
	return filepath.Join(st.Dir, profile, "bench")
}

// costFindings reads the profile's stored side-by-side timings and, for
// each RST entry, tests per round whether its extra time relative to SAM's
// equals its realised Δη of that round, within a tenth of SAM's extra
// time. Rounds are the unit: each times every method back to back, so
// the machine's load falls on all of them alike.
func costFindings(d *claimData) []Finding {
	dir := BenchDir(d.st, d.p.Name)
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(names) == 0 {
		return []Finding{{Subject: "–", Statistic: "extra time / SAM's − realised Δη", Threshold: math.NaN(),
			Why: "no side-by-side timing in " + dir + " (make bench-cost writes one per model)"}}
	}
	slices.Sort(names)
	var out []Finding
	for _, name := range names {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var rec bench.CompareRecord
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil {
			out = append(out, Finding{Subject: filepath.Base(name), Threshold: math.NaN(), Why: "unreadable timing: " + err.Error()})
			continue
		}
		var sgd, sam *bench.CompareResult
		for i := range rec.Results {
			switch r := &rec.Results[i]; r.Method.Name {
			case "sgd":
				sgd = r
			case "sam":
				if r.Method.Params == nil {
					sam = r
				}
			}
		}
		subj := fmt.Sprintf("%s, batch %d, %d threads (%s)", rec.Config.Model, rec.Config.Batch, rec.Threads, filepath.Base(name))
		if sgd == nil || sam == nil {
			out = append(out, Finding{Subject: subj, Threshold: math.NaN(), Why: "the timing lacks sgd or sam"})
			continue
		}
		for _, r := range rec.Results {
			if r.Method.Name != "rst" || len(r.RoundMS) != len(sgd.RoundMS) || len(r.RoundMS) != len(sam.RoundMS) {
				continue
			}
			v := map[int]float64{}
			for i := range r.RoundMS {
				extra := sam.RoundMS[i] - sgd.RoundMS[i]
				if extra <= 0 {
					continue // a round in which SAM was not slower measured nothing
				}
				v[i+1] = (r.RoundMS[i]-sgd.RoundMS[i])/extra - (r.RoundPairs[i] - 1)
			}
			f := sampleFinding(subj+", "+r.Label, "extra time / SAM's − realised Δη, per interleaved round", v, Within, 0.1)
			out = append(out, f)
		}
	}
	return out
}
