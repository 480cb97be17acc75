package experiments

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Every target plans in every profile, every runnable run has a resolved
// config whose id is its hash, and a run shared by two targets (the SGD
// baseline) has one id, so it is trained once.
func TestPlansAreResolvedAndShared(t *testing.T) {
	for _, pn := range ProfileNames {
		p := Profiles[pn]
		ids := map[string]string{}
		for _, name := range Names() {
			tg, _ := Lookup(name)
			runs, err := tg.Plan(p, p.Seeds)
			if err != nil {
				t.Fatalf("%s/%s: %v", pn, name, err)
			}
			for _, r := range runs {
				if r.Needs != "" {
					if r.ID != "" || !strings.HasPrefix(r.Needs, "needs: ") {
						t.Errorf("%s/%s %s: needs %q with id %q", pn, name, r.Cell.Label(), r.Needs, r.ID)
					}
					continue
				}
				if r.Config.ID() != r.ID || r.Config.ModelAbout == "" || r.Config.Profile != pn {
					t.Errorf("%s/%s %s seed %d: id %s, config id %s, about %q, profile %q", pn, name, r.Cell.Label(), r.Seed, r.ID, r.Config.ID(), r.Config.ModelAbout, r.Config.Profile)
				}
				ids[r.ID] = name
			}
		}
		if len(ids) == 0 && pn != "paper" {
			t.Errorf("%s: no runnable run in any target", pn)
		}
	}
	p := Profiles["cpu"]
	t1, _ := Lookup("table1")
	t3, _ := Lookup("table3")
	r1, _ := t1.Plan(p, 2)
	r3, _ := t3.Plan(p, 2)
	if r1[0].Cell.Method.Name != "sgd" || r3[0].Cell.Method.Name != "sgd" || r1[0].ID != r3[0].ID {
		t.Errorf("table1 and table3 plan different SGD baselines: %s vs %s", r1[0].ID, r3[0].ID)
	}
	if _, err := t1.Plan(p, -1); err == nil {
		t.Error("-1 seeds accepted")
	}
	// 0 is the profile's default, which is smaller for the sweeps on cpu.
	f2, _ := Lookup("figure2")
	for _, c := range []struct {
		t    *Target
		want int
	}{{t1, 5}, {f2, 3}} {
		runs, _ := c.t.Plan(p, 0)
		if got := len(runs) / len(c.t.Cells()); got != c.want || len(runs)%len(c.t.Cells()) != 0 {
			t.Errorf("%s on cpu by default: %d runs for %d cells, want %d seeds each", c.t.Name, len(runs), len(c.t.Cells()), c.want)
		}
	}
	if got := f2.Seeds(Profiles["paper"], 0); got != 5 {
		t.Errorf("figure2 on the paper profile: %d seeds, want 5", got)
	}
}

