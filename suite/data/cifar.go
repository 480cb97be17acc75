package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CIFAR binary layout: each record is its label byte(s) followed by a 32×32
// image as three 1024-byte planes, R then G then B, each row-major.
const (
	cifarSide  = 32
	cifarPlane = cifarSide * cifarSide
	cifarImage = 3 * cifarPlane

	CIFAR10Dir  = "cifar-10-batches-bin" // folder inside the data dir
	CIFAR100Dir = "cifar-100-binary"
)

// CIFAR10TrainFiles and friends are the files of the official archives.
var (
	CIFAR10TrainFiles  = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	CIFAR10TestFile    = "test_batch.bin"
	CIFAR100TrainFiles = []string{"train.bin"}
	CIFAR100TestFile   = "test.bin"
)

// Datasets are the names Load knows.
var Datasets = []string{"mnist", "cifar10", "cifar100"}

// DefaultDir is where datasets live unless a --data-dir flag says otherwise:
// $RST_DATA_DIR, else the user's cache folder + rst/data (~/.cache/rst/data
// on Linux).
func DefaultDir() string {
	if d := os.Getenv("RST_DATA_DIR"); d != "" {
		return d
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "rst", "data")
	}
	return filepath.Join(".cache", "rst", "data")
}

// Load reads the train and test splits of a dataset by name (one of
// Datasets). dataDir "" means DefaultDir(); MNIST falls back to MNISTDir()
// when dataDir has no mnist/ folder.
func Load(name, dataDir string) (train, test *Set, err error) {
	if dataDir == "" {
		dataDir = DefaultDir()
	}
	dir, err := Locate(name, dataDir)
	if err != nil {
		return nil, nil, err
	}
	switch name {
	case "mnist":
		return LoadMNIST(dir)
	case "cifar10":
		return LoadCIFAR10(dir)
	default:
		return LoadCIFAR100(dir)
	}
}

// Locate returns the folder Load reads dataset name from (dataDir "" =
// DefaultDir()), or an error saying what is missing and how to get it.
func Locate(name, dataDir string) (string, error) {
	if dataDir == "" {
		dataDir = DefaultDir()
	}
	var folder, fetch string
	switch name {
	case "mnist":
		dir := filepath.Join(dataDir, "mnist")
		if _, err := findIdx(dir, MNISTTrainImages); err == nil {
			return dir, nil
		}
		return MNISTDir()
	case "cifar10":
		folder, fetch = CIFAR10Dir, "cifar10"
	case "cifar100":
		folder, fetch = CIFAR100Dir, "cifar100"
	default:
		return "", fmt.Errorf("data: unknown dataset %q; known: %s", name, strings.Join(Datasets, ", "))
	}
	dir := filepath.Join(dataDir, folder)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%s: no data in %s (%w: %s); fix: run `rst data fetch %s --data-dir %s` (or set RST_DATA_DIR to a folder holding %s/)",
			fetch, dataDir, fs.ErrNotExist, dir, fetch, dataDir, folder)
	}
	return dir, nil
}

// LoadCIFAR10 reads CIFAR-10 (binary version) from dir/cifar-10-batches-bin,
// or from dir itself when it holds the batch files.
func LoadCIFAR10(dir string) (train, test *Set, err error) {
	return loadCIFAR(cifarFormat{
		dataset: "cifar10", folder: CIFAR10Dir, labelBytes: 1, classes: 10,
		train: CIFAR10TrainFiles, test: CIFAR10TestFile,
		mean: CIFAR10Mean, std: CIFAR10Std,
	}, dir)
}

// LoadCIFAR100 reads CIFAR-100 (binary version) from dir/cifar-100-binary,
// or from dir itself. Each record carries a coarse (20 superclasses) and a
// fine label byte; the fine label is the class.
func LoadCIFAR100(dir string) (train, test *Set, err error) {
	return loadCIFAR(cifarFormat{
		dataset: "cifar100", folder: CIFAR100Dir, labelBytes: 2, classes: 100,
		train: CIFAR100TrainFiles, test: CIFAR100TestFile,
		mean: CIFAR100Mean, std: CIFAR100Std,
	}, dir)
}

type cifarFormat struct {
	dataset    string
	folder     string
	labelBytes int // 1: class; 2: coarse, fine
	classes    int
	train      []string
	test       string
	mean, std  []float32
}

