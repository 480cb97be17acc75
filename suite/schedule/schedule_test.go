package schedule

import (
	"math"
	"strings"
	"testing"
)

func mustParse(t *testing.T, spec string) Func {
	t.Helper()
	f, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return f
}

// TestFormulas checks P against each family's formula at known points.
func TestFormulas(t *testing.T) {
	const T = 1000
	cases := []struct {
		spec string
		t    int
		want float64
	}{
		{"constant:0.3", 0, 0.3},
		{"constant:0.3", 999, 0.3},
		{"piecewise:0.2,0.3", 299, 0.2},
		{"piecewise:0.2,0.3", 300, 0.8},
		{"piecewise:0,0.5", 499, 0},
		{"piecewise:0,0.5", 500, 1},
		{"piecewise:1,0.1", 99, 1},
		{"piecewise:1,0.1", 100, 0},
		{"linear:0.5,0.2", 0, 0.2},
		{"linear:0.5,0.2", 500, 0.45},
		{"linear:2,-0.5", 100, 0},   // clipped below
		{"linear:2,-0.5", 900, 1},   // clipped above
		{"linear:2,-0.5", 500, 0.5}, // inside
		{"linear1:0.3", 0, 0},
		{"linear1:0.3", 500, 0.3},
		{"linear1:0.3", 250, 0.15},
		{"linear1:0.8", 500, 0.8},
		{"linear1:0.8", 0, 0.6},
		{"linear1:0.8", 750, 0.9},
		{"linear2:0.1", 0, 0.1},
		{"linear2:0.1", 500, 0.5},
		{"linear2:0.1", 750, 0.7},
		{"cos1", 0, 1},
		{"cos1", 500, 0.5},
		{"cos1", 250, 0.5 + 0.5*math.Cos(math.Pi/4)},
		{"cos2", 0, 0},
		{"cos2", 250, 0.5 - 0.5*math.Cos(math.Pi/4)},
		{"sin1", 0, 0},
		{"sin1", 500, 1},
		{"sin1", 250, math.Sin(math.Pi / 4)},
		{"sin2", 500, 0},
		{"sin2", 250, 1 - math.Sin(math.Pi/4)},
		{"table:0.1,0.5,0.9", 0, 0.1},
		{"table:0.1,0.5,0.9", 333, 0.1},
		{"table:0.1,0.5,0.9", 334, 0.5},
		{"table:0.1,0.5,0.9", 999, 0.9},
		{"expr:0.5+0.4*sin(2*pi*x)", 250, 0.9},
		{"expr:x^2", 500, 0.25},
		{"expr:-x^2+1", 500, 0.75},
		{"expr:2^-1", 0, 0.5},
		{"expr:min(x,0.3)+max(0,0)", 900, 0.3},
		{"expr:exp(log(0.5))*sqrt(abs(-1))", 10, 0.5},
		{"expr:min(1,3*x)", 900, 1},         // clipped on purpose
		{"expr:max(0,(1-x)/2-0.4)", 900, 0}, // clipped on purpose
		{"expr:0.5+0.5*cos(pi*x)", 1000 - 1, 0.5 + 0.5*math.Cos(math.Pi*0.999)}, // 0 at x = 1 up to rounding
		{"expr:1e-1", 0, 0.1},
	}
	for _, c := range cases {
		f := mustParse(t, c.spec)
		if got := f.P(c.t, T); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: P(%d,%d) = %v, want %v", c.spec, c.t, T, got, c.want)
		}
	}
}

func allSpecs() []string {
	var s []string
	for _, g := range groups() {
		for _, f := range g {
			s = append(s, f.String())
		}
	}
	return append(s, "linear:0.3,0.1", "linear:2,-0.5", "table:0.1,0.5,0.9", "table:1",
		"expr:0.5+0.4*sin(2*pi*x)", "expr:x^2")
}

func groups() map[string][]Func {
	p1, _ := PiecewiseGroup(1)
	p2, _ := PiecewiseGroup(2)
	p3, _ := PiecewiseGroup(3)
	l1, _ := LinearGroup(1)
	l2, _ := LinearGroup(2)
	return map[string][]Func{"constant": ConstantGroup(), "piecewise1": p1, "piecewise2": p2,
		"piecewise3": p3, "linear1": l1, "linear2": l2, "trig": TrigGroup()}
}

