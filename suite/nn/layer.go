package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rst-bench/rst/suite/rng"
)

// Pass carries what one forward/backward pass needs to know.
type Pass struct {
	B Backend
	// Train uses batch statistics in batch-norm and activates dropout.
	Train bool
	// FreezeStats keeps batch-norm running statistics untouched even in a
	// training pass: a SAM step's second pass normalises with its own batch
	// statistics but must not move the running averages.
	FreezeStats bool
	// Dropout keys the pass's dropout masks (see DropoutKey). Each Dropout
	// layer takes the next elements of the key's counter-based sequence,
	// from DropoutDrawn on, and advances it, so no two layers share draws.
	Dropout      rng.Key
	DropoutDrawn uint64
	// Grads, when set, lends the layers their input-gradient buffers for
	// the backward pass (see GradPool); nil keeps one buffer per layer.
	Grads *GradPool
}

// Layer is one differentiable block. Forward keeps what its Backward needs
// (usually its input and output); Backward returns the input gradient, or
// nil when needDX is false (the network's first layer needs none), and
// writes parameter gradients into the parameters' G views.
type Layer interface {
	Params() []*Param
	OutShape(in []int) []int
	Forward(p *Pass, x *Tensor) *Tensor
	Backward(p *Pass, dy *Tensor, needDX bool) *Tensor
}

// Container is a layer made of other layers.
type Container interface {
	Children() []Layer
}

// Initializer is a layer whose parameters have their own initial values.
type Initializer interface {
	Init(b Backend, r *rand.Rand)
}

// FLOPCounter reports the multiply-add work of a layer (2 FLOPs each):
// forward, and backward (weight gradient plus input gradient when needDX).
type FLOPCounter interface {
	FLOPs(in []int, needDX bool) (fwd, bwd int64)
}

// buffers hands out activation tensors planned per shape: the first request
// for a (name, shape) allocates, later ones reuse. A short last batch gets
// its own plan instead of forcing reallocation every epoch.
type buffers struct {
	m map[bufKey]*Tensor
}

type bufKey struct {
	name           string
	d0, d1, d2, d3 int
}

func (s *buffers) get(b Backend, name string, shape []int) *Tensor {
	k := bufKey{name: name, d0: -1, d1: -1, d2: -1, d3: -1}
	dims := [...]*int{&k.d0, &k.d1, &k.d2, &k.d3}
	if len(shape) > len(dims) {
		panic(fmt.Sprintf("nn: %d-dimensional buffer", len(shape)))
	}
	for i, d := range shape {
		*dims[i] = d
	}
	if t, ok := s.m[k]; ok {
		return t
	}
	if s.m == nil {
		s.m = map[bufKey]*Tensor{}
	}
	t := b.New(shape...)
	s.m[k] = t
	return t
}

// Conv2D is a bias-free 2-D convolution on NHWC input (a batch-norm follows
// every convolution in the suite's models), weights [Cout, K, K, Cin].
type Conv2D struct {
	In, Out, K, Stride, Pad int
	W                       *Param
	x                       *Tensor
	buf                     buffers
}

// NewConv2D returns a K×K convolution from In to Out channels.
func NewConv2D(in, out, k, stride, pad int) *Conv2D {
	return &Conv2D{In: in, Out: out, K: k, Stride: stride, Pad: pad,
		W: &Param{Name: "conv.w", Shape: []int{out, k, k, in}, Kind: Weight}}
}

func (l *Conv2D) geom() ConvGeom { return ConvGeom{KH: l.K, KW: l.K, Stride: l.Stride, Pad: l.Pad} }

func (l *Conv2D) Params() []*Param { return []*Param{l.W} }

func (l *Conv2D) OutShape(in []int) []int {
	oh, ow := l.geom().Out(in[1], in[2])
	return []int{in[0], oh, ow, l.Out}
}

func (l *Conv2D) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", l.OutShape(x.Shape))
	p.B.Conv2D(x, l.W.W, y, l.geom())
	l.x = x
	return y
}

