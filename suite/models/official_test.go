package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rst-bench/rst/suite/nn"
)

// resnetOfficialParams counts the official ResNet-18 from its description:
// a 16-filter stem with BN, and a 1×1 conv+BN projection wherever a block
// changes width (16→64 included).
func resnetOfficialParams(c int, blocks []int, classes int) int {
	widths := []int{64, 128, 256, 512}
	n := archConv(3, c, 16) + archBN(16)
	in := 16
	for s, nb := range blocks {
		out := widths[s]
		for b := 0; b < nb; b++ {
			n += archConv(3, in, out) + archBN(out) + archConv(3, out, out) + archBN(out)
			if in != out {
				n += archConv(1, in, out) + archBN(out)
			}
			in = out
		}
	}
	return n + archFC(512, classes)
}

// wrnOfficialParams is wrnParams without the 1×1 projections: the official
// shortcuts have no weights.
func wrnOfficialParams(c, depth, k, classes int) int {
	n := archConv(3, c, 16)
	in := 16
	for _, out := range []int{16 * k, 32 * k, 64 * k} {
		for b := 0; b < (depth-4)/6; b++ {
			n += archBN(in) + archConv(3, in, out) + archBN(out) + archConv(3, out, out)
			in = out
		}
	}
	return n + archBN(in) + archFC(in, classes)
}

func TestOfficialModelParameterCounts(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name    string
		classes int
		want    int
	}{
		{"resnet18-official", 10, resnetOfficialParams(3, []int{2, 2, 2, 2}, 10)},
		{"resnet18-official", 100, resnetOfficialParams(3, []int{2, 2, 2, 2}, 100)},
		{"wrn28-10-official", 10, wrnOfficialParams(3, 28, 10, 10)},
		{"wrn16-4-official", 100, wrnOfficialParams(3, 16, 4, 100)},
		{"wrn10-1-official", 10, wrnOfficialParams(3, 10, 1, 10)},
	} {
		net, err := New(b, c.name, []int{32, 32, 3}, c.classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := net.NumParams(); got != c.want {
			t.Errorf("%s/%d classes: %d parameters, the architecture has %d", c.name, c.classes, got, c.want)
		}
	}
	// The official stem saves 3·9·48 + 96 weights and the 16→64 block
	// differs; WRN-28-10 loses exactly its three 1×1 projections.
	ours, _ := New(b, "wrn28-10", []int{32, 32, 3}, 10, 1)
	off, _ := New(b, "wrn28-10-official", []int{32, 32, 3}, 10, 1)
	if d := ours.NumParams() - off.NumParams(); d != 16*160+160*320+320*640 {
		t.Errorf("wrn28-10 minus its official form: %d parameters, want the projections' %d", d, 16*160+160*320+320*640)
	}
}

func TestOfficialModelShapes(t *testing.T) {
	b := nn.NewCPU()
	for _, c := range []struct {
		name    string
		in      []int
		classes int
	}{
		{"resnet18-official", []int{32, 32, 3}, 10},
		{"resnet18-official", []int{28, 28, 1}, 10},
		{"wrn16-4-official", []int{32, 32, 3}, 100},
		{"wrn10-1-official", []int{28, 28, 1}, 10},
		{"wrn10-1-official", []int{8, 12, 2}, 3},
	} {
		net, err := New(b, c.name, c.in, c.classes, 1)
		if err != nil {
			t.Errorf("%s%v: %v", c.name, c.in, err)
			continue
		}
		y := net.Forward(&nn.Pass{B: b, Train: true}, b.New(append([]int{2}, c.in...)...))
		if len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != c.classes {
			t.Errorf("%s%v: output %v, want [2 %d]", c.name, c.in, y.Shape, c.classes)
		}
	}
	if _, err := New(b, "wrn10-1-official", []int{10, 12, 3}, 10, 1); err == nil {
		t.Error("wrn10-1-official accepted a side that is not a multiple of 4")
	}
	// No shortcut has weights: the official WRN has no 1×1 convolution.
	net, _ := New(b, "wrn16-4-official", []int{32, 32, 3}, 10, 1)
	var visit func(l nn.Layer)
	visit = func(l nn.Layer) {
		if c, ok := l.(*nn.Conv2D); ok && c.K == 1 {
			t.Errorf("wrn16-4-official has a 1×1 convolution %d→%d", c.In, c.Out)
		}
		if c, ok := l.(nn.Container); ok {
			for _, ch := range c.Children() {
				visit(ch)
			}
		}
	}
	visit(net.Root)
	if a := About("resnet18-official"); a == "" || a == About("resnet18") {
		t.Error("resnet18-official needs its own description")
	}
}

