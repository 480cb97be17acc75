package data

import (
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"

	"testing"

	"github.com/rst-bench/rst/suite/rng"
)

// lcgBytes are n pseudo-random bytes from the C library's old LCG, which a
// few lines of Python reproduce (see TestResizeMatchesPillow).
func lcgBytes(n int, seed uint32) []byte {
	x := seed
	out := make([]byte, n)
	for i := range out {
		x = (x*1103515245 + 12345) & (1<<31 - 1)
		out[i] = byte(x >> 16)
	}
	return out
}

// rgbImage wraps RGB bytes as an opaque *image.RGBA.
func rgbImage(w, h int, rgb []byte) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := range w * h {
		copy(m.Pix[4*p:], rgb[3*p:3*p+3])
		m.Pix[4*p+3] = 255
	}
	return m
}

// renderBytes runs render with an identity lookup table, so that the
// output floats are the resampled bytes.
func renderBytes(img image.Image, box cropBox, outW, outH, ox, oy, size int, flip bool) []byte {
	f := &Folder{opt: FolderOptions{Size: size}}
	for c := range 3 {
		for b := range 256 {
			f.lut[c*256+b] = float32(b)
		}
	}
	out := make([]float32, size*size*3)
	r := img.Bounds()
	f.render(new(folderScratch), out, goDecoded(img, r.Dx(), r.Dy()), box, outW, outH, ox, oy, flip)
	b := make([]byte, len(out))
	for i, v := range out {
		b[i] = byte(v)
	}
	return b
}

// TestResizeMatchesPillow compares the resampling with Pillow 9.4's
// Image.resize(size, Image.BILINEAR) (after Image.crop for the crop cases,
// then Image.crop of the window for the evaluation case), byte for byte, on
// pseudo-random RGB images. The wanted hashes were printed by:
//
//	from PIL import Image; import hashlib
//	def lcg(n, seed):
//	    x, out = seed, bytearray(n)
//	    for i in range(n):
//	        x = (x * 1103515245 + 12345) % (1 << 31); out[i] = (x >> 16) & 255
//	    return bytes(out)
//	im = Image.frombytes("RGB", (w, h), lcg(w*h*3, len(name)))
//	im = im.crop((x, y, x+bw, y+bh))            # crop cases only
//	im = im.resize((outW, outH), Image.BILINEAR)
//	im = im.crop((ox, oy, ox+size, oy+size))     # window cases only
//	print(hashlib.sha256(im.tobytes()).hexdigest())
func TestResizeMatchesPillow(t *testing.T) {
	tests := []struct {
		name       string
		w, h       int
		box        cropBox // zero: the whole image
		outW, outH int
		ox, oy     int
		size       int
		sha256     string
	}{
		{"down", 23, 17, cropBox{}, 7, 7, 0, 0, 7, "8434aad8a178a6172b72d19eba98c0f7345f2b53579b81ccd8987891c48f5297"},
		{"up", 23, 17, cropBox{}, 40, 40, 0, 0, 40, "9beb393ab6f305188480acb0d3de7489f60ba5467df7fd44886974624e077790"},
		{"mixed", 23, 17, cropBox{}, 19, 19, 0, 0, 19, "a702fc6d33870c4608a4a3a7e51ccdc78bc13cbaa5c11648ec717c1c5d0a15d5"},
		{"crop", 23, 17, cropBox{3, 2, 15, 11}, 9, 9, 0, 0, 9, "1b34e420d78e4f71a0c7dba77678a068d904bce981eab7e247971c07edc3cef2"},
		{"evalwindow", 37, 29, cropBox{}, 25, 20, 4, 2, 16, "379b130068162b361d0dccb6c52ae05d08af61f45a03710a8b3e2aceea86c4aa"},
		{"bigdown", 300, 200, cropBox{}, 13, 13, 0, 0, 13, "6b30b0919e2c7033c4337f86822a56ce04034cc42f635f487e08a40d8e82a1c4"},
		{"identity", 16, 16, cropBox{}, 16, 16, 0, 0, 16, "8abe753d61f10e45cff0dd208fbf18aa31d46028f3459d31b4735ccf1e713a6d"},
	}
	for _, tc := range tests {
		rgb := lcgBytes(tc.w*tc.h*3, uint32(len(tc.name)))
		box := tc.box
		if box == (cropBox{}) {
			box = cropBox{0, 0, tc.w, tc.h}
		}
		got := renderBytes(rgbImage(tc.w, tc.h, rgb), box, tc.outW, tc.outH, tc.ox, tc.oy, tc.size, false)
		sum := sha256.Sum256(got)
		if h := hex.EncodeToString(sum[:]); h != tc.sha256 {
			t.Errorf("%s: output differs from Pillow's (sha256 %s, first bytes %v)", tc.name, h, got[:6])
		}
		if tc.name == "identity" && string(got) != string(rgb) {
			t.Errorf("identity resize changed the image")
		}
	}
}

