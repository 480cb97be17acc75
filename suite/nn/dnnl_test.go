//go:build dnnl

package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// maxRelErr is max|a−b| / max(max|b|, 1e-6): the error relative to the
// largest magnitude, since summation order differs between the kernels.
func maxRelErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff / max(scale, 1e-6)
}

// dnnlTol bounds the oneDNN kernels' deviation from the Go kernels,
// relative to the largest output: both sum the same products in float32,
// in different orders (and oneDNN with FMA), so they agree to a few
// units in the last place of the sum's magnitude.
const dnnlTol = 1e-5

var convShapes = []struct {
	n, h, w, cin, cout int
	g                  ConvGeom
}{
	{3, 7, 9, 5, 7, ConvGeom{3, 3, 1, 1}},    // odd sizes, 3×3 same padding
	{2, 9, 8, 3, 13, ConvGeom{3, 3, 2, 1}},   // stride 2, an RGB-like stem
	{4, 6, 6, 10, 6, ConvGeom{1, 1, 1, 0}},   // pointwise
	{2, 11, 7, 12, 20, ConvGeom{1, 1, 2, 0}}, // strided projection shortcut
	{2, 8, 8, 16, 32, ConvGeom{3, 3, 1, 1}},  // multiples of 8 (blocked layouts)
	{1, 5, 5, 4, 3, ConvGeom{3, 3, 1, 0}},    // no padding
	{2, 10, 10, 6, 9, ConvGeom{5, 5, 2, 2}},  // wider window
}

func TestDNNLConvMatchesGoKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := NewCPU()
	for _, s := range convShapes {
		oh, ow := s.g.Out(s.h, s.w)
		x := randTensor(c, r, s.n, s.h, s.w, s.cin)
		w := randTensor(c, r, s.cout, s.g.KH, s.g.KW, s.cin)
		dy := randTensor(c, r, s.n, oh, ow, s.cout)
		want, got := c.New(s.n, oh, ow, s.cout), c.New(s.n, oh, ow, s.cout)
		c.goConv2D(x, w, want, s.g)
		c.Conv2D(x, w, got, s.g)
		wdx, gdx := c.New(x.Shape...), c.New(x.Shape...)
		wdw, gdw := c.New(w.Shape...), c.New(w.Shape...)
		c.goConv2DBackward(x, w, dy, wdx, wdw, s.g)
		c.Conv2DBackward(x, w, dy, gdx, gdw, s.g)
		t.Logf("%+v: %s", s, c.dnnlImpls(x, w, s.g))
		for name, e := range map[string]float64{
			"forward":          maxRelErr(got.Data, want.Data),
			"backward data":    maxRelErr(gdx.Data, wdx.Data),
			"backward weights": maxRelErr(gdw.Data, wdw.Data),
		} {
			if e > dnnlTol {
				t.Errorf("%+v %s: relative error %.3g > %g", s, name, e, dnnlTol)
			}
		}
		// The weight gradient alone (dx nil) is the same as with dx.
		clear(gdw.Data)
		c.Conv2DBackward(x, w, dy, nil, gdw, s.g)
		if e := maxRelErr(gdw.Data, wdw.Data); e > dnnlTol {
			t.Errorf("%+v backward weights without dx: relative error %.3g", s, e)
		}
	}
}

func TestDNNLBatchNormMatchesGoKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	c := NewCPU()
	for _, shape := range [][]int{{3, 5, 7, 11}, {4, 6, 6, 32}, {17, 24}, {2, 3, 3, 3}} {
		for _, relu := range []bool{false, true} {
			ch := shape[len(shape)-1]
			x := randTensor(c, r, shape...)
			for i := range x.Data {
				x.Data[i] = 3*x.Data[i] + 1 // off-centre, so the mean matters
			}
			dy := randTensor(c, r, shape...)
			g, be := randTensor(c, r, ch), randTensor(c, r, ch)
			want := map[string]*Tensor{}
			got := map[string]*Tensor{}
			for _, m := range []map[string]*Tensor{want, got} {
				for _, k := range []string{"y", "dx", "yi"} {
					m[k] = c.New(shape...)
				}
				for _, k := range []string{"mean", "var", "dg", "db"} {
					m[k] = c.New(ch)
				}
			}
			c.goBatchNormTrain(x, want["y"], g, be, want["mean"], want["var"], 1e-5, relu)
			c.goBatchNormBackward(x, want["y"], dy, want["dx"], g, want["mean"], want["var"], want["dg"], want["db"], 1e-5, relu)
			c.goBatchNormInfer(x, want["yi"], g, be, want["mean"], want["var"], 1e-5, relu)
			c.BatchNormTrain(x, got["y"], g, be, got["mean"], got["var"], 1e-5, relu)
			c.BatchNormBackward(x, got["y"], dy, got["dx"], g, got["mean"], got["var"], got["dg"], got["db"], 1e-5, relu)
			c.BatchNormInfer(x, got["yi"], g, be, want["mean"], want["var"], 1e-5, relu)
			for k := range want {
				// The statistics are sums of a few hundred terms; dx
				// subtracts nearly equal terms, so its tolerance is wider.
				tol := 1e-5
				if k == "dx" || k == "dg" {
					tol = 1e-4
				}
				if e := maxRelErr(got[k].Data, want[k].Data); e > tol {
					t.Errorf("%v relu=%v %s: relative error %.3g > %g", shape, relu, k, e, tol)
				}
			}
		}
	}
}

func TestDNNLPoolingMatchesGoKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	c := NewCPU()
	for _, s := range []struct {
		shape []int
		g     ConvGeom
	}{
		{[]int{2, 8, 8, 5}, ConvGeom{2, 2, 2, 0}},
		{[]int{3, 7, 9, 4}, ConvGeom{2, 2, 2, 0}}, // odd edges dropped
		{[]int{2, 9, 9, 3}, ConvGeom{3, 3, 2, 1}}, // overlapping, padded
		{[]int{1, 6, 5, 17}, ConvGeom{3, 3, 1, 1}},
	} {
		x := randTensor(c, r, s.shape...)
		for i := range x.Data {
			if i%3 == 0 {
				x.Data[i] = 0 // ties, as after a ReLU: the first maximum takes the gradient
			}
		}
		oh, ow := s.g.Out(s.shape[1], s.shape[2])
		ys := []int{s.shape[0], oh, ow, s.shape[3]}
		dy := randTensor(c, r, ys...)
		wy, gy, wdx, gdx := c.New(ys...), c.New(ys...), c.New(s.shape...), c.New(s.shape...)
		c.goMaxPool(x, wy, s.g)
		c.goMaxPoolBackward(x, wy, dy, wdx, s.g)
		c.MaxPool(x, gy, s.g)
		c.MaxPoolBackward(x, gy, dy, gdx, s.g)
		for i := range wy.Data {
			if wy.Data[i] != gy.Data[i] {
				t.Fatalf("%v %+v max pool y[%d]: %v, Go %v", s.shape, s.g, i, gy.Data[i], wy.Data[i])
			}
		}
		// Where windows overlap, an input's gradients add up in another
		// order; elsewhere the routing alone must agree, exactly.
		if s.g.Stride < s.g.KH {
			if e := maxRelErr(gdx.Data, wdx.Data); e > dnnlTol {
				t.Errorf("%v %+v max pool backward: relative error %.3g", s.shape, s.g, e)
			}
		} else {
			for i := range wdx.Data {
				if wdx.Data[i] != gdx.Data[i] {
					t.Fatalf("%v %+v max pool dx[%d]: %v, Go %v", s.shape, s.g, i, gdx.Data[i], wdx.Data[i])
				}
			}
		}
		c.goAvgPool(x, wy, s.g)
		c.goAvgPoolBackward(dy, wdx, s.g)
		c.AvgPool(x, gy, s.g)
		c.AvgPoolBackward(dy, gdx, s.g)
		if e := maxRelErr(gy.Data, wy.Data); e > dnnlTol {
			t.Errorf("%v %+v avg pool: relative error %.3g", s.shape, s.g, e)
		}
		if e := maxRelErr(gdx.Data, wdx.Data); e > dnnlTol {
			t.Errorf("%v %+v avg pool backward: relative error %.3g", s.shape, s.g, e)
		}
	}
}

// TestDNNLDeterministic runs each kernel twice on the same inputs: on one
// machine and thread count the results must be bit-identical.
func TestDNNLDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := NewCPU()
	g := ConvGeom{3, 3, 1, 1}
	x := randTensor(c, r, 8, 16, 16, 32)
	w := randTensor(c, r, 32, 3, 3, 32)
	dy := randTensor(c, r, 8, 16, 16, 32)
	gamma, beta := randTensor(c, r, 32), randTensor(c, r, 32)
	run := func() map[string][]float32 {
		yt, dxt, dwt := c.New(8, 16, 16, 32), c.New(x.Shape...), c.New(w.Shape...)
		c.Conv2D(x, w, yt, g)
		c.Conv2DBackward(x, w, dy, dxt, dwt, g)
		bn, bdx, m, v, dg, db := c.New(yt.Shape...), c.New(yt.Shape...), c.New(32), c.New(32), c.New(32), c.New(32)
		c.BatchNormTrain(yt, bn, gamma, beta, m, v, 1e-5, true)
		c.BatchNormBackward(yt, bn, dy, bdx, gamma, m, v, dg, db, 1e-5, true)
		return map[string][]float32{"y": yt.Data, "dx": dxt.Data, "dw": dwt.Data,
			"bn": bn.Data, "bn dx": bdx.Data, "mean": m.Data, "var": v.Data, "dgamma": dg.Data, "dbeta": db.Data}
	}
	a, b := run(), run()
	for name := range a {
		p := [2][]float32{a[name], b[name]}
		for i := range p[0] {
			if math.Float32bits(p[0][i]) != math.Float32bits(p[1][i]) {
				t.Fatalf("%s[%d] differs between two runs: %v vs %v", name, i, p[0][i], p[1][i])
			}
		}
	}
}

