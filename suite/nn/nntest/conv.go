package nntest

import (
	"fmt"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// convShapes cover the paths a backend may special-case: 3×3 with and
// without padding, stride 2 on odd sizes, 1×1 (a plain GEMM in NHWC) at
// stride 1 and 2, a non-square window, padding as large as the window
// minus one, batch 1, odd channel counts, and one problem big enough that
// the CPU backend splits it into chunks of images (its dw accumulates
// across chunks).
var convShapes = []convShape{
	{N: 2, H: 5, W: 5, C: 3, Cout: 4, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{N: 1, H: 7, W: 6, C: 5, Cout: 3, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 2, Pad: 1}},
	{N: 3, H: 4, W: 4, C: 7, Cout: 5, G: nn.ConvGeom{KH: 1, KW: 1, Stride: 1, Pad: 0}},
	{N: 2, H: 5, W: 5, C: 3, Cout: 2, G: nn.ConvGeom{KH: 1, KW: 1, Stride: 2, Pad: 0}},
	{N: 2, H: 6, W: 5, C: 2, Cout: 3, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 0}},
	{N: 1, H: 6, W: 7, C: 3, Cout: 2, G: nn.ConvGeom{KH: 2, KW: 3, Stride: 2, Pad: 1}},
	{N: 2, H: 4, W: 5, C: 1, Cout: 3, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 2}},
	{N: 9, H: 32, W: 32, C: 16, Cout: 8, G: nn.ConvGeom{KH: 3, KW: 3, Stride: 1, Pad: 1}},
}

func (s convShape) String() string {
	return fmt.Sprintf("n%d_%dx%dx%d_to%d_k%dx%ds%dp%d", s.N, s.H, s.W, s.C, s.Cout, s.G.KH, s.G.KW, s.G.Stride, s.G.Pad)
}

func convKernels(t *testing.T, b nn.Backend, o Options) {
	for i, s := range convShapes {
		t.Run(s.String(), func(t *testing.T) {
			run(t, b, o, uint64(100+i), func(e *env) { convCase(e, s) })
		})
	}
}

func convCase(e *env, s convShape) {
	oh, ow := s.out()
	xShape := []int{s.N, s.H, s.W, s.C}
	wShape := []int{s.Cout, s.G.KH, s.G.KW, s.C}
	yShape := []int{s.N, oh, ow, s.Cout}
	xs, ws, dys := e.randn(numel(xShape), 1, 0.2), e.randn(numel(wShape), 1, 0), e.randn(numel(yShape), 1, 0)
	x, w := e.tensor("x", xs, xShape...), e.tensor("w", ws, wShape...)
	y := e.tensor("y", e.garbage(numel(yShape)), yShape...)

	// Forward: a float32 GEMM-like sum of up to KH·KW·Cin products.
	e.b.Conv2D(x, w, y, s.G)
	want, mag, terms := refConv(f64(xs), f64(ws), s)
	e.expect("Conv2D y", yShape, e.down(y), want, e.termTol(terms, mag))

	// Backward, dx and dw over garbage: both must be overwritten.
	dy := e.tensor("dy", dys, yShape...)
	dx, dw := e.tensor("dx", e.garbage(len(xs)), xShape...), e.tensor("dw", e.garbage(len(ws)), wShape...)
	e.b.Conv2DBackward(x, w, dy, dx, dw, s.G)
	rdx, dxMag, dxTerms, rdw, dwMag, dwTerms := refConvBackward(f64(xs), f64(ws), f64(dys), s)
	gotDX, gotDW := e.down(dx), e.down(dw)
	e.expect("Conv2DBackward dx", xShape, gotDX, rdx, e.termTol(dxTerms, dxMag))
	e.expect("Conv2DBackward dw", wShape, gotDW, rdw, e.termTol(dwTerms, dwMag))

	// A nil dx (the first layer's) still gives dw.
	dw2 := e.tensor("dw(nil dx)", e.garbage(len(ws)), wShape...)
	e.b.Conv2DBackward(x, w, dy, nil, dw2, s.G)
	e.expect("Conv2DBackward(dx=nil) dw", wShape, e.down(dw2), rdw, e.termTol(dwTerms, dwMag))

	// Conv2D is linear in x and in w: the central difference is exact up
	// to the rounding of the two forward passes, 1e-4 of the prediction's
	// size in float32. A backend that rounds GEMM inputs (TF32) rounds the
	// perturbed inputs too, and that error does not cancel between the
	// passes: allow a few times the input rounding on top (seen on the
	// CPU double of cuDNN, which always takes the TF32 path when allowed;
	// a real GPU does when a tensor-core algorithm wins).
	f := func() float64 { e.b.Conv2D(x, w, y, s.G); return e.weighted(y, dys) }
	e.fdCheck("Conv2DBackward vs finite differences", []fdVar{
		{t: x, x: xs, g: gotDX, h: 0.5},
		{t: w, x: ws, g: gotDW, h: 0.5},
	}, f, 2, 1e-4+4*e.o.GEMMInputRounding, 0)
}

// termTol is gemmTol per element.
func (e *env) termTol(terms []int, mag []float64) []float64 {
	tol := make([]float64, len(mag))
	for i := range tol {
		tol[i] = e.gemmTol(terms[i], mag[i])
	}
	return tol
}
