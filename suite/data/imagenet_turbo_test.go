package data

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// testJPEGs are files the folder tests decode: colour 4:2:0 (Go's
// encoder), greyscale, and odd sizes (partial MCUs).
func testJPEGs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, c := range []struct {
		name string
		w, h int
		gray bool
		q    int
	}{{"colour-500x375-q90", 500, 375, false, 90}, {"colour-37x23-q75", 37, 23, false, 75}, {"grey-101x67-q90", 101, 67, true, 90}} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, SyntheticPhoto(c.w, c.h, 1, c.gray, 20, 7, 0), &jpeg.Options{Quality: c.q}); err != nil {
			t.Fatal(err)
		}
		out[c.name] = buf.Bytes()
	}
	return out
}

// libjpeg-turbo's samples are the Go decoder's within the JPEG standard's
// tolerance: ±1 per component sample (ISO/IEC 10918-2 allows IDCTs that
// differ by one). After chroma upsampling and colour conversion, which the
// standard leaves open (libjpeg-turbo interpolates chroma, Go repeats it),
// RGB differs by about a level on average.
func TestTurboMatchesGoDecoder(t *testing.T) {
	if !turboJPEG {
		t.Skip("built without libjpeg-turbo (-tags turbojpeg)")
	}
	for name, file := range testJPEGs(t) {
		sc := &folderScratch{file: file}
		planes, widths, ok := turboPlanes(sc)
		if !ok {
			t.Fatalf("%s: libjpeg-turbo did not decode the planes", name)
		}
		g, err := decodeImage(sc)
		if err != nil {
			t.Fatal(err)
		}
		var goPlanes [3][]byte
		var goStrides [3]int
		switch m := g.img.(type) {
		case *image.YCbCr:
			goPlanes = [3][]byte{m.Y, m.Cb, m.Cr}
			goStrides = [3]int{m.YStride, m.CStride, m.CStride}
		case *image.Gray:
			goPlanes[0], goStrides[0] = m.Pix, m.Stride
		default:
			t.Fatalf("%s: Go decoded a %T", name, g.img)
		}
		for c, p := range planes {
			if p == nil {
				continue
			}
			rows := len(p) / widths[c]
			for y := range rows {
				for x := range widths[c] {
					a, b := int(p[y*widths[c]+x]), int(goPlanes[c][y*goStrides[c]+x])
					if a-b > 1 || b-a > 1 {
						t.Fatalf("%s: component %d sample (%d, %d): libjpeg-turbo %d, Go %d", name, c, x, y, a, b)
					}
				}
			}
		}
		d, ok := turboDecode(sc, g.w, g.h, 8)
		if !ok || d.pw != g.w || d.ph != g.h {
			t.Fatalf("%s: turboDecode: %v, %d×%d", name, ok, d.pw, d.ph)
		}
		rgb := toRGB(nil, sc, g.img, 0, 0, g.w, g.h)
		var sum, worst float64
		for k := range rgb {
			diff := math.Abs(float64(rgb[k]) - float64(d.rgb[k/3*d.bpp+k%3]))
			sum += diff
			worst = max(worst, diff)
		}
		mean := sum / float64(len(rgb))
		t.Logf("%s: RGB differs by %.3f levels on average, %v at most", name, mean, worst)
		// The tiny file's chroma is mostly grain, where interpolating and
		// repeating differ by several levels; its samples agreed above.
		if mean > 1.5 && g.w >= 100 {
			t.Errorf("%s: RGB differs by %.3f levels on average; want ≤ 1.5", name, mean)
		}
	}
}

