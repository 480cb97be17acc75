package gpu

import (
	"errors"
	"testing"
)

// fakeDevice hands out increasing addresses up to a capacity and records
// what is live, so that the tests see double frees and leaks.
type fakeDevice struct {
	next, capacity, used uint64
	live                 map[uintptr]uint64
	allocs, frees        int
}

func newFake(capacity uint64) *fakeDevice {
	return &fakeDevice{next: 1 << 20, capacity: capacity, live: map[uintptr]uint64{}}
}

func (f *fakeDevice) alloc(n uint64) (uintptr, error) {
	if f.used+n > f.capacity {
		return 0, errors.New("out of memory")
	}
	p := uintptr(f.next)
	f.next += n
	f.used += n
	f.live[p] = n
	f.allocs++
	return p, nil
}

func (f *fakeDevice) free(p uintptr) error {
	n, ok := f.live[p]
	if !ok {
		return errors.New("free of an address not allocated")
	}
	delete(f.live, p)
	f.used -= n
	f.frees++
	return nil
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ in, want uint64 }{
		{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {1 << 20, 1 << 20},
		{1<<20 + 1, 1<<20 + 1<<17}, {3 << 20, 3 << 20}, {(3 << 20) + 1, 3<<20 + 1<<18}, {1 << 30, 1 << 30},
	} {
		if got := sizeClass(c.in); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	// Classes are at least the request, waste at most 12.5% above 1 MiB,
	// and the function is monotone.
	prev := uint64(0)
	for n := uint64(1); n < 1<<32; n = n*9/8 + 7 {
		c := sizeClass(n)
		if c < n || c < prev || (n > 1<<20 && float64(c-n) > 0.125*float64(n)) {
			t.Fatalf("sizeClass(%d) = %d (previous %d)", n, c, prev)
		}
		if sizeClass(c) != c {
			t.Fatalf("sizeClass(%d) = %d is not its own class", n, c)
		}
		prev = c
	}
}

func TestAllocatorReuse(t *testing.T) {
	f := newFake(1 << 30)
	a := newAllocator(f.alloc, f.free)
	b1, err := a.Get(1000)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := a.Get(1000)
	if b1.ptr == b2.ptr || b1.size != 1024 {
		t.Fatalf("two live blocks share %#x, or wrong class %d", b1.ptr, b1.size)
	}
	a.Put(b1)
	b3, _ := a.Get(900) // same class: reuses b1
	if b3.ptr != b1.ptr {
		t.Errorf("a freed block of the same class was not reused")
	}
	b4, _ := a.Get(5000) // another class: a new device allocation
	if b4.ptr == b1.ptr || b4.ptr == b2.ptr {
		t.Errorf("a live block was handed out twice")
	}
	s := a.Stats()
	if s.Gets != 4 || s.Hits != 1 || s.DeviceMem != 3 || f.allocs != 3 {
		t.Errorf("stats %+v, device allocations %d", s, f.allocs)
	}
	if s.InUse != 1024+1024+5120 || s.Cached != 0 {
		t.Errorf("in use %d, cached %d", s.InUse, s.Cached)
	}
	for _, b := range []block{b2, b3, b4} {
		a.Put(b)
	}
	if s := a.Stats(); s.InUse != 0 || s.Cached != 1024*2+5120 || s.Peak != 1024*2+5120 {
		t.Errorf("after returning everything: %+v", s)
	}
	if err := a.Trim(); err != nil {
		t.Fatal(err)
	}
	if len(f.live) != 0 || a.Stats().Cached != 0 || f.frees != 3 {
		t.Errorf("trim left %d device blocks, %d cached bytes", len(f.live), a.Stats().Cached)
	}
}

// When the device is full, cached blocks of other classes are given back
// and the allocation retried.
func TestAllocatorTrimsOnOutOfMemory(t *testing.T) {
	f := newFake(3 << 20)
	a := newAllocator(f.alloc, f.free)
	x, _ := a.Get(1 << 20)
	y, _ := a.Get(1 << 20)
	a.Put(x)
	a.Put(y)
	z, err := a.Get(2 << 20) // needs the cached 2 MiB back
	if err != nil {
		t.Fatalf("allocation after trim failed: %v", err)
	}
	if a.Stats().Cached != 0 || a.Stats().DeviceFree != 2 || z.size != 2<<20 {
		t.Errorf("stats %+v", a.Stats())
	}
	if _, err := a.Get(2 << 20); err == nil {
		t.Errorf("an allocation beyond the device's memory succeeded")
	}
	if len(f.live) != 1 {
		t.Errorf("%d device blocks live, want 1", len(f.live))
	}
}

// A training step's pattern: the same sizes freed and asked for again
// every step reach a steady state with no device allocation.
func TestAllocatorSteadyState(t *testing.T) {
	f := newFake(1 << 40)
	a := newAllocator(f.alloc, f.free)
	sizes := []uint64{4 * 256 * 32 * 32 * 64, 4 * 256 * 16 * 16 * 128, 4 * 10, 4 * 256, 4 * 512 * 9 * 512}
	for step := 0; step < 5; step++ {
		var held []block
		for _, n := range sizes {
			for k := 0; k < 3; k++ {
				b, err := a.Get(n + uint64(k))
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, b)
			}
		}
		for _, b := range held {
			a.Put(b)
		}
		if step == 0 {
			continue
		}
		if f.allocs != 3*len(sizes) {
			t.Fatalf("step %d: %d device allocations, want %d (the first step's)", step, f.allocs, 3*len(sizes))
		}
	}
}
