package experiments

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// claimStore writes smoke-profile records of table3's runs whose errors are
// err(method, seed), and realised Δη equal to each method's expected one.
func claimStore(t *testing.T, errOf func(method string, seed int) float64) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := Lookup("table3")
	runs, _ := tg.Plan(Profiles["smoke"], 5)
	de := map[string]float64{"sgd": 0, "sam": 1, "grst": 0.5}
	for _, r := range runs {
		if r.Needs != "" {
			continue
		}
		m := r.Cell.Method.Name
		rec := &train.Record{ID: r.ID, Config: r.Config, Steps: 8, Pairs: 8 * (1 + de[m]),
			DeltaEtaRealised: de[m], DeltaEtaExpected: de[m], TestError: train.Metric(errOf(m, r.Seed)), TestLoss: 0.5}
		if err := st.Put(rec); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func claimByID(t *testing.T, res []ClaimResult, id string) ClaimResult {
	t.Helper()
	for _, c := range res {
		if c.Claim.ID == id {
			return c
		}
	}
	t.Fatalf("no claim %s", id)
	return ClaimResult{}
}

// The verdicts follow the data: SAM clearly better is reproduced, clearly
// worse is not, and a difference lost in the seeds' noise is inconclusive.
func TestClaimVerdictsFollowTheData(t *testing.T) {
	noise := []float64{0, 0.3, -0.2, 0.1, -0.25}
	for _, c := range []struct {
		name    string
		samMinu float64 // SAM's error minus SGD's, before per-seed noise
		scale   float64
		want    Verdict
	}{
		{"SAM better", -2, 1, Reproduced},
		{"SAM worse", +2, 1, NotReproduced},
		{"too noisy to tell", -0.3, 5, Inconclusive},
	} {
		st := claimStore(t, func(m string, seed int) float64 {
			switch m {
			case "sam":
				return 20 + c.samMinu + c.scale*noise[seed-1]
			case "grst":
				return 20 + c.samMinu + 0.1 + c.scale*noise[seed-1]
			}
			return 20 - c.scale*noise[(seed+1)%5]
		})
		res, err := CheckClaims(st, Profiles["smoke"], 5)
		if err != nil {
			t.Fatal(err)
		}
		got := claimByID(t, res, "sam-beats-sgd")
		if got.Verdict() != c.want {
			t.Errorf("%s: sam-beats-sgd %s, want %s: %+v", c.name, got.Verdict(), c.want, got.Findings)
		}
		// G-RST is 0.1 above SAM: it keeps SAM's gain of 2 (margin 1) when
		// there is a gain; without one there is nothing to keep.
		g := claimByID(t, res, "grst-half-cost")
		var errFinding Finding
		for _, f := range g.Findings {
			if f.Statistic == "G-RST p = 0.5 − SAM" {
				errFinding = f
			}
		}
		switch c.want {
		case Reproduced:
			if errFinding.Verdict != Reproduced || math.Abs(errFinding.Threshold-1) > 0.1 {
				t.Errorf("%s: G-RST − SAM %+v, want reproduced below about 1 (half of SAM's gain of about 2)", c.name, errFinding)
			}
		case NotReproduced:
			if errFinding.Verdict != Inconclusive || !math.IsNaN(errFinding.Threshold) {
				t.Errorf("%s: G-RST − SAM %+v, want inconclusive: SAM has no gain to keep", c.name, errFinding)
			}
		}
	}
}

// decide: Below and Within tests on both sides of their threshold, and
// Holm's adjustment turning three findings at p ≈ 0.02 into none.
func TestDecide(t *testing.T) {
	diff := func(v ...float64) report.Diff { return report.OneSample(v) }
	fs := []Finding{
		{Diff: diff(-1.1, -0.9, -1.0, -1.05, -0.95), Test: Below, Threshold: 0},
		{Diff: diff(1.1, 0.9, 1.0, 1.05, 0.95), Test: Below, Threshold: 0},
		{Diff: diff(-1, 1, 0.5, -0.5, 0.2), Test: Below, Threshold: 0},
		{Diff: diff(0.01, -0.01, 0.005, 0, -0.005), Test: Within, Threshold: 0.05},
		{Diff: diff(0.3, 0.31, 0.29, 0.3, 0.3), Test: Within, Threshold: 0.05},
		{Diff: diff(0.5), Test: Below, Threshold: 0},
	}
	decide(fs)
	want := []Verdict{Reproduced, NotReproduced, Inconclusive, Reproduced, NotReproduced, Inconclusive}
	for i, f := range fs {
		if f.Verdict != want[i] {
			t.Errorf("finding %d: %s (p %v, adjusted %v), want %s", i, f.Verdict, f.P, f.PAdj, want[i])
		}
	}
	// Three differences each at p ≈ 0.02 on their own: significant one at
	// a time, not as a family of three.
	var three []Finding
	for i := 0; i < 3; i++ {
		three = append(three, Finding{Diff: diff(-0.1, -1.0, -0.5, -0.9, -0.5), Test: Below, Threshold: 0})
	}
	p := three[0].Diff.PValue(0)
	if !(p < 0.05 && 3*p > 0.05) {
		t.Fatalf("the test's data give p = %v; want one between 0.05/3 and 0.05", p)
	}
	decide(three)
	for i, f := range three {
		if f.Verdict != Inconclusive || !(f.PAdj > 0.05) {
			t.Errorf("finding %d of 3: %s with adjusted p %v, want inconclusive after Holm", i, f.Verdict, f.PAdj)
		}
	}
}

// The piecewise claim takes the seed as its unit: each seed's differences
// are averaged over Δη before the t interval, so nine Δη values of three
// seeds give n = 3, not 27.
func TestPiecewiseClaimUsesSeedsAsUnits(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := Lookup("figure2")
	runs, _ := tg.Plan(Profiles["smoke"], 3)
	// group 1 (SGD first) is below group 2 by 1 + the seed's own offset,
	// the same at every Δη: the clustering the seed-as-unit interval is for.
	offset := map[int]float64{1: 0.5, 2: -0.4, 3: 0.2}
	for _, r := range runs {
		if r.Needs != "" {
			continue
		}
		e := 20.0
		if r.Cell.Series == "piecewise group 1 (SGD → SAM)" {
			e -= 1 + offset[r.Seed]
		}
		rec := &train.Record{ID: r.ID, Config: r.Config, Steps: 8, Pairs: 12, TestError: train.Metric(e), TestLoss: 0.5}
		if err := st.Put(rec); err != nil {
			t.Fatal(err)
		}
	}
	res, err := CheckClaims(st, Profiles["smoke"], 3)
	if err != nil {
		t.Fatal(err)
	}
	c := claimByID(t, res, "sgd-first-beats-sam-first")
	if len(c.Findings) == 0 {
		t.Fatal("no finding")
	}
	f := c.Findings[0]
	// per-seed means −1.5, −0.6, −1.2: mean −1.1, n 3.
	if f.Diff.N != 3 || math.Abs(f.Diff.Mean+1.1) > 1e-9 {
		t.Errorf("piecewise finding %+v: want n = 3 seeds and mean −1.1", f.Diff)
	}
}
