package experiments

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// The calibration plans every regime on the cpu profile only, each
// regime's runs are fixed by the regime (not by the profile as it stands),
// and its table shows the numbers of the records.
func TestCalibrationTable(t *testing.T) {
	tg, err := Lookup("calibrate")
	if err != nil {
		t.Fatal(err)
	}
	smoke, _ := tg.Plan(Profiles["smoke"], 1)
	for _, r := range smoke {
		if r.Needs == "" {
			t.Fatalf("smoke plans calibration run %s; the calibration is the cpu profile's", r.Cell.Label())
		}
	}
	runs, err := tg.Plan(Profiles["cpu"], 3)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Needs != "" {
			t.Fatalf("%s: %s", r.Cell.Label(), r.Needs)
		}
		g, _ := LookupRegime(r.Cell.Regime)
		want, _ := g.Config(r.Cell.Model)
		if r.Config.Subset != want.Subset || r.Config.Epochs != want.Epochs || r.Config.LabelNoise != want.LabelNoise || r.Config.Model != want.Model {
			t.Errorf("%s: config %+v does not follow its regime %+v", r.Cell.Label(), r.Config, g)
		}
		if r.Cell.Method.Name == "sam" && g.Rho != 0 && r.Config.Method.Rho != g.Rho {
			t.Errorf("%s: SAM at ρ %v, the regime says %v", r.Cell.Label(), r.Config.Method.Rho, g.Rho)
		}
		// Records for the small CNN in "fit 1k": SGD 20, 21, 22; SAM 19, 20.5, 20
		// (differences −1, −0.5, −2: −1.17 [−3.06, +0.73], as in table1's test).
		if r.Cell.Regime != "fit 1k" || r.Cell.Model != ResNet18 || seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		errs := map[string][]float64{"sgd": {20, 21, 22}, "sam": {19, 20.5, 20}}
		pairs := map[string]float64{"sgd": 280, "sam": 560}
		m := r.Cell.Method.Name
		rec := &train.Record{ID: r.ID, Config: r.Config, Steps: 280, Pairs: pairs[m], TestError: train.Metric(errs[m][r.Seed-1]),
			Epochs:     []train.Epoch{{Epoch: 1, TrainLoss: 2.25}, {Epoch: 40, TrainLoss: 0.01}},
			FinalTrain: &train.Fit{Loss: 0.005, Error: 0.5}}
		if err := st.Put(rec); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Collect(st, tg, Profiles["cpu"], 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tg.Render(res)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := out.Tables[0].Markdown(&b); err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "| fit 1k ") && strings.Contains(line, "small CNN") {
			row = line
		}
	}
	// Cost: (280 + 560) pairs over the original profile's 138.
	for _, want := range []string{"21.00 ± 1.00", "19.83 ± 0.76", "−1.17 [−3.06, +0.73]", "2.25 / 2.25", "0.010 / 0.010", "0.50 / 0.50", "| 280 |", "6.1"} {
		if !strings.Contains(row, want) {
			t.Errorf("the fit 1k small CNN row lacks %q:\n%s", want, row)
		}
	}
	if len(out.Figures) != 1 || len(out.Figures[0].Panels) != 3 {
		t.Errorf("calibration figure: %d figures, want one of three panels", len(out.Figures))
	}
}
