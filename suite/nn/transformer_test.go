package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// erf32 and expNeg, the CPU backend's float32 erf and exp, against the
// float64 functions: a few units in the last place of float32.
func TestFloat32ErfAndExp(t *testing.T) {
	var worstErf, worstExp float64
	for i := 0; i <= 200000; i++ {
		x := -6 + 12*float64(i)/200000
		got, want := float64(erf32(float32(x))), math.Erf(float64(float32(x)))
		// Absolute error against 1 (erf is added to 1 in GELU) and
		// relative where erf is small.
		worstErf = max(worstErf, math.Abs(got-want)/max(math.Abs(want), 1e-3))
		y := -90 * float64(i) / 200000
		gotE, wantE := float64(expNeg(float32(y))), math.Exp(float64(float32(y)))
		if wantE >= 0x1p-126 {
			worstExp = max(worstExp, math.Abs(gotE-wantE)/wantE)
		} else if gotE > 0x1p-126 {
			t.Fatalf("expNeg(%v) = %v, want about %v", y, gotE, wantE)
		}
	}
	if worstErf > 12*0x1p-24 {
		t.Errorf("erf32: worst relative error %.3g, %.1f float32 ulps", worstErf, worstErf/0x1p-24)
	}
	if worstExp > 4*0x1p-24 {
		t.Errorf("expNeg: worst relative error %.3g, %.1f float32 ulps", worstExp, worstExp/0x1p-24)
	}
	if v := expNeg(0); v != 1 {
		t.Errorf("expNeg(0) = %v", v)
	}
	if v := expNeg(float32(math.Inf(-1))); v != 0 {
		t.Errorf("expNeg(−Inf) = %v", v)
	}
	if v := expNeg(float32(math.NaN())); v == v {
		t.Errorf("expNeg(NaN) = %v", v)
	}
	t.Logf("erf32 %.2f ulps, expNeg %.2f ulps", worstErf/0x1p-24, worstExp/0x1p-24)
}

// A linear layer on tokens [N, T, F] is the same layer on the N·T rows
// of [N·T, F], bit for bit, forward and backward.
func TestLinearOnTokensIsLinearOnRows(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(1, 9))
	tok, flat := NewLinear(5, 3), NewLinear(5, 3)
	bind(b, tok, r)
	bind(b, flat, r)
	copy(flat.W.W.Data, tok.W.W.Data)
	copy(flat.B.W.Data, tok.B.W.Data)
	x := randTensor(b, r, 2, 4, 5)
	dy := randTensor(b, r, 2, 4, 3)
	p := &Pass{B: b, Train: true}
	y1 := tok.Forward(p, x)
	y2 := flat.Forward(p, b.View(x, 0, 8, 5))
	if got := tok.OutShape([]int{2, 4, 5}); !sameShape(got, []int{2, 4, 3}) || !sameShape(y1.Shape, got) {
		t.Fatalf("token linear: OutShape %v, output %v", got, y1.Shape)
	}
	dx1 := tok.Backward(p, dy, true)
	dx2 := flat.Backward(p, b.View(dy, 0, 8, 3), true)
	for _, pair := range [][2][]float32{{y1.Data, y2.Data}, {dx1.Data, dx2.Data}, {tok.W.G.Data, flat.W.G.Data}, {tok.B.G.Data, flat.B.G.Data}} {
		for i := range pair[0] {
			if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
				t.Fatalf("element %d: %v on tokens, %v on rows", i, pair[0][i], pair[1][i])
			}
		}
	}
	if f1, _ := tok.FLOPs([]int{2, 4, 5}, true); f1 != 2*8*5*3 {
		t.Errorf("token linear FLOPs %d", f1)
	}
}

// Attention against a float64 reference written from the definition.
func TestAttentionMatchesDefinition(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(2, 3))
	const n, tk, c, heads = 2, 5, 6, 3
	d := c / heads
	l := NewMultiHeadSelfAttention(c, heads)
	bind(b, l, r)
	x := randTensor(b, r, n, tk, c)
	y := l.Forward(&Pass{B: b}, x)
	lin := func(w, bias []float32, in []float64, out int) []float64 {
		o := make([]float64, out)
		for j := range o {
			o[j] = float64(bias[j])
			for i, v := range in {
				o[j] += float64(w[j*len(in)+i]) * v
			}
		}
		return o
	}
	for s := 0; s < n; s++ {
		qkv := make([][]float64, tk)
		for i := range qkv {
			qkv[i] = lin(l.QKV.W.W.Data, l.QKV.B.W.Data, f64s(x.Data[(s*tk+i)*c:(s*tk+i+1)*c]), 3*c)
		}
		cat := make([][]float64, tk)
		for i := range cat {
			cat[i] = make([]float64, c)
		}
		for h := 0; h < heads; h++ {
			for i := 0; i < tk; i++ {
				sc := make([]float64, tk)
				mx := math.Inf(-1)
				for j := range sc {
					for e := 0; e < d; e++ {
						sc[j] += qkv[i][h*d+e] * qkv[j][c+h*d+e]
					}
					sc[j] /= math.Sqrt(float64(d))
					mx = max(mx, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					z += sc[j]
				}
				for j := range sc {
					for e := 0; e < d; e++ {
						cat[i][h*d+e] += sc[j] / z * qkv[j][2*c+h*d+e]
					}
				}
			}
		}
		for i := 0; i < tk; i++ {
			want := lin(l.Proj.W.W.Data, l.Proj.B.W.Data, cat[i], c)
			for j, w := range want {
				if got := float64(y.Data[(s*tk+i)*c+j]); math.Abs(got-w) > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("sample %d token %d feature %d: %v, want %v", s, i, j, got, w)
				}
			}
		}
	}
}

