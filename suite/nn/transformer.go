package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The Vision Transformer's layers (Dosovitskiy et al. 2021, as timm's
// vision_transformer.py builds them): tokens are [N, T, C], and every
// layer here keeps the suite's conventions (activation buffers planned per
// shape, input gradients from the pass's GradPool, parameter gradients
// overwritten, every loop a Backend method).
//
// Parameter kinds. Kind decides two things in the suite: ASAM rescales
// Weight tensors only, and Stat is not trained (weight decay applies to
// every trained scalar alike). The linear and patch-embedding matrices are
// Weight, their biases Bias; LayerNorm's γ and β are Norm, like
// batch-norm's; the class token and the position embedding are Bias: they
// are learned additive offsets, and the official ASAM, which rescales the
// parameters whose PyTorch name contains "weight", leaves timm's cls_token
// and pos_embed alone as it leaves biases (timm also exempts them, with
// biases and norms, from weight decay in its recipes).

// vitStd is the standard deviation of timm's ViT initialisation of linear
// weights and of the position embedding (trunc_normal_(std=.02)).
const vitStd = 0.02

// truncNormal returns n draws of N(0, std²) redrawn until they lie in
// [−bound, bound] (absolute bounds, as PyTorch's trunc_normal_).
func truncNormal(r *rand.Rand, n int, std, bound float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		for {
			z := r.NormFloat64() * std
			if math.Abs(z) <= bound {
				v[i] = float32(z)
				break
			}
		}
	}
	return v
}

// viewCache keeps the views a layer takes of its tensors, so that a
// warmed-up step makes none.
type viewCache map[viewKey]*Tensor

type viewKey struct {
	t         *Tensor
	off, rank int
	dims      [4]int
}

func (c *viewCache) view(b Backend, t *Tensor, off int, dims [4]int, rank int) *Tensor {
	k := viewKey{t: t, off: off, rank: rank, dims: dims}
	if v, ok := (*c)[k]; ok {
		return v
	}
	if *c == nil {
		*c = viewCache{}
	}
	shape := make([]int, rank)
	copy(shape, dims[:rank])
	v := b.View(t, off, shape...)
	(*c)[k] = v
	return v
}

func (c *viewCache) view3(b Backend, t *Tensor, off, d0, d1, d2 int) *Tensor {
	return c.view(b, t, off, [4]int{d0, d1, d2}, 3)
}

func (c *viewCache) view4(b Backend, t *Tensor, off, d0, d1, d2, d3 int) *Tensor {
	return c.view(b, t, off, [4]int{d0, d1, d2, d3}, 4)
}

// scratch is a temporary of a backward pass: from the pass's GradPool when
// it has one (handed back with release once read), else the layer's own
// buffer of that name.
func (p *Pass) scratch(own *buffers, name string, shape []int) *Tensor {
	if p.Grads != nil {
		return p.Grads.get(p.B, shape)
	}
	return own.get(p.B, name, shape)
}

// release hands a scratch tensor, or an input gradient a layer inside this
// one returned, back to the pool; anything not on loan is left alone.
func (p *Pass) release(t *Tensor) { p.Grads.put(t) }

func tokens(x []int, what string) (n, t, c int) {
	if len(x) != 3 {
		panic(fmt.Sprintf("nn: %s on a %v input: want tokens [N, T, C]", what, x))
	}
	return x[0], x[1], x[2]
}

// LayerNorm normalises each token (the last dimension) to zero mean and
// unit variance and applies a learned scale γ and shift β: timm's ViT
// norm with ε = 1e-6.
type LayerNorm struct {
	C             int
	Eps           float32
	Gamma, Beta   *Param
	x, mean, rstd *Tensor
	buf           buffers
}

// NewLayerNorm returns a layer norm over c features, ε = 1e-6.
func NewLayerNorm(c int) *LayerNorm {
	return &LayerNorm{C: c, Eps: 1e-6,
		Gamma: &Param{Name: "ln.gamma", Shape: []int{c}, Kind: Norm},
		Beta:  &Param{Name: "ln.beta", Shape: []int{c}, Kind: Norm}}
}

