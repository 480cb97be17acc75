package optim

import (
	"github.com/rst-bench/rst/suite/nn"
)

// zeros is a new tensor filled with zeros: New's contents are undefined
// (the cuda device reuses memory without clearing it), and every
// optimizer state starts at zero.
func zeros(b nn.Backend, shape ...int) *nn.Tensor {
	t := b.New(shape...)
	b.Fill(t, 0)
	return t
}

// buffer returns *p, allocating a flat buffer of the net's parameter count
// on first use: methods that keep state allocate it lazily, once.
func buffer(net *nn.Net, p **nn.Tensor) *nn.Tensor {
	if *p == nil {
		*p = zeros(net.B, net.W.Len())
	}
	return *p
}

// scalars holds a method's few numbers of state (a step counter, a norm)
// in a small backend tensor, so that a checkpoint, which saves the
// tensors of State(), carries them too. Values are float32: counters are
// exact up to 2²⁴ steps, and norms are rounded to float32 before every use
// so that a resumed run computes what an uninterrupted one does.
type scalars struct {
	t *nn.Tensor
	h []float32
}

func (s *scalars) tensor(net *nn.Net, n int) *nn.Tensor {
	if s.t == nil {
		s.t, s.h = zeros(net.B, n), make([]float32, n)
	}
	return s.t
}

// load reads the values (they may have been restored from a checkpoint).
func (s *scalars) load(net *nn.Net, n int) []float32 {
	net.B.Download(s.h, s.tensor(net, n))
	return s.h
}

func (s *scalars) store(net *nn.Net) { net.B.Upload(s.t, s.h) }

// Binder is a method that keeps state and needs the net to allocate it
// before its first step (a checkpoint is restored before any step runs).
type Binder interface{ Bind(net *nn.Net) }
