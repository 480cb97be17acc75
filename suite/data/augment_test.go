package data

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// norm is FillBatch's documented normalisation of byte b in channel c.
func norm(s *Set, b uint8, c int) float32 {
	scale := float32(1 / (255 * float64(s.Std[c])))
	return float32(float32(b)*scale) + (-s.Mean[c] / s.Std[c])
}

// reference builds the augmented image the slow, obvious way: materialise
// the padded image, cut the window, mirror it, normalise, cut out.
func reference(s *Set, i int, a Augment, d draws, cy, cx int) []float32 {
	H, W, C, P := s.H, s.W, s.C, a.Crop
	img := s.Image(i)
	Hp, Wp := H+2*P, W+2*P
	padded := make([]uint8, Hp*Wp*C) // zero padding unless reflected
	at := func(y, x, c int) *uint8 { return &padded[(y*Wp+x)*C+c] }
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			for c := 0; c < C; c++ {
				*at(y+P, x+P, c) = img[(y*W+x)*C+c]
			}
		}
	}
	if a.Reflect {
		for y := P; y < P+H; y++ { // left and right borders of each image row
			for j := 1; j <= P; j++ {
				for c := 0; c < C; c++ {
					*at(y, P-j, c) = *at(y, P+j, c)
					*at(y, P+W-1+j, c) = *at(y, P+W-1-j, c)
				}
			}
		}
		for j := 1; j <= P; j++ { // then whole padded rows above and below
			copy(padded[(P-j)*Wp*C:(P-j+1)*Wp*C], padded[(P+j)*Wp*C:(P+j+1)*Wp*C])
			copy(padded[(P+H-1+j)*Wp*C:(P+H+j)*Wp*C], padded[(P+H-1-j)*Wp*C:(P+H-j)*Wp*C])
		}
	}
	out := make([]float32, H*W*C)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			xx := x
			if d.flip {
				xx = W - 1 - x
			}
			for c := 0; c < C; c++ {
				out[(y*W+x)*C+c] = norm(s, *at(y+d.oy+P, xx+d.ox+P, c), c)
			}
		}
	}
	if a.Cutout > 0 {
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				if y >= cy-a.Cutout/2 && y < cy-a.Cutout/2+a.Cutout && x >= cx-a.Cutout/2 && x < cx-a.Cutout/2+a.Cutout {
					for c := 0; c < C; c++ {
						out[(y*W+x)*C+c] = 0
					}
				}
			}
		}
	}
	return out
}

func TestFillBatchMatchesReference(t *testing.T) {
	shapes := []struct{ h, w, c int }{{32, 32, 3}, {28, 28, 1}, {5, 6, 2}, {7, 9, 5}, {6, 5, 3}}
	augs := []Augment{
		{},
		{Crop: 4, Reflect: true},
		{Crop: 4},
		{Crop: 4, Reflect: true, Flip: true},
		{Crop: 3, Flip: true},
		{Flip: true},
		{Cutout: 16},
		{Cutout: 3},
		{Crop: 4, Reflect: true, Flip: true, Cutout: 16},
		{Crop: 4, Reflect: true, Flip: true, Cutout: 16, CutoutPerBatch: true},
		{Crop: 11, Flip: true}, // zero padding wider than small images
	}
	for _, sh := range shapes {
		s := Synthetic("s", 64, sh.h, sh.w, sh.c, 10, slices.Repeat([]float32{0.4}, sh.c), slices.Repeat([]float32{0.3}, sh.c))
		for _, a := range augs {
			if a.Reflect && (a.Crop >= sh.h || a.Crop >= sh.w) {
				continue
			}
			t.Run(fmt.Sprintf("%dx%dx%d/%+v", sh.h, sh.w, sh.c, a), func(t *testing.T) {
				idx := []int{17, 3, 63, 0, 42, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20}
				sz := s.ImageSize()
				dst := make([]float32, len(idx)*sz)
				labels := make([]int32, len(idx))
				s.FillBatch(dst, labels, idx, a, 99, 4)
				first := s.draw(a, 99, 4, idx[0])
				for k, i := range idx {
					if labels[k] != s.Labels[i] {
						t.Fatalf("label %d of sample %d, want %d", labels[k], i, s.Labels[i])
					}
					d := s.draw(a, 99, 4, i)
					cy, cx := d.cy, d.cx
					if a.CutoutPerBatch {
						cy, cx = first.cy, first.cx
					}
					want := reference(s, i, a, d, cy, cx)
					if got := dst[k*sz : (k+1)*sz]; !slices.Equal(got, want) {
						for j := range want {
							if got[j] != want[j] {
								t.Fatalf("sample %d (draws %+v): value %d (y %d, x %d, c %d) = %v, want %v",
									i, d, j, j/sh.c/sh.w, j/sh.c%sh.w, j%sh.c, got[j], want[j])
							}
						}
					}
				}
			})
		}
	}
}