func (l *LayerNorm) Params() []*Param        { return []*Param{l.Gamma, l.Beta} }
func (l *LayerNorm) OutShape(in []int) []int { return in }

func (l *LayerNorm) Forward(p *Pass, x *Tensor) *Tensor {
	if x.Cols() != l.C {
		panic(fmt.Sprintf("nn: layer norm over %d features on %v", l.C, x.Shape))
	}
	y := l.buf.get(p.B, "y", x.Shape)
	rows := []int{x.Len() / l.C}
	l.mean, l.rstd = l.buf.get(p.B, "mean", rows), l.buf.get(p.B, "rstd", rows)
	p.B.LayerNorm(x, y, l.Gamma.W, l.Beta.W, l.mean, l.rstd, l.Eps)
	l.x = x
	return y
}

func (l *LayerNorm) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	var dx *Tensor
	if needDX {
		dx = p.gradBuffer(&l.buf, l.x.Shape)
	}
	p.B.LayerNormBackward(l.x, dy, dx, l.Gamma.W, l.mean, l.rstd, l.Gamma.G, l.Beta.G)
	return dx
}

// Init sets γ = 1 and β = 0.
func (l *LayerNorm) Init(b Backend, _ *rand.Rand) {
	b.Fill(l.Gamma.W, 1)
	b.Fill(l.Beta.W, 0)
}

// GELU is x·Φ(x), the exact (erf) form.
type GELU struct {
	x   *Tensor
	buf buffers
}

func (l *GELU) Params() []*Param        { return nil }
func (l *GELU) OutShape(in []int) []int { return in }

func (l *GELU) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", x.Shape)
	p.B.GELU(x, y)
	l.x = x
	return y
}

func (l *GELU) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	dx := p.gradBuffer(&l.buf, dy.Shape)
	p.B.GELUBackward(l.x, dy, dx)
	return dx
}

// NewTokenLinear is a linear layer on the last dimension of tokens
// [N, T, In] (Linear takes any rank), initialised as timm's ViT: weights
// truncated normal with std 0.02, bias zero.
func NewTokenLinear(in, out int) *Linear {
	l := NewLinear(in, out)
	l.Std = vitStd
	return l
}

// MultiHeadSelfAttention is timm's Attention: a fused query-key-value
// projection with bias, softmax(Q·Kᵀ/√D)·V in each of Heads heads of
// D = C/Heads features, the heads concatenated and projected back to C
// with bias. Drop is dropout on the attention probabilities (P 0 by
// default, as in the usual ViT); the dropout after the output projection
// is the block's, not this layer's.
type MultiHeadSelfAttention struct {
	C, Heads  int
	QKV, Proj *Linear
	Drop      Dropout
	// Forward state: the heads [3, N·H, T, D], the probabilities
	// [N·H, T, T] and what the values were multiplied with (the
	// probabilities after dropout).
	heads, probs, used *Tensor
	views              viewCache
	buf                buffers
}

// NewMultiHeadSelfAttention returns attention over c features in heads
// heads (c must be a multiple of heads), its projections initialised as
// timm's ViT.
func NewMultiHeadSelfAttention(c, heads int) *MultiHeadSelfAttention {
	if heads < 1 || c%heads != 0 {
		panic(fmt.Sprintf("nn: %d features do not split into %d heads", c, heads))
	}
	l := &MultiHeadSelfAttention{C: c, Heads: heads, QKV: NewTokenLinear(c, 3*c), Proj: NewTokenLinear(c, c)}
	l.QKV.W.Name, l.QKV.B.Name = "attn.qkv.w", "attn.qkv.b"
	l.Proj.W.Name, l.Proj.B.Name = "attn.proj.w", "attn.proj.b"
	return l
}

func (l *MultiHeadSelfAttention) Children() []Layer { return []Layer{l.QKV, l.Proj} }

