package nn

import (
	"fmt"

	"github.com/rst-bench/rst/suite/rng"
)

// Net is a built model: its layer tree plus the flat buffers that hold all
// trainable parameters (W), their gradients (G, same layout) and the
// non-trained statistics (S).
type Net struct {
	B       Backend
	Root    Layer
	InShape []int // one sample's shape: [H, W, C] or [F]
	Params  []*Param
	Stats   []*Param
	W, G, S *Tensor
}

// Build gathers root's parameters into flat buffers on b and checks that
// the layers' shapes fit an input of one sample of shape in.
func Build(b Backend, root Layer, in []int) (*Net, error) {
	if out := root.OutShape(append([]int{1}, in...)); len(out) != 2 {
		return nil, fmt.Errorf("nn: model output shape %v for input %v: want [N, classes]", out, in)
	}
	n := &Net{B: b, Root: root, InShape: append([]int(nil), in...)}
	var nw, ns int
	seen := map[*Param]bool{}
	for _, p := range root.Params() {
		if seen[p] {
			return nil, fmt.Errorf("nn: parameter %s appears twice in the model", p.Name)
		}
		seen[p] = true
		if p.Kind == Stat {
			p.Offset, ns = ns, ns+numel(p.Shape)
			n.Stats = append(n.Stats, p)
		} else {
			p.Offset, nw = nw, nw+numel(p.Shape)
			n.Params = append(n.Params, p)
		}
	}
	n.W, n.G, n.S = b.New(nw), b.New(nw), b.New(max(ns, 1))
	// New's contents are undefined (the cuda device's memory is reused,
	// not cleared); a model without statistics still has one element of
	// S, which checkpoints and the conformance checks read.
	b.Fill(n.G, 0)
	b.Fill(n.S, 0)
	for _, p := range n.Params {
		p.W = b.View(n.W, p.Offset, p.Shape...)
		p.G = b.View(n.G, p.Offset, p.Shape...)
	}
	for _, p := range n.Stats {
		p.W = b.View(n.S, p.Offset, p.Shape...)
	}
	return n, nil
}

// NumParams is the number of trainable scalars.
func (n *Net) NumParams() int { return n.W.Len() }

// Init gives every layer its initial values; each layer draws from its own
// stream keyed by the seed and its position, so adding a layer at the end
// does not change the others.
func (n *Net) Init(seed uint64) {
	i := 0
	walk(n.Root, func(l Layer) {
		if in, ok := l.(Initializer); ok {
			in.Init(n.B, rng.New(seed, "init", uint64(i)))
		}
		i++
	})
}

func walk(l Layer, fn func(Layer)) {
	fn(l)
	if c, ok := l.(Container); ok {
		for _, ch := range c.Children() {
			walk(ch, fn)
		}
	}
}

// Forward runs the model on a batch x of shape [N, InShape...] and returns
// the logits [N, classes]. The result is the last layer's own buffer: it
// stays valid until the next Forward.
func (n *Net) Forward(p *Pass, x *Tensor) *Tensor {
	return n.Root.Forward(p, x)
}

// Backward fills G with the gradient of the loss whose logit gradient is dy
// (the input gradient is not computed).
func (n *Net) Backward(p *Pass, dy *Tensor) {
	if p.Grads != nil {
		p.Grads.reset()
	}
	n.Root.Backward(p, dy, false)
}

// FLOPs is the GEMM work of one forward and one backward pass over a batch
// of n samples, counting 2 FLOPs per multiply-add; element-wise layers are
// not counted, as in the usual convention.
func (n *Net) FLOPs(batch int) (fwd, bwd int64) {
	first := true
	var visit func(l Layer, in []int) []int
	visit = func(l Layer, in []int) []int {
		switch c := l.(type) {
		case *Sequential:
			for _, ch := range c.Layers {
				in = visit(ch, in)
			}
			return in
		case *Residual:
			out := visit(c.Body, in)
			if c.Shortcut != nil {
				visit(c.Shortcut, in)
			}
			return out
		}
		if fc, ok := l.(FLOPCounter); ok {
			f, b := fc.FLOPs(in, !first)
			fwd, bwd = fwd+f, bwd+b
			first = false
		}
		return l.OutShape(in)
	}
	visit(n.Root, append([]int{batch}, n.InShape...))
	return fwd, bwd
}

// DropoutKey is the key of one pass's dropout masks: the seed, the step
// and which pass of the step it is.
func DropoutKey(seed uint64, step, pass int) rng.Key {
	return rng.NewKey(seed, "dropout", uint64(step), uint64(pass))
}