// A one-pixel checkerboard shrunk 4× must come out mid-grey: the filter is
// widened to cover every source pixel (antialiasing). Point-sampled
// bilinear interpolation would give black or white.
func TestResizeAntialiases(t *testing.T) {
	const n = 64
	rgb := make([]byte, n*n*3)
	for y := range n {
		for x := range n {
			if (x+y)%2 == 0 {
				rgb[(y*n+x)*3], rgb[(y*n+x)*3+1], rgb[(y*n+x)*3+2] = 255, 255, 255
			}
		}
	}
	got := renderBytes(rgbImage(n, n, rgb), cropBox{0, 0, n, n}, n/4, n/4, 0, 0, n/4, false)
	for i, v := range got {
		if v < 120 || v > 135 {
			t.Fatalf("value %d of the shrunk checkerboard is %d; want about 128", i, v)
		}
	}
}

func TestRenderFlipMirrors(t *testing.T) {
	rgb := lcgBytes(31*27*3, 5)
	img := rgbImage(31, 27, rgb)
	box := cropBox{2, 3, 20, 17}
	a := renderBytes(img, box, 12, 12, 0, 0, 12, false)
	b := renderBytes(img, box, 12, 12, 0, 0, 12, true)
	for y := range 12 {
		for x := range 12 {
			for c := range 3 {
				if a[(y*12+x)*3+c] != b[(y*12+11-x)*3+c] {
					t.Fatalf("flipped pixel (%d,%d,%d) is not the mirror image's", y, x, c)
				}
			}
		}
	}
	if string(a) == string(b) {
		t.Fatal("flip changed nothing")
	}
}

// toRGB must agree with the colour model's own conversion for every kind
// of image the decoders return, on a rectangle away from the corner.
func TestToRGBMatchesColorModel(t *testing.T) {
	const w, h = 13, 9
	r := image.Rect(0, 0, w, h)
	rnd := lcgBytes(w*h*4, 9)
	var imgs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(r, ratio)
		copy(m.Y, rnd)
		copy(m.Cb, rnd[100:])
		copy(m.Cr, rnd[200:])
		imgs = append(imgs, m)
	}
	g := image.NewGray(r)
	copy(g.Pix, rnd)
	cm := image.NewCMYK(r)
	copy(cm.Pix, rnd)
	nr := image.NewNRGBA(r)
	copy(nr.Pix, rnd)
	op := image.NewRGBA(r)
	copy(op.Pix, rnd)
	for i := 3; i < len(op.Pix); i += 4 {
		op.Pix[i] = 255
	}
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 128}, color.Gray{77}})
	for i := range pal.Pix {
		pal.Pix[i] = rnd[i] % 3
	}
	g16 := image.NewGray16(r)
	copy(g16.Pix, rnd)
	imgs = append(imgs, g, cm, nr, op, pal, g16)
	var sc folderScratch
	for _, img := range imgs {
		const x0, y0, rw, rh = 3, 2, 8, 6
		got := toRGB(nil, &sc, img, x0, y0, rw, rh)
		for y := range rh {
			for x := range rw {
				n := color.NRGBAModel.Convert(img.At(x0+x, y0+y)).(color.NRGBA)
				want := []byte{n.R, n.G, n.B}
				if _, ok := img.(*image.YCbCr); ok {
					c := img.At(x0+x, y0+y).(color.YCbCr)
					r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
					want = []byte{r, g, b}
				}
				if _, ok := img.(*image.CMYK); ok {
					c := img.At(x0+x, y0+y).(color.CMYK)
					r, g, b := color.CMYKToRGB(c.C, c.M, c.Y, c.K)
					want = []byte{r, g, b}
				}
				p := got[(y*rw+x)*3 : (y*rw+x)*3+3]
				if string(p) != string(want) {
					t.Fatalf("%T: pixel (%d,%d) is %v, want %v", img, x0+x, y0+y, p, want)
				}
			}
		}
	}
}

