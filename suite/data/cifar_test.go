package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the repository's testdata/ from the generators")

// TestCIFARPlaneOrder writes records by hand (not with the generators) and
// checks that planes R, G, B become interleaved HWC and which byte is the
// label.
func TestCIFARPlaneOrder(t *testing.T) {
	record := func(labels []byte, seed int) []byte {
		r := slices.Clone(labels)
		for c := 0; c < 3; c++ {
			for p := 0; p < 1024; p++ {
				r = append(r, byte(seed+c*100+p%97)) // plane c, pixel p
			}
		}
		return r
	}
	tests := []struct {
		name   string
		load   func(string) (*Set, *Set, error)
		folder string
		files  []string
		labels [][]byte // per record
		want   []int32
	}{
		{"cifar10", LoadCIFAR10, CIFAR10Dir, append(slices.Clone(CIFAR10TrainFiles), CIFAR10TestFile),
			[][]byte{{3}, {9}}, []int32{3, 9}},
		{"cifar100", LoadCIFAR100, CIFAR100Dir, append(slices.Clone(CIFAR100TrainFiles), CIFAR100TestFile),
			[][]byte{{4, 42}, {19, 99}}, []int32{42, 99}}, // coarse, fine: the fine byte is the class
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var b []byte
			for i, l := range tc.labels {
				b = append(b, record(l, 7*i)...)
			}
			for _, f := range tc.files {
				if err := writeFile(filepath.Join(root, tc.folder, f), b); err != nil {
					t.Fatal(err)
				}
			}
			// Both the data dir and the batches folder itself are accepted.
			for _, dir := range []string{root, filepath.Join(root, tc.folder)} {
				train, test, err := tc.load(dir)
				if err != nil {
					t.Fatal(err)
				}
				nfiles := len(tc.files) - 1
				if train.Len() != nfiles*len(tc.labels) || test.Len() != len(tc.labels) {
					t.Fatalf("%d train, %d test", train.Len(), test.Len())
				}
				for _, s := range []*Set{train, test} {
					if s.H != 32 || s.W != 32 || s.C != 3 {
						t.Fatalf("shape %dx%dx%d", s.H, s.W, s.C)
					}
					if err := s.Validate(); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < s.Len(); i++ {
						k := i % len(tc.labels)
						if s.Labels[i] != tc.want[k] {
							t.Fatalf("sample %d label %d, want %d", i, s.Labels[i], tc.want[k])
						}
						img := s.Image(i)
						for _, p := range []int{0, 1, 31, 32, 500, 1023} {
							for c := 0; c < 3; c++ {
								if got, want := img[3*p+c], byte(7*k+c*100+p%97); got != want {
									t.Fatalf("sample %d pixel %d channel %d = %d, want %d (plane order)", i, p, c, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestCIFARRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		write   func(string, *Set, *Set) error
		load    func(string) (*Set, *Set, error)
		classes int
		mean    []float32
	}{
		{"cifar10", WriteCIFAR10, LoadCIFAR10, 10, CIFAR10Mean},
		{"cifar100", WriteCIFAR100, LoadCIFAR100, 100, CIFAR100Mean},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tr := Synthetic("tr", 10, 32, 32, 3, tc.classes, nil, nil)
			te := Synthetic("te", 3, 32, 32, 3, tc.classes, nil, nil)
			if err := tc.write(dir, tr, te); err != nil {
				t.Fatal(err)
			}
			gtr, gte, err := tc.load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gtr.Pixels, tr.Pixels) || !slices.Equal(gtr.Labels, tr.Labels) ||
				!slices.Equal(gte.Pixels, te.Pixels) || !slices.Equal(gte.Labels, te.Labels) {
				t.Fatal("round trip changed pixels or labels")
			}
			if gtr.Classes != tc.classes || !slices.Equal(gtr.Mean, tc.mean) {
				t.Fatalf("classes %d mean %v", gtr.Classes, gtr.Mean)
			}
		})
	}
}

func TestCIFARErrors(t *testing.T) {
	tr := Synthetic("tr", 10, 32, 32, 3, 10, nil, nil)
	te := Synthetic("te", 2, 32, 32, 3, 10, nil, nil)
	tests := []struct {
		name   string
		c100   bool
		break_ func(root string) // damage the good files
		want   []string
	}{
		{"no data", false, func(root string) { os.RemoveAll(filepath.Join(root, CIFAR10Dir)) },
			[]string{CIFAR10Dir, "rst data fetch cifar10"}},
		{"missing batch", false, func(root string) { os.Remove(filepath.Join(root, CIFAR10Dir, "data_batch_3.bin")) },
			[]string{"data_batch_3.bin", "rst data fetch cifar10"}},
		{"missing test", false, func(root string) { os.Remove(filepath.Join(root, CIFAR10Dir, "test_batch.bin")) },
			[]string{"test_batch.bin", "rst data fetch cifar10"}},
		{"truncated", false, func(root string) { truncate(root, CIFAR10Dir, "data_batch_2.bin", 100) },
			[]string{"data_batch_2.bin", "not a positive multiple of the 3073-byte record"}},
		{"empty", false, func(root string) { truncate(root, CIFAR10Dir, "test_batch.bin", 3073*2) },
			[]string{"test_batch.bin", "size 0 bytes"}},
		{"batch cut at a record", false, func(root string) { truncate(root, CIFAR10Dir, "data_batch_5.bin", 3073) },
			[]string{"data_batch_5.bin", "holds 1 records but data_batch_1.bin holds 2"}},
		{"label out of range", false, func(root string) { poke(root, CIFAR10Dir, "test_batch.bin", 3073, 10) },
			[]string{"test_batch.bin", "record 1 has label 10"}},
		{"cifar100 file in cifar10", false, func(root string) {
			os.WriteFile(filepath.Join(root, CIFAR10Dir, "test_batch.bin"), make([]byte, 3074*3), 0o644)
		}, []string{"test_batch.bin", "3073-byte record"}},
		{"cifar100 truncated", true, func(root string) { truncate(root, CIFAR100Dir, "train.bin", 1) },
			[]string{"train.bin", "3074-byte record", "rst data fetch cifar100"}},
		{"cifar100 coarse out of range", true, func(root string) { poke(root, CIFAR100Dir, "test.bin", 0, 20) },
			[]string{"test.bin", "coarse label 20"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			load := LoadCIFAR10
			if tc.c100 {
				load = LoadCIFAR100
				if err := WriteCIFAR100(root, tr, te); err != nil {
					t.Fatal(err)
				}
			} else if err := WriteCIFAR10(root, tr, te); err != nil {
				t.Fatal(err)
			}
			if _, _, err := load(root); err != nil {
				t.Fatalf("good files fail: %v", err)
			}
			tc.break_(root)
			name := "cifar10"
			if tc.c100 {
				name = "cifar100"
			}
			// Through the loader and through Load (which locates the folder first).
			for _, load := range []func(string) (*Set, *Set, error){load, func(d string) (*Set, *Set, error) { return Load(name, d) }} {
				_, _, err := load(root)
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			}
		})
	}
}

func truncate(root, folder, file string, by int64) {
	p := filepath.Join(root, folder, file)
	st, _ := os.Stat(p)
	os.Truncate(p, st.Size()-by)
}

func poke(root, folder, file string, at int, v byte) {
	p := filepath.Join(root, folder, file)
	b, _ := os.ReadFile(p)
	b[at] = v
	os.WriteFile(p, b, 0o644)
}

func TestLoadMissingSaysHowToFetch(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"cifar10", "cifar100"} {
		_, _, err := Load(name, dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "rst data fetch "+name) || !strings.Contains(err.Error(), dir) {
			t.Errorf("Load(%s) on an empty dir: %v", name, err)
		}
	}
	if _, _, err := Load("imagenet", dir); err == nil || !strings.Contains(err.Error(), "cifar100") {
		t.Errorf("unknown dataset: %v", err)
	}
	t.Setenv("RST_DATA_DIR", dir)
	if DefaultDir() != dir {
		t.Errorf("DefaultDir() = %q with RST_DATA_DIR=%q", DefaultDir(), dir)
	}
}

const testdataRoot = "../../testdata"

// TestTestdataGolden checks that the committed testdata/ is what the
// generators write (gzip files compared after decompression, since the
// compressed bytes may change with the Go release); -update rewrites it.
func TestTestdataGolden(t *testing.T) {
	if *update {
		if err := WriteTestdata(testdataRoot); err != nil {
			t.Fatal(err)
		}
	}
	gen := t.TempDir()
	if err := WriteTestdata(gen); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(gen, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(gen, p)
		want, got := readMaybeGz(t, p), readMaybeGz(t, filepath.Join(testdataRoot, rel))
		if !bytes.Equal(want, got) {
			t.Errorf("testdata/%s differs from the generator's output; run `go generate ./suite/data`", rel)
		}
		n++
		return nil
	})
	if err != nil || n != 16 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}

func readMaybeGz(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestLoadTestdata loads the committed files through the public entry point,
// as other packages' tests will.
func TestLoadTestdata(t *testing.T) {
	tests := []struct {
		name          string
		ntrain, ntest int
		c, classes    int
		firstLabel    int32
	}{
		{"mnist", testdataMNISTTrain, testdataMNISTTest, 1, 10, 1},
		{"fashion-mnist", testdataFashionTrain, testdataFashionTest, 1, 10, 1},
		{"cifar10", testdataCIFAR10Train, testdataCIFAR10Test, 3, 10, 1},
		{"cifar100", testdataCIFAR100Train, testdataCIFAR100Test, 3, 100, 11},
	}
	for _, tc := range tests {
		train, test, err := Load(tc.name, testdataRoot)
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != tc.ntrain || test.Len() != tc.ntest || train.C != tc.c || train.Classes != tc.classes {
			t.Errorf("%s: %d/%d images, %d channels, %d classes", tc.name, train.Len(), test.Len(), train.C, train.Classes)
		}
		if train.Labels[0] != tc.firstLabel || test.Labels[0] != PatternLabel(tc.ntrain, tc.classes) {
			t.Errorf("%s: labels %v / %v", tc.name, train.Labels, test.Labels)
		}
		if test.Pixels[5] != PatternByte(tc.ntrain, 0, 5/tc.c, 5%tc.c) {
			t.Errorf("%s: test pixel 5 = %d", tc.name, test.Pixels[5])
		}
	}
}