// DCT scaling picks the smallest of 1/8, 2/8, 4/8 and 8/8 that leaves the
// box at least the output's size.
func TestDCTScale(t *testing.T) {
	for _, c := range []struct {
		g    geometry
		want int
	}{
		{geometry{box: cropBox{W: 500, H: 375}, outW: 224, outH: 224}, 8},
		{geometry{box: cropBox{W: 1800, H: 1800}, outW: 224, outH: 224}, 1},
		{geometry{box: cropBox{W: 1792, H: 1791}, outW: 224, outH: 224}, 2},
		{geometry{box: cropBox{W: 900, H: 448}, outW: 224, outH: 224}, 4},
		{geometry{box: cropBox{W: 900, H: 447}, outW: 224, outH: 224}, 8},
		{geometry{box: cropBox{W: 100, H: 80}, outW: 224, outH: 224}, 8},
		{geometry{box: cropBox{W: 1200, H: 900}, outW: 341, outH: 256}, 4},
	} {
		if got := dctScale(c.g); got != c.want {
			t.Errorf("dctScale(%+v) = %d; want %d", c.g, got, c.want)
		}
	}
}

// With DCT scaling in use (large images, small crops), a run's batches are
// the same with 1 and 2 workers and call after call, for both transforms;
// and a DCT-scaled crop looks like the full-size one.
func TestFolderDCTScaledDeterminism(t *testing.T) {
	dir := t.TempDir()
	for c := range 2 {
		for i := range 6 {
			data, err := EncodeJPEG(SyntheticPhoto(400+40*i, 300, c, i == 5, 20, 3, i), 85)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(filepath.Join(dir, []string{"a", "b"}[c], string(rune('0'+i))+".JPEG"), data)
		}
	}
	for _, train := range []bool{true, false} {
		f1 := openFolder(t, dir, nil, FolderOptions{Size: 40, Train: train, Workers: 1})
		f2 := openFolder(t, dir, nil, FolderOptions{Size: 40, Train: train, Workers: 2})
		idx := allIndices(f1.Len())
		rev := slices.Clone(idx)
		slices.Reverse(rev)
		sz := f1.ImageSize()
		for epoch := range 3 {
			a, la := fill(t, f1, idx, 5, epoch)
			b, lb := fill(t, f2, idx, 5, epoch)
			if !slices.Equal(a, b) || !slices.Equal(la, lb) {
				t.Fatalf("train %v epoch %d: 1 and 2 workers give different batches", train, epoch)
			}
			c, _ := fill(t, f2, rev, 5, epoch)
			for k, i := range rev {
				if !slices.Equal(c[k*sz:(k+1)*sz], a[i*sz:(i+1)*sz]) {
					t.Fatalf("train %v epoch %d: image %d changes with its batch position", train, epoch, i)
				}
			}
		}
		if !turboJPEG {
			continue
		}
		// Scaled against full size: close (the pixels are another
		// downsampling of the same picture).
		sc := new(folderScratch)
		scaled := 0
		for i := range f1.Len() {
			key := &drawKey{5, 0, i}
			ds, err := f1.decode(sc, i, key)
			if err != nil {
				t.Fatal(err)
			}
			if ds.num == 8 {
				continue
			}
			scaled++
			g := f1.geometry(ds.w, ds.h, 5, 0, i)
			a := make([]float32, f1.ImageSize())
			f1.render(sc, a, ds, g.box, g.outW, g.outH, g.ox, g.oy, g.flip)
			df, err := f1.decode(sc, i, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]float32, f1.ImageSize())
			f1.render(sc, b, df, g.box, g.outW, g.outH, g.ox, g.oy, g.flip)
			var sum float64
			for k := range a {
				sum += math.Abs(float64(a[k] - b[k]))
			}
			// Normalised units: 1 level is about 1/57.
			if mean := sum / float64(len(a)) * 57; mean > 4 {
				t.Errorf("train %v image %d at %d/8: differs from full size by %.2f levels on average", train, i, ds.num, mean)
			}
		}
		if scaled == 0 {
			t.Errorf("train %v: no image was DCT-scaled", train)
		}
	}
}

