package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// LoadCIFAR10 reads CIFAR-10 (binary version) from dir/cifar-10-batches-bin,
// or from dir itself when it holds the batch files.
func LoadCIFAR10(dir string) (train, test *Set, err error) { return cifar10Format.loadDir(dir) }

// LoadCIFAR100 reads CIFAR-100 (binary version) from dir/cifar-100-binary,
// or from dir itself. Each record carries a coarse (20 superclasses) and a
// fine label byte; the fine label is the class.
func LoadCIFAR100(dir string) (train, test *Set, err error) { return cifar100Format.loadDir(dir) }

type cifarFormat struct {
	dataset    string
	folder     string
	labelBytes int // 1: class; 2: coarse, fine
	classes    int
	train      []string
	test       string
	mean, std  []float32
}

var (
	cifar10Format = cifarFormat{
		dataset: "cifar10", folder: CIFAR10Dir, labelBytes: 1, classes: 10,
		train: CIFAR10TrainFiles, test: CIFAR10TestFile,
		mean: CIFAR10Mean, std: CIFAR10Std,
	}
	cifar100Format = cifarFormat{
		dataset: "cifar100", folder: CIFAR100Dir, labelBytes: 2, classes: 100,
		train: CIFAR100TrainFiles, test: CIFAR100TestFile,
		mean: CIFAR100Mean, std: CIFAR100Std,
	}
)

// holdsFiles reports whether dir looks like the batches folder itself: by
// name or by content.
func (f cifarFormat) holdsFiles(dir string) bool {
	if filepath.Base(dir) == f.folder {
		return true
	}
	_, errTest := os.Stat(filepath.Join(dir, f.test))
	_, errTrain := os.Stat(filepath.Join(dir, f.train[0]))
	return errTest == nil || errTrain == nil
}

func (f cifarFormat) loadDir(dir string) (train, test *Set, err error) {
	folder := filepath.Join(dir, f.folder)
	if _, err := os.Stat(folder); err != nil {
		if !f.holdsFiles(dir) {
			return nil, nil, fmt.Errorf("%s: no data in %s (%w: %s); %s", f.dataset, dir, fs.ErrNotExist, folder, fetchFix(f.dataset, folder))
		}
		folder = dir
	}
	return f.load(folder, fetchFix(f.dataset, folder))
}

// load reads both splits from the batches folder; fix is the advice errors
// end with.
func (f cifarFormat) load(folder, fix string) (train, test *Set, err error) {
	train, err = f.split(folder, fix, f.dataset+"-train", f.train)
	if err != nil {
		return nil, nil, err
	}
	test, err = f.split(folder, fix, f.dataset+"-test", []string{f.test})
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// split concatenates files into one Set, converting planar RGB to HWC.
func (f cifarFormat) split(folder, fix, name string, files []string) (*Set, error) {
	layout := cifarRecord{f.labelBytes, cifarPlane}
	rec := layout.size()
	raws := make([][]byte, len(files))
	sums := make([]FileSum, len(files))
	total := 0
	for i, file := range files {
		path := filepath.Join(folder, file)
		b, sum, err := readAllSummed(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; %s", f.dataset, err, fix)
		}
		n, err := layout.count(len(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v: truncated or not a %s binary file; %s", f.dataset, path, err, f.dataset, fix)
		}
		// The official train batches all hold the same number of records, so
		// a batch cut short at a record boundary still shows up here.
		if i > 0 && len(b) != len(raws[0]) {
			return nil, fmt.Errorf("%s: %s holds %d records but %s holds %d: truncated batch file; %s",
				f.dataset, path, n, files[0], len(raws[0])/rec, fix)
		}
		raws[i], sums[i] = b, sum
		total += n
	}
	s := &Set{
		Name: name, H: cifarSide, W: cifarSide, C: 3, Classes: f.classes,
		Pixels: make([]uint8, total*cifarImage),
		Labels: make([]int32, total),
		Mean:   slices.Clone(f.mean),
		Std:    slices.Clone(f.std),
		Files:  sums,
	}
	n := 0
	for i, b := range raws {
		k := len(b) / rec
		if err := layout.decode(s.Pixels[n*cifarImage:(n+k)*cifarImage], s.Labels[n:n+k], b, f.classes); err != nil {
			return nil, fmt.Errorf("%s: %s: %v; %s", f.dataset, filepath.Join(folder, files[i]), err, fix)
		}
		n += k
	}
	return s, nil
}

// cifarRecord is the record layout: label bytes, then three planes of
// plane bytes each. The files use 32×32 planes; the fuzz target uses tiny
// ones, so that its inputs (and their minimisation) stay small while the
// code is the same.
type cifarRecord struct{ labelBytes, plane int }

func (r cifarRecord) size() int { return r.labelBytes + 3*r.plane }

// count checks that size bytes are a whole, positive number of records and
// returns it.
func (r cifarRecord) count(size int) (int, error) {
	if size == 0 || size%r.size() != 0 {
		return 0, fmt.Errorf("size %d bytes is not a positive multiple of the %d-byte record (%d label byte(s) + %d pixels)",
			size, r.size(), r.labelBytes, 3*r.plane)
	}
	return size / r.size(), nil
}

// decode parses the records in b (a whole number of them, as count checks)
// into HWC pixels and labels, which must hold exactly that many images;
// labels outside the format's ranges are errors.
func (r cifarRecord) decode(pixels []uint8, labels []int32, b []byte, classes int) error {
	rec, img := r.size(), 3*r.plane
	if len(b)%rec != 0 || len(labels) != len(b)/rec || len(pixels) != len(labels)*img {
		return fmt.Errorf("decode: %d bytes of %d-byte records into %d labels and %d pixels", len(b), rec, len(labels), len(pixels))
	}
	for i := range labels {
		recb := b[i*rec : (i+1)*rec]
		label := int(recb[r.labelBytes-1])
		if label >= classes {
			return fmt.Errorf("record %d has label %d, outside 0..%d: wrong format (CIFAR-10 and CIFAR-100 files mixed up?)", i, label, classes-1)
		}
		if r.labelBytes == 2 && recb[0] >= 20 {
			return fmt.Errorf("record %d has coarse label %d, outside 0..19: wrong format", i, recb[0])
		}
		labels[i] = int32(label)
		planarToHWC(pixels[i*img:(i+1)*img], recb[r.labelBytes:], r.plane)
	}
	return nil
}

// planarToHWC converts one image from R, G, B planes to interleaved HWC.
func planarToHWC(dst, src []byte, plane int) {
	r, g, b := src[:plane], src[plane:2*plane], src[2*plane:3*plane]
	dst = dst[:3*plane]
	for p := 0; p < plane; p++ {
		dst[3*p] = r[p]
		dst[3*p+1] = g[p]
		dst[3*p+2] = b[p]
	}
}

// hwcToPlanar is the inverse, for the generators.
func hwcToPlanar(dst, src []byte, plane int) {
	for p := 0; p < plane; p++ {
		dst[p] = src[3*p]
		dst[plane+p] = src[3*p+1]
		dst[2*plane+p] = src[3*p+2]
	}
}