func f64s(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// The class token comes first, the patches after it in order, and the
// position embedding is added to each; SelectClassToken takes it back.
func TestClassTokenLayout(t *testing.T) {
	b := NewCPU()
	l := NewClassToken(2, 3)
	bind(b, l, rand.New(rand.NewPCG(1, 1)))
	x := b.New(2, 2, 3)
	for i := range x.Data {
		x.Data[i] = float32(100 + i)
	}
	y := l.Forward(&Pass{B: b}, x)
	for s := 0; s < 2; s++ {
		for tk := 0; tk < 3; tk++ {
			for j := 0; j < 3; j++ {
				want := l.Pos.W.Data[tk*3+j]
				if tk == 0 {
					want += l.Cls.W.Data[j]
				} else {
					want += x.Data[(s*2+tk-1)*3+j]
				}
				if got := y.Data[(s*3+tk)*3+j]; got != want {
					t.Fatalf("y[%d,%d,%d] = %v, want %v", s, tk, j, got, want)
				}
			}
		}
	}
	sel := &SelectClassToken{}
	z := sel.Forward(&Pass{B: b}, y)
	for s := 0; s < 2; s++ {
		for j := 0; j < 3; j++ {
			if z.Data[s*3+j] != y.Data[s*9+j] {
				t.Fatalf("selected token %d of sample %d: %v, want %v", j, s, z.Data[s*3+j], y.Data[s*9+j])
			}
		}
	}
}

// A warmed-up training step of transformer blocks makes no tensors: what
// it allocates (the Go kernels' goroutines, shape slices) is far below
// one activation buffer, with and without a GradPool.
func TestTransformerStepAllocatesNoTensors(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(4, 4))
	net := Seq(NewPatchEmbed(1, 32, 4), NewClassToken(16, 32), &Dropout{P: 0.1},
		NewTransformerBlock(32, 4, 64, 0.1), NewTransformerBlock(32, 4, 64, 0.1),
		&SelectClassToken{}, NewLayerNorm(32), NewTokenLinear(32, 10))
	bind(b, net, r)
	x := randTensor(b, r, 32, 16, 16, 1)
	dy := randTensor(b, r, 32, 10)
	for _, pool := range []*GradPool{nil, {}} {
		step := func() {
			p := &Pass{B: b, Train: true, Dropout: DropoutKey(1, 2, 3), Grads: pool}
			net.Forward(p, x)
			if pool != nil {
				pool.reset()
			}
			net.Backward(p, dy, false)
		}
		step()
		step()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const steps = 5
		for range steps {
			step()
		}
		runtime.ReadMemStats(&m1)
		perStep := (m1.TotalAlloc - m0.TotalAlloc) / steps
		// The smallest activation: the probabilities of one block,
		// 32·4·17·17 floats.
		if smallest := uint64(4 * 32 * 4 * 17 * 17); perStep > smallest/4 {
			t.Errorf("pool %v: a warmed-up step allocates %d bytes; an attention map is %d", pool != nil, perStep, smallest)
		}
		t.Logf("pool %v: %d bytes, %d allocations a step", pool != nil, perStep, (m1.Mallocs-m0.Mallocs)/steps)
	}
}

// A GradPool gives transformer layers the same gradients, bit for bit, as
// one buffer per layer, over two passes (reused buffers start stale).
func TestTransformerGradPoolSameGradients(t *testing.T) {
	grads := func(pool *GradPool) []float32 {
		b := NewCPU()
		r := rand.New(rand.NewPCG(8, 9))
		net := Seq(NewPatchEmbed(2, 8, 2), NewClassToken(4, 8), &Dropout{P: 0.1},
			NewTransformerBlock(8, 2, 16, 0.1), NewTransformerBlock(8, 2, 16, 0.1),
			&SelectClassToken{}, NewLayerNorm(8), NewTokenLinear(8, 3))
		bind(b, net, r)
		var g []float32
		for pass := range 2 {
			x := randTensor(b, r, 3, 4, 4, 2)
			dy := randTensor(b, r, 3, 3)
			p := &Pass{B: b, Train: true, Dropout: DropoutKey(1, pass, 0), Grads: pool}
			net.Forward(p, x)
			if pool != nil {
				pool.reset()
			}
			net.Backward(p, dy, false)
			g = g[:0]
			for _, prm := range net.Params() {
				g = append(g, prm.G.Data...)
			}
		}
		return g
	}
	want := grads(nil)
	pool := &GradPool{}
	got := grads(pool)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("gradient element %d: %v with the pool, %v without", i, got[i], want[i])
		}
	}
	t.Logf("%d pooled buffers", pool.Len())
}

