package nntest

import (
	"math"

	"github.com/rst-bench/rst/suite/nn"
)

// fdVar is one input of a finite-difference check: the tensor the forward
// kernel reads, its value, the backend's analytic gradient of the scalar
// objective with respect to it, and the step along a random direction.
type fdVar struct {
	t *nn.Tensor
	x []float32
	g []float32
	h float64
}

// fdCheck compares the analytic gradients with central differences of f
// (a float64 scalar computed from the backend's forward kernel) along
// `dirs` random directions d: f(x+hd) − f(x−hd) against Σ g·(x⁺ − x⁻),
// where x± are the float32 values actually uploaded, so rounding the
// perturbed inputs costs nothing. The tolerance is rel·Σ|g·(x⁺−x⁻)|: the
// size of the prediction without cancellation, so a gradient wrong on any
// sizeable set of coordinates fails while float32 noise in f and the odd
// kink crossed by the step (ReLU, max-pool) pass; plus 2·noise, a bound on
// the rounding error of one evaluation of f that does not cancel between
// the two (0 where the forward kernel is exact or the step is large).
func (e *env) fdCheck(what string, vars []fdVar, f func() float64, dirs int, rel, noise float64) {
	e.t.Helper()
	for k := 0; k < dirs; k++ {
		plus := make([][]float32, len(vars))
		minus := make([][]float32, len(vars))
		var pred, mag float64
		for i, v := range vars {
			plus[i], minus[i] = make([]float32, len(v.x)), make([]float32, len(v.x))
			for j, x := range v.x {
				d := v.h * e.r.NormFloat64()
				plus[i][j], minus[i][j] = float32(float64(x)+d), float32(float64(x)-d)
				step := float64(plus[i][j]) - float64(minus[i][j])
				pred += float64(v.g[j]) * step
				mag += math.Abs(float64(v.g[j]) * step)
			}
		}
		for i, v := range vars {
			e.b.Upload(v.t, plus[i])
		}
		fp := f()
		for i, v := range vars {
			e.b.Upload(v.t, minus[i])
		}
		fm := f()
		for _, v := range vars {
			e.b.Upload(v.t, v.x)
		}
		if diff := fp - fm; !(math.Abs(diff-pred) <= rel*mag+2*noise) {
			e.t.Errorf("%s: finite difference along direction %d is %.8g, the backward kernel predicts %.8g (|error| %.3g > %.3g = %g·Σ|g·step| + 2·%.3g)",
				what, k, diff, pred, math.Abs(diff-pred), rel*mag+2*noise, rel, noise)
		}
	}
}

// weighted is Σ r·y over y downloaded from the backend, in float64: the
// scalar objective whose gradient with respect to y is r.
func (e *env) weighted(y *nn.Tensor, r []float32) float64 {
	var s float64
	for i, v := range e.down(y) {
		s += float64(v) * float64(r[i])
	}
	return s
}