// RandomResizedCrop's box statistics: every box lies inside the image,
// covers 8–100 % of it and has an aspect ratio in [3/4, 4/3] (up to the
// rounding of its sides), and the draws spread over those ranges.
func TestRandomResizedCropBox(t *testing.T) {
	const width, height, n = 500, 375, 20000
	var sumArea, small, smallWide float64
	minA, maxA, minR, maxR := 2.0, 0.0, 2.0, 0.0
	for i := range n {
		r := rngPCG(7, i)
		b := randomResizedCrop(width, height, &r)
		if b.X < 0 || b.Y < 0 || b.W < 1 || b.H < 1 || b.X+b.W > width || b.Y+b.H > height {
			t.Fatalf("draw %d: box %+v is not inside %dx%d", i, b, width, height)
		}
		a := float64(b.W*b.H) / (width * height)
		ratio := float64(b.W) / float64(b.H)
		// Rounding each side moves it by at most ½ pixel.
		lo := (math.Sqrt(0.08*width*height*0.75) - 0.5) * (math.Sqrt(0.08*width*height/0.75) - 0.5) / (width * height)
		if a < lo-1e-12 || a > 1 {
			t.Fatalf("draw %d: box %+v covers %.4f of the image; want [0.08, 1] up to rounding", i, b, a)
		}
		if ratio < 0.75*(1-1/float64(b.H)) || ratio > 4.0/3*(1+1/float64(b.H)) {
			t.Fatalf("draw %d: box %+v has aspect ratio %.4f; want [3/4, 4/3] up to rounding", i, b, ratio)
		}
		sumArea += a
		minA, maxA = min(minA, a), max(maxA, a)
		minR, maxR = min(minR, ratio), max(maxR, ratio)
		if a < 0.5 {
			small++
			if ratio > 1 {
				smallWide++
			}
		}
	}
	// Areas above 0.75 are often rejected (the box is wider or taller than
	// the image), so the mean is a little below (0.08+1)/2.
	if m := sumArea / n; m < 0.42 || m > 0.54 {
		t.Errorf("mean area fraction %.3f; want about 0.5", m)
	}
	if minA > 0.085 || maxA < 0.95 || minR > 0.76 || maxR < 1.32 {
		t.Errorf("draws do not span the ranges: area %.3f..%.3f, ratio %.3f..%.3f", minA, maxA, minR, maxR)
	}
	// Log-uniform: as many ratios above 1 as below, among the boxes small
	// enough never to be rejected (on a landscape image large tall boxes
	// are rejected more often than large wide ones).
	if f := smallWide / small; f < 0.47 || f > 0.53 {
		t.Errorf("%.3f of the boxes covering under half the image are wider than tall; want about 1/2", f)
	}
}

// When no draw fits (a very elongated image) the box is the centred crop
// whose aspect ratio is the nearest allowed one.
func TestRandomResizedCropFallback(t *testing.T) {
	r := rngPCG(1, 0)
	if b := randomResizedCrop(1000, 10, &r); b != (cropBox{(1000 - 13) / 2, 0, 13, 10}) {
		t.Errorf("1000x10: box %+v, want the centred 13x10", b)
	}
	if b := randomResizedCrop(10, 1000, &r); b != (cropBox{0, (1000 - 13) / 2, 10, 13}) {
		t.Errorf("10x1000: box %+v, want the centred 10x13", b)
	}
	for i := range 100 { // 1×1: every box is the whole pixel
		r := rngPCG(2, i)
		if b := randomResizedCrop(1, 1, &r); b != (cropBox{0, 0, 1, 1}) {
			t.Fatalf("1x1: box %+v", b)
		}
	}
}

