package optim

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
	"github.com/rst-bench/rst/suite/schedule"
)

// expectFn computes, from the formula, the update a method should leave in
// G at step t from weights th; scale is the magnitude the tolerance is
// relative to, pairs the pairs the step should report.
type expectFn func(h *harness, t int, th []float64) (want []float64, scale, pairs float64)

// samAt is ∇L(θ + ρ·ĝ) at step t, and g.
func samAt(h *harness, t int, th []float64, rho float64) (gp, g []float64) {
	g, _ = h.grad(t, th, nil)
	gp, _ = h.grad(t, add(th, rho/norm(g), g), nil)
	return gp, g
}

// kinds is the parameter kind of every flat position.
func kinds(net *nn.Net) []nn.ParamKind {
	k := make([]nn.ParamKind, net.W.Len())
	for _, p := range net.Params {
		for i := p.Offset; i < p.Offset+p.W.Len(); i++ {
			k[i] = p.Kind
		}
	}
	return k
}

func TestMethodsMatchFormulas(t *testing.T) {
	const rho = 0.05
	cases := []struct {
		name   string
		method func() Method
		expect func() expectFn // a fresh expectation (with its own state) per problem
	}{
		{"sgd", func() Method { return Plain{} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				g, _ := h.grad(t, th, nil)
				return g, maxAbs(g), 1
			}
		}},
		{"sam", func() Method { return &SAM{Rho: rho} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				gp, g := samAt(h, t, th, rho)
				return gp, maxAbs(g, gp), 2
			}
		}},
		{"gnr γ=3ρ", func() Method { return &GNR{Rho: rho, Gamma: 3 * rho} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				gp, g := samAt(h, t, th, rho)
				w := add(scaled(1-3, g), 3, gp)
				return w, 3 * maxAbs(g, gp), 2
			}
		}},
		{"gnr γ=0.5ρ normalized", func() Method { return &GNR{Rho: rho, Gamma: 0.5 * rho, Normalized: true} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				gp, g := samAt(h, t, th, rho)
				w := add(scaled(0.5/norm(g), g), 0.5, gp)
				return w, maxAbs(gp) + 1, 2
			}
		}},
		{"asam", func() Method { return &ASAM{Rho: 0.5, Eta: 0.01} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				g, _ := h.grad(t, th, nil)
				k := kinds(h.net)
				tw := make([]float64, len(th))
				tg := make([]float64, len(th))
				for i := range th {
					tw[i] = 1
					if k[i] == nn.Weight {
						tw[i] = math.Abs(th[i]) + 0.01
					}
					tg[i] = tw[i] * g[i]
				}
				eps := make([]float64, len(th))
				for i := range eps {
					eps[i] = 0.5 * tw[i] * tw[i] * g[i] / norm(tg)
				}
				gp, _ := h.grad(t, add(th, 1, eps), nil)
				return gp, maxAbs(g, gp), 2
			}
		}},
		{"gsam ρ follows lr", func() Method {
			return &GSAM{Alpha: 0.4, RhoMax: 0.1, RhoMin: 0.02, LRMax: 0.2, LRMin: 0}
		}, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				rhoT := 0.02 + (0.1-0.02)*float64(h.c.LR)/0.2
				gp, g := samAt(h, t, th, rhoT)
				perp := add(g, -dot(g, gp)/dot(gp, gp), gp)
				return add(gp, -0.4, perp), 2 * maxAbs(g, gp), 2
			}
		}},
		{"looksam k=3", func() Method { return &LookSAM{Rho: rho, K: 3, Alpha: 0.7} }, func() expectFn {
			var gv []float64
			var gsMax float64
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				if t%3 == 0 {
					gs, g := samAt(h, t, th, rho)
					gv = add(gs, -dot(gs, g)/dot(g, g), g)
					gsMax = maxAbs(g, gs)
					return gs, gsMax, 2
				}
				// g_v is a small difference of float32 vectors: its rounding
				// is relative to g_s, amplified by α‖g‖/‖g_v‖.
				g, _ := h.grad(t, th, nil)
				a := 0.7 * norm(g) / norm(gv)
				return add(g, a, gv), maxAbs(g) + a*gsMax, 1
			}
		}},
		{"esam β=1 γ=1 is sam", func() Method { return &ESAM{Rho: rho, Beta: 1, Gamma: 1} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				gp, g := samAt(h, t, th, rho)
				return gp, maxAbs(g, gp), 2
			}
		}},
		{"esam β=0.6 γ=0.5", func() Method { return &ESAM{Rho: rho, Beta: 0.6, Gamma: 0.5} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				g, before := h.grad(t, th, nil)
				key := rng.NewKey(h.c.Seed, "esam-swp", uint64(t))
				eps := make([]float64, len(th))
				for i := range eps {
					if key.Float64At(uint64(i)) < 0.6 {
						eps[i] = rho / (0.6 * norm(g)) * g[i]
					}
				}
				pert := add(th, 1, eps)
				_, after := h.grad(t, pert, nil)
				b := len(before)
				idx := make([]int, b)
				for j := range idx {
					idx[j] = j
				}
				sort.SliceStable(idx, func(x, y int) bool { return after[idx[x]]-before[idx[x]] > after[idx[y]]-before[idx[y]] })
				k := b / 2
				sub := slices.Clone(idx[:k])
				slices.Sort(sub)
				gp, _ := h.grad(t, pert, sub)
				return gp, maxAbs(g, gp), 1 + float64(k)/float64(b)
			}
		}},
		{"ssam-f", func() Method {
			return &SSAM{Rho: rho, Sparsity: 0.5, NumSamples: 2, RefreshSteps: 3}
		}, func() expectFn {
			var fisher, mask []float64
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				g, _ := h.grad(t, th, nil)
				if fisher == nil {
					fisher = make([]float64, len(th))
				}
				if next := (t + 2) / 3 * 3; next-t < 2 {
					for i := range g {
						// the method squares the float32 gradient in float32
						fisher[i] += float64(float32(g[i]) * float32(g[i]))
					}
				}
				if t%3 == 0 {
					mask = make([]float64, len(th))
					idx := make([]int, len(th))
					for i := range idx {
						idx[i] = i
					}
					sort.SliceStable(idx, func(x, y int) bool { return fisher[idx[x]] > fisher[idx[y]] })
					for _, i := range idx[:len(th)/2] {
						mask[i] = 1
					}
					clear(fisher)
				}
				eps := make([]float64, len(th))
				for i := range eps {
					eps[i] = mask[i] * rho / norm(g) * g[i]
				}
				gp, _ := h.grad(t, add(th, 1, eps), nil)
				return gp, maxAbs(g, gp), 2
			}
		}},
		{"degree ×2 of asam", func() Method { return &Degree{Inner: &ASAM{Rho: 0.5, Eta: 0}, K: 2} }, func() expectFn {
			return func(h *harness, t int, th []float64) ([]float64, float64, float64) {
				g, _ := h.grad(t, th, nil)
				k := kinds(h.net)
				tg := make([]float64, len(th))
				tw := make([]float64, len(th))
				for i := range th {
					tw[i] = 1
					if k[i] == nn.Weight {
						tw[i] = math.Abs(th[i])
					}
					tg[i] = tw[i] * g[i]
				}
				eps := make([]float64, len(th))
				for i := range eps {
					eps[i] = 0.5 * tw[i] * tw[i] * g[i] / norm(tg)
				}
				gp, _ := h.grad(t, add(th, 1, eps), nil)
				return add(scaled(-1, g), 2, gp), 2 * maxAbs(g, gp), 2
			}
		}},
	}
	problems := []struct {
		name string
		make func(*testing.T, int) *harness
	}{{"quadratic", newQuadHarness}, {"softmax-linear", newSoftmaxHarness}}
	const steps = 7
	for _, tc := range cases {
		for _, pr := range problems {
			t.Run(tc.name+"/"+pr.name, func(t *testing.T) {
				h := pr.make(t, steps)
				m, expect := tc.method(), tc.expect()
				for s := 0; s < steps; s++ {
					h.c.LR = float32(0.2 * (1 - float64(s)/steps)) // GSAM reads it
					th := h.theta()
					want, scale, pairs := expect(h, s, th)
					r, got := h.step(m, s)
					checkVec(t, tc.name+" update at step "+string(rune('0'+s)), got, want, scale)
					if math.Abs(r.Pairs-pairs) > 1e-12 {
						t.Errorf("step %d: %v pairs, want %v", s, r.Pairs, pairs)
					}
					h.move(0.5)
				}
			})
		}
	}
}