// findIndex returns a sample index whose draws satisfy ok.
func findIndex(t *testing.T, s *Set, a Augment, ok func(draws) bool) (int, draws) {
	for i := 0; i < 100000; i++ {
		if d := s.draw(a, 1, 0, i); ok(d) {
			return i, d
		}
	}
	t.Fatal("no index with the wanted draws")
	return 0, draws{}
}

// TestCropLiterals pins crop values by hand on a CIFAR-shaped image,
// including the reflected border (edge not repeated) and zero padding.
func TestCropLiterals(t *testing.T) {
	s := Synthetic("c", 1, 32, 32, 3, 10, CIFAR10Mean, CIFAR10Std)
	img := func(y, x, c int) float32 { return norm(s, PatternByte(0, y, x, c), c) }
	zero := func(c int) float32 { return norm(s, 0, c) }
	type px struct {
		y, x, c int
		want    float32
	}
	tests := []struct {
		name   string
		a      Augment
		oy, ox int
		flip   bool
		checks []px
	}{
		{"reflect top-left", Augment{Crop: 4, Reflect: true}, -4, -4, false, []px{
			{0, 0, 0, img(4, 4, 0)}, {3, 5, 1, img(1, 1, 1)}, {4, 4, 2, img(0, 0, 2)}, {31, 31, 0, img(27, 27, 0)}, {0, 10, 2, img(4, 6, 2)}}},
		{"reflect bottom-right", Augment{Crop: 4, Reflect: true}, 4, 4, false, []px{
			{31, 31, 0, img(27, 27, 0)}, {27, 27, 1, img(31, 31, 1)}, {28, 28, 2, img(30, 30, 2)}, {0, 0, 0, img(4, 4, 0)}}},
		{"shift without padding", Augment{Crop: 4, Reflect: true}, 2, -3, false, []px{
			{0, 3, 0, img(2, 0, 0)}, {10, 10, 1, img(12, 7, 1)}, {0, 0, 2, img(2, 3, 2)}}},
		{"zero pad", Augment{Crop: 4}, -4, 4, false, []px{
			{0, 0, 0, zero(0)}, {3, 20, 1, zero(1)}, {4, 0, 2, img(0, 4, 2)}, {31, 27, 0, img(27, 31, 0)}, {31, 28, 1, zero(1)}}},
		{"reflect then flip", Augment{Crop: 4, Reflect: true, Flip: true}, 0, -4, true, []px{
			// cropped(y, x) = img(y, |x−4|); out(y, x) = cropped(y, 31−x)
			{5, 31, 0, img(5, 4, 0)}, {5, 27, 1, img(5, 0, 1)}, {5, 26, 2, img(5, 1, 2)}, {5, 0, 0, img(5, 27, 0)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, _ := findIndex(t, s, tc.a, func(d draws) bool { return d.oy == tc.oy && d.ox == tc.ox && d.flip == tc.flip })
			// The image lives at index i: use a one-image view repeated.
			big := &Set{Name: "c", H: 32, W: 32, C: 3, Classes: 10, Mean: s.Mean, Std: s.Std,
				Pixels: slices.Repeat(s.Pixels, i+1), Labels: make([]int32, i+1)}
			out := make([]float32, 32*32*3)
			big.FillBatch(out, make([]int32, 1), []int{i}, tc.a, 1, 0)
			for _, p := range tc.checks {
				if got := out[(p.y*32+p.x)*3+p.c]; got != p.want {
					t.Errorf("out(%d,%d,%d) = %v, want %v", p.y, p.x, p.c, got, p.want)
				}
			}
		})
	}
}

func TestFlipAndCutout(t *testing.T) {
	s := Synthetic("f", 200, 32, 32, 3, 10, CIFAR10Mean, CIFAR10Std)
	sz := s.ImageSize()
	idx := make([]int, s.Len())
	for i := range idx {
		idx[i] = i
	}
	dst := make([]float32, len(idx)*sz)
	lab := make([]int32, len(idx))

	// Flip: each image is either itself or its mirror, about half mirrored.
	s.FillBatch(dst, lab, idx, Augment{Flip: true}, 3, 1)
	flipped := 0
	for k, i := range idx {
		mirror, same := true, true
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				for c := 0; c < 3; c++ {
					v := dst[k*sz+(y*32+x)*3+c]
					mirror = mirror && v == norm(s, s.Image(i)[(y*32+31-x)*3+c], c)
					same = same && v == norm(s, s.Image(i)[(y*32+x)*3+c], c)
				}
			}
		}
		if mirror == same {
			t.Fatalf("image %d: mirror %v, identity %v", i, mirror, same)
		}
		if mirror {
			flipped++
		}
	}
	if flipped < 70 || flipped > 130 {
		t.Errorf("%d of 200 images flipped", flipped)
	}

	// Cutout: exactly the clipped 16×16 square is zero (no pixel of these
	// images normalises to 0 by chance), and clipping occurs.
	for _, perBatch := range []bool{false, true} {
		a := Augment{Cutout: 16, CutoutPerBatch: perBatch}
		s.FillBatch(dst, lab, idx, a, 3, 1)
		clipped := 0
		for k, i := range idx {
			d := s.draw(a, 3, 1, i)
			if perBatch {
				d = s.draw(a, 3, 1, idx[0])
			}
			y0, y1 := max(0, d.cy-8), min(32, d.cy+8)
			x0, x1 := max(0, d.cx-8), min(32, d.cx+8)
			if (y1-y0)*(x1-x0) < 256 {
				clipped++
			}
			zeros := 0
			for y := 0; y < 32; y++ {
				for x := 0; x < 32; x++ {
					for c := 0; c < 3; c++ {
						v := dst[k*sz+(y*32+x)*3+c]
						in := y >= y0 && y < y1 && x >= x0 && x < x1
						if v == 0 {
							zeros++
						}
						if in != (v == 0) {
							t.Fatalf("perBatch %v image %d (%d,%d,%d) = %v; square rows %d..%d cols %d..%d", perBatch, i, y, x, c, v, y0, y1, x0, x1)
						}
					}
				}
			}
			if zeros != (y1-y0)*(x1-x0)*3 {
				t.Fatalf("image %d: %d zeros", i, zeros)
			}
		}
		if !perBatch && (clipped < 20 || clipped == 200) {
			t.Errorf("%d of 200 cutout squares clipped", clipped)
		}
	}
}

