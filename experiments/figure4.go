package experiments

import (
	"fmt"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/schedule"
)

// Figure 4 needs no training: the draws X_t are schedule.Draw(seed, t,
// p(t)), the function every run calls, so seed 1's draws are those of
// every seed-1 run of the profile.
func init() {
	register(&Target{
		Name: "figure4", Title: "Figure 4: trigonometric schedules and their Bernoulli draws",
		About: "cos1, cos2, sin1, sin2: p(t) as a curve, the realised draws X_t of seed 1 as points at 0 and 1 (no training)",
		Render: func(r *Results) (Output, error) {
			T := r.Profile.Steps
			f := &report.Figure{Name: "figure4", Title: "Figure 4: trigonometric p(t) and realised draws (seed 1)", Cols: 2}
			for _, fn := range schedule.TrigGroup() {
				p := pOfT(fn.String(), []schedule.Func{fn}, T)
				p.Series[0].Name = "p(t)"
				draws := report.Series{Name: "Xₜ (1 = SAM step)", Style: report.Points}
				step := max(1, T/400) // at most ~400 points per panel stay readable
				sharp := 0
				for t := 0; t < T; t++ {
					x := schedule.Draw(1, t, fn.P(t, T))
					if x {
						sharp++
					}
					if t%step == 0 {
						v := 0.0
						if x {
							v = 1
						}
						draws.X = append(draws.X, float64(t)/float64(T))
						draws.Y = append(draws.Y, v)
					}
				}
				p.Series = append(p.Series, draws)
				p.Title = fmt.Sprintf("%s: Δη expected %.3f, realised %.3f", fn, fn.ExpectedDeltaEta(T), float64(sharp)/float64(T))
				p.YMin, p.YMax = report.Limit(-0.05), report.Limit(1.05)
				f.Panels = append(f.Panels, p)
			}
			shown := fmt.Sprintf("all %d draws of seed 1 are shown", T)
			if step := max(1, T/400); step > 1 {
				shown = fmt.Sprintf("one draw in %d of seed 1 is shown", step)
			}
			f.Caption = fmt.Sprintf("Profile %s: T = %d steps; %s. Each point is the draw Xₜ ~ Bernoulli(p(t)) that every seed-1 run of this profile makes.", r.Profile.Name, T, shown)
			return Output{Figures: []*report.Figure{f}}, nil
		},
	})
}