// SAM variants must not update batch-norm running statistics on the
// perturbed pass: every pass after the first of a step freezes them.
func TestSecondPassesFreezeStats(t *testing.T) {
	for _, m := range []Method{&SAM{Rho: 0.05}, &GNR{Rho: 0.05, Gamma: 0.1}, &ASAM{Rho: 0.5}, &GSAM{Alpha: 0.4, RhoMax: 0.05, RhoMin: 0.05},
		&LookSAM{Rho: 0.05, K: 1, Alpha: 0.7}, &ESAM{Rho: 0.05, Beta: 0.5, Gamma: 0.5}, &SSAM{Rho: 0.05, Sparsity: 0.5, NumSamples: 1},
		&SSAM{Rho: 0.05, Sparsity: 0.5, Dynamic: true, Drop: 0.5}} {
		h := newQuadHarness(t, 4)
		h.step(m, 0)
		if h.passes[0].FreezeStats || len(h.passes) < 2 {
			t.Errorf("%s: first pass %+v of %d: must update statistics and be followed by a perturbed pass", m.Name(), h.passes[0], len(h.passes))
		}
		for i, o := range h.passes[1:] {
			if !o.FreezeStats {
				t.Errorf("%s: pass %d does not freeze batch-norm statistics", m.Name(), i+2)
			}
		}
	}
}