// A whole small ViT (patches, class token, position embedding, two pre-norm
// blocks, the class token's norm and head) against a float64 forward pass
// written from the definitions, so that the layers compose as ViT does,
// not merely consistently with their own gradients.
func TestViTForwardMatchesDefinition(t *testing.T) {
	b := NewCPU()
	r := rand.New(rand.NewPCG(6, 7))
	const n, h, w, c, p, dim, heads, mlp, classes = 2, 4, 6, 2, 2, 6, 2, 8, 3
	pe := NewPatchEmbed(c, dim, p)
	ct := NewClassToken(6, dim)
	blocks := []*Sequential{NewTransformerBlock(dim, heads, mlp, 0), NewTransformerBlock(dim, heads, mlp, 0)}
	norm, head := NewLayerNorm(dim), NewTokenLinear(dim, classes)
	net := Seq(pe, ct, &Dropout{P: 0.1}, blocks[0], blocks[1], &SelectClassToken{}, norm, head)
	bind(b, net, r)
	x := randTensor(b, r, n, h, w, c)
	y := net.Forward(&Pass{B: b}, x)

	ln := func(l *LayerNorm, v []float64) []float64 {
		var m, q float64
		for _, a := range v {
			m += a
		}
		m /= float64(len(v))
		for _, a := range v {
			q += (a - m) * (a - m)
		}
		s := 1 / math.Sqrt(q/float64(len(v))+float64(l.Eps))
		o := make([]float64, len(v))
		for j, a := range v {
			o[j] = (a-m)*s*float64(l.Gamma.W.Data[j]) + float64(l.Beta.W.Data[j])
		}
		return o
	}
	lin := func(l *Linear, v []float64) []float64 {
		o := make([]float64, l.Out)
		for j := range o {
			o[j] = float64(l.B.W.Data[j])
			for i, a := range v {
				o[j] += float64(l.W.W.Data[j*l.In+i]) * a
			}
		}
		return o
	}
	attn := func(l *MultiHeadSelfAttention, z [][]float64) [][]float64 {
		d := l.C / l.Heads
		qkv := make([][]float64, len(z))
		for i := range z {
			qkv[i] = lin(l.QKV, z[i])
		}
		cat := make([][]float64, len(z))
		for i := range cat {
			cat[i] = make([]float64, l.C)
		}
		for hd := 0; hd < l.Heads; hd++ {
			for i := range z {
				sc := make([]float64, len(z))
				var zs float64
				for j := range z {
					for e := 0; e < d; e++ {
						sc[j] += qkv[i][hd*d+e] * qkv[j][l.C+hd*d+e]
					}
					sc[j] = math.Exp(sc[j] / math.Sqrt(float64(d)))
					zs += sc[j]
				}
				for j := range z {
					for e := 0; e < d; e++ {
						cat[i][hd*d+e] += sc[j] / zs * qkv[j][2*l.C+hd*d+e]
					}
				}
			}
		}
		for i := range cat {
			cat[i] = lin(l.Proj, cat[i])
		}
		return cat
	}
	for s := 0; s < n; s++ {
		// Tokens: the class token, then the patches row by row.
		z := [][]float64{make([]float64, dim)}
		for j := range z[0] {
			z[0][j] = float64(ct.Cls.W.Data[j]) + float64(ct.Pos.W.Data[j])
		}
		for i := 0; i < h/p; i++ {
			for j := 0; j < w/p; j++ {
				tok := make([]float64, dim)
				for o := range tok {
					tok[o] = float64(pe.B.W.Data[o]) + float64(ct.Pos.W.Data[(len(z))*dim+o])
					for a := 0; a < p; a++ {
						for bb := 0; bb < p; bb++ {
							for ch := 0; ch < c; ch++ {
								tok[o] += float64(x.Data[((s*h+i*p+a)*w+j*p+bb)*c+ch]) * float64(pe.W.W.Data[((o*p+a)*p+bb)*c+ch])
							}
						}
					}
				}
				z = append(z, tok)
			}
		}
		for _, blk := range blocks {
			a := blk.Layers[0].(*Residual).Body.(*Sequential)
			m := blk.Layers[1].(*Residual).Body.(*Sequential)
			normed := make([][]float64, len(z))
			for i := range z {
				normed[i] = ln(a.Layers[0].(*LayerNorm), z[i])
			}
			at := attn(a.Layers[1].(*MultiHeadSelfAttention), normed)
			for i := range z {
				for j := range z[i] {
					z[i][j] += at[i][j]
				}
				u := lin(m.Layers[1].(*Linear), ln(m.Layers[0].(*LayerNorm), z[i]))
				for j, v := range u {
					u[j] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
				}
				u = lin(m.Layers[4].(*Linear), u)
				for j := range z[i] {
					z[i][j] += u[j]
				}
			}
		}
		want := lin(head, ln(norm, z[0]))
		for j, v := range want {
			if got := float64(y.Data[s*classes+j]); math.Abs(got-v) > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("sample %d logit %d: %v, want %v", s, j, got, v)
			}
		}
	}
}