func (f cifarFormat) fix(root string) string {
	return fmt.Sprintf("fix: run `rst data fetch %s --data-dir %s` (or set RST_DATA_DIR to a folder holding %s/)", f.dataset, root, f.folder)
}

func loadCIFAR(f cifarFormat, dir string) (train, test *Set, err error) {
	root, folder := dir, filepath.Join(dir, f.folder)
	if _, err := os.Stat(folder); err != nil {
		// dir may be the batches folder itself: by name or by content.
		_, errTest := os.Stat(filepath.Join(dir, f.test))
		_, errTrain := os.Stat(filepath.Join(dir, f.train[0]))
		if filepath.Base(dir) != f.folder && errTest != nil && errTrain != nil {
			return nil, nil, fmt.Errorf("%s: no data in %s (%w: %s); %s", f.dataset, dir, fs.ErrNotExist, folder, f.fix(root))
		}
		folder, root = dir, filepath.Dir(dir)
	}
	train, err = f.load(root, folder, f.dataset+"-train", f.train)
	if err != nil {
		return nil, nil, err
	}
	test, err = f.load(root, folder, f.dataset+"-test", []string{f.test})
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// load concatenates files into one Set, converting planar RGB to HWC.
func (f cifarFormat) load(root, folder, name string, files []string) (*Set, error) {
	rec := f.labelBytes + cifarImage
	raws := make([][]byte, len(files))
	total := 0
	for i, file := range files {
		path := filepath.Join(folder, file)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; %s", f.dataset, err, f.fix(root))
		}
		if len(b) == 0 || len(b)%rec != 0 {
			return nil, fmt.Errorf("%s: %s: size %d bytes is not a positive multiple of the %d-byte record (%d label byte(s) + 3072 pixels): truncated or not a %s binary file; %s",
				f.dataset, path, len(b), rec, f.labelBytes, f.dataset, f.fix(root))
		}
		// The official train batches all hold the same number of records, so
		// a batch cut short at a record boundary still shows up here.
		if i > 0 && len(b) != len(raws[0]) {
			return nil, fmt.Errorf("%s: %s holds %d records but %s holds %d: truncated batch file; %s",
				f.dataset, path, len(b)/rec, files[0], len(raws[0])/rec, f.fix(root))
		}
		raws[i] = b
		total += len(b) / rec
	}
	s := &Set{
		Name: name, H: cifarSide, W: cifarSide, C: 3, Classes: f.classes,
		Pixels: make([]uint8, total*cifarImage),
		Labels: make([]int32, total),
		Mean:   slices.Clone(f.mean),
		Std:    slices.Clone(f.std),
	}
	n := 0
	for i, b := range raws {
		for r := 0; r < len(b)/rec; r++ {
			recb := b[r*rec : (r+1)*rec]
			label := int(recb[f.labelBytes-1])
			if label >= f.classes {
				return nil, fmt.Errorf("%s: %s: record %d has label %d, outside 0..%d: wrong format (CIFAR-10 and CIFAR-100 files mixed up?); %s",
					f.dataset, filepath.Join(folder, files[i]), r, label, f.classes-1, f.fix(root))
			}
			if f.labelBytes == 2 && recb[0] >= 20 {
				return nil, fmt.Errorf("%s: %s: record %d has coarse label %d, outside 0..19: wrong format; %s",
					f.dataset, filepath.Join(folder, files[i]), r, recb[0], f.fix(root))
			}
			s.Labels[n] = int32(label)
			planarToHWC(s.Pixels[n*cifarImage:(n+1)*cifarImage], recb[f.labelBytes:])
			n++
		}
	}
	return s, nil
}

// planarToHWC converts one image from R, G, B planes to interleaved HWC.
func planarToHWC(dst, src []byte) {
	r, g, b := src[:cifarPlane], src[cifarPlane:2*cifarPlane], src[2*cifarPlane:3*cifarPlane]
	dst = dst[:3*cifarPlane]
	for p := 0; p < cifarPlane; p++ {
		dst[3*p] = r[p]
		dst[3*p+1] = g[p]
		dst[3*p+2] = b[p]
	}
}

// hwcToPlanar is the inverse, for the generators.
func hwcToPlanar(dst, src []byte) {
	for p := 0; p < cifarPlane; p++ {
		dst[p] = src[3*p]
		dst[cifarPlane+p] = src[3*p+1]
		dst[2*cifarPlane+p] = src[3*p+2]
	}
}