// Any bytes, decoded and transformed, give an image or an error, never a
// panic or a crash in C: truncated, bit-flipped and foreign files.
func FuzzFolderDecode(f *testing.F) {
	for _, b := range testJPEGs(&testing.T{}) {
		if len(b) > 20000 {
			continue // the 500×375 file: too slow under the fuzzer's instrumentation
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
		c := append([]byte(nil), b...)
		c[len(c)/2] ^= 0x55
		f.Add(c)
	}
	f.Add([]byte("\xff\xd8\xff\xe0 not really"))
	fo := &Folder{opt: FolderOptions{Size: 16, Train: true}, evalShort: 18}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := &folderScratch{file: b}
		for _, key := range []*drawKey{nil, {1, 0, 3}} {
			img, err := fo.decodeFile(sc, -1, key)
			if err != nil {
				continue
			}
			out := make([]float32, 16*16*3)
			fo.transform(sc, out, img, 1, 0, 3)
		}
	})
}

// regionJPEGs are files in every layout ImageNet has: 4:2:0 (Go's
// encoder), and TurboJPEG's 4:4:4, 4:2:2, 4:2:0, greyscale and progressive
// 4:2:0, at a typical size and at sizes that end in partial MCUs.
func regionJPEGs(t *testing.T) map[string][]byte {
	t.Helper()
	out := testJPEGs(t)
	for _, sz := range [][2]int{{500, 375}, {203, 97}} {
		img := SyntheticPhoto(sz[0], sz[1], 2, false, 20, 7, 1)
		rgb := make([]byte, 0, sz[0]*sz[1]*3)
		for y := range sz[1] {
			for x := range sz[0] {
				r, g, b, _ := img.At(x, y).RGBA()
				rgb = append(rgb, byte(r>>8), byte(g>>8), byte(b>>8))
			}
		}
		for _, c := range []struct {
			name        string
			samp        int
			progressive bool
		}{{"444", 0, false}, {"422", 1, false}, {"420", 2, false}, {"grey", 3, false}, {"420-progressive", 2, true}} {
			b, ok := turboEncode(rgb, sz[0], sz[1], c.samp, 90, c.progressive)
			if !ok {
				t.Fatalf("turboEncode %s failed", c.name)
			}
			out[fmt.Sprintf("turbo-%s-%dx%d", c.name, sz[0], sz[1])] = b
		}
	}
	return out
}

// A region decode (what a training transform reads) has exactly the pixels
// of a whole decode at the same scale, wherever the region lies, with and
// without reading the rest of the file.
func TestTurboRegionMatchesWhole(t *testing.T) {
	if !turboJPEG {
		t.Skip("built without libjpeg-turbo (-tags turbojpeg)")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for name, file := range regionJPEGs(t) {
		sc := &folderScratch{file: file}
		w, h, ok := turboHeader(sc)
		if !ok {
			t.Fatalf("%s: no header", name)
		}
		for _, num := range []int{1, 2, 4, 8} {
			full, ok := turboDecode(sc, w, h, num)
			if !ok {
				t.Fatalf("%s at %d/8: whole decode failed", name, num)
			}
			want := slices.Clone(full.rgb[:full.pw*full.ph*4])
			for k := range 40 {
				x0, y0 := r.IntN(full.pw), r.IntN(full.ph)
				x1, y1 := x0+1+r.IntN(full.pw-x0), y0+1+r.IntN(full.ph-y0)
				if k == 0 {
					x0, y0, x1, y1 = 0, 0, full.pw, full.ph
				}
				for _, whole := range []bool{false, true} {
					d, ok := turboDecodeRegion(sc, w, h, num, x0, y0, x1, y1, whole)
					if !ok {
						t.Fatalf("%s at %d/8: region [%d,%d)×[%d,%d) (whole %v) failed", name, num, x0, x1, y0, y1, whole)
					}
					if d.pw != full.pw || d.ph != full.ph || d.num != full.num || d.x0 > x0 || d.x0+d.rw < x1 || d.y0 > y0 || d.y0+d.rh < y1 {
						t.Fatalf("%s at %d/8: region [%d,%d)×[%d,%d) decoded as %d×%d at (%d, %d) of %d×%d (num %d)",
							name, num, x0, x1, y0, y1, d.rw, d.rh, d.x0, d.y0, d.pw, d.ph, d.num)
					}
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							for c := range 3 {
								a, b := d.rgb[((y-d.y0)*d.rw+x-d.x0)*4+c], want[(y*full.pw+x)*4+c]
								if a != b {
									t.Fatalf("%s at %d/8: region [%d,%d)×[%d,%d) (whole %v): pixel (%d, %d) channel %d is %d, whole decode %d",
										name, num, x0, x1, y0, y1, whole, x, y, c, a, b)
								}
							}
						}
					}
				}
			}
		}
	}
}