// TestAugmentKeying: a sample's output depends only on (seed, epoch, index),
// not on its batch or position; epochs and seeds change it; the crop draws
// cover every offset.
func TestAugmentKeying(t *testing.T) {
	s := Synthetic("k", 50, 32, 32, 3, 10, CIFAR10Mean, CIFAR10Std)
	a := Augment{Crop: 4, Reflect: true, Flip: true, Cutout: 16}
	sz := s.ImageSize()
	one := func(batch []int, pos int, seed uint64, epoch int) []float32 {
		dst := make([]float32, len(batch)*sz)
		s.FillBatch(dst, make([]int32, len(batch)), batch, a, seed, epoch)
		return dst[pos*sz : (pos+1)*sz]
	}
	base := one([]int{7}, 0, 11, 2)
	if !slices.Equal(base, one([]int{3, 9, 7, 1}, 2, 11, 2)) {
		t.Error("image 7 changes with its batch")
	}
	if slices.Equal(base, one([]int{7}, 0, 11, 3)) {
		t.Error("epochs 2 and 3 augment image 7 identically")
	}
	if slices.Equal(base, one([]int{7}, 0, 12, 2)) {
		t.Error("seeds 11 and 12 augment image 7 identically")
	}
	seen := map[[2]int]bool{}
	for i := 0; i < 2000; i++ {
		d := s.draw(a, 5, 0, i)
		if d.oy < -4 || d.oy > 4 || d.ox < -4 || d.ox > 4 || d.cy < 0 || d.cy >= 32 || d.cx < 0 || d.cx >= 32 {
			t.Fatalf("draw out of range: %+v", d)
		}
		seen[[2]int{d.oy, d.ox}] = true
	}
	if len(seen) != 81 {
		t.Errorf("%d of 81 crop offsets drawn in 2000 samples", len(seen))
	}
	// Enabling cutout does not change the crop and flip draws.
	if s.draw(Augment{Crop: 4, Flip: true}, 5, 1, 9) != s.draw(a, 5, 1, 9) {
		t.Error("cutout changes the other draws")
	}
}

