package nn

import (
	"slices"

	"github.com/rst-bench/rst/suite/rng"
)

// The CPU side of the methods' element-wise operations (see Backend).

func (c *CPU) AbsPlus(x, y *Tensor, k float32) {
	xs, ys := x.Data, y.Data[:len(x.Data)]
	parallelFor(len(xs), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := xs[i]
			if v < 0 {
				v = -v
			}
			ys[i] = v + k
		}
	})
}

func (c *CPU) Where(mask, a, b, y *Tensor) {
	ms, as, bs, ys := mask.Data, a.Data, b.Data, y.Data
	parallelFor(len(ys), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if ms[i] != 0 {
				ys[i] = as[i]
			} else {
				ys[i] = bs[i]
			}
		}
	})
}

func (c *CPU) Bernoulli(mask *Tensor, p float64, key rng.Key) {
	d := mask.Data
	parallelFor(len(d), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = 0
			if key.Float64At(uint64(i)) < p {
				d[i] = 1
			}
		}
	})
}

func (c *CPU) Uniform(t *Tensor, key rng.Key) {
	d := t.Data
	parallelFor(len(d), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = key.Float32At(uint64(i))
		}
	})
}

func (c *CPU) Normal(t *Tensor, key rng.Key, offset uint64) {
	d := t.Data
	parallelFor(len(d), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = key.NormalAt(offset + uint64(i))
		}
	})
}

// TopKMask sorts a copy of the scores to find the threshold (the keep-th
// largest value), then keeps everything above it and the first entries
// equal to it. A device backend can find the same threshold by selection
// or a radix pass; the mask is identical because ties are resolved by index.
func (c *CPU) TopKMask(score, mask *Tensor, keep int) {
	s, m := score.Data, mask.Data
	n := len(s)
	keep = min(max(keep, 0), n)
	clear(m)
	switch keep {
	case 0:
		return
	case n:
		for i := range m {
			m[i] = 1
		}
		return
	}
	sorted := scratch(&c.sorted, n)
	copy(sorted, s)
	slices.Sort(sorted)
	thr := sorted[n-keep]
	above := 0
	for _, v := range s {
		if v > thr {
			above++
		}
	}
	ties := keep - above // how many entries equal to thr are kept
	for i, v := range s {
		switch {
		case v > thr:
			m[i] = 1
		case v == thr && ties > 0:
			m[i] = 1
			ties--
		}
	}
}

// The CPU runs every operation before returning and cannot fail after
// opening, so these have nothing to do.

func (c *CPU) Sync()        {}
func (c *CPU) Err() error   { return nil }
func (c *CPU) Free(*Tensor) {}
