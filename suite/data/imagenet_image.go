package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"

	"github.com/rst-bench/rst/suite/rng"
)

// How a Folder turns a file into a normalised Size×Size×3 image, and how
// that compares with torchvision's ImageFolder + transforms on PIL images:
//
//   - Decoding: the standard library's image/jpeg and image/png, chosen by
//     the file's first bytes, not its name (ImageNet has a PNG named .JPEG
//     and a few CMYK JPEGs; both decode). Every decoded image is converted
//     to 8-bit RGB as PIL's convert("RGB") does: grey replicated, alpha
//     dropped, palettes looked up, CMYK by (255−C)(255−K)/255. Go's JPEG
//     decoder differs from libjpeg-turbo (PIL's) in its IDCT rounding and
//     upsamples 4:2:0 chroma by repetition where libjpeg-turbo interpolates,
//     so decoded pixels differ from PIL's by a few levels, mostly at colour
//     edges. Built with -tags turbojpeg (the Makefile adds it where
//     libjpeg-turbo's header is), JPEGs are decoded by libjpeg-turbo, as
//     PIL's are, and at a DCT-domain scale of 1/8, 1/4 or 1/2 where the
//     transform's box still has the output's pixels at that scale
//     (dctScale); PIL decodes at full size, so such images then differ from
//     torchvision's as one downsampling differs from another. Files it
//     does not decode cleanly go to the Go decoders, which judge them.
//   - Resampling: PIL's separable "convolution" resize with the bilinear
//     (triangle) filter, which torchvision uses for PIL images and, with
//     antialias=True, for tensors: when shrinking by a factor s > 1 the
//     triangle is widened to ±s source pixels, so every source pixel
//     contributes (an antialiased, area-like average, never point sampling);
//     when enlarging it is plain bilinear interpolation with half-pixel
//     centres. It is computed as Pillow's Resample.c does for 8-bit images:
//     the same coefficients (float64, then 22-bit fixed point), the
//     horizontal pass first, and each pass rounded to 8 bits, so that from
//     the same RGB bytes it gives the same bytes as PIL's Image.resize
//     (checked against Pillow 9.4 on random images, TestResizeMatchesPillow).
//   - Crops: RandomResizedCrop's box (torchvision's get_params, with Python's
//     round-half-to-even) cropped before resizing, so the filter stops at
//     the box's edges as PIL's crop-then-resize does; Resize(256) of the
//     shorter side with the longer side truncated, and CenterCrop's offsets
//     rounded half to even, as torchvision computes them. Only the centre
//     window of the resized image is computed, which gives the same pixels.
//   - Normalisation: (float32(b)/255 − mean)/std in float32, which is what
//     ToTensor followed by Normalize computes.
//
// So the remaining differences from torchvision are the decoder's and the
// random draws (ours come from the suite's streams, not torch's generator).

// PIL's fixed point: 8 bits of result, 2 of headroom.
const precisionBits = 32 - 8 - 2

// Limits that make a file a corrupt image rather than a memory blow-up: a
// JPEG header may claim 65535×65535 pixels.
const (
	maxImageFileBytes = 256 << 20
	maxImagePixels    = 1 << 27 // 134M pixels, e.g. 16384×8192; ImageNet's largest is far smaller
)

// folderScratch is one decode goroutine's reusable memory.
type folderScratch struct {
	file   []byte        // the file's bytes
	rd     bytes.Reader  // over file
	pix    []byte        // libjpeg-turbo's decoded image, RGB
	turbo  turboState    // libjpeg-turbo's decompressor, where built in
	rgb    []byte        // the source rectangle the resize reads, RGB
	tmp    []byte        // the horizontal pass's output
	acc    []int32       // one output row's sums in the vertical pass
	wide   []int32       // one source row widened to int32 (the C horizontal pass)
	kx, ky []int32       // fixed-point filter weights per output column / row
	bx, by []int32       // per output column / row: first source index, count
	wts    []float64     // one output position's weights before rounding
	palRGB [256 * 3]byte // a paletted image's colours
}

