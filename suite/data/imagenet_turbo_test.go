package data

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
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
			img, err := fo.decodeFile(sc, key)
			if err != nil {
				continue
			}
			out := make([]float32, 16*16*3)
			fo.transform(sc, out, img, 1, 0, 3)
		}
	})
}
