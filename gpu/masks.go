package gpu

import (
	"unsafe"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// The random and selection kernels of the sharpness-aware methods. Random
// values are rng.Key.At computed on the device from the key's words, so
// masks are the same as the CPU backend's bit for bit.

func (b *Backend) DropoutMask(mask *nn.Tensor, p float32, key rng.Key, offset uint64) {
	if b.enter() {
		s1, s2 := key.Words()
		keep := 1 / (1 - p)
		b.elem("dropout_mask", mask.Len(), b.ptr(mask), mask.Len(), p, keep, s1, s2, offset)
	}
	b.leave()
}

func (b *Backend) Bernoulli(mask *nn.Tensor, p float64, key rng.Key) {
	if b.enter() {
		s1, s2 := key.Words()
		b.elem("bernoulli", mask.Len(), b.ptr(mask), mask.Len(), p, s1, s2)
	}
	b.leave()
}

func (b *Backend) Uniform(t *nn.Tensor, key rng.Key) {
	if b.enter() {
		s1, s2 := key.Words()
		b.elem("uniform", t.Len(), b.ptr(t), t.Len(), s1, s2)
	}
	b.leave()
}

func (b *Backend) Normal(t *nn.Tensor, key rng.Key, offset uint64) {
	if b.enter() {
		s1, s2 := key.Words()
		b.elem("normal", t.Len(), b.ptr(t), t.Len(), s1, s2, offset)
	}
	b.leave()
}

// topkChunk is the elements per block of the tie ranking.
const topkChunk = 4096

// TopKMask finds the keep-th largest score by a radix select, 8 bits a
// pass over the scores' order-preserving integer keys, with the state
// (prefix found so far, how many still to keep) on the device: no sync.
// Ties at the threshold are ranked by index with per-chunk counts and a
// scan, so the lower indices are kept, as on the CPU.
func (b *Backend) TopKMask(score, mask *nn.Tensor, keep int) {
	n := score.Len()
	keep = min(max(keep, 0), n)
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	switch keep {
	case 0:
		b.elem("fill", n, b.ptr(mask), n, float32(0))
		return
	case n:
		b.elem("fill", n, b.ptr(mask), n, float32(1))
		return
	}
	nb := (n + topkChunk - 1) / topkChunk
	buf, ok := b.temp(4 * (2 + 256 + nb))
	if !ok {
		return
	}
	defer b.mem.Put(buf)
	state, hist, counts := dptr(buf.ptr), dptr(buf.ptr+8), dptr(buf.ptr+8+4*256)
	var init [2 + 256]uint32
	init[1] = uint32(keep)
	b.cuFail(b.a.cuMemcpyHtoDAsync(uintptr(state), unsafe.Pointer(&init[0]), uint64(4*len(init)), b.stream), "cuMemcpyHtoDAsync(topk state)")
	s := b.ptr(score)
	for shift := 24; shift >= 0; shift -= 8 {
		b.elem("topk_hist", n, s, n, state, shift, hist)
		b.launch("topk_select", 1, 1, 1, 1, hist, state, shift)
	}
	b.launch("topk_ties", nb, 1, 256, 1, s, n, state, topkChunk, counts)
	b.launch("topk_scan", 1, 1, 1, 1, counts, nb)
	b.launch("topk_mask", nb, 1, 256, 1, s, b.ptr(mask), n, state, topkChunk, counts)
}
