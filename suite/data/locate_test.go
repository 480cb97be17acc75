package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeDataset writes a tiny copy of dataset name into root/<its folder>.
func writeDataset(t *testing.T, name, root string) {
	t.Helper()
	var err error
	switch name {
	case "mnist", "fashion-mnist":
		err = WriteMNIST(filepath.Join(root, name), Synthetic("tr", 4, 28, 28, 1, 10, nil, nil), Synthetic("te", 2, 28, 28, 1, 10, nil, nil), true)
	case "cifar10":
		err = WriteCIFAR10(root, Synthetic("tr", 5, 32, 32, 3, 10, nil, nil), Synthetic("te", 2, 32, 32, 3, 10, nil, nil))
	case "cifar100":
		err = WriteCIFAR100(root, Synthetic("tr", 3, 32, 32, 3, 100, nil, nil), Synthetic("te", 2, 32, 32, 3, 100, nil, nil))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// fakeModuleCache puts a GoMNIST module folder with tiny files into a fresh
// module cache and points the environment at it alone.
func fakeModuleCache(t *testing.T) (modDir string, train *Set) {
	t.Helper()
	cache := t.TempDir()
	modDir = filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20990101000000-000000000000", "data")
	train = Synthetic("tr", 6, 28, 28, 1, 10, nil, nil)
	if err := WriteMNIST(modDir, train, Synthetic("te", 2, 28, 28, 1, 10, nil, nil), true); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMODCACHE", cache)
	t.Setenv("GOPATH", "")
	t.Setenv("HOME", t.TempDir())
	return modDir, train
}

func wantAll(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// TestLoadExplicitDirNeverFallsBack: a --data-dir without the dataset is an
// error naming the folder and the fix, even when MNIST is in the module
// cache and Fashion-MNIST in Debian's folder.
func TestLoadExplicitDirNeverFallsBack(t *testing.T) {
	fakeModuleCache(t)
	debian := t.TempDir()
	writeDataset(t, "fashion-mnist", debian)
	defer func(old string) { debianFashionDir = old }(debianFashionDir)
	debianFashionDir = filepath.Join(debian, "fashion-mnist")
	for _, name := range Datasets {
		folder := datasetFolder(name)
		fetch := "rst data fetch " + name + " --data-dir "
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			typo := filepath.Join(tmp, "dta")
			_, _, err := Load(name, typo)
			wantAll(t, err, typo, "does not exist", "typo", fetch+typo)
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v is not ErrNotExist", err)
			}

			empty := filepath.Join(tmp, "empty")
			os.Mkdir(empty, 0o755)
			_, _, err = Load(name, empty)
			wantAll(t, err, empty, "has no "+folder+"/ folder", fetch+empty, "leave --data-dir out")

			file := filepath.Join(tmp, "file")
			os.WriteFile(file, []byte("x"), 0o644)
			_, _, err = Load(name, file)
			wantAll(t, err, file, "is a file, not a folder", fetch+file)

			// The dataset's folder is a file: the loader says so. Running as
			// root, a chmod 000 folder stays readable, so this is the case
			// that exercises an unusable folder on every machine.
			blocked := filepath.Join(tmp, "blocked")
			os.Mkdir(blocked, 0o755)
			os.WriteFile(filepath.Join(blocked, folder), []byte("x"), 0o644)
			_, _, err = Load(name, blocked)
			wantAll(t, err, filepath.Join(blocked, folder), fetch+blocked)

			// Good data in the named dir, and the dataset folder itself, load.
			good := filepath.Join(tmp, "good")
			writeDataset(t, name, good)
			for _, d := range []string{good, filepath.Join(good, folder)} {
				if where, err := Locate(name, d); err != nil || where != filepath.Join(good, folder) {
					t.Errorf("Locate(%s) = %q, %v", d, where, err)
				}
				if _, _, err := Load(name, d); err != nil {
					t.Errorf("Load(%s): %v", d, err)
				}
			}
		})
	}
}

// TestLoadUnreadableDir needs a user that permissions apply to.
func TestLoadUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: a chmod 000 folder stays readable (TestLoadExplicitDirNeverFallsBack covers a file where the folder should be)")
	}
	root := t.TempDir()
	writeDataset(t, "mnist", root)
	os.Chmod(root, 0)
	defer os.Chmod(root, 0o755)
	_, _, err := Load("mnist", root)
	wantAll(t, err, root, "permission denied", "fix: check its permissions")
}

