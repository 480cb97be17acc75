package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// The transformer kernels: layer norm, GELU, batched GEMM, row softmax,
// the heads' permutations and the strided copy.
func transformerKernels(t *testing.T, b nn.Backend, o Options) {
	for i, s := range lnShapes {
		t.Run(fmt.Sprintf("LayerNorm/%s_offset%g", shapeName(s.shape), s.offset), func(t *testing.T) {
			run(t, b, o, uint64(900+i), func(e *env) { layerNormCase(e, s) })
		})
	}
	for _, n := range []int{1, 7, 1000, 100003} {
		t.Run(fmt.Sprintf("GELU/n%d", n), func(t *testing.T) {
			run(t, b, o, uint64(n), func(e *env) { geluCase(e, n) })
		})
	}
	for i, s := range bmmShapes {
		for _, tr := range []struct{ a, b bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range []struct{ alpha, beta float32 }{{1, 0}, {-0.5, 0.75}} {
				name := fmt.Sprintf("BatchedMatMul/%dx%dx%dx%d/%s/alpha%g_beta%g", s[0], s[1], s[2], s[3], transName(tr.a, tr.b), ab.alpha, ab.beta)
				t.Run(name, func(t *testing.T) {
					run(t, b, o, uint64(950+i), func(e *env) { batchedMatMulCase(e, s, tr.a, tr.b, ab.alpha, ab.beta) })
				})
			}
		}
	}
	for i, s := range softmaxShapes {
		for _, inPlace := range []bool{false, true} {
			name := fmt.Sprintf("SoftmaxRows/%s_scale%g", shapeName(s.shape), s.scale)
			if inPlace {
				name += "/in-place"
			}
			t.Run(name, func(t *testing.T) {
				run(t, b, o, uint64(980+i), func(e *env) { softmaxCase(e, s.shape, s.scale, inPlace) })
			})
		}
	}
	for i, s := range headShapes {
		t.Run(fmt.Sprintf("Heads/n%d_t%d_parts%d_heads%d_d%d", s.n, s.t, s.parts, s.heads, s.d), func(t *testing.T) {
			run(t, b, o, uint64(990+i), func(e *env) { headsCase(e, s) })
		})
	}
	t.Run("StridedCopy", func(t *testing.T) {
		run(t, b, o, 999, func(e *env) { stridedCopyCase(e) })
	})
}

// lnShapes: tokens, a 2-D batch, one feature (zero variance: ε alone), and
// 394 rows (the CPU's column sums run in chunks of 256) of inputs offset
// from zero, so that a one-pass variance E[x²]−E[x]² loses the digits
// the tolerance asks for.
type lnShape struct {
	shape  []int
	offset float64
	eps    float32
}

var lnShapes = []lnShape{
	{[]int{2, 3, 5}, 0.5, 1e-6},
	{[]int{7, 16}, 0.5, 1e-5},
	{[]int{3, 1}, 0.5, 1e-6},
	{[]int{2, 197, 24}, 4, 1e-6},
}

// lnTol: the statistics are float32 (or float64) sums over a row of C
// values; any summation order is within C·u of the magnitude, and 1e-5
// (≈ 170u) of it is ample for the rows here while a wrong divisor (C−1),
// a missing term or a wrong sign is off by far more.
const lnTol = 1e-5

