package data

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"path/filepath"

	"github.com/rst-bench/rst/suite/rng"
)

//go:generate go test -run TestImageNetTestdataGolden -update .

// ImageNetDir is the folder of ImageNet inside a data dir: it holds the
// train/ and val/ splits, each with one sub-folder per class.
const ImageNetDir = "imagenet"

// SyntheticPhoto draws a w×h picture with some of a photograph's
// statistics, for tests and benchmarks: a smooth background (a few random
// low-frequency waves per channel around a colour that depends on class),
// a soft-edged ellipse (the "object") and per-pixel grain: ±noise levels
// shared by the channels plus ±noise/2 in each.
// Smooth areas plus noise give JPEG files of about the size real photos of
// that size have (see WriteImageFolder). It is a pure function of its
// arguments (draws from the stream (seed, "synthetic-photo", class,
// index)); gray gives an *image.Gray, otherwise an *image.RGBA.
func SyntheticPhoto(w, h, class int, gray bool, noise float64, seed uint64, index int) image.Image {
	r := rng.NewKey(seed, "synthetic-photo", uint64(class), uint64(index)).PCG()
	u := func(a, b float64) float64 { return uniform(&r, a, b) }
	// Class colours: the first three are red, green, blue, so that tiny
	// test sets are learnable; the rest come round the hue circle.
	hue := float64(class) * (2 * math.Pi / 3)
	if class >= 3 {
		hue = float64(class) * 2.399963 // golden angle
	}
	var base [3]float64
	for c := range base {
		base[c] = 128 + 70*math.Cos(hue-float64(c)*2*math.Pi/3)
	}
	type wave struct{ fx, fy, phase, amp float64 }
	var waves [3][3]wave
	for c := range waves {
		for k := range waves[c] {
			waves[c][k] = wave{u(-3, 3), u(-3, 3), u(0, 2*math.Pi), u(8, 30)}
		}
	}
	cx, cy := u(0.3, 0.7)*float64(w), u(0.3, 0.7)*float64(h)
	rx, ry := u(0.15, 0.35)*float64(w), u(0.15, 0.35)*float64(h)
	var obj [3]float64
	for c := range obj {
		obj[c] = base[c] + u(-90, 90)
	}
	var img image.Image
	var pix []uint8
	var ch int
	if gray {
		m := image.NewGray(image.Rect(0, 0, w, h))
		img, pix, ch = m, m.Pix, 1
	} else {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		img, pix, ch = m, m.Pix, 4
	}
	// cos(2π(fx·x/w + fy·y/h) + phase) = cx·cy − sx·sy, from tables.
	cosX, sinX := make([]float64, 9*w), make([]float64, 9*w)
	cosY, sinY := make([]float64, 9*h), make([]float64, 9*h)
	for c := range waves {
		for k, wv := range waves[c] {
			for x := range w {
				a := 2 * math.Pi * wv.fx * float64(x) / float64(w)
				cosX[(3*c+k)*w+x], sinX[(3*c+k)*w+x] = math.Cos(a), math.Sin(a)
			}
			for y := range h {
				a := 2*math.Pi*wv.fy*float64(y)/float64(h) + wv.phase
				cosY[(3*c+k)*h+y], sinY[(3*c+k)*h+y] = math.Cos(a), math.Sin(a)
			}
		}
	}
	for y := range h {
		for x := range w {
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			in := 1 / (1 + math.Exp(8*(math.Sqrt(dx*dx+dy*dy)-1))) // 1 inside the ellipse, 0 outside
			lum := u(-noise, noise)                                // grain shared by the channels
			var v [3]float64
			for c := range v {
				bg := base[c]
				for k, wv := range waves[c] {
					j := 3*c + k
					bg += wv.amp * (cosX[j*w+x]*cosY[j*h+y] - sinX[j*w+x]*sinY[j*h+y])
				}
				v[c] = bg*(1-in) + obj[c]*in + lum + u(-noise, noise)/2
			}
			o := (y*w + x) * ch
			if gray {
				pix[o] = clampByte(0.299*v[0] + 0.587*v[1] + 0.114*v[2])
				continue
			}
			pix[o], pix[o+1], pix[o+2], pix[o+3] = clampByte(v[0]), clampByte(v[1]), clampByte(v[2]), 255
		}
	}
	return img
}