func growTo[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n, n+n/4)
	}
	return b[:n]
}

// readFile reads path into sc.file.
func (sc *folderScratch) readFile(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return bareErr(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return bareErr(err)
	}
	size := st.Size()
	switch {
	case size == 0:
		return errors.New("the file is empty")
	case size > maxImageFileBytes:
		return fmt.Errorf("the file has %d bytes, more than the %d an image may have here", size, maxImageFileBytes)
	}
	sc.file = growTo(sc.file, int(size))
	n, err := io.ReadFull(fh, sc.file)
	sc.file = sc.file[:n]
	if err != nil {
		return fmt.Errorf("read %d of %d bytes: %v (the file changed while being read?)", n, size, bareErr(err))
	}
	return nil
}

// bareErr drops an *fs.PathError's path, which the caller's message names.
func bareErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// decoded is a decoded image: the Go decoders' image.Image, or
// libjpeg-turbo's packed RGB rows, possibly DCT-scaled.
type decoded struct {
	img    image.Image // the Go decoders' output; nil when rgb holds the pixels
	rgb    []byte      // libjpeg-turbo's output, pw·bpp bytes a row (aliases the scratch)
	bpp    int         // rgb's bytes a pixel: 3 (RGB) or 4 (RGBX)
	pw, ph int         // the scaled image's size: ⌈w·num/8⌉×⌈h·num/8⌉
	w, h   int         // the image's own size (its header's), which the draws see
	num    int         // the pixels are the image scaled by num/8 (8: full size)
	// rgb holds the rw×rh pixels at (x0, y0) of the scaled image: all of it,
	// or the region a transform reads (turboDecodeRegion).
	x0, y0, rw, rh int
}

// scaledSide is libjpeg's size of a side of n pixels scaled by num/8.
func scaledSide(n, num int) int { return (n*num + 7) / 8 }

// turboFactor is the factor libjpeg-turbo uses when asked for the size
// scale num/8 gives: the largest num' ≤ 8 giving the same size (they differ
// only for images a few pixels across).
func turboFactor(w, h, num int) int {
	pw, ph := scaledSide(w, num), scaledSide(h, num)
	for num < 8 && scaledSide(w, num+1) == pw && scaledSide(h, num+1) == ph {
		num++
	}
	return num
}

// turboScale is the scale num'/8 libjpeg-turbo decodes a w×h image at when
// asked for num/8: turboFactor's, or full size where the build lacks its
// DCT scaling.
func turboScale(w, h, num int) int {
	if !turboScaling {
		return 8
	}
	return turboFactor(w, h, num)
}

// goDecoded wraps a Go decoder's image.
func goDecoded(img image.Image, w, h int) decoded {
	return decoded{img: img, pw: w, ph: h, w: w, h: h, num: 8, rw: w, rh: h}
}

var jpegMagic = []byte{0xff, 0xd8, 0xff}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// decodeImage decodes sc.file. A decoder panic is returned as an error.
func decodeImage(sc *folderScratch) (d decoded, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = decoded{}, fmt.Errorf("the image decoder failed: %v", r)
		}
	}()
	b := sc.file
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	var format string
	switch {
	case bytes.HasPrefix(b, jpegMagic):
		decodeConfig, decode, format = jpeg.DecodeConfig, jpeg.Decode, "JPEG"
	case bytes.HasPrefix(b, pngMagic):
		decodeConfig, decode, format = png.DecodeConfig, png.Decode, "PNG"
	default:
		return decoded{}, fmt.Errorf("not a JPEG or PNG file (it starts with % x)", b[:min(8, len(b))])
	}
	sc.rd.Reset(b)
	cfg, err := decodeConfig(&sc.rd)
	if err != nil {
		return decoded{}, fmt.Errorf("bad %s header: %v", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return decoded{}, fmt.Errorf("the %s header claims %d×%d pixels; want 1 to %d pixels", format, cfg.Width, cfg.Height, maxImagePixels)
	}
	sc.rd.Reset(b)
	img, err := decode(&sc.rd)
	if err != nil {
		return decoded{}, fmt.Errorf("bad %s data: %v", format, err)
	}
	r := img.Bounds()
	if r.Dx() != cfg.Width || r.Dy() != cfg.Height {
		return decoded{}, fmt.Errorf("the %s decoder returned %d×%d pixels for a %d×%d header", format, r.Dx(), r.Dy(), cfg.Width, cfg.Height)
	}
	return goDecoded(img, cfg.Width, cfg.Height), nil
}

