package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// The idx files of MNIST, as named by their publisher; Fashion-MNIST uses
// the same four names. Each may also be stored gzipped with a ".gz" suffix
// (GoMNIST and Fashion-MNIST ship them so).
const (
	MNISTTrainImages = "train-images-idx3-ubyte"
	MNISTTrainLabels = "train-labels-idx1-ubyte"
	MNISTTestImages  = "t10k-images-idx3-ubyte"
	MNISTTestLabels  = "t10k-labels-idx1-ubyte"
)

// MNISTFiles are the four idx file names in reading order.
var MNISTFiles = []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels}

// idx magic: two zero bytes, a type code (0x08 = unsigned byte), the number
// of dimensions.
const idxUbyte = 0x08

// maxIdxBytes bounds what a header may declare, so that a corrupt header
// gives an error instead of an enormous allocation.
const maxIdxBytes = 1 << 32

// idxDataset is a dataset stored as the four MNIST-style idx files.
type idxDataset struct {
	name      string // as Load knows it, and its folder in the data dir
	classes   int
	mean, std []float32
}

var (
	mnistData   = idxDataset{name: "mnist", classes: 10, mean: MNISTMean, std: MNISTStd}
	fashionData = idxDataset{name: "fashion-mnist", classes: 10, mean: FashionMNISTMean, std: FashionMNISTStd}
)

// LoadMNIST reads the four MNIST idx files (raw or .gz) from dir, or from
// dir/mnist when dir itself does not hold them. Magic numbers, dimensions,
// lengths and labels are checked: a missing, truncated or malformed file is
// an error naming the file and the fix. Load("mnist", dir) is the entry
// point that also finds the files when no dir is given.
func LoadMNIST(dir string) (train, test *Set, err error) { return mnistData.loadDir(dir) }

// LoadFashionMNIST reads Fashion-MNIST (the same four idx file names and
// format as MNIST, 28×28 grey images of 10 clothing classes) from dir, or
// from dir/fashion-mnist when dir itself does not hold them.
func LoadFashionMNIST(dir string) (train, test *Set, err error) { return fashionData.loadDir(dir) }

func (d idxDataset) loadDir(dir string) (*Set, *Set, error) {
	folder := dir
	if _, err := findIdx(dir, MNISTTrainImages); err != nil {
		if sub := filepath.Join(dir, d.name); isDir(sub) {
			folder = sub
		}
	}
	return d.load(folder, fetchFix(d.name, folder))
}

// fetchFix is the usual advice for a dataset folder inside a data dir.
func fetchFix(name, folder string) string {
	root := folder
	if filepath.Base(folder) == datasetFolder(name) {
		root = filepath.Dir(folder)
	}
	return fmt.Sprintf("fix: run `rst data fetch %s --data-dir %s` (it checks what is there and replaces what is bad)", name, root)
}

// load reads both splits from folder; fix is the advice errors end with.
func (d idxDataset) load(folder, fix string) (train, test *Set, err error) {
	train, err = d.split(folder, fix, d.name+"-train", MNISTTrainImages, MNISTTrainLabels)
	if err != nil {
		return nil, nil, err
	}
	test, err = d.split(folder, fix, d.name+"-test", MNISTTestImages, MNISTTestLabels)
	if err != nil {
		return nil, nil, err
	}
	if test.H != train.H || test.W != train.W {
		return nil, nil, fmt.Errorf("%s: %s: test images are %dx%d but train images are %dx%d (files of different datasets mixed?); %s",
			d.name, folder, test.H, test.W, train.H, train.W, fix)
	}
	return train, test, nil
}

func (d idxDataset) split(folder, fix, name, images, labels string) (*Set, error) {
	ipath, err := d.find(folder, images, fix)
	if err != nil {
		return nil, err
	}
	lpath, err := d.find(folder, labels, fix)
	if err != nil {
		return nil, err
	}
	idims, pix, isum, err := d.readIdx(ipath, 3, fix)
	if err != nil {
		return nil, err
	}
	ldims, lab, lsum, err := d.readIdx(lpath, 1, fix)
	if err != nil {
		return nil, err
	}
	if idims[0] != ldims[0] {
		return nil, fmt.Errorf("%s: %s has %d images but %s has %d labels; %s", d.name, ipath, idims[0], lpath, ldims[0], fix)
	}
	s := &Set{
		Name: name, H: idims[1], W: idims[2], C: 1, Classes: d.classes,
		Pixels: pix,
		Labels: make([]int32, len(lab)),
		Mean:   slices.Clone(d.mean),
		Std:    slices.Clone(d.std),
		Files:  []FileSum{isum, lsum},
	}
	for i, l := range lab {
		if int(l) >= d.classes {
			return nil, fmt.Errorf("%s: %s: label %d of sample %d is outside 0..%d (wrong file?); %s", d.name, lpath, l, i, d.classes-1, fix)
		}
		s.Labels[i] = int32(l)
	}
	return s, nil
}

