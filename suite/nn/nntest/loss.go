package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

func lossKernels(t *testing.T, b nn.Backend, o Options) {
	for i, c := range []struct {
		n, k  int
		scale float64 // logits' spread: 60 overflows a naive float32 exp
	}{{1, 2, 3}, {5, 10, 3}, {64, 100, 3}, {4, 10, 60}} {
		for _, sm := range []float32{0, 0.1} {
			name := fmt.Sprintf("%dx%d_scale%g/smoothing%g", c.n, c.k, c.scale, sm)
			t.Run(name, func(t *testing.T) {
				run(t, b, o, uint64(700+i), func(e *env) { lossCase(e, c.n, c.k, c.scale, sm) })
			})
		}
	}
}

// Tolerances: a float32 log-sum-exp errs by a few u of the logits' size,
// and each softmax probability by a few u of itself; 16u of
// (Σq|z| + |log Z| + 1) for the loss and 16u·(p+q)/N for the gradient
// allow float32 kernels, and still catch a missing smoothing term (s/K)
// or a sum where a mean was asked for.
func lossCase(e *env, n, k int, scale float64, sm float32) {
	zs := e.randn(n*k, scale, 0)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(e.r.IntN(k))
	}
	z := e.tensor("logits", zs, n, k)
	dz := e.tensor("dlogits", e.garbage(n*k), n, k)
	per := make([]float32, n)
	got := e.b.SoftmaxCrossEntropy(z, labels, sm, dz, per)
	want, wper, wdz := refSoftmaxCE(f64(zs), n, k, labels, float64(sm))

	ptol, dtol := make([]float64, n), make([]float64, n*k)
	var ltol float64
	for i := 0; i < n; i++ {
		var mx, logZ float64
		for j := 0; j < k; j++ {
			mx = max(mx, math.Abs(float64(zs[i*k+j])))
		}
		logZ = math.Abs(wper[i]) + mx // bounds |log Z| well enough
		ptol[i] = 16 * u32 * (2*mx + logZ + 1)
		ltol += ptol[i] / float64(n)
		for j := 0; j < k; j++ {
			q := float64(sm) / float64(k)
			if j == int(labels[i]) {
				q += 1 - float64(sm)
			}
			p := wdz[i*k+j]*float64(n) + q
			dtol[i*k+j] = 16*u32*(p+q)/float64(n) + 1e-30
		}
	}
	e.expectScalar("SoftmaxCrossEntropy loss", got, want, ltol)
	e.expect("SoftmaxCrossEntropy perSample", []int{n}, per, wper, ptol)
	gotDZ := e.down(dz)
	e.expect("SoftmaxCrossEntropy dlogits", []int{n, k}, gotDZ, wdz, dtol)

	// Either output may be nil; the loss does not change.
	if l := e.b.SoftmaxCrossEntropy(z, labels, sm, nil, nil); l != got {
		e.t.Errorf("SoftmaxCrossEntropy with nil outputs = %.10g, with outputs %.10g", l, got)
	}
	per2 := make([]float32, n)
	if l := e.b.SoftmaxCrossEntropy(z, labels, sm, nil, per2); l != got {
		e.t.Errorf("SoftmaxCrossEntropy with nil dlogits = %.10g, with it %.10g", l, got)
	}
	e.expect("SoftmaxCrossEntropy perSample (nil dlogits)", []int{n}, per2, f64(per), same(n, 0))

	// The loss is smooth: step 1e-3 of the logits' spread; its float64
	// value from float32 logits is exact to ~u·|z|, far below 1e-3 of
	// the prediction.
	f := func() float64 { return e.b.SoftmaxCrossEntropy(z, labels, sm, nil, nil) }
	e.fdCheck("SoftmaxCrossEntropy dlogits vs finite differences", []fdVar{{t: z, x: zs, g: gotDZ, h: 1e-3 * scale}}, f, 2, 1e-3, 0)
}

func argmaxKernel(t *testing.T, b nn.Backend, o Options) {
	for i, c := range []struct {
		n, k int
		ties bool
	}{{7, 10, false}, {3, 1, false}, {50, 13, true}} {
		t.Run(fmt.Sprintf("%dx%d_ties%v", c.n, c.k, c.ties), func(t *testing.T) {
			run(t, b, o, uint64(800+i), func(e *env) {
				zs := e.randn(c.n*c.k, 1, 0)
				if c.ties {
					for j, v := range zs {
						zs[j] = float32(math.Round(float64(v)))
					}
				}
				z := e.tensor("logits", zs, c.n, c.k)
				out := make([]int32, c.n)
				for j := range out {
					out[j] = -7
				}
				e.b.Argmax(z, out)
				// Any index of a largest value is an argmax.
				for r, a := range out {
					row := zs[r*c.k : (r+1)*c.k]
					mx := row[0]
					for _, v := range row {
						mx = max(mx, v)
					}
					if a < 0 || int(a) >= c.k || row[a] != mx {
						e.t.Errorf("Argmax row %d = %d, but its largest value %v is elsewhere: %v", r, a, mx, row)
					}
				}
			})
		})
	}
}