// cropBox is a rectangle of an image: columns X..X+W-1, rows Y..Y+H-1.
type cropBox struct{ X, Y, W, H int }

// RandomResizedCrop's defaults.
const (
	rrcMinArea  = 0.08
	rrcMaxArea  = 1.0
	rrcMinRatio = 3.0 / 4
	rrcMaxRatio = 4.0 / 3
	rrcTries    = 10
)

// uniform draws from [a, b).
func uniform(r *rand.PCG, a, b float64) float64 {
	u := float64(r.Uint64()>>11) / (1 << 53)
	return a + float64((b-a)*u) // no fused multiply-add: same on every platform
}

// roundHalfEven is Python 3's round() to an int.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }

// randomResizedCrop is torchvision's RandomResizedCrop.get_params for a
// width×height image with scale (0.08, 1) and ratio (3/4, 4/3): up to 10
// draws of an area fraction (uniform) and an aspect ratio w/h (log-uniform)
// whose rounded box must fit, then a uniform position; failing that, the
// centred box of the whole width or height whose aspect ratio is clamped to
// [3/4, 4/3].
func randomResizedCrop(width, height int, r *rand.PCG) cropBox {
	area := float64(width) * float64(height)
	logLo, logHi := math.Log(rrcMinRatio), math.Log(rrcMaxRatio)
	for range rrcTries {
		target := area * uniform(r, rrcMinArea, rrcMaxArea)
		ratio := math.Exp(uniform(r, logLo, logHi))
		w := roundHalfEven(math.Sqrt(target * ratio))
		h := roundHalfEven(math.Sqrt(target / ratio))
		if 0 < w && w <= width && 0 < h && h <= height {
			y := bounded(r.Uint64(), height-h+1)
			x := bounded(r.Uint64(), width-w+1)
			return cropBox{x, y, w, h}
		}
	}
	w, h := width, height
	switch in := float64(width) / float64(height); {
	case in < rrcMinRatio:
		h = roundHalfEven(float64(w) / rrcMinRatio)
	case in > rrcMaxRatio:
		w = roundHalfEven(float64(h) * rrcMaxRatio)
	}
	return cropBox{(width - w) / 2, (height - h) / 2, w, h}
}

// centerCropGeometry is torchvision's Resize(short) then CenterCrop(size)
// for a w×h image: the resized size outW×outH and the crop's top-left
// corner in it.
func centerCropGeometry(w, h, short, size int) (outW, outH, ox, oy int) {
	if w <= h {
		outW, outH = short, int(float64(short*h)/float64(w))
	} else {
		outW, outH = int(float64(short*w)/float64(h)), short
	}
	return outW, outH, roundHalfEven(float64(outW-size) / 2), roundHalfEven(float64(outH-size) / 2)
}

// trainDraws are the training transform's draws for sample i, a w×h
// image: the flip first, so that it never depends on how many tries the
// crop box took, then the box.
func trainDraws(w, h int, seed uint64, epoch, i int) (cropBox, bool) {
	// A Key and its PCG are values: a stream per sample allocates nothing.
	r := rng.NewKey(seed, "augment", uint64(epoch), uint64(i)).PCG()
	flip := r.Uint64()>>63 == 1
	return randomResizedCrop(w, h, &r), flip
}

