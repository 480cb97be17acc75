package nntest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// bnShape is a batch-norm problem: shape (last dimension = channels) and
// the mean of the input, which is offset in one case so that a one-pass
// E[x²]−E[x]² variance loses the digits the tolerance asks for.
type bnShape struct {
	shape  []int
	offset float64
	eps    float32
}

var bnShapes = []bnShape{
	{[]int{2, 3, 3, 5}, 0.5, 1e-5},
	{[]int{1, 2, 2, 3}, 0.5, 1e-5}, // batch 1
	{[]int{7, 3}, 0.5, 1e-3},       // after a linear layer
	{[]int{1, 1, 1, 4}, 0.5, 1e-5}, // one row: zero variance, ε alone
	{[]int{8, 16, 16, 3}, 4, 1e-5}, // 2048 rows: chunked reductions
}

func batchNormKernels(t *testing.T, b nn.Backend, o Options) {
	for i, s := range bnShapes {
		for _, relu := range []bool{false, true} {
			name := fmt.Sprintf("%s_eps%g", shapeName(s.shape), s.eps)
			if relu {
				name += "/relu"
			}
			t.Run(name, func(t *testing.T) {
				run(t, b, o, uint64(200+i), func(e *env) { bnCase(e, s, relu) })
			})
		}
	}
}

// Tolerances: batch statistics are float32 sums over R rows, whose typical
// error is √R·u (3e-6 at R = 2048) of the magnitude and whose bound for
// the CPU's 256-row chunks is 256·u ≈ 1.5e-5; 3e-5 of the magnitude
// (|γ|(|x|+|μ|)/σ + |β| for y, the sum of absolute terms for the
// gradients) accepts either and still fails on a wrong divisor (R−1 for
// R), a missing term or a wrong sign. The affine part alone (inference)
// is a few roundings: 8u of the magnitude.
const bnTol = 3e-5