func (l *MultiHeadSelfAttention) Params() []*Param {
	return append(l.QKV.Params(), l.Proj.Params()...)
}

func (l *MultiHeadSelfAttention) OutShape(in []int) []int { return in }

func (l *MultiHeadSelfAttention) scale() float32 {
	return float32(1 / math.Sqrt(float64(l.C/l.Heads)))
}

// qkv are the views of the query, key and value heads in h [3, N·H, T, D].
func (l *MultiHeadSelfAttention) qkv(b Backend, h *Tensor) (q, k, v *Tensor) {
	nh, t, d := h.Shape[1], h.Shape[2], h.Shape[3]
	m := nh * t * d
	return l.views.view3(b, h, 0, nh, t, d), l.views.view3(b, h, m, nh, t, d), l.views.view3(b, h, 2*m, nh, t, d)
}

func (l *MultiHeadSelfAttention) Forward(p *Pass, x *Tensor) *Tensor {
	b := p.B
	n, t, _ := tokens(x.Shape, "attention")
	nh, d := n*l.Heads, l.C/l.Heads
	qkv := l.QKV.Forward(p, x)
	h := l.buf.get(b, "heads", []int{3, nh, t, d})
	b.SplitHeads(qkv, h, 3, l.Heads)
	q, k, v := l.qkv(b, h)
	s := l.buf.get(b, "probs", []int{nh, t, t})
	b.BatchedMatMul(false, true, l.scale(), q, k, 0, s)
	b.SoftmaxRows(s, s)
	used := l.Drop.Forward(p, s)
	o := l.buf.get(b, "o", []int{nh, t, d})
	b.BatchedMatMul(false, false, 1, used, v, 0, o)
	merged := l.buf.get(b, "merged", []int{n, t, l.C})
	b.MergeHeads(o, merged, 1, l.Heads)
	l.heads, l.probs, l.used = h, s, used
	return l.Proj.Forward(p, merged)
}

func (l *MultiHeadSelfAttention) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	b := p.B
	nh, t, d := l.heads.Shape[1], l.heads.Shape[2], l.heads.Shape[3]
	n := nh / l.Heads
	q, k, v := l.qkv(b, l.heads)
	dmerged := l.Proj.Backward(p, dy, true)
	do := p.scratch(&l.buf, "do", []int{nh, t, d})
	b.SplitHeads(dmerged, do, 1, l.Heads)
	p.release(dmerged)
	dused := p.scratch(&l.buf, "dused", []int{nh, t, t})
	b.BatchedMatMul(false, true, 1, do, v, 0, dused) // d(probs after dropout) = dO·Vᵀ
	dh := p.scratch(&l.buf, "dheads", []int{3, nh, t, d})
	dq, dk, dv := l.qkv(b, dh)
	b.BatchedMatMul(true, false, 1, l.used, do, 0, dv) // dV = Pᵀ·dO
	p.release(do)
	ds := l.Drop.Backward(p, dused, true)
	if ds != dused {
		p.release(dused)
	}
	b.SoftmaxRowsBackward(l.probs, ds, ds)
	b.BatchedMatMul(false, false, l.scale(), ds, k, 0, dq) // dQ = dS·K/√D
	b.BatchedMatMul(true, false, l.scale(), ds, q, 0, dk)  // dK = dSᵀ·Q/√D
	p.release(ds)
	dqkv := p.scratch(&l.buf, "dqkv", []int{n, t, 3 * l.C})
	b.MergeHeads(dh, dqkv, 3, l.Heads)
	p.release(dh)
	dx := l.QKV.Backward(p, dqkv, needDX)
	p.release(dqkv)
	return dx
}

// FLOPs counts the two projections and the two batched products of
// attention (Q·Kᵀ and P·V); their backward passes are twice that, and
// always run (the projections' weight gradients need them), except the
// input gradient of the query-key-value projection.
func (l *MultiHeadSelfAttention) FLOPs(in []int, needDX bool) (fwd, bwd int64) {
	n, t, c := int64(in[0]), int64(in[1]), int64(l.C)
	qkv, proj := 2*n*t*c*3*c, 2*n*t*c*c
	att := 2 * 2 * n * t * t * c // over all heads: H·T·T·D = T·T·C
	fwd = qkv + proj + att
	bwd = qkv + 2*proj + 2*att
	if needDX {
		bwd += qkv
	}
	return fwd, bwd
}