// geometry is what the transform does to a w×h image: resize box (in the
// image's pixels) to outW×outH, keep the Size×Size window at (ox, oy) of
// the result, mirror it if flip.
type geometry struct {
	box        cropBox
	outW, outH int
	ox, oy     int
	flip       bool
}

// geometry is sample i's transform for a w×h image: the training draws
// (seed, epoch, i), or the evaluation resize and centre crop.
func (f *Folder) geometry(w, h int, seed uint64, epoch, i int) geometry {
	S := f.opt.Size
	if f.opt.Train {
		box, flip := trainDraws(w, h, seed, epoch, i)
		return geometry{box: box, outW: S, outH: S, flip: flip}
	}
	outW, outH, ox, oy := centerCropGeometry(w, h, f.evalShort, S)
	return geometry{box: cropBox{0, 0, w, h}, outW: outW, outH: outH, ox: ox, oy: oy}
}

// dctScale is the smallest DCT scaling num/8, num in {1, 2, 4, 8}, at
// which g's box still has at least the output's pixels each way, so that
// the resize still shrinks (or copies) and never enlarges what full-size
// decoding would not. Only these four: libjpeg-turbo has SIMD inverse DCTs
// for 8×8, 4×4, 2×2 and 1×1 blocks, and its 5/8 to 7/8 decode more slowly
// than full size (measured: 1.4–1.8 ms against 1.3 ms for a 500×375 q90
// file), while entropy decoding, which no scale saves, is most of the rest.
func dctScale(g geometry) int {
	for _, num := range [...]int{1, 2, 4} {
		if g.box.W*num >= 8*g.outW && g.box.H*num >= 8*g.outH {
			return num
		}
	}
	return 8
}

// transform writes sample i's transformed, normalised image into out.
func (f *Folder) transform(sc *folderScratch, out []float32, img decoded, seed uint64, epoch, i int) {
	g := f.geometry(img.w, img.h, seed, epoch, i)
	f.render(sc, out, img, g.box, g.outW, g.outH, g.ox, g.oy, g.flip)
}

// render resizes box of img (in the image's own pixels, whatever scale
// img's pixels have) to outW×outH and writes the Size×Size window at
// (ox0, oy0) of the result into out, normalised and mirrored if flip.
//
// At full size the box is whole pixels, cropped before resizing as PIL
// does. DCT-scaled pixels hold the box at fractional coordinates: the
// resize reads the whole pixels the box touches, and places the box within
// them as Pillow's resize(box=…) places a fractional box.
func (f *Folder) render(sc *folderScratch, out []float32, img decoded, box cropBox, outW, outH, ox0, oy0 int, flip bool) {
	S := f.opt.Size
	r := f.plan(sc, img.pw, img.ph, img.num, box, outW, outH, ox0, oy0)
	rw, rh := r.x1-r.x0, r.y1-r.y0
	var src []byte
	stride, bpp := 0, 3
	if img.img != nil {
		sc.rgb = toRGB(sc.rgb, sc, img.img, r.x0, r.y0, rw, rh)
		src, stride = sc.rgb, rw*3
	} else {
		if r.x0 < img.x0 || r.x1 > img.x0+img.rw || r.y0 < img.y0 || r.y1 > img.y0+img.rh {
			panic(fmt.Sprintf("data: the resize reads [%d,%d)×[%d,%d) of the scaled image; only [%d,%d)×[%d,%d) was decoded",
				r.x0, r.x1, r.y0, r.y1, img.x0, img.x0+img.rw, img.y0, img.y0+img.rh))
		}
		bpp = img.bpp
		stride = img.rw * bpp
		src = img.rgb[(r.y0-img.y0)*stride+(r.x0-img.x0)*bpp:]
	}
	ksx, ksy, sx0, sy0 := r.ksx, r.ksy, r.sx0, r.sy0
	sc.tmp = growTo(sc.tmp, rh*S*3)
	sc.acc = growTo(sc.acc, S*3)
	// The C passes index without checks: the extents they read and write.
	if cResample && !f.goResize && len(out) >= S*S*3 && len(src) >= (rh-1)*stride+rw*bpp {
		sc.wide = growTo(sc.wide, rw*4)
		resampleRowsC(sc.tmp, src, stride, bpp, rh, sc.kx, sc.bx, ksx, sx0, S, sc.wide, rw)
		resampleColumnsC(out, sc.tmp, sc.acc, sc.ky, sc.by, ksy, sy0, S, flip, &f.lut)
		return
	}
	resampleRows(sc.tmp, src, stride, bpp, rh, sc.kx, sc.bx, ksx, sx0, S)
	resampleColumns(out, sc.tmp, sc.acc, sc.ky, sc.by, ksy, sy0, S, flip, &f.lut)
}