func layerNormCase(e *env, s lnShape) {
	n := numel(s.shape)
	c := s.shape[len(s.shape)-1]
	rows := n / c
	xs := e.randn(n, 1, s.offset)
	gs, bs := e.randn(c, 0.5, 1), e.randn(c, 0.5, 0)
	x := e.tensor("x", xs, s.shape...)
	gamma, beta := e.tensor("gamma", gs, c), e.tensor("beta", bs, c)
	y := e.tensor("y", e.garbage(n), s.shape...)
	mean, rstd := e.tensor("mean", e.garbage(rows), rows), e.tensor("rstd", e.garbage(rows), rows)
	eps := float64(s.eps)

	e.b.LayerNorm(x, y, gamma, beta, mean, rstd, s.eps)
	wm, wr := make([]float64, rows), make([]float64, rows)
	mtol, rtol := make([]float64, rows), make([]float64, rows)
	wy, ytol := make([]float64, n), make([]float64, n)
	for r := 0; r < rows; r++ {
		var sum, mag float64
		for j := 0; j < c; j++ {
			sum += float64(xs[r*c+j])
			mag += math.Abs(float64(xs[r*c+j]))
		}
		m := sum / float64(c)
		var q float64
		for j := 0; j < c; j++ {
			d := float64(xs[r*c+j]) - m
			q += d * d
		}
		wm[r], wr[r] = m, 1/math.Sqrt(q/float64(c)+eps)
		mtol[r] = lnTol * mag / float64(c)
		// The error of the variance, relative, plus 4u·E|x|² for the
		// rounding of squares (one feature: variance 0, ε alone).
		vtol := lnTol*q/float64(c) + 4*u32*(mag/float64(c))*(mag/float64(c))
		rtol[r] = 0.5*wr[r]*vtol/(q/float64(c)+eps) + lnTol*wr[r]
		for j := 0; j < c; j++ {
			i := r*c + j
			xh := (float64(xs[i]) - m) * wr[r]
			wy[i] = xh*float64(gs[j]) + float64(bs[j])
			ytol[i] = lnTol*((math.Abs(float64(xs[i]))+math.Abs(m))*wr[r]*math.Abs(float64(gs[j]))+math.Abs(float64(bs[j]))) +
				math.Abs(float64(gs[j]))*math.Abs(xh)*rtol[r]/wr[r]
		}
	}
	gotM, gotR := e.down(mean), e.down(rstd)
	e.expect("LayerNorm mean", []int{rows}, gotM, wm, mtol)
	e.expect("LayerNorm rstd", []int{rows}, gotR, wr, rtol)
	e.expect("LayerNorm y", s.shape, e.down(y), wy, ytol)

	// Backward from the backend's own statistics, as the layer calls it;
	// the reference reads the same float32 values.
	dys := e.randn(n, 1, 0)
	dy := e.tensor("dy", dys, s.shape...)
	dx := e.tensor("dx", e.garbage(n), s.shape...)
	dg, db := e.tensor("dgamma", e.garbage(c), c), e.tensor("dbeta", e.garbage(c), c)
	e.b.LayerNormBackward(x, dy, dx, gamma, mean, rstd, dg, db)
	rdx, dxMag := make([]float64, n), make([]float64, n)
	rdg, dgMag, rdb, dbMag := make([]float64, c), make([]float64, c), make([]float64, c), make([]float64, c)
	for r := 0; r < rows; r++ {
		m, rs := float64(gotM[r]), float64(gotR[r])
		var a, b, aMag, bMag float64
		for j := 0; j < c; j++ {
			i := r*c + j
			xh := (float64(xs[i]) - m) * rs
			g := float64(dys[i]) * float64(gs[j])
			a += g
			b += g * xh
			aMag += math.Abs(g)
			bMag += math.Abs(g * xh)
			rdg[j] += float64(dys[i]) * xh
			dgMag[j] += math.Abs(float64(dys[i]) * xh)
			rdb[j] += float64(dys[i])
			dbMag[j] += math.Abs(float64(dys[i]))
		}
		for j := 0; j < c; j++ {
			i := r*c + j
			xh := (float64(xs[i]) - m) * rs
			g := float64(dys[i]) * float64(gs[j])
			rdx[i] = rs * (g - a/float64(c) - xh*b/float64(c))
			dxMag[i] = rs * (math.Abs(g) + aMag/float64(c) + (math.Abs(xh)+u32*(math.Abs(float64(xs[i]))+math.Abs(m))*rs)*bMag/float64(c))
		}
	}
	gotDX, gotDG, gotDB := e.down(dx), e.down(dg), e.down(db)
	e.expect("LayerNormBackward dx", s.shape, gotDX, rdx, scaled(lnTol, dxMag))
	e.expect("LayerNormBackward dgamma", []int{c}, gotDG, rdg, scaled(lnTol, dgMag))
	e.expect("LayerNormBackward dbeta", []int{c}, gotDB, rdb, scaled(lnTol, dbMag))

	dg2, db2 := e.tensor("dgamma(nil dx)", e.garbage(c), c), e.tensor("dbeta(nil dx)", e.garbage(c), c)
	e.b.LayerNormBackward(x, dy, nil, gamma, mean, rstd, dg2, db2)
	e.expect("LayerNormBackward(dx=nil) dgamma", []int{c}, e.down(dg2), rdg, scaled(lnTol, dgMag))
	e.expect("LayerNormBackward(dx=nil) dbeta", []int{c}, e.down(db2), rdb, scaled(lnTol, dbMag))

	// Finite differences of the forward in x, γ and β, as for batch-norm:
	// a step of 1e-3, 2e-3 of the prediction's size, plus the rounding of
	// each output (4u of its magnitude), which does not cancel.
	var noise float64
	for i := range wy {
		noise += 4 * u32 * ytol[i] / lnTol * math.Abs(float64(dys[i]))
	}
	yf := e.tensor("y(fd)", e.garbage(n), s.shape...)
	mf, rf := e.tensor("mean(fd)", e.garbage(rows), rows), e.tensor("rstd(fd)", e.garbage(rows), rows)
	f := func() float64 {
		e.b.LayerNorm(x, yf, gamma, beta, mf, rf, s.eps)
		return e.weighted(yf, dys)
	}
	vars := []fdVar{{t: gamma, x: gs, g: gotDG, h: 1e-3}, {t: beta, x: bs, g: gotDB, h: 1e-3}}
	if c > 1 { // one feature: y = β whatever x, and dx = 0
		vars = append(vars, fdVar{t: x, x: xs, g: gotDX, h: 1e-3})
	}
	e.fdCheck("LayerNormBackward vs finite differences", vars, f, 3, 2e-3, noise)
}