// SSAM-D keeps its number of perturbed scalars, drops the live ones of
// smallest |g| at a refresh, grows only previously dead ones, and perturbs
// with ρ·m⊙g/‖g‖ using its current mask.
func TestSSAMDynamicMask(t *testing.T) {
	const rho, steps, period, total = 0.05, 9, 4, 40
	h := newSoftmaxHarness(t, total) // a long run, so the death rate stays high
	m := &SSAM{Rho: rho, Sparsity: 0.4, Dynamic: true, Drop: 0.5, RefreshSteps: period}
	n := h.net.W.Len()
	live := n - int(math.Ceil(0.4*float64(n)))
	var prev []float32
	for s := 0; s < steps; s++ {
		th := h.theta()
		g, _ := h.grad(s, th, nil)
		_, got := h.step(m, s)
		mask := slices.Clone(m.mask.Data)
		count := 0
		for _, v := range mask {
			if v != 0 && v != 1 {
				t.Fatalf("step %d: mask value %v", s, v)
			}
			count += int(v)
		}
		if count != live {
			t.Errorf("step %d: %d live scalars, want %d", s, count, live)
		}
		if s > 0 && s%period == 0 {
			rate := 0.5 * 0.5 * (1 + math.Cos(math.Pi*float64(s)/total))
			death := int(min(float64(live)*rate, float64(n)*0.4))
			var kept, dropped []int
			for i := range mask {
				switch {
				case prev[i] == 1 && mask[i] == 1:
					kept = append(kept, i)
				case prev[i] == 1 && mask[i] == 0:
					dropped = append(dropped, i)
				case prev[i] == 0 && mask[i] == 1:
					// grown: fine, it was dead
				}
			}
			if len(dropped) != death || death == 0 {
				t.Errorf("step %d: dropped %d, want %d (> 0)", s, len(dropped), death)
			}
			minKept := math.Inf(1)
			for _, i := range kept {
				minKept = min(minKept, math.Abs(g[i]))
			}
			for _, i := range dropped {
				if math.Abs(g[i]) > minKept+1e-7 {
					t.Errorf("step %d: dropped scalar %d has |g| %v above a kept one's %v", s, i, math.Abs(g[i]), minKept)
				}
			}
		} else if s > 0 && !slices.Equal(mask, prev) {
			t.Errorf("step %d: mask changed between refreshes", s)
		}
		eps := make([]float64, n)
		for i := range eps {
			eps[i] = float64(mask[i]) * rho / norm(g) * g[i]
		}
		gp, _ := h.grad(s, add(th, 1, eps), nil)
		checkVec(t, "ssam-d update", got, gp, maxAbs(g, gp))
		prev = mask
		h.move(0.5)
	}
}

// RST with p ≡ 0 is the plain step and with p ≡ 1 the sharp one, bit for
// bit; in between each step follows schedule.Draw.
func TestRSTFollowsDraws(t *testing.T) {
	for _, spec := range []string{"constant:0", "constant:1", "constant:0.5", "cos1"} {
		f, err := schedule.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		const steps = 40
		h, ref := newQuadHarness(t, steps), newQuadHarness(t, steps)
		m := &RST{Plain: Plain{}, Sharp: &SAM{Rho: 0.05}, P: f, Label: "rst"}
		sam := &SAM{Rho: 0.05}
		var sharp int
		for s := 0; s < steps; s++ {
			copy(ref.net.W.Data, h.net.W.Data)
			x := schedule.Draw(h.c.Seed, s, f.P(s, steps))
			r, got := h.step(m, s)
			var want []float32
			if x {
				sharp++
				_, want = ref.step(sam, s)
			} else {
				_, want = ref.step(Plain{}, s)
			}
			if r.Sharp != x || (x && r.Pairs != 2) || (!x && r.Pairs != 1) {
				t.Fatalf("%s step %d: result %+v for draw %v", spec, s, r, x)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s step %d: G[%d] = %v, the %v step gives %v", spec, s, i, got[i], x, want[i])
				}
			}
			h.move(0.5)
		}
		switch spec {
		case "constant:0":
			if sharp != 0 {
				t.Errorf("p ≡ 0 took %d sharp steps", sharp)
			}
		case "constant:1":
			if sharp != steps {
				t.Errorf("p ≡ 1 took %d sharp steps of %d", sharp, steps)
			}
		}
	}
}

