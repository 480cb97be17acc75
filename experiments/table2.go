package experiments

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

// Table 2 needs no training: the draw X_t is a pure function of (seed, t)
// (schedule.Draw), the very function the trainer calls, so the realised
// counts are those every run of the profile makes.
func init() {
	register(&Target{
		Name: "table2", Title: "Table 2: scheduling functions and their expected Δη",
		About: "every family's p(t), closed-form and exact expected Δη, and the realised Δη of the profile's runs over seeds (no training)",
		Render: func(r *Results) (Output, error) {
			T := r.Profile.Steps
			t := &report.Table{Name: "table2", Title: "Table 2: scheduling functions and their expected Δη",
				Header: []string{"Schedule", "p(t)", "Closed form Δη", "Exact mean of p(t)", "Realised Δη (mean ± std)", "Within 99.9% interval"}}
			rows := []struct{ spec, formula string }{
				{"constant:0.5", "a_c"},
				{"piecewise:0,0.5", "a_p for t < b_p·T, then 1 − a_p"},
				{"piecewise:1,0.5", "a_p for t < b_p·T, then 1 − a_p"},
				{"piecewise:0.3,0.5", "a_p for t < b_p·T, then 1 − a_p"},
				{"linear1:0.3", "through (0, 0) and (T/2, m), clipped"},
				{"linear2:0.2", "through (0, b_l) and (T/2, 0.5)"},
				{"cos1", "½ + ½cos(πt/T)"},
				{"cos2", "½ − ½cos(πt/T)"},
				{"sin1", "sin(πt/T)"},
				{"sin2", "1 − sin(πt/T)"},
			}
			for _, row := range rows {
				f, err := schedule.Parse(row.spec)
				if err != nil {
					return Output{}, err
				}
				closed := "–"
				if v, ok := f.ClosedFormDeltaEta(); ok {
					closed = fmt.Sprintf("%.4f", v)
				}
				exact := f.ExpectedDeltaEta(T)
				var real []float64
				inside := 0
				// The count is a sum of independent Bernoulli draws: its
				// standard deviation is √Σp(1−p); 3.29σ is the two-sided 99.9%.
				sd := math.Sqrt(schedule.CountVariance(f, T))
				for seed := 1; seed <= r.Seeds; seed++ {
					n := schedule.Count(f, uint64(seed), T)
					real = append(real, float64(n)/float64(T))
					if math.Abs(float64(n)-exact*float64(T)) <= 3.29*sd+1e-9 {
						inside++
					}
				}
				t.Rows = append(t.Rows, []string{row.spec, row.formula, closed, fmt.Sprintf("%.4f", exact),
					report.FormatMeanStd(report.Summarize(real, 0, 0), 4), fmt.Sprintf("%d/%d", inside, r.Seeds)})
			}
			t.Caption = fmt.Sprintf("Profile %s: T = %d steps per run, seeds 1–%d. Realised Δη = sharp steps / T from the draws X_t ~ Bernoulli(p(t)) that the runs of this profile make. The paper prints sin1's Δη as π/2; the mean of sin(πt/T) is 2/π ≈ 0.637.", r.Profile.Name, T, r.Seeds)
			return Output{Tables: []*report.Table{t}}, nil
		},
	})
}
