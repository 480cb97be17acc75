package data

import (
	"slices"
	"testing"
)

func TestOrder(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000} {
		a := Order(n, 7, 3)
		sorted := slices.Sorted(slices.Values(a))
		for i, v := range sorted {
			if v != i {
				t.Fatalf("Order(%d) is not a permutation: sorted %v", n, sorted)
			}
		}
		if !slices.Equal(a, Order(n, 7, 3)) {
			t.Errorf("Order(%d, 7, 3) differs between calls", n)
		}
		if n >= 10 {
			if slices.Equal(a, Order(n, 7, 4)) {
				t.Errorf("Order(%d): epochs 3 and 4 give the same order", n)
			}
			if slices.Equal(a, Order(n, 8, 3)) {
				t.Errorf("Order(%d): seeds 7 and 8 give the same order", n)
			}
			if slices.IsSorted(a) {
				t.Errorf("Order(%d) is the identity", n)
			}
		}
	}
	if Order(0, 1, 0) != nil {
		t.Error("Order(0) not empty")
	}
}

func TestSubset(t *testing.T) {
	s := Synthetic("s", 50, 2, 3, 1, 10, nil, nil)
	tests := []struct {
		n       int
		wantErr bool
	}{{0, true}, {-1, true}, {51, true}, {1, false}, {20, false}, {50, false}}
	for _, tc := range tests {
		sub, err := s.Subset(tc.n, 5)
		if (err != nil) != tc.wantErr {
			t.Fatalf("Subset(%d): err = %v, want error %v", tc.n, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		if sub.Len() != tc.n || len(sub.Pixels) != tc.n*6 {
			t.Fatalf("Subset(%d): %d samples, %d bytes", tc.n, sub.Len(), len(sub.Pixels))
		}
		if err := sub.Validate(); err != nil {
			t.Fatal(err)
		}
		// Each chosen image must be some original image with its label.
		for j := 0; j < sub.Len(); j++ {
			found := false
			for i := 0; i < s.Len(); i++ {
				if slices.Equal(sub.Image(j), s.Image(i)) && sub.Labels[j] == s.Labels[i] {
					found = true
				}
			}
			if !found {
				t.Fatalf("Subset(%d): sample %d matches no original", tc.n, j)
			}
		}
	}
	a, _ := s.Subset(10, 5)
	b, _ := s.Subset(10, 5)
	c, _ := s.Subset(10, 6)
	big, _ := s.Subset(30, 5)
	if !slices.Equal(a.Pixels, b.Pixels) {
		t.Error("same seed, different subsets")
	}
	if slices.Equal(a.Pixels, c.Pixels) {
		t.Error("seeds 5 and 6 give the same subset")
	}
	// Nested: every image of the 10-subset is in the 30-subset.
	for j := 0; j < a.Len(); j++ {
		in := false
		for k := 0; k < big.Len(); k++ {
			in = in || slices.Equal(a.Image(j), big.Image(k))
		}
		if !in {
			t.Errorf("Subset(10) sample %d not in Subset(30) with the same seed", j)
		}
	}
	for i := range a.Pixels {
		a.Pixels[i] ^= 0xff
	}
	if !slices.Equal(s.Pixels, Synthetic("s", 50, 2, 3, 1, 10, nil, nil).Pixels) {
		t.Error("Subset shares pixel storage with its parent")
	}
}