func (l *Conv2D) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	var dx *Tensor
	if needDX {
		dx = p.gradBuffer(&l.buf, l.x.Shape)
	}
	p.B.Conv2DBackward(l.x, l.W.W, dy, dx, l.W.G, l.geom())
	return dx
}

// Init draws Kaiming-normal weights with fan-out, std = √(2/(K²·Out)), as
// docs/PAPER.md §3 prescribes for convolutions.
func (l *Conv2D) Init(b Backend, r *rand.Rand) {
	std := math.Sqrt(2 / float64(l.K*l.K*l.Out))
	v := make([]float32, l.W.W.Len())
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	b.Upload(l.W.W, v)
}

func (l *Conv2D) FLOPs(in []int, needDX bool) (fwd, bwd int64) {
	out := l.OutShape(in)
	fwd = 2 * int64(numel(out)) * int64(l.K*l.K*l.In)
	bwd = fwd
	if needDX {
		bwd += fwd
	}
	return fwd, bwd
}

// Linear is y = x·Wᵀ + b on [N, In] input, or on the last dimension of
// [N, T, In] tokens (y is then [N, T, Out]).
type Linear struct {
	In, Out int
	W, B    *Param
	// Std, when positive, makes Init draw the weights from a normal of
	// this standard deviation truncated to [−2, 2] and zero the bias, as
	// timm's ViT initialises its linear layers (trunc_normal_(std=.02),
	// whose bounds are absolute); 0 keeps the suite's default below.
	Std float64
	x   *Tensor
	buf buffers
}

// NewLinear returns a fully connected layer with bias.
func NewLinear(in, out int) *Linear {
	return &Linear{In: in, Out: out,
		W: &Param{Name: "linear.w", Shape: []int{out, in}, Kind: Weight},
		B: &Param{Name: "linear.b", Shape: []int{out}, Kind: Bias}}
}

func (l *Linear) Params() []*Param { return []*Param{l.W, l.B} }

func (l *Linear) OutShape(in []int) []int {
	if len(in) == 2 {
		return []int{in[0], l.Out}
	}
	return append(append([]int(nil), in[:len(in)-1]...), l.Out)
}

func (l *Linear) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", l.OutShape(x.Shape))
	p.B.MatMul(false, true, 1, x, l.W.W, 0, y)
	p.B.AddRowVector(y, l.B.W)
	l.x = x
	return y
}

func (l *Linear) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	p.B.MatMul(true, false, 1, dy, l.x, 0, l.W.G)
	p.B.SumRows(dy, l.B.G, 0)
	if !needDX {
		return nil
	}
	dx := p.gradBuffer(&l.buf, l.x.Shape)
	p.B.MatMul(false, false, 1, dy, l.W.W, 0, dx)
	return dx
}

// Init draws weights and bias uniformly in ±1/√In (docs/PAPER.md §3,
// classifier), or as Std says when it is set.
func (l *Linear) Init(b Backend, r *rand.Rand) {
	if l.Std > 0 {
		b.Upload(l.W.W, truncNormal(r, l.W.W.Len(), l.Std, 2))
		b.Fill(l.B.W, 0)
		return
	}
	bound := 1 / math.Sqrt(float64(l.In))
	for _, t := range []*Tensor{l.W.W, l.B.W} {
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = float32((2*r.Float64() - 1) * bound)
		}
		b.Upload(t, v)
	}
}

func (l *Linear) FLOPs(in []int, needDX bool) (fwd, bwd int64) {
	fwd = 2 * int64(numel(in[:len(in)-1])) * int64(l.In*l.Out)
	bwd = fwd
	if needDX {
		bwd += fwd
	}
	return fwd, bwd
}

// BatchNorm normalises over all dimensions but the last (channels). Its
// running statistics follow running = m·running + (1−m)·batch with the
// biased batch variance (m = 0.9 in docs/PAPER.md §3, Flax's convention).
type BatchNorm struct {
	C               int
	ReLU            bool // apply max(0, ·) to the output, fused into the same pass
	Momentum, Eps   float32
	Gamma, Beta     *Param
	RunMean, RunVar *Param
	x, y            *Tensor
	mean, variance  *Tensor
	buf             buffers
}

