package nn

import (
	"math"
	"testing"

	"github.com/rst-bench/rst/suite/rng"
)

func tensorOf(b Backend, v ...float32) *Tensor {
	t := b.New(len(v))
	b.Upload(t, v)
	return t
}

func TestAbsPlusAndWhere(t *testing.T) {
	b := NewCPU()
	x := tensorOf(b, -2, 0, 3.5, -0.25)
	y := b.New(4)
	b.AbsPlus(x, y, 0.5)
	for i, want := range []float32{2.5, 0.5, 4, 0.75} {
		if y.Data[i] != want {
			t.Errorf("AbsPlus[%d] = %v, want %v", i, y.Data[i], want)
		}
	}
	mask := tensorOf(b, 1, 0, 0, 1)
	b.Where(mask, y, x, y) // in place, as ASAM uses it
	for i, want := range []float32{2.5, 0, 3.5, 0.75} {
		if y.Data[i] != want {
			t.Errorf("Where[%d] = %v, want %v", i, y.Data[i], want)
		}
	}
}

// The random masks are the key's counter values, element by element, and a
// view or an offset sees the same values as the whole tensor would.
func TestRandomMasksFollowTheirKey(t *testing.T) {
	b := NewCPU()
	const n = 40000
	key := rng.NewKey(5, "esam-swp", 3)
	m := b.New(n)
	b.Bernoulli(m, 0.3, key)
	ones := 0
	for i, v := range m.Data {
		want := float32(0)
		if key.Float64At(uint64(i)) < 0.3 {
			want = 1
		}
		if v != want {
			t.Fatalf("Bernoulli[%d] = %v, want %v", i, v, want)
		}
		if v == 1 {
			ones++
		}
	}
	if f := float64(ones) / n; math.Abs(f-0.3) > 5*math.Sqrt(0.3*0.7/n) {
		t.Errorf("Bernoulli(0.3) kept %.4f of the elements", f)
	}
	b.Uniform(m, key)
	for i, v := range m.Data[:100] {
		if v != key.Float32At(uint64(i)) {
			t.Fatalf("Uniform[%d] = %v, want %v", i, v, key.Float32At(uint64(i)))
		}
	}

	// One mask of 10 elements equals two masks of 4 and 6 drawn at offsets 0 and 4.
	whole, first, second := b.New(10), b.New(4), b.New(6)
	b.DropoutMask(whole, 0.5, key, 0)
	b.DropoutMask(first, 0.5, key, 0)
	b.DropoutMask(second, 0.5, key, 4)
	got := append(append([]float32{}, first.Data...), second.Data...)
	dropped := 0
	for i, v := range whole.Data {
		if v != got[i] {
			t.Fatalf("dropout element %d: %v in one mask, %v when split", i, v, got[i])
		}
		if v != 0 && v != 2 {
			t.Fatalf("dropout element %d = %v, want 0 or 1/(1−p) = 2", i, v)
		}
		if v == 0 {
			dropped++
		}
	}
	if dropped == 0 || dropped == 10 {
		t.Errorf("p = 0.5 dropped %d of 10", dropped)
	}
}

func TestTopKMaskBreaksTiesByIndex(t *testing.T) {
	b := NewCPU()
	score := tensorOf(b, 3, 1, 2, 2, 5, 2, 0)
	mask := b.New(7)
	cases := []struct {
		keep int
		want []float32
	}{
		{0, []float32{0, 0, 0, 0, 0, 0, 0}},
		{1, []float32{0, 0, 0, 0, 1, 0, 0}},
		{3, []float32{1, 0, 1, 0, 1, 0, 0}}, // one of the three 2s: the first
		{4, []float32{1, 0, 1, 1, 1, 0, 0}},
		{7, []float32{1, 1, 1, 1, 1, 1, 1}},
		{9, []float32{1, 1, 1, 1, 1, 1, 1}},
		{-1, []float32{0, 0, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		b.Fill(mask, 7) // stale content must not survive
		b.TopKMask(score, mask, c.keep)
		for i := range c.want {
			if mask.Data[i] != c.want[i] {
				t.Errorf("keep %d: mask %v, want %v", c.keep, mask.Data, c.want)
				break
			}
		}
	}
}
