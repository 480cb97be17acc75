package optim

import (
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/schedule"
)

// G-RST's GNR step accepts --param normalized like the gnr method: the
// update is (1 − k)·ĝ + k·g′ with ĝ = g/‖g‖ (the official code's default),
// against (1 − k)·g + k·g′ without it.
func TestGRSTNormalizedMatchesFormula(t *testing.T) {
	const rho = 0.05
	for _, norm := range []float64{0, 1} {
		for _, pr := range []func(*testing.T, int) *harness{newQuadHarness, newSoftmaxHarness} {
			s := Spec{Name: "grst", Schedule: "constant:1", Rho: rho, Params: map[string]float64{"k": 3}}
			if norm == 1 {
				s.Params["normalized"] = 1
			}
			m, err := New(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := pr(t, 5)
			for step := 0; step < 5; step++ {
				th := h.theta()
				gp, g := samAt(h, step, th, rho)
				mix := g
				if norm == 1 {
					mix = scaled(1/normOf(g), g)
				}
				want := add(scaled(1-3, mix), 3, gp)
				_, got := h.step(m, step)
				checkVec(t, "grst normalized="+string(rune('0'+int(norm))), got, want, 3*maxAbs(mix, gp)+1)
				h.move(0.5)
			}
		}
	}
	// The gnr method takes it as before.
	m, err := New(Spec{Name: "gnr", Rho: rho, Params: map[string]float64{"normalized": 1}}, nil)
	if err != nil || !m.(*GNR).Normalized {
		t.Fatalf("gnr normalized=1: %v, %+v", err, m)
	}
}

func normOf(v []float64) float64 { return norm(v) }

// normalized is recorded in G-RST's resolved spec only when set, so the
// G-RST runs made before the option keep their ids; normalized=0 resolves
// to the same spec as leaving it out.
func TestGRSTNormalizedResolve(t *testing.T) {
	base := Spec{Name: "grst", Schedule: "constant:0.5"}
	r0, err := Resolve(base)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(r0.Params, map[string]float64{"k": 2}) {
		t.Errorf("default G-RST params %v, want k = 2 alone", r0.Params)
	}
	zero := base
	zero.Params = map[string]float64{"normalized": 0}
	if r, err := Resolve(zero); err != nil || !maps.Equal(r.Params, r0.Params) {
		t.Errorf("normalized=0 resolves to %v (%v), want %v", r.Params, err, r0.Params)
	}
	one := base
	one.Params = map[string]float64{"normalized": 1}
	if r, err := Resolve(one); err != nil || r.Params["normalized"] != 1 || r.Params["k"] != 2 {
		t.Errorf("normalized=1 resolves to %v (%v)", r.Params, err)
	}
	for _, bad := range []Spec{
		{Name: "grst", Schedule: "constant:0.5", Params: map[string]float64{"normalized": 0.5}},
		{Name: "grst", Sharp: "asam", Schedule: "constant:0.5", Params: map[string]float64{"normalized": 1}},
	} {
		if _, err := Resolve(bad); err == nil || !strings.Contains(err.Error(), "normalized") {
			t.Errorf("Resolve(%+v): error %v, want one naming --param normalized", bad, err)
		}
	}
}

// k=auto: at a sharp step t, G = (1 − k(t))·g + k(t)·g′ with
// k(t) = penalty/p(t), so p(t)·k(t)·ρ = penalty·ρ whatever p(t) is.
func TestGRSTAutoDegree(t *testing.T) {
	const rho, penalty = 0.05, 0.8
	s := Spec{Name: "grst", Schedule: "table:0.25,0.5,1", Rho: rho, Params: map[string]float64{"k_auto": 1, "penalty": penalty}}
	r, err := Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Params["k"]; ok || r.Params["k_auto"] != 1 || r.Params["penalty"] != penalty {
		t.Errorf("resolved %v: want k_auto = 1, penalty = %v and no k", r.Params, penalty)
	}
	f, _ := schedule.Parse(s.Schedule)
	for _, sharp := range []string{"gnr", "sam"} { // GNR's γ, and Degree's K over SAM
		s.Sharp = sharp
		m, err := New(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		const steps = 12
		h := newSoftmaxHarness(t, steps)
		sharpSteps := 0
		for step := 0; step < steps; step++ {
			th := h.theta()
			var want []float64
			scale := 1.0
			p := f.P(step, steps)
			if schedule.Draw(h.c.Seed, step, p) {
				sharpSteps++
				k := penalty / p
				gp, g := samAt(h, step, th, rho)
				want = add(scaled(1-k, g), k, gp)
				scale = k * maxAbs(g, gp)
				if p*k*rho-penalty*rho > 1e-15 {
					t.Fatalf("expected penalty %v", p*k*rho)
				}
			} else {
				want, _ = h.grad(step, th, nil)
			}
			_, got := h.step(m, step)
			checkVec(t, "grst k=auto --sharp "+sharp, got, want, scale)
			h.move(0.5)
		}
		if sharpSteps < 3 {
			t.Errorf("only %d sharp steps: the test checks too little", sharpSteps)
		}
	}
	for _, bad := range []Spec{
		{Name: "grst", Schedule: "cos1", Params: map[string]float64{"k_auto": 1, "k": 2}},
		{Name: "grst", Schedule: "cos1", Params: map[string]float64{"k_auto": 1, "penalty": 0}},
		{Name: "rst", Schedule: "cos1", Params: map[string]float64{"k_auto": 1}},
		{Name: "grst", Schedule: "cos1", Params: map[string]float64{"penalty": 1}}, // penalty without k=auto
	} {
		if _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%+v) accepted", bad)
		}
	}
}

