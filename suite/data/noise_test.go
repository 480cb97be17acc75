package data

import (
	"slices"
	"testing"
)

func noiseTestSet(n, classes int) *Set {
	s := &Set{Name: "toy", H: 1, W: 1, C: 1, Classes: classes, Pixels: make([]uint8, n), Labels: make([]int32, n)}
	for i := range s.Labels {
		s.Labels[i] = int32(i % classes)
	}
	return s
}

// WithLabelNoise changes exactly round(frac·N) labels, each to another
// class, spreads them evenly over the wrong classes, and is a function of
// the seed alone.
func TestWithLabelNoise(t *testing.T) {
	const n, classes = 10000, 10
	s := noiseTestSet(n, classes)
	orig := slices.Clone(s.Labels)
	for _, frac := range []float64{0, 0.2, 0.4, 0.95} {
		out, changed, err := s.WithLabelNoise(frac, 7)
		if err != nil {
			t.Fatal(err)
		}
		want := int(frac*n + 0.5)
		diff := 0
		// moved[from*classes+to] counts the label changes from → to.
		moved := make([]int, classes*classes)
		for i := range out.Labels {
			if out.Labels[i] < 0 || int(out.Labels[i]) >= classes {
				t.Fatalf("frac %v: label %d out of range", frac, out.Labels[i])
			}
			if out.Labels[i] != orig[i] {
				diff++
				moved[int(orig[i])*classes+int(out.Labels[i])]++
			}
		}
		if diff != want || changed != want {
			t.Errorf("frac %v: %d labels differ, %d reported, want %d", frac, diff, changed, want)
		}
		if !slices.Equal(s.Labels, orig) {
			t.Fatalf("frac %v: the source set's labels were modified", frac)
		}
		if frac == 0.95 {
			// 9,500 changes over 90 (from, to) pairs: about 105.6 each;
			// a pair at less than half or more than 1.5× that is not uniform.
			for k, c := range moved {
				if k/classes == k%classes {
					continue
				}
				if c < 53 || c > 158 {
					t.Errorf("changes %d → %d: %d, want about 106", k/classes, k%classes, c)
				}
			}
		}
	}
	a, _, _ := s.WithLabelNoise(0.3, 1)
	b, _, _ := s.WithLabelNoise(0.3, 1)
	c, _, _ := s.WithLabelNoise(0.3, 2)
	if !slices.Equal(a.Labels, b.Labels) {
		t.Error("the same seed gave different noisy labels")
	}
	if slices.Equal(a.Labels, c.Labels) {
		t.Error("seeds 1 and 2 gave the same noisy labels")
	}
}

func TestWithLabelNoiseRefusesBadFractions(t *testing.T) {
	s := noiseTestSet(10, 3)
	for _, frac := range []float64{-0.1, 1, 1.5} {
		if _, _, err := s.WithLabelNoise(frac, 1); err == nil {
			t.Errorf("frac %v: accepted", frac)
		}
	}
	if _, _, err := noiseTestSet(10, 1).WithLabelNoise(0.1, 1); err == nil {
		t.Error("a one-class set accepted label noise")
	}
}