// GELU: the exact erf form. Tolerances: erf in float32 (the CPU's rational
// approximation, CUDA's erff) is within a few u of 1 + erf, so y errs by
// a few u of |x|, and dx by a few u of |dy|·(1 + |x|·φ(x)); 16u of those
// passes float32 implementations and fails the tanh approximation (off by
// up to 5e-4·|x|) or a wrong φ.
func geluCase(e *env, n int) {
	xs := e.randn(n, 2, 0)
	// Large and tiny arguments: Φ saturates, and y must stay x·Φ(x).
	for i, v := range []float32{0, -0.5, 6, -6, 12, -12, 1e-4, -40} {
		if i < n {
			xs[i] = v
		}
	}
	x, y := e.tensor("x", xs, n), e.tensor("y", e.garbage(n), n)
	e.b.GELU(x, y)
	want, tol := make([]float64, n), make([]float64, n)
	for i, v := range xs {
		xv := float64(v)
		want[i] = 0.5 * xv * (1 + math.Erf(xv/math.Sqrt2))
		tol[i] = 16*u32*math.Abs(xv) + 1e-37
	}
	e.expect("GELU y", []int{n}, e.down(y), want, tol)

	dys := e.randn(n, 1, 0)
	dy, dx := e.tensor("dy", dys, n), e.tensor("dx", e.garbage(n), n)
	e.b.GELUBackward(x, dy, dx)
	for i, v := range xs {
		xv := float64(v)
		pdf := math.Exp(-xv*xv/2) / math.Sqrt(2*math.Pi)
		want[i] = float64(dys[i]) * (0.5*(1+math.Erf(xv/math.Sqrt2)) + xv*pdf)
		tol[i] = 16*u32*math.Abs(float64(dys[i]))*(1+math.Abs(xv)*pdf) + 1e-37
	}
	e.expect("GELUBackward dx", []int{n}, e.down(dx), want, tol)
}

// bmmShapes are [batch, m, n, k]: one element, odd sizes, and a product of
// 2^18 multiply-adds, from which the CPU runs the batch's products one
// after another on its threaded GEMM instead of side by side.
var bmmShapes = [][4]int{{1, 1, 1, 1}, {3, 5, 7, 3}, {7, 17, 9, 33}, {2, 64, 64, 64}}