func clampByte(v float64) uint8 { return uint8(math.Round(min(255, max(0, v)))) }

// EncodeJPEG encodes img at quality (4:2:0 chroma, as ImageNet's files).
func EncodeJPEG(img image.Image, quality int) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteImageFolder writes an ImageNet-style split into dir: perClass JPEGs
// of w×h pixels at quality per class, as dir/<class>/<class>_<i>.JPEG,
// drawn by SyntheticPhoto with ±34 levels of noise. At 500×375 (about
// ImageNet's typical size) and quality 90 the files have about 100 KB, as
// ImageNet's do on average (1.28M files, about 140 GB), so that decoding
// them costs about what decoding ImageNet costs.
func WriteImageFolder(dir string, classes []string, perClass, w, h, quality int, seed uint64) error {
	for c, class := range classes {
		for i := range perClass {
			b, err := EncodeJPEG(SyntheticPhoto(w, h, c, false, 34, seed, i), quality)
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, class, fmt.Sprintf("%s_%d.JPEG", class, i)), b); err != nil {
				return err
			}
		}
	}
	return nil
}

// imagenetTestdataFile is one file of the tiny ImageNet tree.
type imagenetTestdataFile struct {
	path   string // from the data dir
	w, h   int
	class  int
	gray   bool
	format string // "jpeg" or "png"
}

// ImageNetTestdataClasses are the tiny tree's classes: ImageNet's first
// three (tench, goldfish, great white shark).
var ImageNetTestdataClasses = []string{"n01440764", "n01443537", "n01484850"}

// imagenetTestdataFiles lays out the tiny tree: small images of different
// sizes and aspect ratios, one greyscale JPEG, one PNG and one PNG named
// .JPEG (ImageNet's train split has one such file), val/ sorted into class
// folders with the official file names.
var imagenetTestdataFiles = func() []imagenetTestdataFile {
	const q = "imagenet/"
	t := func(class int, name string, w, h int) imagenetTestdataFile {
		return imagenetTestdataFile{path: q + "train/" + ImageNetTestdataClasses[class] + "/" + ImageNetTestdataClasses[class] + "_" + name,
			w: w, h: h, class: class, format: "jpeg"}
	}
	v := func(class, n, w, h int) imagenetTestdataFile {
		return imagenetTestdataFile{path: fmt.Sprintf("%sval/%s/ILSVRC2012_val_%08d.JPEG", q, ImageNetTestdataClasses[class], n),
			w: w, h: h, class: class, format: "jpeg"}
	}
	gray := t(1, "1007.JPEG", 48, 80)
	gray.gray = true
	png1 := t(2, "1004.png", 50, 38)
	png1.format = "png"
	png2 := t(2, "1005.JPEG", 36, 44)
	png2.format = "png"
	return []imagenetTestdataFile{
		t(0, "1001.JPEG", 40, 30),
		t(0, "1002.JPEG", 80, 64),
		t(0, "1003.JPEG", 30, 40),
		t(1, "1001.JPEG", 64, 48),
		gray,
		t(1, "1012.JPEG", 56, 56),
		t(2, "1001.JPEG", 72, 40),
		t(2, "1002.JPEG", 40, 30),
		png1,
		png2,
		v(0, 1, 50, 40),
		v(0, 7, 40, 60),
		v(1, 2, 64, 48),
		v(1, 3, 44, 44),
		v(2, 4, 80, 45),
		v(2, 9, 32, 48),
	}
}()

// imagenetTestdataTrain and imagenetTestdataVal count the tiny tree's
// images per split.
const (
	imagenetTestdataTrain = 10
	imagenetTestdataVal   = 6
)

// WriteImageNetTestdata writes the tiny ImageNet tree into root (a data
// dir): root/imagenet/train/<class>/*.JPEG and root/imagenet/val/<class>/.
func WriteImageNetTestdata(root string) error {
	for i, f := range imagenetTestdataFiles {
		img := SyntheticPhoto(f.w, f.h, f.class, f.gray, 12, 2012, i)
		var b []byte
		var err error
		if f.format == "png" {
			var buf bytes.Buffer
			err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
			b = buf.Bytes()
		} else {
			b, err = EncodeJPEG(img, 90)
		}
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(root, filepath.FromSlash(f.path)), b); err != nil {
			return err
		}
	}
	return nil
}