// A file damaged below the region a transform reads is still found
// damaged: the first decode of each file reads all of it (a later one,
// once the file has decoded cleanly, stops below the region).
func TestTurboRegionFirstDecodeChecksWholeFile(t *testing.T) {
	if !turboJPEG {
		t.Skip("built without libjpeg-turbo (-tags turbojpeg)")
	}
	good, err := EncodeJPEG(SyntheticPhoto(500, 375, 1, false, 34, 1, 0), 90)
	if err != nil {
		t.Fatal(err)
	}
	damaged := good[:len(good)*3/4]
	f := &Folder{opt: FolderOptions{Size: 64, Train: true, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}, names: []byte("c/a.jpg"), ends: []uint32{7}, labels: []int32{0}}
	f.finishOpen()
	sc := &folderScratch{file: damaged}
	// Draws whose region ends in the top half, which the damage spares.
	var key *drawKey
	for i := range 1000 {
		k := &drawKey{1, 0, i}
		g := f.geometry(500, 375, k.seed, k.epoch, k.i)
		num := turboScale(500, 375, dctScale(g))
		if r := f.plan(sc, scaledSide(500, num), scaledSide(375, num), num, g.box, g.outW, g.outH, g.ox, g.oy); r.y1*8 < 375*num/2 {
			key = k
			break
		}
	}
	if key == nil {
		t.Fatal("no draws with a region in the top half")
	}
	if _, err := f.decodeFile(sc, 0, key); err == nil {
		t.Fatal("the first decode of a truncated file succeeded; want the Go decoder's error")
	}
	// Reading the whole file finds what a whole decode finds: truncations,
	// flipped bytes anywhere, bytes after the end.
	r := rand.New(rand.NewPCG(5, 6))
	for k := range 200 {
		b := slices.Clone(good)
		switch k % 3 {
		case 0:
			b = b[:1+r.IntN(len(b)-1)]
		case 1:
			for range 1 + r.IntN(3) {
				b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
			}
		case 2:
			b = append(b, []byte("trailing bytes")...)
		}
		sc := &folderScratch{file: b}
		w, h, ok := turboHeader(sc)
		if !ok {
			continue
		}
		_, want := turboDecode(sc, w, h, 8)
		for _, num := range []int{1, 8} {
			pw, ph := scaledSide(w, num), scaledSide(h, num)
			x0, y0 := r.IntN(pw), r.IntN(ph)
			x1, y1 := x0+1+r.IntN(pw-x0), y0+1+r.IntN(ph-y0)
			if _, got := turboDecodeRegion(sc, w, h, num, x0, y0, x1, y1, true); got != want {
				t.Fatalf("damaged file %d (case %d, %d bytes), region [%d,%d)×[%d,%d) at %d/8: region decode ok %v, whole decode ok %v",
					k, k%3, len(b), x0, x1, y0, y1, num, got, want)
			}
		}
	}
	// Had the file decoded cleanly before, the region alone is read, and
	// the damage below it is not seen: the first decode is what checks.
	f.whole.add(0)
	if _, err := f.decodeFile(sc, 0, key); err != nil {
		t.Fatalf("a region decode above the damage failed: %v", err)
	}
}