func batchedMatMulCase(e *env, s [4]int, ta, tb bool, alpha, beta float32) {
	nb, m, n, k := s[0], s[1], s[2], s[3]
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	as, bs, cs := e.randn(nb*ar*ac, 1, 0), e.randn(nb*br*bc, 1, 0), e.garbage(nb*m*n)
	a, bt, c := e.tensor("a", as, nb, ar, ac), e.tensor("b", bs, nb, br, bc), e.tensor("c", cs, nb, m, n)
	e.b.BatchedMatMul(ta, tb, alpha, a, bt, beta, c)
	var want, tol []float64
	for i := 0; i < nb; i++ {
		w, mag, terms := refMatMul(ta, tb, float64(alpha), f64(as[i*ar*ac:(i+1)*ar*ac]), ar, ac,
			f64(bs[i*br*bc:(i+1)*br*bc]), br, bc, float64(beta), f64(cs[i*m*n:(i+1)*m*n]))
		want = append(want, w...)
		for _, v := range mag {
			tol = append(tol, e.gemmTol(terms, v))
		}
	}
	e.expect("BatchedMatMul c", []int{nb, m, n}, e.down(c), want, tol)
}

var softmaxShapes = []struct {
	shape []int
	scale float64 // 30 overflows a float32 exp taken without the row maximum
}{
	{[]int{1, 1}, 1},
	{[]int{3, 7}, 3},
	{[]int{2, 3, 50}, 30},
	{[]int{24, 197}, 3},
}

// Softmax tolerances: each probability is e^(x−max)/Σ; rounding x−max
// costs u·|x−max| of the exponential, exp itself a few u, the sum a few
// more: 8u·p·(1 + |x−max| + Σ_k p_k·|x_k−max|). The backward's row sum
// Σ y·dy is a float32 sum of C terms.
func softmaxCase(e *env, shape []int, scale float64, inPlace bool) {
	n := numel(shape)
	c := shape[len(shape)-1]
	rows := n / c
	xs := e.randn(n, scale, 1)
	x := e.tensor("x", xs, shape...)
	y := x
	if !inPlace {
		y = e.tensor("y", e.garbage(n), shape...)
	}
	e.b.SoftmaxRows(x, y)
	want, tol := make([]float64, n), make([]float64, n)
	for r := 0; r < rows; r++ {
		mx := math.Inf(-1)
		for j := 0; j < c; j++ {
			mx = max(mx, float64(xs[r*c+j]))
		}
		var z, spread float64
		for j := 0; j < c; j++ {
			want[r*c+j] = math.Exp(float64(xs[r*c+j]) - mx)
			z += want[r*c+j]
		}
		for j := 0; j < c; j++ {
			want[r*c+j] /= z
			spread += want[r*c+j] * (mx - float64(xs[r*c+j]))
		}
		for j := 0; j < c; j++ {
			tol[r*c+j] = 8*u32*want[r*c+j]*(1+mx-float64(xs[r*c+j])+spread) + 1e-38
		}
	}
	gotY := e.down(y)
	e.expect("SoftmaxRows y", shape, gotY, want, tol)

	// Backward from the backend's own y.
	dys := e.randn(n, 1, 0)
	dy := e.tensor("dy", dys, shape...)
	dx := dy
	if !inPlace {
		dx = e.tensor("dx", e.garbage(n), shape...)
	}
	e.b.SoftmaxRowsBackward(y, dy, dx)
	for r := 0; r < rows; r++ {
		var s, mag float64
		for j := 0; j < c; j++ {
			s += float64(gotY[r*c+j]) * float64(dys[r*c+j])
			mag += math.Abs(float64(gotY[r*c+j]) * float64(dys[r*c+j]))
		}
		for j := 0; j < c; j++ {
			i := r*c + j
			p := float64(gotY[i])
			want[i] = p * (float64(dys[i]) - s)
			tol[i] = float64(c+4)*u32*p*(math.Abs(float64(dys[i]))+mag) + 1e-38
		}
	}
	gotDX := e.down(dx)
	e.expect("SoftmaxRowsBackward dx", shape, gotDX, want, tol)
	if inPlace {
		return
	}
	// Finite differences of the backend's forward in x: the prediction
	// and the difference agree to 1e-3 of the prediction's size at a step
	// of 1e-3 (float32 noise in Σ dy·y over the step is far below that).
	var noise float64
	for i := range want {
		noise += 4 * u32 * float64(gotY[i]) * math.Abs(float64(dys[i]))
	}
	yf := e.tensor("y(fd)", e.garbage(n), shape...)
	f := func() float64 { e.b.SoftmaxRows(x, yf); return e.weighted(yf, dys) }
	e.fdCheck("SoftmaxRowsBackward vs finite differences", []fdVar{{t: x, x: xs, g: gotDX, h: 1e-3}}, f, 3, 1e-3, noise)
}

