package data

import (
	"fmt"

	"github.com/rst-bench/rst/suite/rng"
)

// Augment configures the training-time augmentations of FillBatch. The zero
// value means none (evaluation).
type Augment struct {
	// Crop is the padding of the random crop: the image is padded by Crop
	// pixels on each side and an H×W window is taken at a uniform offset
	// (docs/PAPER.md: 4). 0 turns cropping off.
	Crop int
	// Reflect pads by reflection without repeating the edge (TF/NumPy
	// "reflect": index −1 reads 1), as the official code does; otherwise the
	// padding is black (byte 0, normalised like any pixel), as torchvision's
	// RandomCrop(padding=4) does.
	Reflect bool
	// Flip mirrors the image horizontally with probability ½.
	Flip bool
	// Cutout is the side of a square set to 0 after normalisation, centred at
	// a uniform pixel and clipped at the borders (docs/PAPER.md: 16). 0 = off.
	Cutout int
	// CutoutPerBatch uses one square position for the whole batch, as the
	// official code does, keyed by the batch's first index; the default
	// (false) draws one per image, the usual Cutout.
	CutoutPerBatch bool
}

// CIFARAugment is docs/PAPER.md §3's CIFAR training augmentation: 4-pixel reflect
// padding, random 32×32 crop and horizontal flip. Add Cutout: 16 for
// Tables 6–9.
var CIFARAugment = Augment{Crop: 4, Reflect: true, Flip: true}

// Validate checks the configuration against a set's shape.
func (a Augment) Validate(s *Set) error {
	switch {
	case a.Crop < 0 || a.Cutout < 0:
		return fmt.Errorf("data: augment %+v: negative crop padding or cutout size", a)
	case a.Reflect && a.Crop > 0 && (a.Crop >= s.H || a.Crop >= s.W):
		return fmt.Errorf("data: augment %+v: reflect padding %d needs images larger than %d pixels; %q is %dx%d", a, a.Crop, a.Crop, s.Name, s.H, s.W)
	}
	return nil
}

// The augmentation draws of one sample, always taken in this order and all of
// them whatever is switched on, so that enabling one augmentation never
// changes another's draws.
type draws struct {
	oy, ox int  // crop offset in [-Crop, Crop]
	flip   bool // mirror
	cy, cx int  // cutout centre
}

func (s *Set) draw(a Augment, seed uint64, epoch int, index int) draws {
	// A Key and its PCG are values: drawing a stream per sample allocates nothing.
	st := rng.NewKey(seed, "augment", uint64(epoch), uint64(index)).PCG()
	u0, u1, u2, u3, u4 := st.Uint64(), st.Uint64(), st.Uint64(), st.Uint64(), st.Uint64()
	var d draws
	if a.Crop > 0 {
		d.oy = bounded(u0, 2*a.Crop+1) - a.Crop
		d.ox = bounded(u1, 2*a.Crop+1) - a.Crop
	}
	d.flip = a.Flip && u2>>63 == 1
	d.cy = bounded(u3, s.H)
	d.cx = bounded(u4, s.W)
	return d
}

// maxLUTChannels bounds the per-call lookup table kept on the stack.
const maxLUTChannels = 4

// FillBatch writes the images idx of s into dst as normalised NHWC float32
// (len(idx)·H·W·C values) and their labels into labels, applying aug. Each
// sample's random draws come from the stream rng.New(seed, "augment", epoch,
// index), so the result for a sample depends only on (seed, epoch, index) —
// not on the batch it is in nor on any other stream — except the position of
// a per-batch cutout, which is the first sample's. The normalised value of
// byte b in channel c is float32(b·(1/(255·Std[c]))) − Mean[c]/Std[c].
// Order of operations: crop, flip, normalise, cutout.
//
// FillBatch allocates nothing and runs on the calling goroutine; a caller that
// wants parallelism can fill disjoint parts of a batch concurrently (the
// result is the same unless CutoutPerBatch is set). It panics if dst or
// labels are too short, an index is out of range, or aug is invalid for s.
func (s *Set) FillBatch(dst []float32, labels []int32, idx []int, aug Augment, seed uint64, epoch int) {
	H, W, C := s.H, s.W, s.C
	sz := H * W * C
	if len(dst) < len(idx)*sz || len(labels) < len(idx) {
		panic(fmt.Sprintf("data: FillBatch: %d images of %d values need dst of %d and labels of %d; have %d and %d",
			len(idx), sz, len(idx)*sz, len(idx), len(dst), len(labels)))
	}
	if len(s.Mean) != C || len(s.Std) != C {
		panic(fmt.Sprintf("data: FillBatch: set %q has %d channels but %d means and %d stds", s.Name, C, len(s.Mean), len(s.Std)))
	}
	if err := aug.Validate(s); err != nil {
		panic(err.Error())
	}
	if len(idx) == 0 {
		return
	}

	// Byte → normalised float, per channel. Explicit float32 conversions stop
	// the compiler fusing a multiply-add, which would make results depend on
	// the target's FMA support.
	var lutBuf [maxLUTChannels * 256]float32
	var lut []float32
	if C <= maxLUTChannels {
		lut = lutBuf[:C*256]
		for c := 0; c < C; c++ {
			scale := float32(1 / (255 * float64(s.Std[c])))
			bias := -s.Mean[c] / s.Std[c]
			for b := 0; b < 256; b++ {
				lut[c*256+b] = float32(float32(b)*scale) + bias
			}
		}
	}

	var batchCut draws
	if aug.Cutout > 0 && aug.CutoutPerBatch {
		batchCut = s.draw(aug, seed, epoch, idx[0])
	}
	for k, i := range idx {
		labels[k] = s.Labels[i]
		d := s.draw(aug, seed, epoch, i)
		out := dst[k*sz : (k+1)*sz : (k+1)*sz]
		img := s.Pixels[i*sz : (i+1)*sz : (i+1)*sz]
		if lut != nil {
			fillImage(out, img, lut, H, W, C, d, aug.Reflect)
		} else {
			s.fillImageSlow(out, img, d, aug.Reflect)
		}
		if aug.Cutout > 0 {
			cy, cx := d.cy, d.cx
			if aug.CutoutPerBatch {
				cy, cx = batchCut.cy, batchCut.cx
			}
			cutout(out, H, W, C, cy, cx, aug.Cutout)
		}
	}
}