// Profile.Steps is the run length T the schedules span; a mismatch would
// put figure 4's draws and table 2's counts on another T than the runs'.
func TestProfileStepsMatchTheTrainer(t *testing.T) {
	for _, pn := range ProfileNames {
		p := Profiles[pn]
		c := p.base("mlp", "mnist")
		n := c.Subset
		if n == 0 {
			n = 50000 // CIFAR's training split
		}
		if got := c.Epochs * (n / c.Batch); got != p.Steps {
			t.Errorf("%s: Steps = %d, but its runs take %d", pn, p.Steps, got)
		}
	}
	if testing.Short() {
		return
	}
	// And through the trainer, on the smoke profile.
	st, _ := store.Open(t.TempDir())
	tg, _ := Lookup("table1")
	runs, _ := tg.Plan(Profiles["smoke"], 1)
	rec, _, err := st.Run(context.Background(), runs[0].Config, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Steps != Profiles["smoke"].Steps {
		t.Errorf("smoke run took %d steps, Profile.Steps = %d", rec.Steps, Profiles["smoke"].Steps)
	}
}

// fakeStore fills a store with records of table1's smoke runs whose errors
// and times are fixed numbers, so the rendered table is known exactly.
func fakeStore(t *testing.T) (*store.Store, *Results) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := Profiles["smoke"]
	tg, _ := Lookup("table1")
	runs, _ := tg.Plan(p, 3)
	for _, r := range runs {
		if r.Needs != "" || r.Cell.Model != ResNet18 {
			continue
		}
		// SGD errors 10, 11, 12; SAM 9, 10.5, 10 (paired differences
		// −1, −0.5, −2: mean −1.1667, std 0.7638, t(0.975, 2) = 4.3027,
		// interval −1.1667 ± 1.8974). SAM's third seed diverges in the
		// second variant below.
		errs := map[string][]float64{"sgd": {10, 11, 12}, "sam": {9, 10.5, 10}}
		secs := map[string]float64{"sgd": 100, "sam": 200}
		pairs := map[string]float64{"sgd": 8, "sam": 16}
		m := r.Cell.Method.Name
		rec := &train.Record{ID: r.ID, Config: r.Config, Steps: 8, Pairs: pairs[m],
			DeltaEtaRealised: (pairs[m] - 8) / 8, TestError: train.Metric(errs[m][r.Seed-1]), TestLoss: 0.5,
			TrainSeconds: secs[m]}
		if err := st.Put(rec); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Collect(st, tg, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	return st, res
}

func TestTable1GoldenFromFixedStore(t *testing.T) {
	_, res := fakeStore(t)
	out, err := res.Target.Render(res)
	if err != nil {
		t.Fatal(err)
	}
	tab := out.Tables[0]
	for _, f := range []struct {
		ext    string
		render func(*bytes.Buffer) error
	}{
		{"md", func(b *bytes.Buffer) error { return tab.Markdown(b) }},
		{"csv", func(b *bytes.Buffer) error { return tab.CSV(b) }},
		{"tex", func(b *bytes.Buffer) error { return tab.LaTeX(b) }},
	} {
		var b bytes.Buffer
		if err := f.render(&b); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "table1_smoke."+f.ext)
		if *update {
			os.WriteFile(golden, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./experiments -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from %s:\n%s", f.ext, golden, b.String())
		}
	}
	// The numbers the comment in fakeStore computes by hand.
	var b bytes.Buffer
	tab.CSV(&b)
	for _, want := range []string{"11.00 ± 1.00", "9.83 ± 0.76", "−1.17 [−3.06, +0.73]", "+1.17 [−0.73, +3.06]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// A diverged run is marked and left out of the mean, and a missing one is
// counted as missing, never as zero.
func TestDivergedAndMissingAreNotAveraged(t *testing.T) {
	st, res := fakeStore(t)
	for _, r := range res.Runs {
		if r.Needs == "" && r.Cell.Method.Name == "sam" && r.Cell.Model == ResNet18 && r.Seed == 3 {
			rec := res.Records[r.ID]
			rec.Diverged = &train.Divergence{Step: 5, Epoch: 1, Loss: train.Metric(posInf())}
			rec.TestError = train.Metric(nan())
			if err := st.Put(rec); err != nil {
				t.Fatal(err)
			}
		}
		if r.Needs == "" && r.Cell.Method.Name == "sgd" && r.Cell.Model == ResNet18 && r.Seed == 2 {
			os.Remove(st.RecordPath(r.Config.Profile, r.ID))
		}
	}
	res, err := Collect(st, res.Target, res.Profile, 3)
	if err != nil {
		t.Fatal(err)
	}
	sam := res.Stat(Cell{Model: ResNet18, Data: CIFAR10, Method: SAM})
	sgd := res.Stat(Cell{Model: ResNet18, Data: CIFAR10, Method: SGD})
	if s := sam.Summary(); s.N != 2 || s.Diverged != 1 || s.Mean != 9.75 {
		t.Errorf("SAM summary %+v: want 2 finite runs (mean 9.75) and 1 diverged", s)
	}
	if s := sgd.Summary(); s.N != 2 || s.Missing != 1 || s.Mean != 11 {
		t.Errorf("SGD summary %+v: want 2 runs (mean 11) and 1 missing", s)
	}
	// Only seed 1 is shared by both: no paired interval from one pair.
	if _, ok := Paired(sam, sgd); ok {
		t.Error("a paired interval from a single shared seed")
	}
	out, _ := res.Target.Render(res)
	var b bytes.Buffer
	out.Tables[0].Markdown(&b)
	if !strings.Contains(b.String(), "diverged") || !strings.Contains(b.String(), "missing") {
		t.Errorf("table does not mark the diverged and missing runs:\n%s", b.String())
	}
}

func nan() float64    { var z float64; return z / z }
func posInf() float64 { var z float64; return 1 / z }

// The cost column counts passes, not seconds: two runs of the same Δη
// cost the same whatever the machine was doing while they ran.
func TestExtraPassesIgnoreTime(t *testing.T) {
	rec := func(de, secs float64) *train.Record {
		return &train.Record{DeltaEtaRealised: de, TrainSeconds: secs}
	}
	stat := func(recs ...*train.Record) Stat { return Stat{Records: recs} }
	sam := stat(rec(1, 20), rec(1, 22))
	if got := extraPasses(stat(rec(0.48, 5), rec(0.52, 90)), sam); got != "0.500" {
		t.Errorf("extra passes %q, want 0.500", got)
	}
	if got := extraPasses(stat(rec(0.5, 1)), stat()); got != "–" {
		t.Errorf("without SAM runs: %q, want –", got)
	}
}
