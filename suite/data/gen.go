package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The generators write tiny files in the real formats for tests; they never
// touch real data.

// PatternByte is the pixel value Synthetic puts at (image i, row y, column x,
// channel c): distinct enough across positions and channels that a plane,
// row or column mix-up changes it.
func PatternByte(i, y, x, c int) uint8 { return uint8(i*41 + y*11 + x*3 + c*67) }

// PatternLabel is the label Synthetic gives image i. It is not i itself, so
// that a coarse/fine or index/label mix-up shows.
func PatternLabel(i, classes int) int32 { return int32((i*37 + 11) % classes) }

// Synthetic returns n images of h×w×c bytes filled with PatternByte and
// labelled with PatternLabel, normalised with mean and std (nil: 0.5, 0.25
// for every channel).
func Synthetic(name string, n, h, w, c, classes int, mean, std []float32) *Set {
	if mean == nil {
		mean = slices.Repeat([]float32{0.5}, c)
	}
	if std == nil {
		std = slices.Repeat([]float32{0.25}, c)
	}
	s := &Set{
		Name: name, H: h, W: w, C: c, Classes: classes,
		Pixels: make([]uint8, n*h*w*c),
		Labels: make([]int32, n),
		Mean:   slices.Clone(mean),
		Std:    slices.Clone(std),
	}
	for i := 0; i < n; i++ {
		s.Labels[i] = PatternLabel(i, classes)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < c; ch++ {
					s.Pixels[((i*h+y)*w+x)*c+ch] = PatternByte(i, y, x, ch)
				}
			}
		}
	}
	return s
}

// WriteIDX writes an idx file of unsigned bytes with the given dimensions;
// a path ending in ".gz" is gzipped (with a zero header time, so the output
// is reproducible).
func WriteIDX(path string, dims []int, data []byte) error {
	n := 1
	for _, d := range dims {
		n *= d
	}
	if n != len(data) || len(dims) == 0 || len(dims) > 255 {
		return fmt.Errorf("data: WriteIDX %s: dimensions %v do not match %d bytes", path, dims, len(data))
	}
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, idxUbyte, byte(len(dims))})
	for _, d := range dims {
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	buf.Write(data)
	out := buf.Bytes()
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(out)
		if err := zw.Close(); err != nil {
			return err
		}
		out = z.Bytes()
	}
	return writeFile(path, out)
}

// WriteMNIST writes the four idx files of train and test (C must be 1) into
// dir, gzipped when gz is set: the layout of MNIST and of Fashion-MNIST.
func WriteMNIST(dir string, train, test *Set, gz bool) error {
	suffix := ""
	if gz {
		suffix = ".gz"
	}
	for _, p := range []struct {
		s              *Set
		images, labels string
	}{{train, MNISTTrainImages, MNISTTrainLabels}, {test, MNISTTestImages, MNISTTestLabels}} {
		if p.s.C != 1 {
			return fmt.Errorf("data: WriteMNIST: set %q has %d channels, want 1", p.s.Name, p.s.C)
		}
		if err := WriteIDX(filepath.Join(dir, p.images+suffix), []int{p.s.Len(), p.s.H, p.s.W}, p.s.Pixels); err != nil {
			return err
		}
		if err := WriteIDX(filepath.Join(dir, p.labels+suffix), []int{p.s.Len()}, labelBytes(p.s)); err != nil {
			return err
		}
	}
	return nil
}

// CIFARRecords encodes s in the CIFAR binary format (HWC → R, G, B planes).
// labelBytes 1 gives CIFAR-10 records; 2 gives CIFAR-100 records whose
// coarse byte is fine/5 (a stand-in for the real superclass map).
func CIFARRecords(s *Set, labelBytes int) ([]byte, error) {
	if s.H != cifarSide || s.W != cifarSide || s.C != 3 {
		return nil, fmt.Errorf("data: CIFAR records need 32x32x3 images; %q is %dx%dx%d", s.Name, s.H, s.W, s.C)
	}
	rec := labelBytes + cifarImage
	out := make([]byte, s.Len()*rec)
	for i := 0; i < s.Len(); i++ {
		r := out[i*rec : (i+1)*rec]
		l := s.Labels[i]
		if l < 0 || l > 255 {
			return nil, fmt.Errorf("data: CIFAR records: label %d of %q does not fit a byte", l, s.Name)
		}
		r[labelBytes-1] = byte(l)
		if labelBytes == 2 {
			r[0] = byte(l / 5)
		}
		hwcToPlanar(r[labelBytes:], s.Image(i), cifarPlane)
	}
	return out, nil
}

// cifarFiles lays out train and test as the official archive's files.
func cifarFiles(dataset string, train, test *Set) (folder string, names []string, contents [][]byte, err error) {
	var trainNames []string
	var labelBytes int
	switch dataset {
	case "cifar10":
		folder, trainNames, labelBytes = CIFAR10Dir, CIFAR10TrainFiles, 1
		names = append(slices.Clone(trainNames), CIFAR10TestFile)
	case "cifar100":
		folder, trainNames, labelBytes = CIFAR100Dir, CIFAR100TrainFiles, 2
		names = append(slices.Clone(trainNames), CIFAR100TestFile)
	default:
		return "", nil, nil, fmt.Errorf("data: no CIFAR format called %q", dataset)
	}
	if train.Len()%len(trainNames) != 0 {
		return "", nil, nil, fmt.Errorf("data: %s train set of %d images does not split into %d equal batch files", dataset, train.Len(), len(trainNames))
	}
	tr, err := CIFARRecords(train, labelBytes)
	if err != nil {
		return "", nil, nil, err
	}
	te, err := CIFARRecords(test, labelBytes)
	if err != nil {
		return "", nil, nil, err
	}
	per := len(tr) / len(trainNames)
	for k := range trainNames {
		contents = append(contents, tr[k*per:(k+1)*per])
	}
	contents = append(contents, te)
	return folder, names, contents, nil
}