// srcIndex maps a coordinate of the padded image back to the source, or
// −1 for zero padding.
func srcIndex(v, n int, reflect bool) int {
	if v >= 0 && v < n {
		return v
	}
	if !reflect {
		return -1
	}
	if v < 0 {
		return -v
	}
	return 2*(n-1) - v
}

// fillImage writes one augmented, normalised image. The crop window is
// mostly inside the source, so each row is split into an interior run that
// reads the source contiguously (forwards, or backwards when flipped) and at
// most Crop edge pixels per side handled one by one.
func fillImage(out []float32, img []uint8, lut []float32, H, W, C int, d draws, reflect bool) {
	rowLen := W * C
	for y := 0; y < H; y++ {
		o := out[y*rowLen : (y+1)*rowLen : (y+1)*rowLen]
		sy := srcIndex(y+d.oy, H, reflect)
		if sy < 0 {
			for x := 0; x < W; x++ {
				for c := 0; c < C; c++ {
					o[x*C+c] = lut[c*256]
				}
			}
			continue
		}
		row := img[sy*rowLen : (sy+1)*rowLen : (sy+1)*rowLen]
		// Output column x reads source column sx(x) = xs + ox, with
		// xs = x, or W−1−x when flipped. Interior: 0 ≤ sx < W.
		lo, hi := 0, W // output columns whose source is interior
		if !d.flip {
			lo, hi = max(0, -d.ox), min(W, W-d.ox)
		} else {
			lo, hi = max(0, d.ox), min(W, W+d.ox)
		}
		// Zero padding wider than the image can leave no interior at all.
		lo = min(lo, W)
		hi = max(hi, lo)
		edge := func(x int) {
			xs := x
			if d.flip {
				xs = W - 1 - x
			}
			sx := srcIndex(xs+d.ox, W, reflect)
			for c := 0; c < C; c++ {
				if sx < 0 {
					o[x*C+c] = lut[c*256]
				} else {
					o[x*C+c] = lut[c*256+int(row[sx*C+c])]
				}
			}
		}
		for x := 0; x < lo; x++ {
			edge(x)
		}
		switch {
		case lo == hi:
		case C == 3 && !d.flip:
			src := row[(lo+d.ox)*3 : (hi+d.ox)*3]
			dst := o[lo*3 : hi*3]
			r, g, b := lut[0:256:256], lut[256:512:512], lut[512:768:768]
			for j := 0; j+2 < len(src) && j+2 < len(dst); j += 3 {
				dst[j] = r[src[j]]
				dst[j+1] = g[src[j+1]]
				dst[j+2] = b[src[j+2]]
			}
		case C == 3 && d.flip:
			r, g, b := lut[0:256:256], lut[256:512:512], lut[512:768:768]
			for x := lo; x < hi; x++ {
				sx := W - 1 - x + d.ox
				p := row[sx*3 : sx*3+3 : sx*3+3]
				q := o[x*3 : x*3+3 : x*3+3]
				q[0] = r[p[0]]
				q[1] = g[p[1]]
				q[2] = b[p[2]]
			}
		case C == 1:
			l := lut[0:256:256]
			for x := lo; x < hi; x++ {
				sx := x + d.ox
				if d.flip {
					sx = W - 1 - x + d.ox
				}
				o[x] = l[row[sx]]
			}
		default:
			for x := lo; x < hi; x++ {
				edge(x)
			}
		}
		for x := hi; x < W; x++ {
			edge(x)
		}
	}
}

// fillImageSlow is the general path for sets with more channels than the
// lookup table holds; same arithmetic, no table.
func (s *Set) fillImageSlow(out []float32, img []uint8, d draws, reflect bool) {
	H, W, C := s.H, s.W, s.C
	for y := 0; y < H; y++ {
		sy := srcIndex(y+d.oy, H, reflect)
		for x := 0; x < W; x++ {
			xs := x
			if d.flip {
				xs = W - 1 - x
			}
			sx := srcIndex(xs+d.ox, W, reflect)
			for c := 0; c < C; c++ {
				var b uint8
				if sy >= 0 && sx >= 0 {
					b = img[(sy*W+sx)*C+c]
				}
				scale := float32(1 / (255 * float64(s.Std[c])))
				bias := -s.Mean[c] / s.Std[c]
				out[(y*W+x)*C+c] = float32(float32(b)*scale) + bias
			}
		}
	}
}

// cutout zeroes the size×size square whose top-left corner is
// (cy−size/2, cx−size/2), clipped to the image.
func cutout(out []float32, H, W, C, cy, cx, size int) {
	y0, x0 := max(0, cy-size/2), max(0, cx-size/2)
	y1, x1 := min(H, cy-size/2+size), min(W, cx-size/2+size)
	if x0 >= x1 {
		return
	}
	for y := y0; y < y1; y++ {
		clear(out[(y*W+x0)*C : (y*W+x1)*C])
	}
}