func TestNormalisation(t *testing.T) {
	s := Synthetic("n", 1, 2, 2, 3, 10, CIFAR100Mean, CIFAR100Std)
	for c := 0; c < 3; c++ {
		for _, b := range []uint8{0, 1, 128, 255} {
			want := (float64(b)/255 - float64(s.Mean[c])) / float64(s.Std[c])
			if got := float64(norm(s, b, c)); math.Abs(got-want) > 1e-6 {
				t.Errorf("byte %d channel %d: %v, want %v", b, c, got, want)
			}
		}
	}
}

func TestFillBatchPanics(t *testing.T) {
	s := Synthetic("p", 4, 8, 8, 3, 10, nil, nil)
	tests := []struct {
		name string
		dst  int
		a    Augment
	}{{"short dst", 2*192 - 1, Augment{}}, {"reflect wider than image", 2 * 192, Augment{Crop: 8, Reflect: true}}, {"negative", 2 * 192, Augment{Cutout: -1}}}
	for _, tc := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			s.FillBatch(make([]float32, tc.dst), make([]int32, 2), []int{0, 1}, tc.a, 0, 0)
		}()
	}
}

func cifarBatch(n int) (*Set, []float32, []int32, []int) {
	s := Synthetic("b", 4*n, 32, 32, 3, 10, CIFAR10Mean, CIFAR10Std)
	idx := Order(s.Len(), 1, 0)[:n]
	return s, make([]float32, n*s.ImageSize()), make([]int32, n), idx
}

func TestFillBatchAllocs(t *testing.T) {
	s, dst, lab, idx := cifarBatch(128)
	for _, a := range []Augment{{}, CIFARAugment, {Crop: 4, Reflect: true, Flip: true, Cutout: 16, CutoutPerBatch: true}} {
		if n := testing.AllocsPerRun(10, func() { s.FillBatch(dst, lab, idx, a, 1, 2) }); n != 0 {
			t.Errorf("%+v: %v allocations per call", a, n)
		}
	}
	m := Synthetic("m", 16, 28, 28, 1, 10, MNISTMean, MNISTStd)
	if n := testing.AllocsPerRun(10, func() {
		m.FillBatch(dst, lab, []int{1, 2, 3}, Augment{Crop: 2, Reflect: true}, 1, 2)
	}); n != 0 {
		t.Errorf("MNIST: %v allocations per call", n)
	}
}

func BenchmarkFillBatch(b *testing.B) {
	s, dst, lab, idx := cifarBatch(128)
	for _, bc := range []struct {
		name string
		a    Augment
	}{
		{"none", Augment{}},
		{"crop+flip", CIFARAugment},
		{"crop+flip+cutout", Augment{Crop: 4, Reflect: true, Flip: true, Cutout: 16}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(dst) * 4))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.FillBatch(dst, lab, idx, bc.a, 1, i)
			}
		})
	}
}