// WriteCIFAR10 writes train (split into the five data_batch files, so its
// length must be a multiple of 5) and test into dir/cifar-10-batches-bin.
func WriteCIFAR10(dir string, train, test *Set) error { return writeCIFAR(dir, "cifar10", train, test) }

// WriteCIFAR100 writes train and test into dir/cifar-100-binary.
func WriteCIFAR100(dir string, train, test *Set) error {
	return writeCIFAR(dir, "cifar100", train, test)
}

func writeCIFAR(dir, dataset string, train, test *Set) error {
	folder, names, contents, err := cifarFiles(dataset, train, test)
	if err != nil {
		return err
	}
	for i, n := range names {
		if err := writeFile(filepath.Join(dir, folder, n), contents[i]); err != nil {
			return err
		}
	}
	return nil
}

// CIFARTarball writes a tar.gz laid out as the official archive of dataset
// ("cifar10" or "cifar100"), for testing Fetch. Times and owners are fixed
// and the gzip layer stores without compression, so the bytes (and so their
// checksum) are reproducible.
func CIFARTarball(w io.Writer, dataset string, train, test *Set) error {
	folder, names, contents, err := cifarFiles(dataset, train, test)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.NoCompression)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2009, 6, 4, 0, 0, 0, 0, time.UTC)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: folder + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	for i, n := range names {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: folder + "/" + n, Mode: 0o644, Size: int64(len(contents[i])), ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(contents[i]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// Sizes of the committed test files: tiny, a few KB each.
const (
	testdataMNISTTrain    = 10
	testdataMNISTTest     = 5
	testdataCIFAR10Train  = 5 // one record per data_batch file
	testdataCIFAR10Test   = 2
	testdataCIFAR100Train = 3
	testdataCIFAR100Test  = 2
	testdataFashionTrain  = 8
	testdataFashionTest   = 4
)

// WriteTestdata writes the suite's tiny data tree into root, laid out as a
// data dir: mnist/ (train files gzipped, test files raw, so both paths are
// exercised), fashion-mnist/ (all four gzipped, as published),
// cifar-10-batches-bin/ and cifar-100-binary/. Image i of a test
// split continues the pattern of the train split (index n_train + i), so the
// splits differ.
func WriteTestdata(root string) error {
	split := func(name string, ntrain, ntest, h, w, c, classes int, mean, std []float32) (*Set, *Set) {
		all := Synthetic(name, ntrain+ntest, h, w, c, classes, mean, std)
		sz := all.ImageSize()
		train := *all
		train.Name, train.Pixels, train.Labels = name+"-train", all.Pixels[:ntrain*sz], all.Labels[:ntrain]
		test := *all
		test.Name, test.Pixels, test.Labels = name+"-test", all.Pixels[ntrain*sz:], all.Labels[ntrain:]
		return &train, &test
	}
	mtr, mte := split("mnist", testdataMNISTTrain, testdataMNISTTest, 28, 28, 1, 10, MNISTMean, MNISTStd)
	mdir := filepath.Join(root, "mnist")
	if err := WriteIDX(filepath.Join(mdir, MNISTTrainImages+".gz"), []int{mtr.Len(), 28, 28}, mtr.Pixels); err != nil {
		return err
	}
	if err := WriteIDX(filepath.Join(mdir, MNISTTrainLabels+".gz"), []int{mtr.Len()}, labelBytes(mtr)); err != nil {
		return err
	}
	if err := WriteIDX(filepath.Join(mdir, MNISTTestImages), []int{mte.Len(), 28, 28}, mte.Pixels); err != nil {
		return err
	}
	if err := WriteIDX(filepath.Join(mdir, MNISTTestLabels), []int{mte.Len()}, labelBytes(mte)); err != nil {
		return err
	}
	ftr, fte := split("fashion-mnist", testdataFashionTrain, testdataFashionTest, 28, 28, 1, 10, FashionMNISTMean, FashionMNISTStd)
	if err := WriteMNIST(filepath.Join(root, "fashion-mnist"), ftr, fte, true); err != nil {
		return err
	}
	c10tr, c10te := split("cifar10", testdataCIFAR10Train, testdataCIFAR10Test, 32, 32, 3, 10, CIFAR10Mean, CIFAR10Std)
	if err := WriteCIFAR10(root, c10tr, c10te); err != nil {
		return err
	}
	c100tr, c100te := split("cifar100", testdataCIFAR100Train, testdataCIFAR100Test, 32, 32, 3, 100, CIFAR100Mean, CIFAR100Std)
	return WriteCIFAR100(root, c100tr, c100te)
}

func labelBytes(s *Set) []byte {
	b := make([]byte, s.Len())
	for i, l := range s.Labels {
		b[i] = byte(l)
	}
	return b
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
