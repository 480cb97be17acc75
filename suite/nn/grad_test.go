package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bind gives a bare layer's parameters their own buffers, as Build would.
func bind(b Backend, l Layer, r *rand.Rand) {
	for _, p := range l.Params() {
		p.W = b.New(p.Shape...)
		if p.Kind != Stat {
			p.G = b.New(p.Shape...)
		}
		for i := range p.W.Data {
			switch p.Kind {
			case Stat:
				p.W.Data[i] = 0.5 + r.Float32()
			default:
				p.W.Data[i] = 2*r.Float32() - 1
			}
		}
	}
}

func randTensor(b Backend, r *rand.Rand, shape ...int) *Tensor {
	t := b.New(shape...)
	for i := range t.Data {
		t.Data[i] = 2*r.Float32() - 1
	}
	return t
}

// weightedSum is Σ r·y in float64: the scalar whose gradient the checks use.
func weightedSum(y, r *Tensor) float64 {
	var s float64
	for i, v := range y.Data {
		s += float64(v) * float64(r.Data[i])
	}
	return s
}

// checkGradients compares a layer's backward pass with central finite
// differences of Σ r·forward(x) at up to samples coordinates of the input
// and of each parameter.
func checkGradients(t *testing.T, l Layer, x *Tensor, pass func() *Pass, tol float64, kinked bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	y := l.Forward(pass(), x)
	up := randTensor(NewCPU(), r, y.Shape...)
	for _, p := range l.Params() {
		if p.G != nil {
			clear(p.G.Data)
		}
	}
	dx := l.Backward(pass(), up, true)
	analytic := map[string][]float32{"x": append([]float32(nil), dx.Data...)}
	targets := map[string]*Tensor{"x": x}
	for i, p := range l.Params() {
		if p.Kind == Stat {
			continue
		}
		key := fmt.Sprintf("%d:%s", i, p.Name)
		analytic[key] = append([]float32(nil), p.G.Data...)
		targets[key] = p.W
	}
	loss := func() float64 { return weightedSum(l.Forward(pass(), x), up) }
	const h = 1e-2
	const samples = 40
	var checked, kinks int
	defer func() {
		if kinks > checked/4 {
			t.Errorf("%d coordinates straddled a kink and only %d were checked", kinks, checked)
		}
	}()
	for key, tgt := range targets {
		for s := 0; s < samples && s < tgt.Len(); s++ {
			i := s
			if tgt.Len() > samples {
				i = r.IntN(tgt.Len())
			}
			orig := tgt.Data[i]
			l0 := loss()
			tgt.Data[i] = orig + h
			lp := loss()
			tgt.Data[i] = orig - h
			lm := loss()
			tgt.Data[i] = orig
			num := (lp - lm) / (2 * h)
			// A ReLU or max kink inside [−h, h] makes the one-sided slopes
			// disagree; such a coordinate says nothing about the gradient.
			if right, left := (lp-l0)/h, (l0-lm)/h; kinked && math.Abs(right-left) > tol*(1+math.Abs(num)) {
				kinks++
				continue
			}
			checked++
			ana := float64(analytic[key][i])
			if math.Abs(num-ana) > tol*(1+math.Abs(num)) {
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", key, i, ana, num)
			}
		}
	}
}

func trainPass() *Pass {
	return &Pass{B: NewCPU(), Train: true, FreezeStats: true, Dropout: DropoutKey(1, 2, 0)}
}