// PatchEmbed cuts an NHWC image into P×P patches and projects each to Out
// features: a P×P convolution of stride P with a bias, its output read as
// tokens [N, (H/P)·(W/P), Out] in row-major patch order.
type PatchEmbed struct {
	In, Out, P int
	W, B       *Param
	x          *Tensor
	views      viewCache
	buf        buffers
}

// NewPatchEmbed returns the patch embedding of p×p patches of in channels.
func NewPatchEmbed(in, out, p int) *PatchEmbed {
	return &PatchEmbed{In: in, Out: out, P: p,
		W: &Param{Name: "patch.w", Shape: []int{out, p, p, in}, Kind: Weight},
		B: &Param{Name: "patch.b", Shape: []int{out}, Kind: Bias}}
}

func (l *PatchEmbed) geom() ConvGeom   { return ConvGeom{KH: l.P, KW: l.P, Stride: l.P} }
func (l *PatchEmbed) Params() []*Param { return []*Param{l.W, l.B} }

func (l *PatchEmbed) OutShape(in []int) []int {
	return []int{in[0], (in[1] / l.P) * (in[2] / l.P), l.Out}
}

func (l *PatchEmbed) Forward(p *Pass, x *Tensor) *Tensor {
	n, gh, gw := x.Shape[0], x.Shape[1]/l.P, x.Shape[2]/l.P
	y := l.buf.get(p.B, "y", []int{n, gh, gw, l.Out})
	p.B.Conv2D(x, l.W.W, y, l.geom())
	p.B.AddRowVector(y, l.B.W)
	l.x = x
	return l.views.view3(p.B, y, 0, n, gh*gw, l.Out)
}

func (l *PatchEmbed) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	n, gh, gw := l.x.Shape[0], l.x.Shape[1]/l.P, l.x.Shape[2]/l.P
	p.B.SumRows(dy, l.B.G, 0)
	var dx *Tensor
	if needDX {
		dx = p.gradBuffer(&l.buf, l.x.Shape)
	}
	p.B.Conv2DBackward(l.x, l.W.W, l.views.view4(p.B, dy, 0, n, gh, gw, l.Out), dx, l.W.G, l.geom())
	return dx
}

// Init is timm's: its ViT initialisation leaves the patch projection at
// PyTorch's Conv2d default, weights and bias uniform in ±1/√(P²·In)
// (kaiming_uniform_ with a = √5).
func (l *PatchEmbed) Init(b Backend, r *rand.Rand) {
	bound := 1 / math.Sqrt(float64(l.P*l.P*l.In))
	for _, t := range []*Tensor{l.W.W, l.B.W} {
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = float32((2*r.Float64() - 1) * bound)
		}
		b.Upload(t, v)
	}
}

func (l *PatchEmbed) FLOPs(in []int, needDX bool) (fwd, bwd int64) {
	fwd = 2 * int64(numel(l.OutShape(in))) * int64(l.P*l.P*l.In)
	bwd = fwd
	if needDX {
		bwd += fwd
	}
	return fwd, bwd
}

// ClassToken prepends a learned class token Cls [C] to every sample's T
// patch tokens and adds a learned position embedding Pos [T+1, C]:
// [N, T, C] → [N, T+1, C].
type ClassToken struct {
	T, C     int
	Cls, Pos *Param
	views    viewCache
	buf      buffers
}

// NewClassToken returns the class token and position embedding for t
// patch tokens of c features.
func NewClassToken(t, c int) *ClassToken {
	return &ClassToken{T: t, C: c,
		Cls: &Param{Name: "vit.cls", Shape: []int{c}, Kind: Bias},
		Pos: &Param{Name: "vit.pos", Shape: []int{t + 1, c}, Kind: Bias}}
}