// ChannelPad copies the input into the first channels and zeros the rest;
// its backward keeps the first channels of the gradient.
func TestChannelPad(t *testing.T) {
	b := nn.NewCPU()
	l := &ChannelPad{In: 3, Out: 5}
	x := b.New(2, 2, 2, 3)
	for i := range x.Data {
		x.Data[i] = float32(i + 1)
	}
	y := l.Forward(&nn.Pass{B: b}, x)
	dy := b.New(y.Shape...)
	for i := range dy.Data {
		dy.Data[i] = float32(100 + i)
	}
	dx := l.Backward(&nn.Pass{B: b}, dy, true)
	for r := 0; r < 8; r++ {
		for c := 0; c < 5; c++ {
			want := float32(0)
			if c < 3 {
				want = x.Data[r*3+c]
				if dx.Data[r*3+c] != dy.Data[r*5+c] {
					t.Fatalf("dx[%d,%d] = %v, want %v", r, c, dx.Data[r*3+c], dy.Data[r*5+c])
				}
			}
			if y.Data[r*5+c] != want {
				t.Fatalf("y[%d,%d] = %v, want %v", r, c, y.Data[r*5+c], want)
			}
		}
	}
}

// checkModelGradient compares the backward pass with central finite
// differences of the training loss, one parameter tensor at a time, along
// a random ±h direction on that tensor: in a training pass with batch
// statistics (running averages frozen, so the loss is a function of the
// weights alone). A gradient that misses a path (a shortcut's, say) is off
// by about the size of that path's share, far above the tolerance.
func checkModelGradient(t *testing.T, name string, root nn.Layer, in []int, classes int) {
	t.Helper()
	b := nn.NewCPU()
	net, err := nn.Build(b, root, in)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(5)
	r := rand.New(rand.NewPCG(1, 2))
	x := b.New(append([]int{4}, in...)...)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, 4)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	pass := &nn.Pass{B: b, Train: true, FreezeStats: true}
	loss := func() float64 {
		return b.SoftmaxCrossEntropy(net.Forward(pass, x), labels, 0, nil, nil)
	}
	logits := net.Forward(pass, x)
	d := b.New(logits.Shape...)
	b.SoftmaxCrossEntropy(logits, labels, 0, d, nil)
	b.Fill(net.G, 0)
	net.Backward(pass, d)
	g := append([]float32(nil), net.G.Data...)
	w := append([]float32(nil), net.W.Data...)
	const h = 1e-4
	for _, p := range net.Params {
		plus, minus := append([]float32(nil), w...), append([]float32(nil), w...)
		var pred, gn float64
		for i := p.Offset; i < p.Offset+p.W.Len(); i++ {
			s := h
			if r.IntN(2) == 0 {
				s = -h
			}
			plus[i], minus[i] = float32(float64(w[i])+s), float32(float64(w[i])-s)
			pred += float64(g[i]) * (float64(plus[i]) - float64(minus[i]))
			gn += float64(g[i]) * float64(g[i])
		}
		b.Upload(net.W, plus)
		lp := loss()
		b.Upload(net.W, minus)
		lm := loss()
		b.Upload(net.W, w)
		// The noise floor is float32 rounding of the loss (≈ 1e-7 of it).
		tol := 0.05*(math.Abs(pred)+2*h*math.Sqrt(gn)) + 1e-6
		if diff := lp - lm; math.Abs(diff-pred) > tol {
			t.Errorf("%s %s %v: the loss changes by %.6g between w ± h, the gradient predicts %.6g (tolerance %.2g)", name, p.Name, p.Shape, diff, pred, tol)
		}
	}
}

func TestOfficialModelGradients(t *testing.T) {
	res, err := ResNetOfficial([]int{8, 8, 3}, []int{4, 6, 8, 8}, []int{1, 1, 1, 1}, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkModelGradient(t, "resnet-official (narrow)", res, []int{8, 8, 3}, 5)
	wrn, err := WideResNetOfficial([]int{8, 8, 3}, 10, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkModelGradient(t, "wrn10-2-official", wrn, []int{8, 8, 3}, 5)
}

// The check itself must see a wrong gradient: the suite's own WRN, whose
// backward is trusted, passes; with the shortcut's gradient dropped (a
// ChannelPad whose backward returns zeros) it fails.
type deadPad struct{ ChannelPad }

func (l *deadPad) Backward(p *nn.Pass, dy *nn.Tensor, needDX bool) *nn.Tensor {
	dx := l.ChannelPad.Backward(p, dy, needDX)
	if dx != nil {
		p.B.Fill(dx, 0)
	}
	return dx
}

func TestModelGradientCheckCatchesADeadShortcut(t *testing.T) {
	ours, err := WideResNet([]int{8, 8, 3}, 10, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkModelGradient(t, "wrn10-2", ours, []int{8, 8, 3}, 5)
	body := nn.Seq(nn.NewBatchNormReLU(3), nn.NewConv2D(3, 6, 3, 1, 1))
	broken := nn.Seq(nn.NewConv2D(3, 3, 3, 1, 1), &nn.Residual{Body: body, Shortcut: &deadPad{ChannelPad{In: 3, Out: 6}}},
		&nn.GlobalAvgPool{}, nn.NewLinear(6, 4))
	inner := &testing.T{}
	checkModelGradient(inner, "dead shortcut", broken, []int{4, 4, 3}, 4)
	if !inner.Failed() {
		t.Error("the gradient check passed a model whose shortcut gradient is zero")
	}
}