func TestLayerGradients(t *testing.T) {
	b := NewCPU()
	cases := []struct {
		name  string
		layer func() Layer
		in    []int
		// kinked layers (ReLU, max) get inputs away from their kinks
		spread bool
		// kinked layers whose kinks cannot be avoided by the input alone
		// (a fused ReLU after batch-norm) skip coordinates that straddle one
		kinked bool
	}{
		{"conv3x3-s1-p1", func() Layer { return NewConv2D(3, 4, 3, 1, 1) }, []int{2, 5, 6, 3}, false, false},
		{"conv3x3-s2-p1", func() Layer { return NewConv2D(2, 3, 3, 2, 1) }, []int{2, 7, 6, 2}, false, false},
		{"conv5x5-s1-p0", func() Layer { return NewConv2D(2, 2, 5, 1, 0) }, []int{1, 6, 7, 2}, false, false},
		{"conv1x1-s1", func() Layer { return NewConv2D(4, 3, 1, 1, 0) }, []int{2, 3, 3, 4}, false, false},
		{"conv1x1-s2", func() Layer { return NewConv2D(4, 3, 1, 2, 0) }, []int{2, 5, 5, 4}, false, false},
		{"linear", func() Layer { return NewLinear(7, 5) }, []int{3, 7}, false, false},
		{"batchnorm-nhwc", func() Layer { return NewBatchNorm(3) }, []int{4, 3, 2, 3}, false, false},
		{"batchnorm-2d", func() Layer { return NewBatchNorm(5) }, []int{6, 5}, false, false},
		{"batchnorm-relu", func() Layer { return NewBatchNormReLU(3) }, []int{4, 3, 2, 3}, false, true},
		{"relu", func() Layer { return &ReLU{} }, []int{2, 3, 3, 2}, true, false},
		{"maxpool2", func() Layer { return NewMaxPool(2, 2) }, []int{2, 4, 6, 3}, true, false},
		{"maxpool2-odd", func() Layer { return NewMaxPool(2, 2) }, []int{2, 5, 3, 3}, true, false},
		{"maxpool3-s2-pad1", func() Layer { return &Pool{Max: true, K: 3, Stride: 2, Pad: 1} }, []int{1, 5, 5, 2}, true, false},
		{"avgpool2", func() Layer { return NewAvgPool(2, 2) }, []int{2, 4, 4, 3}, false, false},
		{"globalavgpool", func() Layer { return &GlobalAvgPool{} }, []int{2, 3, 4, 5}, false, false},
		{"flatten-linear", func() Layer { return Seq(&Flatten{}, NewLinear(2*3*4, 3)) }, []int{2, 2, 3, 4}, false, false},
		{"dropout", func() Layer { return &Dropout{P: 0.3} }, []int{4, 6}, false, false},
		{"residual-identity", func() Layer {
			return &Residual{Body: Seq(NewConv2D(3, 3, 3, 1, 1), NewBatchNorm(3))}
		}, []int{2, 4, 4, 3}, false, false},
		{"residual-relu", func() Layer {
			return &Residual{Body: Seq(NewConv2D(3, 3, 3, 1, 1), NewBatchNorm(3)), ReLU: true}
		}, []int{2, 4, 4, 3}, false, true},
		{"residual-projection", func() Layer {
			return &Residual{Body: Seq(NewConv2D(2, 4, 3, 2, 1), NewBatchNorm(4)),
				Shortcut: Seq(NewConv2D(2, 4, 1, 2, 0), NewBatchNorm(4))}
		}, []int{2, 6, 6, 2}, false, false},
		// the Vision Transformer's layers, a block and a small whole ViT
		{"layernorm-tokens", func() Layer { return NewLayerNorm(5) }, []int{2, 3, 5}, false, false},
		{"layernorm-2d", func() Layer { return NewLayerNorm(7) }, []int{4, 7}, false, false},
		{"gelu", func() Layer { return &GELU{} }, []int{3, 4, 5}, false, false},
		{"token-linear", func() Layer { return NewTokenLinear(5, 4) }, []int{2, 3, 5}, false, false},
		{"attention-1head", func() Layer { return NewMultiHeadSelfAttention(4, 1) }, []int{2, 3, 4}, false, false},
		{"attention-3heads", func() Layer { return NewMultiHeadSelfAttention(6, 3) }, []int{2, 5, 6}, false, false},
		{"attention-dropout", func() Layer {
			l := NewMultiHeadSelfAttention(4, 2)
			l.Drop.P = 0.3
			return l
		}, []int{3, 4, 4}, false, false},
		{"patch-embed", func() Layer { return NewPatchEmbed(2, 3, 2) }, []int{2, 4, 6, 2}, false, false},
		{"patch-embed-remainder", func() Layer { return NewPatchEmbed(1, 2, 3) }, []int{1, 7, 6, 1}, false, false},
		{"class-token", func() Layer { return NewClassToken(3, 4) }, []int{2, 3, 4}, false, false},
		{"select-class-token", func() Layer { return &SelectClassToken{} }, []int{3, 4, 5}, false, false},
		{"block", func() Layer { return NewTransformerBlock(4, 2, 6, 0) }, []int{2, 3, 4}, false, false},
		{"block-dropout", func() Layer { return NewTransformerBlock(4, 2, 6, 0.2) }, []int{2, 3, 4}, false, false},
		{"vit", func() Layer {
			return Seq(NewPatchEmbed(1, 4, 2), NewClassToken(4, 4), &Dropout{P: 0.1},
				NewTransformerBlock(4, 2, 8, 0.1), NewTransformerBlock(4, 2, 8, 0.1),
				&SelectClassToken{}, NewLayerNorm(4), NewTokenLinear(4, 3))
		}, []int{2, 4, 4, 1}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			l := c.layer()
			bind(b, l, r)
			x := randTensor(b, r, c.in...)
			if c.spread {
				// Distinct values at least 0.05 apart, none near zero, so a
				// ±h step never crosses a kink or changes a maximum.
				perm := r.Perm(x.Len())
				for i, p := range perm {
					v := 0.2 + 0.05*float32(p)
					if i%2 == 0 {
						v = -v
					}
					x.Data[i] = v
				}
			}
			checkGradients(t, l, x, func() *Pass {
				p := trainPass()
				p.B = b
				return p
			}, 2e-3, c.kinked)
		})
	}
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(5, 6))
	logits := randTensor(b, r, 4, 5)
	labels := []int32{0, 3, 4, 1}
	for _, smooth := range []float32{0, 0.1} {
		d := b.New(4, 5)
		per := make([]float32, 4)
		mean := b.SoftmaxCrossEntropy(logits, labels, smooth, d, per)
		var s float64
		for _, v := range per {
			s += float64(v)
		}
		if math.Abs(s/4-mean) > 1e-6 {
			t.Fatalf("mean loss %v but per-sample losses average %v", mean, s/4)
		}
		const h = 1e-3
		for i := range logits.Data {
			o := logits.Data[i]
			logits.Data[i] = o + h
			lp := b.SoftmaxCrossEntropy(logits, labels, smooth, nil, nil)
			logits.Data[i] = o - h
			lm := b.SoftmaxCrossEntropy(logits, labels, smooth, nil, nil)
			logits.Data[i] = o
			num := (lp - lm) / (2 * h)
			if math.Abs(num-float64(d.Data[i])) > 1e-3 {
				t.Errorf("smoothing %v logit %d: analytic %v, finite difference %v", smooth, i, d.Data[i], num)
			}
		}
	}
	// Uniform logits: loss is log K whatever the smoothing.
	z := b.New(2, 10)
	if got := b.SoftmaxCrossEntropy(z, []int32{1, 2}, 0.1, nil, nil); math.Abs(got-math.Log(10)) > 1e-6 {
		t.Fatalf("uniform logits: loss %v, want log 10 = %v", got, math.Log(10))
	}
}