// find returns folder/name, or folder/name.gz when only that exists.
func (d idxDataset) find(folder, name, fix string) (string, error) {
	p, err := findIdx(folder, name)
	if err == nil {
		return p, nil
	}
	if st, serr := os.Stat(folder); serr != nil || !st.IsDir() {
		what := "does not exist"
		if serr == nil {
			what = "is a file, not a folder"
		}
		return "", fmt.Errorf("%s: folder %s %s (%w); %s", d.name, folder, what, fs.ErrNotExist, fix)
	}
	return "", fmt.Errorf("%s: %w; %s", d.name, err, fix)
}

// findIdx returns dir/name, or dir/name.gz when only that exists.
func findIdx(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	for _, c := range []string{p, p + ".gz"} {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: %w (looked for %s and %s.gz)", p, fs.ErrNotExist, name, name)
}

// readIdx reads an idx file of unsigned bytes with want dimensions and the
// file's checksum, all in one pass.
func (d idxDataset) readIdx(path string, want int, fix string) (dims []int, data []byte, sum FileSum, err error) {
	f, err := openSummed(path)
	if err != nil {
		return nil, nil, sum, fmt.Errorf("%s: %w; %s", d.name, err, fix)
	}
	defer f.close()
	dims, data, err = decodeIdx(f, want)
	if err == nil {
		sum, err = f.finish()
	}
	if err != nil {
		return nil, nil, sum, fmt.Errorf("%s: %s: %w; %s", d.name, path, err, fix)
	}
	return dims, data, sum, nil
}

// decodeIdx parses an idx stream of unsigned bytes with want dimensions,
// gzipped or not (recognised by its magic bytes, not its name). It returns
// the dimensions and the data, checking that the data is exactly as long as
// the header declares. Memory grows with the data actually read, not with
// what a header claims.
func decodeIdx(r io.Reader, want int) (dims []int, data []byte, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var rd io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("bad gzip header: %v", err)
		}
		defer zr.Close()
		rd = zr
	}
	// The magic first, so that a wrong file is named as such rather than as
	// a short header.
	hdr := make([]byte, 4+4*want)
	if _, err := io.ReadFull(rd, hdr[:4]); err != nil {
		return nil, nil, fmt.Errorf("truncated header (%v): not an idx file", err)
	}
	if hdr[0] != 0 || hdr[1] != 0 || hdr[2] != idxUbyte || int(hdr[3]) != want {
		return nil, nil, fmt.Errorf("magic number %08x, want %08x (idx, unsigned bytes, %d dimensions): wrong file or format",
			binary.BigEndian.Uint32(hdr), uint32(idxUbyte)<<8|uint32(want), want)
	}
	if _, err := io.ReadFull(rd, hdr[4:]); err != nil {
		return nil, nil, fmt.Errorf("truncated header (%v)", err)
	}
	dims = make([]int, want)
	total := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4+4*i:])
		if d == 0 {
			return nil, nil, fmt.Errorf("dimension %d is 0", i)
		}
		dims[i] = int(d)
		total *= uint64(d)
		if total > maxIdxBytes {
			return nil, nil, fmt.Errorf("header declares more than %d bytes: corrupt header", uint64(maxIdxBytes))
		}
	}
	data, err = readExactly(rd, int(total))
	switch {
	case errors.Is(err, errShortData) && rd == br:
		return nil, nil, fmt.Errorf("truncated: header declares %v (%d bytes of data) but the file holds only %d", dims, total, len(data))
	case errors.Is(err, errShortData):
		return nil, nil, fmt.Errorf("truncated: header declares %v (%d bytes of data) but the gzip stream holds only %d", dims, total, len(data))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("truncated .gz file: the compressed stream stops (unexpected EOF) after %d of the %d bytes of data the header declares", len(data), total)
	case err != nil:
		return nil, nil, fmt.Errorf("reading data: %v", err)
	}
	// Reading to EOF also makes gzip verify its CRC and length.
	var one [1]byte
	if n, err := rd.Read(one[:]); n > 0 {
		return nil, nil, fmt.Errorf("data continues past the %d bytes the header declares %v: wrong header or concatenated files", total, dims)
	} else if err != nil && err != io.EOF {
		return nil, nil, err
	}
	return dims, data, nil
}

// errShortData: a stream that ends cleanly before the declared length.
var errShortData = errors.New("data ends early")

// readExactly reads n bytes, growing its buffer as data arrives (doubling,
// capped at n) so that a lying header costs no more memory than the bytes
// that are really there. A stream that ends early returns what was read
// and errShortData; a reader's own error (gzip's io.ErrUnexpectedEOF for a
// cut file) is returned as it is.
func readExactly(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 64<<10))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			if len(buf) < n {
				return buf, errShortData
			}
			break
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
