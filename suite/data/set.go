package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/rst-bench/rst/suite/rng"
)

// Set is one split of a dataset held in memory as bytes.
type Set struct {
	Name             string
	H, W, C, Classes int
	Pixels           []uint8   // N*H*W*C, HWC order per image
	Labels           []int32   // N, each in [0, Classes)
	Mean, Std        []float32 // per channel, applied after scaling bytes to [0,1]
	// Files are the files the loader read for this split, in reading order,
	// with their size and SHA-256 (of the bytes on disk, gzip included), so
	// that a run record can say exactly which data it saw. Empty for sets
	// made in memory.
	Files []FileSum
}

// FileSum identifies one data file by content.
type FileSum struct {
	Path   string `json:"path"` // absolute when the loader could make it so
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Normalisation constants (docs/PAPER.md §3 for CIFAR; the usual ones for MNIST).
// The Fashion-MNIST pair is the commonly used one: the mean and standard
// deviation of the pixels of its 60000 training images, scaled to [0,1].
var (
	MNISTMean        = []float32{0.1307}
	MNISTStd         = []float32{0.3081}
	FashionMNISTMean = []float32{0.2860}
	FashionMNISTStd  = []float32{0.3530}
	CIFAR10Mean      = []float32{0.4914, 0.4822, 0.4465}
	CIFAR10Std       = []float32{0.2470, 0.2435, 0.2616}
	CIFAR100Mean     = []float32{0.5071, 0.4865, 0.4409}
	CIFAR100Std      = []float32{0.2673, 0.2564, 0.2762}
)

// Len is the number of samples.
func (s *Set) Len() int { return len(s.Labels) }

// ImageSize is H*W*C, the bytes (and floats) per image.
func (s *Set) ImageSize() int { return s.H * s.W * s.C }

// Image returns the bytes of image i (HWC), sharing storage with s.
func (s *Set) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// Validate checks that the fields agree with each other; loaders return only
// valid sets, and FillBatch relies on it.
func (s *Set) Validate() error {
	switch {
	case s.H <= 0 || s.W <= 0 || s.C <= 0:
		return fmt.Errorf("data: set %q: bad shape %dx%dx%d", s.Name, s.H, s.W, s.C)
	case s.Classes <= 0:
		return fmt.Errorf("data: set %q: %d classes", s.Name, s.Classes)
	case len(s.Pixels) != len(s.Labels)*s.ImageSize():
		return fmt.Errorf("data: set %q: %d pixel bytes for %d images of %dx%dx%d", s.Name, len(s.Pixels), len(s.Labels), s.H, s.W, s.C)
	case len(s.Mean) != s.C || len(s.Std) != s.C:
		return fmt.Errorf("data: set %q: mean/std have %d/%d entries for %d channels", s.Name, len(s.Mean), len(s.Std), s.C)
	}
	for c, v := range s.Std {
		if !(v > 0) {
			return fmt.Errorf("data: set %q: std[%d] = %g, want > 0", s.Name, c, v)
		}
	}
	for i, l := range s.Labels {
		if l < 0 || int(l) >= s.Classes {
			return fmt.Errorf("data: set %q: label %d of sample %d is outside [0,%d)", s.Name, l, i, s.Classes)
		}
	}
	return nil
}

// Subset returns n samples chosen as the first n of a permutation drawn from
// the stream (seed, "data-subset"), kept in their original relative order.
// A plain permutation (not stratified) was chosen because it is the common
// practice and because subsets with one seed are nested: Subset(m) contains
// Subset(n) for n < m. Class balance is then only approximate for small n.
// The result owns fresh copies of the pixels and labels.
func (s *Set) Subset(n int, seed uint64) (*Set, error) {
	pick, err := s.SubsetIndices(n, seed)
	if err != nil {
		return nil, err
	}
	return s.Pick(pick), nil
}

// SubsetIndices are the indices, ascending, of the n samples Subset(n,
// seed) keeps: for a peer outside the suite (bench/peer) to train on
// exactly the same images.
func (s *Set) SubsetIndices(n int, seed uint64) ([]int, error) {
	if n <= 0 || n > s.Len() {
		return nil, fmt.Errorf("data: subset of %d samples from %q, which has %d: want 1..%d", n, s.Name, s.Len(), s.Len())
	}
	pick := permutation(s.Len(), rng.New(seed, "data-subset"))[:n]
	slices.Sort(pick)
	return pick, nil
}

// Pick returns the samples idx of s, in that order, with fresh copies of
// their pixels and labels.
func (s *Set) Pick(idx []int) *Set {
	sz := s.ImageSize()
	out := &Set{
		Name: s.Name, H: s.H, W: s.W, C: s.C, Classes: s.Classes,
		Pixels: make([]uint8, len(idx)*sz),
		Labels: make([]int32, len(idx)),
		Mean:   slices.Clone(s.Mean),
		Std:    slices.Clone(s.Std),
		Files:  slices.Clone(s.Files), // a subset was still drawn from these files
	}
	for j, i := range idx {
		copy(out.Pixels[j*sz:(j+1)*sz], s.Pixels[i*sz:(i+1)*sz])
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Histogram counts the samples of each class.
func (s *Set) Histogram() []int {
	h := make([]int, s.Classes)
	for _, l := range s.Labels {
		if l >= 0 && int(l) < s.Classes {
			h[l]++
		}
	}
	return h
}

// WithLabelNoise returns a copy of s in which round(frac·N) training labels,
// chosen as the first of a permutation drawn from the stream (seed,
// "label-noise"), are replaced by a class drawn uniformly from the other
// Classes−1 classes (symmetric noise, every wrong class equally likely). The
// pixels are shared with s; the labels are a fresh slice. It also returns how
// many labels were changed, which is exactly round(frac·N).
func (s *Set) WithLabelNoise(frac float64, seed uint64) (*Set, int, error) {
	if !(frac >= 0 && frac < 1) {
		return nil, 0, fmt.Errorf("data: label noise %v: want a fraction in [0, 1)", frac)
	}
	if s.Classes < 2 {
		return nil, 0, fmt.Errorf("data: label noise on %q, which has %d class: needs at least 2", s.Name, s.Classes)
	}
	out := *s
	out.Labels = slices.Clone(s.Labels)
	n := int(math.Round(frac * float64(s.Len())))
	if n == 0 {
		return &out, 0, nil
	}
	src := rng.New(seed, "label-noise")
	perm := permutation(s.Len(), src)
	for _, i := range perm[:n] {
		// Draw among the Classes−1 wrong classes: a label never "flips" to
		// itself, so exactly n labels are wrong.
		l := int32(bounded(src.Uint64(), s.Classes-1))
		if l >= out.Labels[i] {
			l++
		}
		out.Labels[i] = l
	}
	return &out, n, nil
}