// naiveConv is a direct NCHW-free reference convolution in float64.
func naiveConv(x, w *Tensor, g ConvGeom) []float64 {
	n, h, wd, cin := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	cout := w.Shape[0]
	oh, ow := g.Out(h, wd)
	out := make([]float64, n*oh*ow*cout)
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for o := 0; o < cout; o++ {
					var s float64
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							ih, iw := i*g.Stride-g.Pad+kh, j*g.Stride-g.Pad+kw
							if ih < 0 || ih >= h || iw < 0 || iw >= wd {
								continue
							}
							for c := 0; c < cin; c++ {
								s += float64(x.Data[((b*h+ih)*wd+iw)*cin+c]) * float64(w.Data[((o*g.KH+kh)*g.KW+kw)*cin+c])
							}
						}
					}
					out[((b*oh+i)*ow+j)*cout+o] = s
				}
			}
		}
	}
	return out
}

func TestConvMatchesDirectConvolution(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		n, h, w, cin, cout int
		g                  ConvGeom
	}{
		{3, 8, 8, 3, 5, ConvGeom{3, 3, 1, 1}},
		{2, 9, 7, 4, 6, ConvGeom{3, 3, 2, 1}},
		{2, 5, 5, 2, 3, ConvGeom{1, 1, 2, 0}},
		{40, 16, 16, 8, 8, ConvGeom{3, 3, 1, 1}}, // several im2col chunks
	} {
		x := randTensor(b, r, c.n, c.h, c.w, c.cin)
		w := randTensor(b, r, c.cout, c.g.KH, c.g.KW, c.cin)
		oh, ow := c.g.Out(c.h, c.w)
		y := b.New(c.n, oh, ow, c.cout)
		b.Conv2D(x, w, y, c.g)
		want := naiveConv(x, w, c.g)
		for i, v := range want {
			if math.Abs(float64(y.Data[i])-v) > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("%+v: y[%d] = %v, direct convolution %v", c, i, y.Data[i], v)
			}
		}
	}
}

func TestBatchNormRunningStatistics(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(1, 1))
	l := NewBatchNorm(2)
	bind(b, l, r)
	l.Init(b, r)
	x := b.New(4, 2)
	copy(x.Data, []float32{1, 10, 2, 20, 3, 30, 4, 40})
	l.Forward(&Pass{B: b, Train: true, FreezeStats: true}, x)
	if l.RunMean.W.Data[0] != 0 || l.RunVar.W.Data[0] != 1 {
		t.Fatalf("a frozen pass moved the running statistics to %v, %v", l.RunMean.W.Data, l.RunVar.W.Data)
	}
	y := l.Forward(&Pass{B: b, Train: true}, x)
	// Channel 0: mean 2.5, biased variance 1.25; running = 0.9·init + 0.1·batch.
	if got, want := l.RunMean.W.Data[0], float32(0.25); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("running mean %v, want %v", got, want)
	}
	if got, want := l.RunVar.W.Data[0], float32(0.9+0.125); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("running variance %v, want %v", got, want)
	}
	if got, want := y.Data[0], float32((1-2.5)/math.Sqrt(1.25+1e-5)); math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("normalised x[0] = %v, want %v", got, want)
	}
}
