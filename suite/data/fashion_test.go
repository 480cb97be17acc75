package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFashionMNISTGenerated(t *testing.T) {
	root := t.TempDir()
	tr := Synthetic("tr", 9, 28, 28, 1, 10, nil, nil)
	te := Synthetic("te", 3, 28, 28, 1, 10, nil, nil)
	if err := WriteMNIST(filepath.Join(root, "fashion-mnist"), tr, te, true); err != nil {
		t.Fatal(err)
	}
	gtr, gte, err := Load("fashion-mnist", root)
	if err != nil {
		t.Fatal(err)
	}
	if gtr.Name != "fashion-mnist-train" || gte.Name != "fashion-mnist-test" || gtr.Classes != 10 || gtr.H != 28 || gtr.C != 1 {
		t.Fatalf("%s/%s: %dx%dx%d, %d classes", gtr.Name, gte.Name, gtr.H, gtr.W, gtr.C, gtr.Classes)
	}
	if !slices.Equal(gtr.Pixels, tr.Pixels) || !slices.Equal(gte.Labels, te.Labels) {
		t.Fatal("round trip changed pixels or labels")
	}
	if gtr.Mean[0] != 0.2860 || gtr.Std[0] != 0.3530 || gte.Mean[0] != 0.2860 {
		t.Fatalf("normalisation %v/%v", gtr.Mean, gtr.Std)
	}
	if err := gtr.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFashionMNISTErrors damages one of four good .gz files at a time: the
// error names the file and tells how to fix it.
func TestFashionMNISTErrors(t *testing.T) {
	good := Synthetic("g", 3, 4, 4, 1, 10, nil, nil)
	img := idxBytes(0x803, []uint32{3, 4, 4}, good.Pixels)
	lab := idxBytes(0x801, []uint32{3}, labelBytes(good))
	badCRC := gzipped(img)
	badCRC[len(badCRC)-8] ^= 0xff // the trailer: CRC-32, then length
	badLen := gzipped(img)
	badLen[len(badLen)-1] ^= 0x01
	badDeflate := gzipped(img)
	badDeflate[12] ^= 0xff
	tests := []struct {
		name    string
		file    string
		content []byte // nil: delete the file
		want    []string
	}{
		{"missing", MNISTTrainLabels, nil, []string{MNISTTrainLabels + " and " + MNISTTrainLabels + ".gz"}},
		{"bad CRC", MNISTTrainImages, badCRC, []string{"invalid checksum"}},
		{"bad length", MNISTTrainImages, badLen, []string{"invalid checksum"}},
		{"corrupt deflate data", MNISTTrainImages, badDeflate, []string{MNISTTrainImages}},
		{"truncated gz", MNISTTestImages, gzipped(img)[:25], []string{"truncated .gz file", "unexpected EOF"}},
		{"gz header only", MNISTTestImages, gzipped(img)[:5], []string{"bad gzip header"}},
		{"wrong magic", MNISTTrainImages, gzipped(lab), []string{"magic number 00000801, want 00000803", "wrong file"}},
		{"not an idx file", MNISTTestLabels, gzipped([]byte("<html>gone</html>")), []string{"magic number 3c68746d"}},
		{"short data", MNISTTestImages, gzipped(img[:len(img)-7]), []string{"truncated", "48 bytes of data", "gzip stream holds only 41"}},
		{"short header", MNISTTestLabels, gzipped(lab[:6]), []string{"truncated header"}},
		{"label out of range", MNISTTrainLabels, gzipped(idxBytes(0x801, []uint32{3}, []byte{1, 10, 2})), []string{"label 10 of sample 1 is outside 0..9"}},
		{"empty file", MNISTTrainLabels, []byte{}, []string{"truncated header"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "fashion-mnist")
			os.Mkdir(dir, 0o755)
			for name, b := range map[string][]byte{MNISTTrainImages: img, MNISTTrainLabels: lab, MNISTTestImages: img, MNISTTestLabels: lab} {
				if err := os.WriteFile(filepath.Join(dir, name+".gz"), gzipped(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := Load("fashion-mnist", root); err != nil {
				t.Fatalf("the good files fail: %v", err)
			}
			path := filepath.Join(dir, tc.file+".gz")
			if tc.content == nil {
				os.Remove(path)
				path = filepath.Join(dir, tc.file)
			} else if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load("fashion-mnist", root)
			wantAll(t, err, append([]string{"fashion-mnist: ", path, "rst data fetch fashion-mnist --data-dir " + root}, tc.want...)...)
		})
	}
}

// TestRealFashionMNIST checks Debian's copy, when installed, against the
// published facts: 60000 + 10000 images, 6000 and 1000 per class, the
// pinned content checksums, and the normalisation constants (the training
// pixels' mean and standard deviation).
func TestRealFashionMNIST(t *testing.T) {
	if !isDir(DebianFashionMNISTDir) {
		t.Skipf("%s absent (apt-get install dataset-fashion-mnist)", DebianFashionMNISTDir)
	}
	for _, p := range Sources["fashion-mnist"].Parts {
		if ok, why := checkPart(filepath.Join(DebianFashionMNISTDir, p.File), p); !ok {
			t.Errorf("%s: %s", p.File, why)
		}
	}
	train, test, err := LoadFashionMNIST(DebianFashionMNISTDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s        *Set
		n, class int
	}{{train, 60000, 6000}, {test, 10000, 1000}} {
		if c.s.Len() != c.n || c.s.H != 28 || c.s.W != 28 {
			t.Errorf("%s: %d images %dx%d", c.s.Name, c.s.Len(), c.s.H, c.s.W)
		}
		for k, n := range c.s.Histogram() {
			if n != c.class {
				t.Errorf("%s: class %d has %d images, want %d", c.s.Name, k, n, c.class)
			}
		}
		if len(c.s.Files) != 2 || !strings.HasPrefix(c.s.Files[0].Path, DebianFashionMNISTDir) {
			t.Errorf("%s: files %v", c.s.Name, c.s.Files)
		}
	}
	var sum, sq float64
	for _, p := range train.Pixels {
		v := float64(p) / 255
		sum += v
		sq += v * v
	}
	n := float64(len(train.Pixels))
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	t.Logf("training pixels: mean %.4f std %.4f", mean, std)
	if math.Abs(mean-float64(FashionMNISTMean[0])) > 5e-4 || math.Abs(std-float64(FashionMNISTStd[0])) > 5e-4 {
		t.Errorf("training pixels: mean %.4f std %.4f; constants %v %v", mean, std, FashionMNISTMean, FashionMNISTStd)
	}
}