// NewBatchNorm returns a batch-norm over c channels, momentum 0.9, ε 1e-5.
func NewBatchNorm(c int) *BatchNorm {
	return &BatchNorm{C: c, Momentum: 0.9, Eps: 1e-5,
		Gamma:   &Param{Name: "bn.gamma", Shape: []int{c}, Kind: Norm},
		Beta:    &Param{Name: "bn.beta", Shape: []int{c}, Kind: Norm},
		RunMean: &Param{Name: "bn.mean", Shape: []int{c}, Kind: Stat},
		RunVar:  &Param{Name: "bn.var", Shape: []int{c}, Kind: Stat}}
}

func (l *BatchNorm) Params() []*Param        { return []*Param{l.Gamma, l.Beta, l.RunMean, l.RunVar} }
func (l *BatchNorm) OutShape(in []int) []int { return in }

func (l *BatchNorm) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", x.Shape)
	l.x, l.y = x, y
	if !p.Train {
		p.B.BatchNormInfer(x, y, l.Gamma.W, l.Beta.W, l.RunMean.W, l.RunVar.W, l.Eps, l.ReLU)
		return y
	}
	if l.mean == nil {
		l.mean, l.variance = p.B.New(l.C), p.B.New(l.C)
	}
	p.B.BatchNormTrain(x, y, l.Gamma.W, l.Beta.W, l.mean, l.variance, l.Eps, l.ReLU)
	if !p.FreezeStats {
		p.B.Lerp(l.RunMean.W, l.mean, 1-l.Momentum)
		p.B.Lerp(l.RunVar.W, l.variance, 1-l.Momentum)
	}
	return y
}

func (l *BatchNorm) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	var dx *Tensor
	if needDX {
		dx = p.gradBuffer(&l.buf, l.x.Shape)
	}
	p.B.BatchNormBackward(l.x, l.y, dy, dx, l.Gamma.W, l.mean, l.variance, l.Gamma.G, l.Beta.G, l.Eps, l.ReLU)
	return dx
}

// NewBatchNormReLU is NewBatchNorm followed by a ReLU, fused.
func NewBatchNormReLU(c int) *BatchNorm {
	l := NewBatchNorm(c)
	l.ReLU = true
	return l
}

// Init sets γ = 1, β = 0, running mean 0 and running variance 1.
func (l *BatchNorm) Init(b Backend, _ *rand.Rand) {
	b.Fill(l.Gamma.W, 1)
	b.Fill(l.Beta.W, 0)
	b.Fill(l.RunMean.W, 0)
	b.Fill(l.RunVar.W, 1)
}

// ReLU is max(x, 0).
type ReLU struct {
	y   *Tensor
	buf buffers
}

func (l *ReLU) Params() []*Param        { return nil }
func (l *ReLU) OutShape(in []int) []int { return in }

func (l *ReLU) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", x.Shape)
	p.B.ReLU(x, y)
	l.y = y
	return y
}

func (l *ReLU) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	dx := p.gradBuffer(&l.buf, dy.Shape)
	p.B.ReLUBackward(l.y, dy, dx)
	return dx
}

// Pool is max or average pooling with a K×K window.
type Pool struct {
	Max            bool
	K, Stride, Pad int
	x, y           *Tensor
	buf            buffers
}

// NewMaxPool and NewAvgPool return pooling layers.
func NewMaxPool(k, stride int) *Pool { return &Pool{Max: true, K: k, Stride: stride} }
func NewAvgPool(k, stride int) *Pool { return &Pool{K: k, Stride: stride} }

func (l *Pool) geom() ConvGeom   { return ConvGeom{KH: l.K, KW: l.K, Stride: l.Stride, Pad: l.Pad} }
func (l *Pool) Params() []*Param { return nil }

func (l *Pool) OutShape(in []int) []int {
	oh, ow := l.geom().Out(in[1], in[2])
	return []int{in[0], oh, ow, in[3]}
}

