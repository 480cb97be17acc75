package optim

import (
	"slices"

	"github.com/rst-bench/rst/suite/nn"
)

// Helpers for the few element-wise operations the Backend interface does
// not offer (|w|, masks, top-k). On the CPU backend a tensor's Data is its
// storage and they work in place; on a device backend they go through the
// host with Download/Upload, which is slower but keeps every method usable
// on every backend.

// host gives t's elements on the host. After writing to them, call sync to
// make the backend copy agree (a no-op on the CPU backend).
type host struct {
	b    nn.Backend
	t    *nn.Tensor
	data []float32
}

func onHost(b nn.Backend, t *nn.Tensor, scratch *[]float32) host {
	if t.Dev == nil && t.Data != nil {
		return host{b: b, t: t, data: t.Data}
	}
	if cap(*scratch) < t.Len() {
		*scratch = make([]float32, t.Len())
	}
	d := (*scratch)[:t.Len()]
	b.Download(d, t)
	return host{b: b, t: t, data: d}
}

func (h host) sync() {
	if h.t.Dev == nil && h.t.Data != nil {
		return
	}
	h.b.Upload(h.t, h.data)
}

// buffer returns *p, allocating a flat buffer of the net's parameter count
// on first use: methods that keep state allocate it lazily, once.
func buffer(net *nn.Net, p **nn.Tensor) *nn.Tensor {
	if *p == nil {
		*p = net.B.New(net.W.Len())
	}
	return *p
}

// topMask sets mask[i] = 1 for the keep entries of score with the largest
// values and 0 elsewhere. Ties at the threshold go to the lower index, so
// the mask is a deterministic function of the scores.
func topMask(score []float32, keep int, mask []float32, sorted *[]float32) {
	n := len(score)
	keep = min(max(keep, 0), n)
	clear(mask)
	if keep == 0 {
		return
	}
	if keep == n {
		for i := range mask {
			mask[i] = 1
		}
		return
	}
	if cap(*sorted) < n {
		*sorted = make([]float32, n)
	}
	s := (*sorted)[:n]
	copy(s, score)
	slices.Sort(s)
	thr := s[n-keep] // the keep-th largest value
	above := 0
	for _, v := range score {
		if v > thr {
			above++
		}
	}
	ties := keep - above // how many entries equal to thr are kept
	for i, v := range score {
		switch {
		case v > thr:
			mask[i] = 1
		case v == thr && ties > 0:
			mask[i] = 1
			ties--
		}
	}
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
		s.t, s.h = net.B.New(n), make([]float32, n)
	}
	return s.t
}

// load reads the values (they may have been restored from a checkpoint).
func (s *scalars) load(net *nn.Net, n int) []float32 {
	net.B.Download(s.h, s.tensor(net, n))
	return s.h
}

func (s *scalars) store(net *nn.Net) { net.B.Upload(s.t, s.h) }

// binder is a method that keeps state and needs the net to allocate it
// before its first step (a checkpoint is restored before any step runs).
type binder interface{ bind(net *nn.Net) }