func (l *ClassToken) Params() []*Param { return []*Param{l.Cls, l.Pos} }

func (l *ClassToken) OutShape(in []int) []int { return []int{in[0], in[1] + 1, in[2]} }

func (l *ClassToken) Forward(p *Pass, x *Tensor) *Tensor {
	n, t, c := tokens(x.Shape, "class token")
	if t != l.T || c != l.C {
		panic(fmt.Sprintf("nn: class token for %d tokens of %d features on %v", l.T, l.C, x.Shape))
	}
	y := l.buf.get(p.B, "y", []int{n, t + 1, c})
	p.B.StridedCopy(y, 0, (t+1)*c, l.Cls.W, 0, 0, n, c)
	p.B.StridedCopy(y, c, (t+1)*c, x, 0, t*c, n, t*c)
	p.B.AddRowVector(y, l.Pos.W) // Pos.W holds (T+1)·C: one sample's row
	return y
}

func (l *ClassToken) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	n, t1, c := dy.Shape[0], dy.Shape[1], dy.Shape[2]
	p.B.SumRows(dy, l.Pos.G, 0)
	// The class token's gradient is the position embedding's at token 0.
	p.B.Copy(l.Cls.G, l.views.view(p.B, l.Pos.G, 0, [4]int{c}, 1))
	if !needDX {
		return nil
	}
	t := t1 - 1
	dx := p.gradBuffer(&l.buf, []int{n, t, c})
	p.B.StridedCopy(dx, 0, t*c, dy, c, t1*c, n, t*c)
	return dx
}

// Init is timm's: the position embedding truncated normal with std 0.02,
// the class token normal with std 1e-6 (timm's init_weights; the original
// JAX ViT starts it at zero).
func (l *ClassToken) Init(b Backend, r *rand.Rand) {
	b.Upload(l.Pos.W, truncNormal(r, l.Pos.W.Len(), vitStd, 2))
	v := make([]float32, l.C)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 1e-6)
	}
	b.Upload(l.Cls.W, v)
}

// SelectClassToken passes on the class token's features, [N, T, C] →
// [N, C], for the classifier head.
type SelectClassToken struct {
	in  []int
	buf buffers
}

func (l *SelectClassToken) Params() []*Param        { return nil }
func (l *SelectClassToken) OutShape(in []int) []int { return []int{in[0], in[2]} }

func (l *SelectClassToken) Forward(p *Pass, x *Tensor) *Tensor {
	n, t, c := tokens(x.Shape, "class token selection")
	y := l.buf.get(p.B, "y", []int{n, c})
	p.B.StridedCopy(y, 0, c, x, 0, t*c, n, c)
	l.in = x.Shape
	return y
}

func (l *SelectClassToken) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	n, t, c := l.in[0], l.in[1], l.in[2]
	dx := p.gradBuffer(&l.buf, l.in)
	p.B.Fill(dx, 0)
	p.B.StridedCopy(dx, 0, t*c, dy, 0, c, n, c)
	return dx
}

// NewTransformerBlock is the pre-norm encoder block of ViT:
// x + Drop(MHSA(LN(x))), then x + Drop(MLP(LN(x))) with
// MLP = Linear(C→M), GELU, Drop, Linear(M→C); drop is the dropout rate
// after the attention projection and in the MLP (timm's proj_drop and
// drop), attention dropout and stochastic depth are off. The residual
// bodies end in a Dropout, so Residual keeps the sum in its own buffer.
func NewTransformerBlock(c, heads, mlp int, drop float32) *Sequential {
	return Seq(
		&Residual{Body: Seq(NewLayerNorm(c), NewMultiHeadSelfAttention(c, heads), &Dropout{P: drop})},
		&Residual{Body: Seq(NewLayerNorm(c), NewTokenLinear(c, mlp), &GELU{}, &Dropout{P: drop},
			NewTokenLinear(mlp, c), &Dropout{P: drop})},
	)
}