// resizePlan is what render's resize reads: the rectangle [x0, x1)×[y0, y1)
// of the scaled image, and the taps (left in the scratch's kx, bx, ky, by)
// whose bounds count from the box's first whole pixels, sx0 and sy0 of them
// before the rectangle.
type resizePlan struct {
	x0, y0, x1, y1 int
	ksx, ksy       int
	sx0, sy0       int
}

// plan computes render's taps for box of a pw×ph image scaled by num/8,
// and the rectangle of its pixels they read, which is all that a decode for
// this transform needs (turboDecodeRegion).
func (f *Folder) plan(sc *folderScratch, pw, ph, num int, box cropBox, outW, outH, ox0, oy0 int) resizePlan {
	S := f.opt.Size
	s := float64(num) / 8
	x0, x1 := float64(box.X)*s, float64(box.X+box.W)*s
	y0, y1 := float64(box.Y)*s, float64(box.Y+box.H)*s
	rx0, rx1 := int(math.Floor(x0)), min(int(math.Ceil(x1)), pw)
	ry0, ry1 := int(math.Floor(y0)), min(int(math.Ceil(y1)), ph)
	var r resizePlan
	sc.kx, sc.bx, sc.wts, r.ksx = bilinearCoeffs(sc.kx, sc.bx, sc.wts, rx1-rx0, x0-float64(rx0), x1-float64(rx0), outW, ox0, S)
	sc.ky, sc.by, sc.wts, r.ksy = bilinearCoeffs(sc.ky, sc.by, sc.wts, ry1-ry0, y0-float64(ry0), y1-float64(ry0), outH, oy0, S)
	// The source rectangle the window reads (bounds grow with the output
	// position).
	r.sx0, r.sy0 = int(sc.bx[0]), int(sc.by[0])
	r.x0, r.x1 = rx0+r.sx0, rx0+int(sc.bx[2*S-2]+sc.bx[2*S-1])
	r.y0, r.y1 = ry0+r.sy0, ry0+int(sc.by[2*S-2]+sc.by[2*S-1])
	return r
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// bilinearCoeffs is Pillow's precompute_coeffs and normalize_coeffs_8bpc
// for the bilinear filter, resizing the span [in0, in1) of inSize source
// pixels to outSize, for the n output positions from o0: for output j,
// bounds[2j] is the first source pixel and bounds[2j+1] the number of
// them, weighted by kk[j·ks : j·ks+bounds[2j+1]] (22-bit fixed point,
// summing to about 1).
func bilinearCoeffs(kk, bounds []int32, wts []float64, inSize int, in0, in1 float64, outSize, o0, n int) ([]int32, []int32, []float64, int) {
	scale := (in1 - in0) / float64(outSize)
	filterscale := max(scale, 1.0)
	support := 1.0 * filterscale // the triangle's support, widened when shrinking
	ks := int(math.Ceil(support))*2 + 1
	ss := 1.0 / filterscale
	kk = growTo(kk, n*ks)
	bounds = growTo(bounds, 2*n)
	wts = growTo(wts, ks)
	for j := range n {
		center := in0 + (float64(o0+j)+0.5)*scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		xmax = min(xmax, ks) // never binds: at most 2·support+1 pixels are in reach
		w := wts[:xmax]
		ww := 0.0
		for x := range w {
			v := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			w[x] = v
			ww += v
		}
		k := kk[j*ks : (j+1)*ks]
		for x := range k {
			if x >= xmax {
				k[x] = 0
				continue
			}
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			k[x] = int32(0.5 + v*(1<<precisionBits)) // the weights are ≥ 0
		}
		bounds[2*j], bounds[2*j+1] = int32(xmin), int32(xmax)
	}
	return kk, bounds, wts, ks
}

// clip8 is Pillow's: the 8-bit value of a fixed-point sum.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resampleRows is the horizontal pass: rows of src (RGB or RGBX, bpp bytes
// a pixel, stride bytes apart, each starting at source column sx0) to rows
// of S RGB pixels in dst.
func resampleRows(dst, src []byte, stride, bpp, rows int, kk, bounds []int32, ks, sx0, S int) {
	const half = 1 << (precisionBits - 1)
	for r := range rows {
		srow := src[r*stride:]
		drow := dst[r*S*3 : (r+1)*S*3]
		for j := range S {
			xmin, n := int(bounds[2*j])-sx0, int(bounds[2*j+1])
			k := kk[j*ks : j*ks+n]
			p := srow[xmin*bpp : (xmin+n)*bpp]
			s0, s1, s2 := int32(half), int32(half), int32(half)
			for t, w := range k {
				q := p[bpp*t : bpp*t+3 : bpp*t+3]
				s0 += int32(q[0]) * w
				s1 += int32(q[1]) * w
				s2 += int32(q[2]) * w
			}
			d := drow[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// resampleColumns is the vertical pass over the horizontal pass's rows
// (the first is source row sy0), fused with normalisation and the flip:
// output row r of out gets lut values of the resampled bytes.
func resampleColumns(out []float32, src []byte, acc, kk, bounds []int32, ks, sy0, S int, flip bool, lut *[3 * 256]float32) {
	const half = 1 << (precisionBits - 1)
	row := S * 3
	lr, lg, lb := lut[0:256:256], lut[256:512:512], lut[512:768:768]
	acc = acc[:row]
	for r := range S {
		ymin, n := int(bounds[2*r])-sy0, int(bounds[2*r+1])
		for x := range acc {
			acc[x] = half
		}
		for t, w := range kk[r*ks : r*ks+n] {
			s := src[(ymin+t)*row : (ymin+t+1)*row]
			s = s[:len(acc)]
			for x, v := range s {
				acc[x] += int32(v) * w
			}
		}
		o := out[r*row : (r+1)*row]
		for x := range S {
			a := acc[3*x : 3*x+3 : 3*x+3]
			xo := x
			if flip {
				xo = S - 1 - x
			}
			q := o[3*xo : 3*xo+3 : 3*xo+3]
			q[0], q[1], q[2] = lr[clip8(a[0])], lg[clip8(a[1])], lb[clip8(a[2])]
		}
	}
}

// chromaShift gives a subsampling ratio's horizontal and vertical shifts
// from luma to chroma coordinates.
func chromaShift(r image.YCbCrSubsampleRatio) (hs, vs uint, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// toRGB converts the w×h rectangle of img at (x0, y0) (from its bounds'
// corner) to RGB bytes in dst, as PIL's convert("RGB") would.
func toRGB(dst []byte, sc *folderScratch, img image.Image, x0, y0, w, h int) []byte {
	dst = growTo(dst, w*h*3)
	b := img.Bounds()
	X0, Y0 := b.Min.X+x0, b.Min.Y+y0
	switch m := img.(type) {
	case *image.YCbCr:
		hs, vs, ok := chromaShift(m.SubsampleRatio)
		if !ok || b.Min != (image.Point{}) {
			break
		}
		for y := range h {
			sy := Y0 + y
			yrow := m.Y[sy*m.YStride+X0 : sy*m.YStride+X0+w]
			crow := (sy >> vs) * m.CStride
			d := dst[y*w*3 : (y+1)*w*3]
			for x, yv := range yrow {
				ci := crow + (X0+x)>>hs
				// color.YCbCrToRGB, written out so that it is inlined.
				yy1 := int32(yv) * 0x10101
				cb1 := int32(m.Cb[ci]) - 128
				cr1 := int32(m.Cr[ci]) - 128
				r := yy1 + 91881*cr1
				if uint32(r)&0xff000000 == 0 {
					r >>= 16
				} else {
					r = ^(r >> 31)
				}
				g := yy1 - 22554*cb1 - 46802*cr1
				if uint32(g)&0xff000000 == 0 {
					g >>= 16
				} else {
					g = ^(g >> 31)
				}
				bb := yy1 + 116130*cb1
				if uint32(bb)&0xff000000 == 0 {
					bb >>= 16
				} else {
					bb = ^(bb >> 31)
				}
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = uint8(r), uint8(g), uint8(bb)
			}
		}
		return dst
	case *image.Gray:
		for y := range h {
			s := m.Pix[m.PixOffset(X0, Y0+y):][:w]
			d := dst[y*w*3 : (y+1)*w*3]
			for x, v := range s {
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = v, v, v
			}
		}
		return dst
	case *image.NRGBA: // PIL's RGBA is not premultiplied either: drop alpha
		for y := range h {
			s := m.Pix[m.PixOffset(X0, Y0+y):][:4*w]
			d := dst[y*w*3 : (y+1)*w*3]
			for x := range w {
				p := s[4*x : 4*x+4 : 4*x+4]
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = p[0], p[1], p[2]
			}
		}
		return dst
	case *image.RGBA: // premultiplied: undo it where not opaque
		for y := range h {
			s := m.Pix[m.PixOffset(X0, Y0+y):][:4*w]
			d := dst[y*w*3 : (y+1)*w*3]
			for x := range w {
				p := s[4*x : 4*x+4 : 4*x+4]
				q := d[3*x : 3*x+3 : 3*x+3]
				switch a := uint32(p[3]); a {
				case 255:
					q[0], q[1], q[2] = p[0], p[1], p[2]
				case 0:
					q[0], q[1], q[2] = 0, 0, 0
				default:
					q[0], q[1], q[2] = uint8(uint32(p[0])*255/a), uint8(uint32(p[1])*255/a), uint8(uint32(p[2])*255/a)
				}
			}
		}
		return dst
	case *image.CMYK:
		for y := range h {
			s := m.Pix[m.PixOffset(X0, Y0+y):][:4*w]
			d := dst[y*w*3 : (y+1)*w*3]
			for x := range w {
				p := s[4*x : 4*x+4 : 4*x+4]
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
			}
		}
		return dst
	case *image.Paletted:
		pal := &sc.palRGB
		clear(pal[:])
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[3*i], pal[3*i+1], pal[3*i+2] = n.R, n.G, n.B
		}
		for y := range h {
			s := m.Pix[m.PixOffset(X0, Y0+y):][:w]
			d := dst[y*w*3 : (y+1)*w*3]
			for x, v := range s {
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = pal[3*int(v)], pal[3*int(v)+1], pal[3*int(v)+2]
			}
		}
		return dst
	}
	// Anything else (16-bit PNGs, unusual chroma layouts): the slow,
	// general way.
	for y := range h {
		d := dst[y*w*3 : (y+1)*w*3]
		for x := range w {
			n := color.NRGBAModel.Convert(img.At(X0+x, Y0+y)).(color.NRGBA)
			d[3*x], d[3*x+1], d[3*x+2] = n.R, n.G, n.B
		}
	}
	return dst
}
