package gpu

import (
	"errors"
	"fmt"
	"math/bits"
)

// block is one allocation of the caching allocator: size is its class
// (what the device allocated), not what was asked for.
type block struct {
	ptr  uintptr
	size uint64
}

// AllocStats counts the allocator's work since it was made.
type AllocStats struct {
	InUse      uint64 // bytes of blocks handed out and not yet returned
	Cached     uint64 // bytes of returned blocks kept for reuse
	Peak       uint64 // most bytes held from the device at once (in use + cached)
	Gets, Hits uint64 // requests, and those served from a free list
	DeviceMem  uint64 // device allocations made (misses)
	DeviceFree uint64 // blocks given back to the device (trims)
}

// allocator keeps freed device blocks in free lists per size class and
// hands them out again, because cuMemAlloc and cuMemFree synchronise the
// device and cost far more than a kernel. All work is on one stream, so a
// block returned after the kernels that use it were issued may be handed
// to kernels issued later without waiting.
type allocator struct {
	alloc func(bytes uint64) (uintptr, error)
	free  func(ptr uintptr) error
	lists map[uint64][]uintptr
	stats AllocStats
}

func newAllocator(alloc func(uint64) (uintptr, error), free func(uintptr) error) *allocator {
	return &allocator{alloc: alloc, free: free, lists: map[uint64][]uintptr{}}
}

// sizeClass rounds a request up to its class: multiples of 512 bytes up
// to 1 MiB (little waste on small tensors), then eight classes per power
// of two (at most 12.5% waste), so that tensors of nearby sizes share
// blocks.
func sizeClass(n uint64) uint64 {
	const small = 1 << 20
	if n == 0 {
		n = 1
	}
	if n <= small {
		return (n + 511) &^ 511
	}
	step := uint64(1) << (bits.Len64(n-1) - 1) / 8
	return (n + step - 1) / step * step
}

// Get returns a block of at least n bytes. When the device is out of
// memory it gives every cached block back and tries once more.
func (a *allocator) Get(n uint64) (block, error) {
	c := sizeClass(n)
	a.stats.Gets++
	if l := a.lists[c]; len(l) > 0 {
		p := l[len(l)-1]
		a.lists[c] = l[:len(l)-1]
		a.stats.Hits++
		a.stats.Cached -= c
		a.stats.InUse += c
		return block{p, c}, nil
	}
	p, err := a.alloc(c)
	if err != nil && a.stats.Cached > 0 {
		if terr := a.Trim(); terr != nil {
			return block{}, errors.Join(err, terr)
		}
		p, err = a.alloc(c)
	}
	if err != nil {
		return block{}, fmt.Errorf("allocating %d bytes (%d in use, %d cached): %w", c, a.stats.InUse, a.stats.Cached, err)
	}
	a.stats.DeviceMem++
	a.stats.InUse += c
	a.stats.Peak = max(a.stats.Peak, a.stats.InUse+a.stats.Cached)
	return block{p, c}, nil
}

// Put returns a block to its free list.
func (a *allocator) Put(b block) {
	if b.size == 0 {
		return
	}
	a.lists[b.size] = append(a.lists[b.size], b.ptr)
	a.stats.InUse -= b.size
	a.stats.Cached += b.size
}

// Trim gives every cached block back to the device.
func (a *allocator) Trim() error {
	var errs []error
	for c, l := range a.lists {
		for _, p := range l {
			if err := a.free(p); err != nil {
				errs = append(errs, err)
			}
			a.stats.DeviceFree++
			a.stats.Cached -= c
		}
		delete(a.lists, c)
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (a *allocator) Stats() AllocStats { return a.stats }