var headShapes = []struct{ n, t, parts, heads, d int }{
	{2, 3, 3, 2, 4},
	{1, 5, 1, 3, 1},
	{3, 1, 2, 1, 5},
	{4, 17, 3, 6, 8},
}

// SplitHeads and MergeHeads move values: exact.
func headsCase(e *env, s struct{ n, t, parts, heads, d int }) {
	f := s.parts * s.heads * s.d
	n := s.n * s.t * f
	xs := e.randn(n, 1, 0)
	x := e.tensor("x", xs, s.n, s.t, f)
	y := e.tensor("y", e.garbage(n), s.parts, s.n*s.heads, s.t, s.d)
	e.b.SplitHeads(x, y, s.parts, s.heads)
	want := make([]float64, n)
	for i := 0; i < s.n; i++ {
		for t := 0; t < s.t; t++ {
			for p := 0; p < s.parts; p++ {
				for h := 0; h < s.heads; h++ {
					for d := 0; d < s.d; d++ {
						want[(((p*s.n+i)*s.heads+h)*s.t+t)*s.d+d] = float64(xs[(i*s.t+t)*f+(p*s.heads+h)*s.d+d])
					}
				}
			}
		}
	}
	yShape := []int{s.parts, s.n * s.heads, s.t, s.d}
	e.expectExact("SplitHeads y", yShape, e.down(y), want)

	ys := e.randn(n, 1, 0)
	y2 := e.tensor("y(merge)", ys, yShape...)
	x2 := e.tensor("x(merge)", e.garbage(n), s.n, s.t, f)
	e.b.MergeHeads(y2, x2, s.parts, s.heads)
	for i := 0; i < s.n; i++ {
		for t := 0; t < s.t; t++ {
			for p := 0; p < s.parts; p++ {
				for h := 0; h < s.heads; h++ {
					for d := 0; d < s.d; d++ {
						want[(i*s.t+t)*f+(p*s.heads+h)*s.d+d] = float64(ys[(((p*s.n+i)*s.heads+h)*s.t+t)*s.d+d])
					}
				}
			}
		}
	}
	e.expectExact("MergeHeads x", []int{s.n, s.t, f}, e.down(x2), want)
}

// StridedCopy: a class token broadcast into row 0 of every sample, the
// patches into the rows after it, and back out; elements between the rows
// keep their values. Exact.
func stridedCopyCase(e *env) {
	const n, t, c = 3, 4, 5
	cls := e.randn(c, 1, 0)
	pat := e.randn(n*t*c, 1, 0)
	old := e.garbage(n * (t + 1) * c)
	tok := e.tensor("cls", cls, c)
	x := e.tensor("patches", pat, n, t, c)
	y := e.tensor("y", old, n, t+1, c)
	e.b.StridedCopy(y, 0, (t+1)*c, tok, 0, 0, n, c)
	want := f64(old)
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			want[i*(t+1)*c+j] = float64(cls[j])
		}
	}
	e.expectExact("StridedCopy (broadcast) y", []int{n, t + 1, c}, e.down(y), want)
	e.b.StridedCopy(y, c, (t+1)*c, x, 0, t*c, n, t*c)
	for i := 0; i < n; i++ {
		for j := 0; j < t*c; j++ {
			want[i*(t+1)*c+c+j] = float64(pat[i*t*c+j])
		}
	}
	e.expectExact("StridedCopy (rows) y", []int{n, t + 1, c}, e.down(y), want)
	// Rows of 2 at offset 3 of every sample, into a packed [n, 2].
	out := e.tensor("out", e.garbage(2*n), n, 2)
	e.b.StridedCopy(out, 0, 2, y, 3, (t+1)*c, n, 2)
	got := make([]float64, 2*n)
	for i := 0; i < n; i++ {
		got[2*i], got[2*i+1] = want[i*(t+1)*c+3], want[i*(t+1)*c+4]
	}
	e.expectExact("StridedCopy (offset) out", []int{n, 2}, e.down(out), got)
}
