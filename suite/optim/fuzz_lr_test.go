package optim

import (
	"math"
	"testing"
)

// FuzzParseLR: ParseLR never panics; it refuses a non-positive or
// non-finite base rate and a negative warm-up; and every schedule it
// accepts gives a finite, non-negative rate at every step of runs of
// several lengths, from a finite positive factor and milestones that are
// increasing fractions in (0,1).
func FuzzParseLR(f *testing.F) {
	for _, s := range []string{"cosine", "constant", "step:0.5,0.75", "step:0.5,0.75/0.2", "step:0.3/1",
		"step:0.5/NaN", "step:NaN", "step:0.5/Inf", "step:", "step:/", "step:0.9,0.1", "linear"} {
		f.Add(s, 0.1, 0)
	}
	f.Add("cosine", math.NaN(), 0)
	f.Add("constant", 0.1, -1)
	f.Add("step:0.5", math.Inf(1), 3)
	f.Fuzz(func(t *testing.T, spec string, lr float64, warmup int) {
		s, err := ParseLR(spec, lr, warmup)
		if err != nil {
			return
		}
		if !(lr > 0) || math.IsInf(lr, 0) || warmup < 0 {
			t.Fatalf("ParseLR(%q, %v, %d) accepted a bad base rate or warm-up", spec, lr, warmup)
		}
		inner := s
		if w, ok := s.(Warmup); ok {
			inner = w.Inner
		}
		if st, ok := inner.(Step); ok {
			if !(st.Gamma > 0) || math.IsInf(st.Gamma, 0) {
				t.Fatalf("ParseLR(%q) accepted the factor %v", spec, st.Gamma)
			}
			for i, m := range st.Milestones {
				if !(m > 0 && m < 1) || (i > 0 && !(m > st.Milestones[i-1])) {
					t.Fatalf("ParseLR(%q) accepted the milestones %v", spec, st.Milestones)
				}
			}
		}
		for _, total := range []int{1, 2, 10, 97} {
			for step := 0; step < total; step++ {
				if v := s.At(step, total); math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("ParseLR(%q, %v, %d).At(%d, %d) = %v", spec, lr, warmup, step, total, v)
				}
			}
		}
	})
}