func bnCase(e *env, s bnShape, relu bool) {
	n := numel(s.shape)
	ch := s.shape[len(s.shape)-1]
	rows := n / ch
	xs := e.randn(n, 1, s.offset)
	gs, bs := e.randn(ch, 0.5, 1), e.randn(ch, 0.5, 0)
	x := e.tensor("x", xs, s.shape...)
	gamma, beta := e.tensor("gamma", gs, ch), e.tensor("beta", bs, ch)
	y := e.tensor("y", e.garbage(n), s.shape...)
	mean, vr := e.tensor("mean", e.garbage(ch), ch), e.tensor("variance", e.garbage(ch), ch)
	eps := float64(s.eps)

	// Training: y, and the batch mean and biased variance written out.
	e.b.BatchNormTrain(x, y, gamma, beta, mean, vr, s.eps, relu)
	ry, rmean, rvar := refBNTrain(f64(xs), rows, ch, f64(gs), f64(bs), eps, relu)
	_, ymag := refBNInfer(f64(xs), rows, ch, f64(gs), f64(bs), rmean, rvar, eps, relu)
	xmag := make([]float64, ch)
	for i, v := range xs {
		xmag[i%ch] += math.Abs(float64(v)) / float64(rows)
	}
	gotMean, gotVar, gotY := e.down(mean), e.down(vr), e.down(y)
	e.expect("BatchNormTrain mean", []int{ch}, gotMean, rmean, scaled(bnTol, xmag))
	// Plus 4u·E|x|², the rounding of squares of x-sized values, so that a
	// zero variance (one row) need not come out exactly zero.
	vtol := make([]float64, ch)
	for c := range vtol {
		vtol[c] = bnTol*rvar[c] + 4*u32*xmag[c]*xmag[c]
	}
	e.expect("BatchNormTrain variance (biased)", []int{ch}, gotVar, rvar, vtol)
	e.expect("BatchNormTrain y", s.shape, gotY, ry, scaled(bnTol, ymag))

	// Inference with given statistics, unrelated to the batch's.
	ms, vs := e.randn(ch, 0.5, s.offset), e.randn(ch, 0.3, 1.2)
	for i := range vs {
		vs[i] = float32(math.Abs(float64(vs[i])))
	}
	im, iv := e.tensor("run.mean", ms, ch), e.tensor("run.var", vs, ch)
	yi := e.tensor("y(infer)", e.garbage(n), s.shape...)
	e.b.BatchNormInfer(x, yi, gamma, beta, im, iv, s.eps, relu)
	want, mag := refBNInfer(f64(xs), rows, ch, f64(gs), f64(bs), f64(ms), f64(vs), eps, relu)
	e.expect("BatchNormInfer y", s.shape, e.down(yi), want, scaled(8*u32, mag))

	// Backward from the backend's own forward output and statistics, as
	// the layer calls it; the reference reads the same float32 values.
	dys := e.randn(n, 1, 0)
	dy := e.tensor("dy", dys, s.shape...)
	dx := e.tensor("dx", e.garbage(n), s.shape...)
	dg, db := e.tensor("dgamma", e.garbage(ch), ch), e.tensor("dbeta", e.garbage(ch), ch)
	e.b.BatchNormBackward(x, y, dy, dx, gamma, mean, vr, dg, db, s.eps, relu)
	r := refBNBackward(f64(xs), f64(gotY), f64(dys), rows, ch, f64(gs), f64(gotMean), f64(gotVar), eps, relu)
	gotDX, gotDG, gotDB := e.down(dx), e.down(dg), e.down(db)
	e.expect("BatchNormBackward dx", s.shape, gotDX, r.dx, scaled(bnTol, r.dxMag))
	e.expect("BatchNormBackward dgamma", []int{ch}, gotDG, r.dgamma, scaled(bnTol, r.dgMag))
	e.expect("BatchNormBackward dbeta", []int{ch}, gotDB, r.dbeta, scaled(bnTol, r.dbMag))

	// The layer passes a nil dx when no input gradient is needed.
	dg2, db2 := e.tensor("dgamma(nil dx)", e.garbage(ch), ch), e.tensor("dbeta(nil dx)", e.garbage(ch), ch)
	e.b.BatchNormBackward(x, y, dy, nil, gamma, mean, vr, dg2, db2, s.eps, relu)
	e.expect("BatchNormBackward(dx=nil) dgamma", []int{ch}, e.down(dg2), r.dgamma, scaled(bnTol, r.dgMag))
	e.expect("BatchNormBackward(dx=nil) dbeta", []int{ch}, e.down(db2), r.dbeta, scaled(bnTol, r.dbMag))

	// Finite differences of the training forward in x, γ and β. The step
	// 1e-3 keeps ReLU crossings rare; float32 noise in Σ dy·y over the
	// step is about u·√n/1e-3 of the prediction's size, so 2e-3 of it,
	// plus the rounding of the affine part of each output (4u of its
	// magnitude), which does not cancel: it dominates when σ = √ε.
	var noise float64
	for i, m := range ymag {
		noise += 4 * u32 * m * math.Abs(float64(dys[i]))
	}
	yf := e.tensor("y(fd)", e.garbage(n), s.shape...)
	mf, vf := e.tensor("mean(fd)", e.garbage(ch), ch), e.tensor("variance(fd)", e.garbage(ch), ch)
	f := func() float64 {
		e.b.BatchNormTrain(x, yf, gamma, beta, mf, vf, s.eps, relu)
		return e.weighted(yf, dys)
	}
	e.fdCheck("BatchNormBackward vs finite differences", []fdVar{
		{t: x, x: xs, g: gotDX, h: 1e-3},
		{t: gamma, x: gs, g: gotDG, h: 1e-3},
		{t: beta, x: bs, g: gotDB, h: 1e-3},
	}, f, 3, 2e-3, noise)
}