// The official code's schedule names are aliases of the suite's forms and
// resolve to them, so both spellings are one run.
func TestOfficialScheduleAliases(t *testing.T) {
	for alias, want := range map[string]string{
		"piecewise1:0.3":  "piecewise:0,0.3",
		"piecewise2:0.7":  "piecewise:1,0.7",
		"piecewise3:0.2":  "piecewise:0.2,0.5",
		"PieceWise1: 0.4": "piecewise:0,0.4",
		"linear1:0.6":     "linear1:0.6",
		"linear2:0.1":     "linear2:0.1",
		"cos1":            "cos1",
	} {
		r, err := Resolve(Spec{Name: "rst", Schedule: alias})
		if err != nil {
			t.Errorf("%s: %v", alias, err)
			continue
		}
		if r.Schedule != want {
			t.Errorf("%s resolves to %q, want %q", alias, r.Schedule, want)
		}
		canon, _ := Resolve(Spec{Name: "rst", Schedule: want})
		if canon.Schedule != r.Schedule {
			t.Errorf("%s and %s resolve differently", alias, want)
		}
		fa, _ := schedule.Parse(CanonicalSchedule(alias))
		fw, _ := schedule.Parse(want)
		for step := 0; step < 100; step++ {
			if fa.P(step, 100) != fw.P(step, 100) {
				t.Fatalf("%s and %s differ at t = %d", alias, want, step)
			}
		}
	}
	for _, bad := range []string{"piecewise1", "piecewise2:0.1,0.2", "piecewise3:"} {
		_, err := Resolve(Spec{Name: "grst", Schedule: bad})
		if err == nil || !strings.Contains(err.Error(), "--schedule") || !strings.Contains(err.Error(), "takes one number") {
			t.Errorf("schedule %q: error %v, want one naming --schedule and the official form", bad, err)
		}
	}
}

// names is the parameter name of every flat position.
func names(h *harness) []string {
	n := make([]string, h.net.W.Len())
	for _, p := range h.net.Params {
		for i := p.Offset; i < p.Offset+p.W.Len(); i++ {
			n[i] = p.Name
		}
	}
	return n
}