// TestGroups checks the group sizes and the paper's Δη for each member.
func TestGroups(t *testing.T) {
	g := groups()
	for name, fs := range g {
		want := 9
		if name == "trig" {
			want = 4
		}
		if len(fs) != want {
			t.Errorf("%s group has %d members, want %d", name, len(fs), want)
		}
	}
	for i := range 9 {
		v := float64(i+1) / 10
		check := func(f Func, want float64) {
			got, ok := f.ClosedFormDeltaEta()
			if !ok || math.Abs(got-want) > 1e-12 {
				t.Errorf("%s: closed-form Δη = %v (%v), want %v", f, got, ok, want)
			}
		}
		check(g["constant"][i], v)
		check(g["piecewise1"][i], 1-v)
		check(g["piecewise2"][i], v)
		check(g["piecewise3"][i], 0.5)
		check(g["linear1"][i], v)
		check(g["linear2"][i], 0.5)
	}
	if _, err := PiecewiseGroup(4); err == nil {
		t.Error("PiecewiseGroup(4) gave no error")
	}
	if _, err := LinearGroup(0); err == nil {
		t.Error("LinearGroup(0) gave no error")
	}
}

// TestDeltaEtaConverges: the exact discrete mean approaches the closed form
// like 1/T (and is exact for constant and whole-step piecewise switches).
func TestDeltaEtaConverges(t *testing.T) {
	for _, spec := range allSpecs() {
		f := mustParse(t, spec)
		cf, ok := f.ClosedFormDeltaEta()
		if !ok {
			continue
		}
		d100 := math.Abs(f.ExpectedDeltaEta(100) - cf)
		d10k := math.Abs(f.ExpectedDeltaEta(10000) - cf)
		if d10k > 1.0/10000+1e-12 {
			t.Errorf("%s: |exact mean − closed form| = %g at T = 10000, want ≤ 1/T", spec, d10k)
		}
		if d10k > d100+1e-12 {
			t.Errorf("%s: difference grew from %g (T=100) to %g (T=10000)", spec, d100, d10k)
		}
	}
	// Known exact means: cos1 is ½ + 1/(2T) (the t = 0 term of Σcos has no
	// partner), sin1 is cot(π/(2T))/T.
	for _, T := range []int{1, 2, 7, 100, 1001} {
		if got, want := mustParse(t, "cos1").ExpectedDeltaEta(T), 0.5+0.5/float64(T); math.Abs(got-want) > 1e-12 {
			t.Errorf("cos1 mean at T=%d = %v, want %v", T, got, want)
		}
		if got, want := mustParse(t, "sin1").ExpectedDeltaEta(T), 1/math.Tan(math.Pi/(2*float64(T)))/float64(T); T > 1 && math.Abs(got-want) > 1e-12 {
			t.Errorf("sin1 mean at T=%d = %v, want %v", T, got, want)
		}
	}
	// The text's "π/2 ≈ 64%" for sin is wrong: π/2 > 1; the mean is 2/π.
	if m := mustParse(t, "sin1").ExpectedDeltaEta(100000); math.Abs(m-math.Pi/2) < 0.5 || math.Abs(m-2/math.Pi) > 1e-4 {
		t.Errorf("sin1 mean %v: want 2/π = %v, far from π/2", m, 2/math.Pi)
	}
	if _, ok := mustParse(t, "linear:2,-0.5").ClosedFormDeltaEta(); ok {
		t.Error("a clipped linear schedule claimed a closed form")
	}
	if v := mustParse(t, "constant:0.5").ExpectedDeltaEta(0); v != 0 {
		t.Errorf("ExpectedDeltaEta(0) = %v, want 0", v)
	}
	if Validate(0) == nil || Validate(1) != nil {
		t.Error("Validate accepts T = 0 or rejects T = 1")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, spec := range append(allSpecs(), " Constant : 0.25", "expr: 0.5 + 0.1 * x") {
		f := mustParse(t, spec)
		g := mustParse(t, f.String())
		if f.String() != g.String() {
			t.Errorf("%q: String %q parses back as %q", spec, f.String(), g.String())
		}
		for _, step := range []int{0, 17, 500, 999} {
			if f.P(step, 1000) != g.P(step, 1000) {
				t.Errorf("%q: P(%d) changed on round trip", spec, step)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ spec, mention string }{
		{"constant:1.5", "a_c"},
		{"constant:-0.1", "[0,1]"},
		{"constant", "1 parameter"},
		{"constant:0.1,0.2", "1 parameter"},
		{"constant:abc", "not a finite number"},
		{"constant:NaN", "not a finite number"},
		{"piecewise:0.5", "2 parameter"},
		{"piecewise:0.5,2", "b_p"},
		{"piecewise:2,0.5", "a_p"},
		{"linear:inf,0", "not a finite number"},
		{"linear1:1.2", "m = 1.2"},
		{"linear2:-1", "b_l"},
		{"cos1:0.5", "0 parameter"},
		{"table:", "not a finite number"},
		{"table:0.5,1.5", "value 2"},
		{"expr:", "empty"},
		{"expr:1/x", "finite"},
		{"expr:log(x-2)", "finite"},
		{"expr:foo(x)", "unknown name"},
		{"expr:(x+1", "missing ')'"},
		{"expr:2x", "unexpected"},
		{"expr:min(x)", "2 argument"},
		// A probability outside [0,1] anywhere on the run is refused, as
		// constant:1.5 is, with where it leaves the range.
		{"expr:x*2", "from x = 0.5001 to x = 1"},
		{"expr:1.5", "from x = 0 to x = 1"},
		{"expr:0.5-x", "from x = 0.5001 to x = 1"},
		{"expr:0.5+sin(40*pi*x)", "from x = 0.0042 to x = 0.0208"},
		{"expr:1+x*(x-0.5)*(x-0.5)", "from x = 0.0001 to x = 0.4999"},
		{"expr:sqrt(x-0.5)", "finite"},
		{"expr:0.5+0*log(x-x)", "finite"},
		{"tan:0.1", "unknown family"},
	}
	for _, c := range cases {
		_, err := Parse(c.spec)
		if err == nil {
			t.Errorf("Parse(%q) gave no error", c.spec)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.spec) || !strings.Contains(msg, c.mention) {
			t.Errorf("Parse(%q) error %q should name the spec and mention %q", c.spec, msg, c.mention)
		}
	}
}

// TestDrawCounts: for every family and nine parameter values, the realised
// count of sharp steps over T = 10,000 draws is within the 99.9% normal
// interval of the Poisson-binomial count (variance Σp(1−p)). A deterministic
// schedule (p ∈ {0,1}) must match exactly.
func TestDrawCounts(t *testing.T) {
	const T = 10000
	const z = 3.2905 // two-sided 99.9%
	var fs []Func
	for _, g := range groups() {
		fs = append(fs, g...)
	}
	for i := range 9 {
		v := float64(i+1) / 10
		for _, spec := range []string{"linear:" + num(2*v-1) + "," + num(1-v), "table:" + num(v) + ",0.5," + num(1-v/2),
			"expr:" + num(v) + "*(0.5+0.5*sin(6*x))"} {
			fs = append(fs, mustParse(t, spec))
		}
	}
	for k, f := range fs {
		seed := uint64(1000 + k)
		n := Count(f, seed, T)
		mu := f.ExpectedDeltaEta(T) * T
		sd := math.Sqrt(CountVariance(f, T))
		if math.Abs(float64(n)-mu) > z*sd+1e-9 {
			t.Errorf("%s (seed %d): count %d, expected %.1f ± %.1f (99.9%%: ±%.1f)", f, seed, n, mu, sd, z*sd)
		}
	}
	if len(fs) < 9*9 {
		t.Fatalf("only %d schedules checked", len(fs))
	}
}

func TestDrawKeyedBySeedAndStep(t *testing.T) {
	same, diff := 0, 0
	for step := range 1000 {
		if Draw(7, step, 0.5) == Draw(7, step, 0.5) {
			same++
		}
		if Draw(7, step, 0.5) != Draw(8, step, 0.5) {
			diff++
		}
		if Draw(7, step, 0) || !Draw(7, step, 1) {
			t.Fatalf("step %d: p = 0 drew or p = 1 did not", step)
		}
	}
	if same != 1000 {
		t.Errorf("Draw is not a function of (seed, t): %d/1000 repeat", same)
	}
	if diff < 400 || diff > 600 {
		t.Errorf("seeds 7 and 8 disagree on %d/1000 fair draws, want about 500", diff)
	}
}
