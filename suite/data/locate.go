package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Datasets are the names Load knows.
var Datasets = []string{"mnist", "fashion-mnist", "cifar10", "cifar100"}

// DebianFashionMNISTDir is where Debian's package dataset-fashion-mnist
// installs the four gzipped idx files.
const DebianFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// debianFashionDir is DebianFashionMNISTDir, a variable so that tests can
// stand in for a machine with or without the package.
var debianFashionDir = DebianFashionMNISTDir

// Notes receives the one-line notices Load gives when it does more than
// read (the one-time MNIST copy); nil silences them. It is never stdout, so
// that a command's machine-readable output stays clean.
var Notes io.Writer = os.Stderr

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

// datasetFolder is the folder of dataset name inside a data dir, "" for an
// unknown name.
func datasetFolder(name string) string {
	switch name {
	case "mnist", "fashion-mnist":
		return name
	case "cifar10":
		return CIFAR10Dir
	case "cifar100":
		return CIFAR100Dir
	}
	return ""
}

// location is where a dataset's files come from.
type location struct {
	dir    string // the folder holding the files
	fix    string // the advice errors about those files end with
	copyTo string // MNIST from the module cache: the data-dir folder Load copies it into first
}

// Locate returns the folder dataset name is read from, or an error naming
// what is missing and how to get it. It changes nothing on disk.
//
// With an explicit dataDir (a --data-dir flag) only that folder counts: its
// subfolder for the dataset (mnist/, fashion-mnist/, cifar-10-batches-bin/,
// cifar-100-binary/), or dataDir itself when it is that folder. A dataDir
// that does not exist, is not a folder or lacks the dataset is an error:
// never a silent fallback to other files.
//
// With dataDir "" the default resolution applies: DefaultDir()'s subfolder;
// then, for Fashion-MNIST, DebianFashionMNISTDir; for MNIST, the GoMNIST
// module's data folder in the Go module cache (MNISTModuleDir), which Load
// copies into DefaultDir()/mnist on first use.
func Locate(name, dataDir string) (string, error) {
	loc, err := locate(name, dataDir)
	return loc.dir, err
}

// Load reads the train and test splits of dataset name (one of Datasets)
// from where Locate finds them. When MNIST comes from the module cache, Load
// first copies it into the default data dir (once; a line on Notes says so),
// and reads the module cache's copy if that fails.
func Load(name, dataDir string) (train, test *Set, err error) {
	loc, err := locate(name, dataDir)
	if err != nil {
		return nil, nil, err
	}
	if loc.copyTo != "" {
		err := installMNIST(loc.dir, loc.copyTo, refuseExisting, io.Discard)
		switch {
		case err == nil:
			note("mnist: copied the MNIST files from the Go module cache (%s) into %s, once", loc.dir, loc.copyTo)
			loc = location{dir: loc.copyTo, fix: fetchFix(name, loc.copyTo)}
		case isDir(loc.copyTo): // another process copied it meanwhile
			loc = location{dir: loc.copyTo, fix: fetchFix(name, loc.copyTo)}
		default:
			note("mnist: reading the Go module cache's copy in %s; could not copy it into %s: %v", loc.dir, loc.copyTo, err)
		}
	}
	return loadFrom(name, loc.dir, loc.fix)
}

func note(format string, a ...any) {
	if Notes != nil {
		fmt.Fprintf(Notes, format+"\n", a...)
	}
}

// loadFrom reads dataset name from its located folder.
func loadFrom(name, dir, fix string) (*Set, *Set, error) {
	switch name {
	case "mnist":
		return mnistData.load(dir, fix)
	case "fashion-mnist":
		return fashionData.load(dir, fix)
	case "cifar10":
		return cifar10Format.load(dir, fix)
	case "cifar100":
		return cifar100Format.load(dir, fix)
	}
	return nil, nil, unknownDataset(name)
}

func unknownDataset(name string) error {
	return fmt.Errorf("data: unknown dataset %q; known: %s", name, strings.Join(Datasets, ", "))
}