// adaptiveAt is ∇L(θ + ε) with ε = ρ·T²·g/‖T·g‖ for the scale T of every
// position.
func adaptiveAt(h *harness, t int, th []float64, rho float64, scale func(i int) float64) ([]float64, []float64) {
	g, _ := h.grad(t, th, nil)
	tg := make([]float64, len(th))
	for i := range th {
		tg[i] = scale(i) * g[i]
	}
	eps := make([]float64, len(th))
	for i := range eps {
		eps[i] = rho * scale(i) * scale(i) * g[i] / norm(tg)
	}
	gp, _ := h.grad(t, add(th, 1, eps), nil)
	return gp, g
}

// ASAM's bn_gamma=1 rescales BN's γ by |γ| + η like a weight (the official
// ASAM's 'weight' in name); β and biases keep 1. GSAM's adaptive=1 scales
// every parameter by |w|.
func TestASAMBNGammaAndGSAMAdaptive(t *testing.T) {
	for _, bn := range []float64{0, 1} {
		s := Spec{Name: "asam", Rho: 0.5, Params: map[string]float64{"eta": 0.01, "bn_gamma": bn}}
		m, err := New(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := newQuadHarness(t, 4)
		k, nm := kinds(h.net), names(h)
		for step := 0; step < 4; step++ {
			th := h.theta()
			gp, g := adaptiveAt(h, step, th, 0.5, func(i int) float64 {
				if k[i] == nn.Weight || (bn == 1 && nm[i] == "bn.gamma") {
					return math.Abs(th[i]) + 0.01
				}
				return 1
			})
			_, got := h.step(m, step)
			checkVec(t, "asam bn_gamma", got, gp, maxAbs(g, gp))
			h.move(0.5)
		}
	}
	r, err := Resolve(Spec{Name: "asam"})
	if err != nil || !maps.Equal(r.Params, map[string]float64{"eta": 0.01}) {
		t.Errorf("ASAM's resolved params %v (%v): bn_gamma must stay out at its default", r.Params, err)
	}
	if r, _ := Resolve(Spec{Name: "asam", Params: map[string]float64{"bn_gamma": 1}}); r.Params["bn_gamma"] != 1 {
		t.Errorf("bn_gamma=1 not recorded: %v", r.Params)
	}

	m, err := New(Spec{Name: "gsam", Rho: 0.05, Params: map[string]float64{"adaptive": 1, "alpha": 0.3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newSoftmaxHarness(t, 4)
	for step := 0; step < 4; step++ {
		th := h.theta()
		gp, g := adaptiveAt(h, step, th, 0.05, func(i int) float64 { return math.Abs(th[i]) })
		perp := add(g, -dot(g, gp)/dot(gp, gp), gp)
		_, got := h.step(m, step)
		checkVec(t, "gsam adaptive", got, add(gp, -0.3, perp), 2*maxAbs(g, gp))
		h.move(0.5)
	}
	if r, _ := Resolve(Spec{Name: "gsam"}); r.Params["adaptive"] != 0 || len(r.Params) != 5 {
		t.Errorf("GSAM's resolved params %v: adaptive must stay out at its default", r.Params)
	}
}

// m-sharpness: G = Σ_j |S_j|/B · u_j over sub-batches S_j of m samples,
// u_j from g_j = ∇L_{S_j}(θ) and g′_j = ∇L_{S_j}(θ + ρ·g_j/‖g_j‖): g′_j for
// SAM, (1 − a)·ĝ_j + a·g′_j for normalised GNR; the last sub-batch is short
// when m does not divide B.
func TestMSharpnessMatchesFormula(t *testing.T) {
	const rho = 0.05
	for _, c := range []struct {
		spec Spec
		m    int
		a    float64 // 0: SAM
		norm bool
	}{
		{Spec{Name: "sam", Rho: rho, Params: map[string]float64{"m": 3}}, 3, 0, false},
		{Spec{Name: "rst", Schedule: "constant:1", Rho: rho, Params: map[string]float64{"m": 2}}, 2, 0, false},
		{Spec{Name: "grst", Schedule: "constant:1", Rho: rho, Params: map[string]float64{"m": 4, "normalized": 1}}, 4, 2, true},
		{Spec{Name: "gnr", Rho: rho, Params: map[string]float64{"m": 5, "gamma": 3 * rho}}, 5, 3, false},
	} {
		for _, pr := range []func(*testing.T, int) *harness{newQuadHarness, newSoftmaxHarness} {
			m, err := New(c.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := pr(t, 4)
			B := h.prob.batch()
			for step := 0; step < 4; step++ {
				th := h.theta()
				want := make([]float64, len(th))
				scale := 0.0
				for lo := 0; lo < B; lo += c.m {
					var s []int
					for i := lo; i < min(lo+c.m, B); i++ {
						s = append(s, i)
					}
					g, _ := h.grad(step, th, s)
					gp, _ := h.grad(step, add(th, rho/norm(g), g), s)
					u := gp
					if c.a != 0 {
						mix := g
						if c.norm {
							mix = scaled(1/norm(g), g)
						}
						u = add(scaled(1-c.a, mix), c.a, gp)
					}
					want = add(want, float64(len(s))/float64(B), u)
					scale = math.Max(scale, (1+c.a)*maxAbs(g, gp)+1)
				}
				r, got := h.step(m, step)
				checkVec(t, c.spec.Name+" m-sharpness", got, want, scale)
				if r.Pairs != 2 || len(h.passes) != 2*((B+c.m-1)/c.m) {
					t.Errorf("%s m=%d: %v pairs in %d passes", c.spec.Name, c.m, r.Pairs, len(h.passes))
				}
				h.move(0.5)
			}
		}
	}
	if r, _ := Resolve(Spec{Name: "sam"}); r.Params != nil {
		t.Errorf("SAM's resolved params %v: m must stay out at its default", r.Params)
	}
	if r, _ := Resolve(Spec{Name: "sam", Params: map[string]float64{"m": 32}}); r.Params["m"] != 32 {
		t.Errorf("m=32 not recorded: %v", r.Params)
	}
	for _, bad := range []Spec{
		{Name: "sam", Params: map[string]float64{"m": 2.5}},
		{Name: "grst", Sharp: "sam", Schedule: "constant:0.5", Params: map[string]float64{"m": 8}},
		{Name: "asam", Params: map[string]float64{"m": 8}},
	} {
		if _, err := Resolve(bad); err == nil || !strings.Contains(err.Error(), "m") {
			t.Errorf("Resolve(%+v): %v, want an error naming --param m", bad, err)
		}
	}
}

// --warmup-style official over the cosine schedule is the official code's
// rate: the fork passes warmup_epochs to Flax 0.3.6's cosine schedule
// (rst/training/lr_schedule.py:78–83 at f17b229), whose rate at step t is
// base·(½cos(πt/T) + ½)·min(1, t/(W_e·S)), S steps an epoch, W_e warm-up
// epochs, the half cosine spanning the whole run, warm-up included. The
// suite's --warmup counts steps, so W = W_e·S.
func TestOfficialWarmupCosine(t *testing.T) {
	const base, perEpoch, epochs, warmEpochs = 0.1, 7, 10, 2
	total := perEpoch * epochs
	lr, err := ParseLRStyle("cosine", base, warmEpochs*perEpoch, true)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step <= total; step++ {
		cos := 0.5*math.Cos(float64(step)*math.Pi/float64(total)) + 0.5
		want := base * cos * math.Min(1, float64(step)/warmEpochs/perEpoch)
		if got := lr.At(step, total); math.Abs(got-want) > 1e-15 {
			t.Errorf("step %d: lr %v, the official schedule gives %v", step, got, want)
		}
	}
}