// TestLoadLooseIdxFiles: idx files right in the data dir could be either
// MNIST or Fashion-MNIST, so they are refused with advice, not guessed.
func TestLoadLooseIdxFiles(t *testing.T) {
	root := t.TempDir()
	tr := Synthetic("tr", 2, 28, 28, 1, 10, nil, nil)
	if err := WriteMNIST(root, tr, tr, true); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mnist", "fashion-mnist"} {
		_, _, err := Load(name, root)
		wantAll(t, err, root, "same file names", root+"/mnist/", root+"/fashion-mnist/")
	}
	// The direct loaders know which dataset they read and accept them.
	if _, _, err := LoadFashionMNIST(root); err != nil {
		t.Error(err)
	}
}

// TestLoadDefaultMNISTCopiesOnce: without a data dir, MNIST missing from the
// default dir is copied there from the module cache by the first Load, with
// one note (not on stdout), and read from there afterwards.
func TestLoadDefaultMNISTCopiesOnce(t *testing.T) {
	if Notes != os.Stderr {
		t.Fatal("Notes must default to stderr")
	}
	mod, train := fakeModuleCache(t)
	root := t.TempDir()
	t.Setenv("RST_DATA_DIR", root)
	var notes bytes.Buffer
	defer func(w any) { Notes = os.Stderr }(Notes)
	Notes = &notes
	if where, err := Locate("mnist", ""); err != nil || where != mod {
		t.Fatalf("Locate before the copy = %q, %v; want the module folder", where, err)
	}
	if _, err := os.Stat(filepath.Join(root, "mnist")); err == nil {
		t.Fatal("Locate changed the disk")
	}
	tr, _, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Pixels, train.Pixels) {
		t.Error("copied data differs")
	}
	if !strings.Contains(notes.String(), "copied the MNIST files from the Go module cache ("+mod+") into "+filepath.Join(root, "mnist")) ||
		strings.Count(notes.String(), "\n") != 1 {
		t.Errorf("notes: %q", notes.String())
	}
	if got := filepath.Dir(tr.Files[0].Path); got != filepath.Join(root, "mnist") {
		t.Errorf("read from %s, want the data dir's copy", got)
	}
	if st, err := os.Stat(filepath.Join(root, "mnist")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("copied folder: %v, %v", st, err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("data dir holds %v; want mnist/ alone (no temporary folders)", entries)
	}
	notes.Reset()
	if _, _, err := Load("mnist", ""); err != nil || notes.Len() != 0 {
		t.Errorf("second Load: %v, notes %q", err, notes.String())
	}
	if where, err := Locate("mnist", ""); err != nil || where != filepath.Join(root, "mnist") {
		t.Errorf("Locate after the copy = %q, %v", where, err)
	}
}

// TestLoadDefaultMNISTUnwritable: a default data dir that cannot be made
// does not stop training: the module cache's files are read, with a note.
// /proc refuses new folders even to root, which ignores permission bits.
func TestLoadDefaultMNISTUnwritable(t *testing.T) {
	unwritable := "/proc/rst-test-data"
	if !isDir("/proc/self") || os.Mkdir(unwritable, 0o755) == nil {
		t.Skip("no /proc that refuses new folders")
	}
	mod, _ := fakeModuleCache(t)
	t.Setenv("RST_DATA_DIR", unwritable)
	var notes bytes.Buffer
	defer func() { Notes = os.Stderr }()
	Notes = &notes
	tr, _, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tr.Files[0].Path) != mod || !strings.Contains(notes.String(), "reading the Go module cache's copy in "+mod) ||
		!strings.Contains(notes.String(), "could not copy it into "+unwritable+"/mnist") {
		t.Errorf("read %s; notes %q", tr.Files[0].Path, notes.String())
	}
}