// probe reports whether p exists; an error other than "does not exist"
// (a permission problem, a file where a folder is on the path) is returned,
// so that it is reported as such and not as missing data.
func probe(p string) (bool, error) {
	_, err := os.Stat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func locate(name, dataDir string) (location, error) {
	folder := datasetFolder(name)
	if folder == "" {
		return location{}, unknownDataset(name)
	}
	if dataDir != "" {
		return locateIn(name, folder, dataDir)
	}
	root := DefaultDir()
	dir := filepath.Join(root, folder)
	ok, err := probe(dir)
	if err != nil {
		return location{}, fmt.Errorf("%s: cannot read %s: %v; fix: check its permissions, or give another --data-dir", name, dir, err)
	}
	if ok {
		return location{dir: dir, fix: fetchFix(name, dir)}, nil
	}
	switch name {
	case "mnist":
		mod, err := MNISTModuleDir()
		if err != nil {
			return location{}, fmt.Errorf("mnist: not in the data dir (%s: %w) nor in the Go module cache: %v", dir, fs.ErrNotExist, err)
		}
		return location{dir: mod, copyTo: dir,
			fix: "fix: run `go mod verify` (the module cache's copy of " + GoMNISTModule + " is damaged), or put good files in " + dir}, nil
	case "fashion-mnist":
		if isDir(debianFashionDir) {
			return location{dir: debianFashionDir, fix: fmt.Sprintf(
				"fix: reinstall it (`apt-get install --reinstall dataset-fashion-mnist`), or run `rst data fetch fashion-mnist` to get a checked copy in %s", dir)}, nil
		}
		return location{}, fmt.Errorf("fashion-mnist: not in the data dir (%s: %w) nor in %s; fix: run `rst data fetch fashion-mnist` (downloads it into %s, checking the published MD5s), or on Debian/Ubuntu `apt-get install dataset-fashion-mnist`",
			dir, fs.ErrNotExist, debianFashionDir, root)
	}
	return location{}, fmt.Errorf("%s: no data in %s (%w: %s); %s", name, root, fs.ErrNotExist, dir, fetchFix(name, dir))
}

// locateIn finds dataset name in a data dir the user named.
func locateIn(name, folder, dataDir string) (location, error) {
	fix := fmt.Sprintf("fix: run `rst data fetch %s --data-dir %s` (it creates the folder), give --data-dir the folder that holds %s/, or leave --data-dir out to use %s",
		name, dataDir, folder, DefaultDir())
	st, err := os.Stat(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return location{}, fmt.Errorf("%s: data dir %s does not exist (%w; a typo?); %s", name, dataDir, fs.ErrNotExist, fix)
	case err != nil:
		return location{}, fmt.Errorf("%s: cannot read data dir %s: %v; fix: check its permissions, or give another --data-dir", name, dataDir, err)
	case !st.IsDir():
		return location{}, fmt.Errorf("%s: data dir %s is a file, not a folder; %s", name, dataDir, fix)
	}
	dir := filepath.Join(dataDir, folder)
	ok, err := probe(dir)
	if err != nil {
		return location{}, fmt.Errorf("%s: cannot read %s: %v; fix: check its permissions, or give another --data-dir", name, dir, err)
	}
	if ok {
		return location{dir: dir, fix: fetchFix(name, dir)}, nil
	}
	// dataDir may be the dataset's folder itself: by name, or for CIFAR by
	// its files (their names differ between CIFAR-10 and CIFAR-100).
	if filepath.Base(dataDir) == folder ||
		(name == "cifar10" && cifar10Format.holdsFiles(dataDir)) || (name == "cifar100" && cifar100Format.holdsFiles(dataDir)) {
		return location{dir: dataDir, fix: fetchFix(name, dataDir)}, nil
	}
	if name == "mnist" || name == "fashion-mnist" {
		if _, err := findIdx(dataDir, MNISTTrainImages); err == nil {
			// MNIST and Fashion-MNIST share file names, so loose idx files
			// cannot say which dataset they are.
			return location{}, fmt.Errorf("%s: data dir %s has no %s/ folder; it holds idx files itself, but MNIST and Fashion-MNIST use the same file names, so loose ones are not taken for %s; fix: put them in a subfolder named after their dataset (%s/mnist/ or %s/fashion-mnist/) and pass --data-dir %s",
				name, dataDir, folder, name, dataDir, dataDir, dataDir)
		}
	}
	return location{}, fmt.Errorf("%s: data dir %s has no %s/ folder (%w); %s", name, dataDir, folder, fs.ErrNotExist, fix)
}
