package schedule

import (
	"math"
	"testing"
)

// FuzzParse: Parse never panics on any spec; every schedule it accepts
// gives p(t) in [0,1] for every step of runs of several lengths, an
// expected Δη in [0,1], and a canonical String that Parse reads back to the
// same p(t).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"constant:0.5", "piecewise:0,0.3", "linear:2,-0.5", "linear1:0.7", "linear2:0.2",
		"cos1", "cos2", "sin1", "sin2", "table:0.1,0.5,0.9",
		"expr:0.5+0.4*sin(2*pi*x)", "expr:x^2", "expr:min(1,max(0,3*x-1))", "expr:-x^2+1",
		"expr:x*2", "expr:1/x", "constant:NaN", "expr:2^-1", "expr:((x))", "table:", ":", "expr:1e308*1e308",
	} {
		f.Add(s, uint16(7))
	}
	f.Fuzz(func(t *testing.T, spec string, n uint16) {
		fn, err := Parse(spec)
		if err != nil {
			return
		}
		back, err := Parse(fn.String())
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its String %q is refused: %v", spec, fn.String(), err)
		}
		for _, T := range []int{1, 2, 3, 10, 1 + int(n)%5000} {
			for step := 0; step < T; step++ {
				p := fn.P(step, T)
				if !(p >= 0 && p <= 1) {
					t.Fatalf("Parse(%q): P(%d, %d) = %v, outside [0,1]", spec, step, T, p)
				}
				if q := back.P(step, T); q != p {
					t.Fatalf("Parse(%q) and Parse(%q) differ at P(%d, %d): %v vs %v", spec, fn.String(), step, T, p, q)
				}
			}
			if d := fn.ExpectedDeltaEta(T); !(d >= 0 && d <= 1) || math.IsNaN(d) {
				t.Fatalf("Parse(%q): ExpectedDeltaEta(%d) = %v, outside [0,1]", spec, T, d)
			}
		}
	})
}