// countingSharp is a sharp step that only counts: Δη tests need draws, not
// gradients.
type countingSharp struct{}

func (countingSharp) Name() string { return "count" }
func (countingSharp) Step(c *StepContext) StepResult {
	c.Pass(PassOptions{})
	c.Pass(PassOptions{FreezeStats: true})
	return StepResult{Pairs: 2, Sharp: true}
}

// For every family and 9 parameter values, the Δη RST realises over
// T = 10,000 steps lies in the 99.9% interval of its Poisson-binomial count
// (normal approximation, ±3.29σ plus ½ for continuity), and its draws are
// schedule.Draw's.
func TestRSTRealisedDeltaEta(t *testing.T) {
	const T = 10000
	var specs []string
	for i := 1; i <= 9; i++ {
		v := float64(i) / 10
		specs = append(specs,
			"constant:"+num(v), "piecewise:0,"+num(v), "piecewise:1,"+num(v), "piecewise:"+num(v)+",0.5",
			"linear1:"+num(v), "linear2:"+num(v), "linear:"+num(2*v-1)+","+num(1-v),
			"table:"+num(v)+",0.5,"+num(1-v), "expr:"+num(v)+"*x*x")
	}
	specs = append(specs, "cos1", "cos2", "sin1", "sin2")
	noop := func(PassOptions) PassResult { return PassResult{Samples: 1} }
	for _, spec := range specs {
		f, err := schedule.Parse(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		m := &RST{Plain: Plain{}, Sharp: countingSharp{}, P: f, Label: "rst"}
		c := &StepContext{Total: T, Seed: 2023, Pass: noop}
		var pairs float64
		for s := 0; s < T; s++ {
			c.Step = s
			pairs += m.Step(c).Pairs
		}
		extra := pairs - T
		if want := float64(schedule.Count(f, c.Seed, T)); extra != want {
			t.Errorf("%s: %v sharp steps, schedule.Count says %v", spec, extra, want)
		}
		mean := m.ExpectedDeltaEta(T) * T
		sd := math.Sqrt(schedule.CountVariance(f, T))
		if math.Abs(extra-mean) > 3.2905*sd+0.5 {
			t.Errorf("%s: realised Δη %.4f, expected %.4f: outside the 99.9%% interval ±%.4f", spec, extra/T, mean/T, (3.2905*sd+0.5)/T)
		}
	}
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// The mean of G-RST's update over many draws is GNR's with γ = p·k·ρ:
// E[G] = (1−p)g + p((1−k)g + k·g′) = (1 − pk)g + pk·g′. The batch is the
// same at every step, so the sample mean over N draws is exactly
// (1 − p̂k)g + p̂k·g′ and differs from GNR's by (p̂ − p)·k(g′ − g), with
// sd(p̂) = √(p(1−p)/N). Tolerance: 4 sd per entry, plus float32 rounding.
func TestGRSTMeanIsGNR(t *testing.T) {
	const rho, k, n = 0.05, 2.0, 20000
	for _, p := range []float64{0.3, 0.5, 0.8} {
		f, _ := schedule.Constant(p)
		h := newSoftmaxHarness(t, n)
		h.fixed = true
		m := &RST{Plain: Plain{}, Sharp: &GNR{Rho: rho, Gamma: k * rho}, P: f, Label: "grst"}
		mean := make([]float64, h.net.W.Len())
		for s := 0; s < n; s++ {
			_, got := h.step(m, s)
			for i, v := range got {
				mean[i] += float64(v) / n
			}
		}
		_, ref := h.step(&GNR{Rho: rho, Gamma: p * k * rho}, 0)
		gp, g := samAt(h, 0, h.theta(), rho)
		sd := math.Sqrt(p * (1 - p) / n)
		for i := range mean {
			bound := 4*sd*math.Abs(k*(gp[i]-g[i])) + 1e-6
			if d := math.Abs(mean[i] - float64(ref[i])); d > bound {
				t.Errorf("p=%v entry %d: mean G-RST update %v, GNR(γ=pkρ) %v: |diff| %.3g > %.3g", p, i, mean[i], ref[i], d, bound)
			}
		}
	}
}