// TestDNNLNoAllocation checks that a warmed-up step allocates nothing on
// the Go heap.
func TestDNNLNoAllocation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := NewCPU()
	g := ConvGeom{3, 3, 2, 1}
	x := randTensor(c, r, 4, 12, 12, 8)
	w := randTensor(c, r, 16, 3, 3, 8)
	y := c.New(4, 6, 6, 16)
	dx, dw := c.New(x.Shape...), c.New(w.Shape...)
	gamma, beta, m, v, dg, db := randTensor(c, r, 16), randTensor(c, r, 16), c.New(16), c.New(16), c.New(16), c.New(16)
	bn, bdx, p, pdx := c.New(y.Shape...), c.New(y.Shape...), c.New(4, 3, 3, 16), c.New(y.Shape...)
	pg := ConvGeom{2, 2, 2, 0}
	step := func() {
		c.Conv2D(x, w, y, g)
		c.BatchNormTrain(y, bn, gamma, beta, m, v, 1e-5, true)
		c.MaxPool(bn, p, pg)
		c.MaxPoolBackward(bn, p, p, pdx, pg) // p stands in for the output gradient
		c.BatchNormBackward(y, bn, pdx, bdx, gamma, m, v, dg, db, 1e-5, true)
		c.Conv2DBackward(x, w, bdx, dx, dw, g)
	}
	step()
	if a := testing.AllocsPerRun(5, step); a > 0 {
		t.Errorf("a step of conv, batch-norm and pooling allocates %.0f times", a)
	}
}

// BenchmarkDNNLKernels times each oneDNN kernel against the Go kernel it
// replaces, on shapes of smallcnn and resnet18 at batch 128:
// go test -tags "openblas dnnl" -run '^$' -bench DNNLKernels ./suite/nn
func BenchmarkDNNLKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	c := NewCPU()
	for _, sh := range [][4]int{{128, 32, 32, 32}, {128, 16, 16, 128}} {
		x := randTensor(c, r, sh[:]...)
		y, dy, dx := c.New(sh[:]...), randTensor(c, r, sh[:]...), c.New(sh[:]...)
		ch := sh[3]
		g, be, m, v, dg, db := randTensor(c, r, ch), randTensor(c, r, ch), c.New(ch), c.New(ch), c.New(ch), c.New(ch)
		pg := ConvGeom{2, 2, 2, 0}
		py, pdy := c.New(sh[0], sh[1]/2, sh[2]/2, ch), randTensor(c, r, sh[0], sh[1]/2, sh[2]/2, ch)
		for _, k := range []struct {
			name    string
			dn, go_ func()
		}{
			{"bn-train-relu", func() { c.BatchNormTrain(x, y, g, be, m, v, 1e-5, true) },
				func() { c.goBatchNormTrain(x, y, g, be, m, v, 1e-5, true) }},
			{"bn-backward-relu", func() { c.BatchNormBackward(x, y, dy, dx, g, m, v, dg, db, 1e-5, true) },
				func() { c.goBatchNormBackward(x, y, dy, dx, g, m, v, dg, db, 1e-5, true) }},
			{"bn-train", func() { c.BatchNormTrain(x, y, g, be, m, v, 1e-5, false) },
				func() { c.goBatchNormTrain(x, y, g, be, m, v, 1e-5, false) }},
			{"bn-backward", func() { c.BatchNormBackward(x, y, dy, dx, g, m, v, dg, db, 1e-5, false) },
				func() { c.goBatchNormBackward(x, y, dy, dx, g, m, v, dg, db, 1e-5, false) }},
			{"maxpool", func() { c.MaxPool(x, py, pg) }, func() { c.goMaxPool(x, py, pg) }},
			{"maxpool-backward", func() { c.MaxPoolBackward(x, py, pdy, dx, pg) }, func() { c.goMaxPoolBackward(x, py, pdy, dx, pg) }},
			{"avgpool", func() { c.AvgPool(x, py, pg) }, func() { c.goAvgPool(x, py, pg) }},
			{"avgpool-backward", func() { c.AvgPoolBackward(pdy, dx, pg) }, func() { c.goAvgPoolBackward(pdy, dx, pg) }},
		} {
			// Each forward kernel first runs once on oneDNN, so the
			// backward ones find their workspace.
			c.BatchNormTrain(x, y, g, be, m, v, 1e-5, true)
			c.BatchNormTrain(x, y, g, be, m, v, 1e-5, false)
			c.MaxPool(x, py, pg)
			for _, impl := range []struct {
				name string
				f    func()
			}{{"onednn", k.dn}, {"go", k.go_}} {
				b.Run(fmt.Sprintf("%v/%s/%s", sh, k.name, impl.name), func(b *testing.B) {
					for b.Loop() {
						impl.f()
					}
				})
			}
		}
	}
}