func TestCenterCropGeometry(t *testing.T) {
	tests := []struct{ w, h, outW, outH, ox, oy int }{
		{500, 375, 341, 256, 58, 16}, // 256·500/375 = 341.33; (341−224)/2 = 58.5 rounds to 58
		{375, 500, 256, 341, 16, 58},
		{256, 256, 256, 256, 16, 16},
		{40, 30, 341, 256, 58, 16},
		{333, 500, 256, 384, 16, 80},
	}
	for _, tc := range tests {
		w, h, ox, oy := centerCropGeometry(tc.w, tc.h, 256, 224)
		if w != tc.outW || h != tc.outH || ox != tc.ox || oy != tc.oy {
			t.Errorf("%dx%d: resized %dx%d, crop at (%d,%d); want %dx%d at (%d,%d)", tc.w, tc.h, w, h, ox, oy, tc.outW, tc.outH, tc.ox, tc.oy)
		}
	}
}

func rngPCG(seed uint64, i int) rand.PCG { return rng.NewKey(seed, "test-rrc", uint64(i)).PCG() }

// BenchmarkRender measures the resize alone (crop, both passes,
// normalisation) on a 500×375 RGB image with the training transform's
// boxes at 224, and the evaluation transform.
func BenchmarkRender(b *testing.B) {
	const w, h = 500, 375
	img := decoded{rgb: lcgBytes(w*h*4, 1), bpp: 4, pw: w, ph: h, w: w, h: h, num: 8, rw: w, rh: h} // as libjpeg-turbo gives
	for _, train := range []bool{true, false} {
		name := map[bool]string{true: "train", false: "eval"}[train]
		b.Run(name, func(b *testing.B) {
			f := &Folder{opt: FolderOptions{Size: ImageNetSize, Train: train}, evalShort: 256}
			sc := new(folderScratch)
			out := make([]float32, ImageNetSize*ImageNetSize*3)
			i := 0
			cpu0 := processCPUTime()
			for b.Loop() {
				f.transform(sc, out, img, 1, 0, i)
				i++
			}
			// CPU time, not wall time: the machine may be shared.
			b.ReportMetric(float64((processCPUTime()-cpu0).Microseconds())/float64(i), "cpu-µs/image")
		})
	}
}

// The C passes (turbojpeg builds) give the Go passes' bytes: RGB and RGBX,
// crops, enlargements, windows and flips, at several sizes.
func TestCResampleMatchesGo(t *testing.T) {
	if !cResample {
		t.Skip("built without the C passes (-tags turbojpeg)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for k := range 300 {
		w, h := 1+r.IntN(300), 1+r.IntN(300)
		size := 1 + r.IntN(64)
		bpp := 3 + k%2
		img := decoded{rgb: lcgBytes(w*h*bpp, uint32(k)), bpp: bpp, pw: w, ph: h, w: w, h: h, num: 8, rw: w, rh: h}
		if k%3 == 1 { // a DCT-scaled image's pixels
			img.num = []int{1, 2, 4}[r.IntN(3)]
			img.pw, img.ph = scaledSide(w, img.num), scaledSide(h, img.num)
			img.rgb = img.rgb[:img.pw*img.ph*bpp]
			img.rw, img.rh = img.pw, img.ph
		}
		bw, bh := 1+r.IntN(w), 1+r.IntN(h)
		box := cropBox{r.IntN(w - bw + 1), r.IntN(h - bh + 1), bw, bh}
		outW, outH := size+r.IntN(20), size+r.IntN(20)
		ox, oy := r.IntN(outW-size+1), r.IntN(outH-size+1)
		flip := r.IntN(2) == 1
		var got [2][]float32
		for v, goResize := range []bool{false, true} {
			f := &Folder{opt: FolderOptions{Size: size}, goResize: goResize}
			for c := range 3 {
				for b := range 256 {
					f.lut[c*256+b] = float32(b) + float32(c)/4
				}
			}
			got[v] = make([]float32, size*size*3)
			f.render(new(folderScratch), got[v], img, box, outW, outH, ox, oy, flip)
		}
		if !slices.Equal(got[0], got[1]) {
			t.Fatalf("case %d (%d×%d at %d/8, box %+v → %d×%d, window %d at (%d, %d), flip %v): C and Go passes differ", k, w, h, img.num, box, outW, outH, size, ox, oy, flip)
		}
	}
}