func optimizerKernels(t *testing.T, b nn.Backend, o Options) {
	for _, n := range []int{1, 1000, 100003} {
		for _, c := range []struct {
			mu       float32
			nesterov bool
		}{{0, false}, {0.9, false}, {0.9, true}} {
			t.Run(fmt.Sprintf("SGDMomentum/n%d/mu%g_nesterov%v", n, c.mu, c.nesterov), func(t *testing.T) {
				run(t, b, o, uint64(n), func(e *env) { sgdCase(e, n, c.mu, c.nesterov) })
			})
		}
		for _, c := range []struct {
			step int
			eps  float32
		}{{1, 1e-8}, {10, 1e-8}, {3, 1e-3}} {
			t.Run(fmt.Sprintf("AdamW/n%d/step%d_eps%g", n, c.step, c.eps), func(t *testing.T) {
				run(t, b, o, uint64(n), func(e *env) { adamWCase(e, n, c.step, c.eps) })
			})
		}
	}
}

// sgdCase checks optim.SGD's formula: v ← μv + g; w ← w − lr·v, or
// w ← w − lr·(g + μv) with Nesterov (v the new velocity). Each is a few
// roundings: 2u of the terms for v, 6u for w.
func sgdCase(e *env, n int, mu float32, nesterov bool) {
	ws, gs, vs := e.randn(n, 1, 0), e.randn(n, 1, 0), e.randn(n, 1, 0)
	w, g, v := e.tensor("w", ws, n), e.tensor("g", gs, n), e.tensor("v", vs, n)
	const lr = float32(0.05)
	e.b.SGDMomentum(w, g, v, lr, mu, nesterov)
	ww, wv, tw, tv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range ww {
		m, gi, lrf := float64(mu), float64(gs[i]), float64(lr)
		wv[i] = m*float64(vs[i]) + gi
		tv[i] = 2 * u32 * (math.Abs(m*float64(vs[i])) + math.Abs(gi))
		// The new velocity's own rounding is relative to |μv|+|g|.
		step, vmag := wv[i], math.Abs(m*float64(vs[i]))+math.Abs(gi)
		smag := vmag
		if nesterov {
			step = gi + m*wv[i]
			smag = math.Abs(gi) + m*vmag
		}
		ww[i] = float64(ws[i]) - lrf*step
		tw[i] = 6 * u32 * (math.Abs(float64(ws[i])) + lrf*smag)
	}
	e.expect("SGDMomentum v", []int{n}, e.down(v), wv, tv)
	e.expect("SGDMomentum w", []int{n}, e.down(w), ww, tw)
}

// adamWCase checks optim.AdamW's formula: m ← β1m + (1−β1)g,
// v ← β2v + (1−β2)g², w ← w − lr·(m̂/(√v̂+ε) + λw) with m̂ = m/bc1,
// v̂ = v/bc2 and the old w in the decay. About ten roundings reach the
// step: 3u of the terms for m and v, 2u of |w| plus 12u of the step.
func adamWCase(e *env, n, step int, eps float32) {
	ws, gs, ms, vs := e.randn(n, 1, 0), e.randn(n, 1, 0), e.randn(n, 0.1, 0), e.randn(n, 0.01, 0)
	for i := range vs {
		vs[i] = vs[i] * vs[i]
	}
	w, g, m, v := e.tensor("w", ws, n), e.tensor("g", gs, n), e.tensor("m", ms, n), e.tensor("v", vs, n)
	const lr, b1, b2, decay = float32(1e-3), float32(0.9), float32(0.999), float32(0.01)
	bc1 := 1 - float32(math.Pow(float64(b1), float64(step)))
	bc2 := 1 - float32(math.Pow(float64(b2), float64(step)))
	e.b.AdamW(w, g, m, v, lr, b1, b2, eps, decay, bc1, bc2)
	wm, wv, ww := make([]float64, n), make([]float64, n), make([]float64, n)
	tm, tv, tw := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range wm {
		gi := float64(gs[i])
		wm[i] = float64(b1)*float64(ms[i]) + (1-float64(b1))*gi
		tm[i] = 3 * u32 * (math.Abs(float64(b1)*float64(ms[i])) + math.Abs((1-float64(b1))*gi))
		wv[i] = float64(b2)*float64(vs[i]) + (1-float64(b2))*gi*gi
		tv[i] = 3 * u32 * (float64(b2)*float64(vs[i]) + (1-float64(b2))*gi*gi)
		ratio := wm[i] / float64(bc1) / (math.Sqrt(wv[i]/float64(bc2)) + float64(eps))
		ww[i] = float64(ws[i]) - float64(lr)*(ratio+float64(decay)*float64(ws[i]))
		tw[i] = 2*u32*math.Abs(float64(ws[i])) + 12*u32*float64(lr)*(math.Abs(ratio)+math.Abs(float64(decay)*float64(ws[i])))
	}
	e.expect("AdamW m", []int{n}, e.down(m), wm, tm)
	e.expect("AdamW v", []int{n}, e.down(v), wv, tv)
	e.expect("AdamW w", []int{n}, e.down(w), ww, tw)
}