func TestLoadDefaultNothingFound(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("RST_DATA_DIR", empty)
	t.Setenv("GOMODCACHE", filepath.Join(empty, "modcache"))
	t.Setenv("GOPATH", "")
	t.Setenv("HOME", empty)
	defer func(old string) { debianFashionDir = old }(debianFashionDir)
	debianFashionDir = filepath.Join(empty, "no-debian")
	for _, c := range []struct {
		name string
		want []string
	}{
		{"mnist", []string{filepath.Join(empty, "mnist"), "go mod download " + GoMNISTModule, "rst data fetch mnist"}},
		{"fashion-mnist", []string{filepath.Join(empty, "fashion-mnist"), debianFashionDir, "rst data fetch fashion-mnist", "apt-get install dataset-fashion-mnist"}},
		{"cifar10", []string{filepath.Join(empty, CIFAR10Dir), "rst data fetch cifar10"}},
		{"cifar100", []string{filepath.Join(empty, CIFAR100Dir), "rst data fetch cifar100"}},
	} {
		_, _, err := Load(c.name, "")
		wantAll(t, err, c.want...)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v is not ErrNotExist", c.name, err)
		}
	}
}

// TestLoadDefaultFashionMNIST: the data dir's copy first, then Debian's.
func TestLoadDefaultFashionMNIST(t *testing.T) {
	root, debian := t.TempDir(), t.TempDir()
	t.Setenv("RST_DATA_DIR", root)
	writeDataset(t, "fashion-mnist", debian)
	defer func(old string) { debianFashionDir = old }(debianFashionDir)
	debianFashionDir = filepath.Join(debian, "fashion-mnist")
	if where, err := Locate("fashion-mnist", ""); err != nil || where != debianFashionDir {
		t.Fatalf("Locate = %q, %v; want Debian's folder", where, err)
	}
	writeDataset(t, "fashion-mnist", root)
	if where, err := Locate("fashion-mnist", ""); err != nil || where != filepath.Join(root, "fashion-mnist") {
		t.Fatalf("Locate = %q, %v; want the data dir's copy", where, err)
	}
	// A damaged file in Debian's folder names it and says how to repair.
	os.RemoveAll(filepath.Join(root, "fashion-mnist"))
	os.WriteFile(filepath.Join(debianFashionDir, MNISTTrainLabels+".gz"), []byte("junk"), 0o644)
	_, _, err := Load("fashion-mnist", "")
	wantAll(t, err, filepath.Join(debianFashionDir, MNISTTrainLabels+".gz"), "apt-get install --reinstall dataset-fashion-mnist", "rst data fetch fashion-mnist")
}

// TestFilesProvenance: every loader records the files it read, in order,
// with their size and SHA-256, per split; Subset keeps them.
func TestFilesProvenance(t *testing.T) {
	abs, err := filepath.Abs(testdataRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		train, test []string
	}{
		{"mnist", []string{"mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"}, []string{"mnist/t10k-images-idx3-ubyte", "mnist/t10k-labels-idx1-ubyte"}},
		{"fashion-mnist", []string{"fashion-mnist/train-images-idx3-ubyte.gz", "fashion-mnist/train-labels-idx1-ubyte.gz"},
			[]string{"fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz"}},
		{"cifar10", []string{"cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/data_batch_2.bin", "cifar-10-batches-bin/data_batch_3.bin",
			"cifar-10-batches-bin/data_batch_4.bin", "cifar-10-batches-bin/data_batch_5.bin"}, []string{"cifar-10-batches-bin/test_batch.bin"}},
		{"cifar100", []string{"cifar-100-binary/train.bin"}, []string{"cifar-100-binary/test.bin"}},
	} {
		train, test, err := Load(c.name, testdataRoot)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			set  *Set
			want []string
		}{{train, c.train}, {test, c.test}} {
			if len(s.set.Files) != len(s.want) {
				t.Fatalf("%s: files %v, want %v", s.set.Name, s.set.Files, s.want)
			}
			for i, rel := range s.want {
				p := filepath.Join(abs, filepath.FromSlash(rel))
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				want := FileSum{Path: p, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(b))}
				if s.set.Files[i] != want {
					t.Errorf("%s: file %d = %+v, want %+v", s.set.Name, i, s.set.Files[i], want)
				}
			}
		}
		sub, err := train.Subset(2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sub.Files, train.Files) {
			t.Errorf("%s: Subset dropped the files: %v", c.name, sub.Files)
		}
		sub.Files[0].Path = "changed"
		if train.Files[0].Path == "changed" {
			t.Error("Subset shares its Files with the parent")
		}
	}
}