func (l *Pool) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", l.OutShape(x.Shape))
	if l.Max {
		p.B.MaxPool(x, y, l.geom())
	} else {
		p.B.AvgPool(x, y, l.geom())
	}
	l.x, l.y = x, y
	return y
}

func (l *Pool) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	dx := p.gradBuffer(&l.buf, l.x.Shape)
	if l.Max {
		p.B.MaxPoolBackward(l.x, l.y, dy, dx, l.geom())
	} else {
		p.B.AvgPoolBackward(dy, dx, l.geom())
	}
	return dx
}

// GlobalAvgPool averages each channel over the image: [N,H,W,C] → [N,C].
type GlobalAvgPool struct {
	in  []int
	buf buffers
}

func (l *GlobalAvgPool) Params() []*Param        { return nil }
func (l *GlobalAvgPool) OutShape(in []int) []int { return []int{in[0], in[3]} }

func (l *GlobalAvgPool) Forward(p *Pass, x *Tensor) *Tensor {
	y := l.buf.get(p.B, "y", l.OutShape(x.Shape))
	p.B.GlobalAvgPool(x, y)
	l.in = x.Shape
	return y
}

func (l *GlobalAvgPool) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	dx := p.gradBuffer(&l.buf, l.in)
	p.B.GlobalAvgPoolBackward(dy, dx)
	return dx
}

// Flatten reshapes [N, ...] to [N, F] without copying.
type Flatten struct {
	in       []int
	fwd, bwd map[*Tensor]*Tensor
}

func (l *Flatten) Params() []*Param        { return nil }
func (l *Flatten) OutShape(in []int) []int { return []int{in[0], numel(in[1:])} }

// reshape returns a cached view of t with shape, so no view is allocated
// per step.
func reshape(b Backend, cache *map[*Tensor]*Tensor, t *Tensor, shape []int) *Tensor {
	if v, ok := (*cache)[t]; ok && sameShape(v.Shape, shape) {
		return v
	}
	if *cache == nil {
		*cache = map[*Tensor]*Tensor{}
	}
	v := b.View(t, 0, shape...)
	(*cache)[t] = v
	return v
}

func (l *Flatten) Forward(p *Pass, x *Tensor) *Tensor {
	l.in = x.Shape
	return reshape(p.B, &l.fwd, x, l.OutShape(x.Shape))
}

func (l *Flatten) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX {
		return nil
	}
	return reshape(p.B, &l.bwd, dy, l.in)
}

// Dropout zeroes each element with probability P during training and scales
// the rest by 1/(1−P); it is the identity at evaluation.
type Dropout struct {
	P      float32
	mask   *Tensor
	active bool
	buf    buffers
}

func (l *Dropout) Params() []*Param        { return nil }
func (l *Dropout) OutShape(in []int) []int { return in }

func (l *Dropout) Forward(p *Pass, x *Tensor) *Tensor {
	l.active = p.Train && l.P > 0
	if !l.active {
		return x
	}
	l.mask = l.buf.get(p.B, "mask", x.Shape)
	p.B.DropoutMask(l.mask, l.P, p.Dropout, p.DropoutDrawn)
	p.DropoutDrawn += uint64(l.mask.Len())
	y := l.buf.get(p.B, "y", x.Shape)
	p.B.Mul(x, l.mask, y)
	return y
}

func (l *Dropout) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if !needDX || !l.active {
		if needDX {
			return dy
		}
		return nil
	}
	dx := p.gradBuffer(&l.buf, dy.Shape)
	p.B.Mul(dy, l.mask, dx)
	return dx
}

// Sequential applies its layers in order.
type Sequential struct {
	Layers []Layer
	// firstParam is the index of the first layer with parameters, plus one
	// (0 until computed): no layer before it needs an input gradient
	// unless the whole sequence does.
	firstParam int
}

// Seq returns a Sequential of the given layers.
func Seq(layers ...Layer) *Sequential { return &Sequential{Layers: layers} }

func (s *Sequential) Children() []Layer { return s.Layers }

func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

func (s *Sequential) OutShape(in []int) []int {
	for _, l := range s.Layers {
		in = l.OutShape(in)
	}
	return in
}

func (s *Sequential) Forward(p *Pass, x *Tensor) *Tensor {
	for _, l := range s.Layers {
		x = l.Forward(p, x)
	}
	return x
}

func (s *Sequential) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	if s.firstParam == 0 {
		s.firstParam = len(s.Layers) + 1
		for i, l := range s.Layers {
			if len(l.Params()) > 0 {
				s.firstParam = i + 1
				break
			}
		}
	}
	first := s.firstParam - 1
	in := dy
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if !needDX && i < first {
			if dy != in {
				p.done(dy, nil)
			}
			return nil
		}
		dx := s.Layers[i].Backward(p, dy, needDX || i > first)
		if dy != in { // the caller's gradient is the caller's to hand back
			p.done(dy, dx)
		}
		dy = dx
	}
	return dy
}

// Residual is y = Body(x) + Shortcut(x), with the identity when Shortcut
// is nil, followed by a ReLU when ReLU is set (fused into the addition, as
// in a post-activation ResNet block).
type Residual struct {
	Body, Shortcut Layer
	ReLU           bool
	y              *Tensor
	buf            buffers
}

func (r *Residual) Children() []Layer {
	if r.Shortcut == nil {
		return []Layer{r.Body}
	}
	return []Layer{r.Body, r.Shortcut}
}

func (r *Residual) Params() []*Param {
	ps := r.Body.Params()
	if r.Shortcut != nil {
		ps = append(ps, r.Shortcut.Params()...)
	}
	return ps
}

func (r *Residual) OutShape(in []int) []int { return r.Body.OutShape(in) }

func (r *Residual) Forward(p *Pass, x *Tensor) *Tensor {
	b := r.Body.Forward(p, x)
	s := x
	if r.Shortcut != nil {
		s = r.Shortcut.Forward(p, x)
	}
	// The sum goes into the body's output when no backward reads that
	// output again: one activation less to keep per block.
	y := b
	if !outputUnread(r.Body) {
		y = r.buf.get(p.B, "y", b.Shape)
	}
	if r.ReLU {
		p.B.AddReLU(b, s, y)
	} else {
		p.B.Add(b, s, y)
	}
	r.y = y
	return y
}

func (r *Residual) Backward(p *Pass, dy *Tensor, needDX bool) *Tensor {
	in := dy
	if r.ReLU {
		var masked *Tensor
		if p.Grads != nil {
			masked = p.Grads.get(p.B, dy.Shape)
		} else {
			masked = r.buf.get(p.B, "dmask", dy.Shape)
		}
		p.B.ReLUBackward(r.y, dy, masked)
		dy = masked
	}
	db := r.Body.Backward(p, dy, needDX)
	if !needDX {
		if r.Shortcut != nil {
			r.Shortcut.Backward(p, dy, false)
		}
		if dy != in {
			p.done(dy, nil)
		}
		return nil
	}
	ds := dy
	if r.Shortcut != nil {
		ds = r.Shortcut.Backward(p, dy, true)
	}
	dx := p.gradBuffer(&r.buf, db.Shape)
	p.B.Add(db, ds, dx)
	// Both branches have been read: hand back what this block took.
	for _, t := range [...]*Tensor{db, ds, dy} {
		if t != in {
			p.Grads.put(t)
		}
	}
	return dx
}

// outputUnread says whether l's backward never reads the tensor its
// forward returned, so that a later layer may overwrite it: true of
// convolutions, linear layers and batch-norm without its ReLU (whose
// backward needs the output only for the ReLU's mask), and of a sequence
// that ends in one.
func outputUnread(l Layer) bool {
	switch l := l.(type) {
	case *Sequential:
		return len(l.Layers) > 0 && outputUnread(l.Layers[len(l.Layers)-1])
	case *Conv2D, *Linear:
		return true
	case *BatchNorm:
		return !l.ReLU
	}
	return false
}
