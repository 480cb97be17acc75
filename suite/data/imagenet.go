package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ImageNet-style image folders: root/<class>/<file>.JPEG, the layout of
// ImageNet's train/ and (once sorted into class folders) val/ splits, as
// torchvision's ImageFolder reads them. Such a split does not fit in memory
// as a Set, so a Folder keeps only the file list and decodes the images of
// each batch when FillBatch asks for them (imagenet_image.go: decoding,
// conversion to RGB, crop boxes and resampling).

// ImageNet's usual normalisation: the per-channel mean and standard
// deviation of its training pixels scaled to [0,1], as torchvision's
// reference scripts use them.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// The OnCorrupt policies.
const (
	OnCorruptFail = "fail" // FillBatch returns an error naming the file
	OnCorruptSkip = "skip" // report the file once and substitute another image of its class
)

// ImageNetSize is the side of ImageNet's training and evaluation crops.
const ImageNetSize = 224

// maxFolderDepth bounds how deep OpenFolder looks inside a class folder
// (ImageNet's are flat), so that a symbolic-link loop ends in an error.
const maxFolderDepth = 16

// FolderOptions configures a Folder. The zero value is ImageNet's
// evaluation transform at 224 with as many decode goroutines as GOMAXPROCS,
// failing on unreadable images.
type FolderOptions struct {
	// Size is the side of the square images FillBatch writes; 0 means 224.
	Size int
	// Train selects the training transform: torchvision's
	// RandomResizedCrop(Size) (a box of 8–100 % of the image's area and
	// aspect ratio in [3/4, 4/3], log-uniform; after 10 rejected draws the
	// centre crop closest to that range) then RandomHorizontalFlip(½).
	// Otherwise the evaluation transform: Resize(Size·256/224, rounded
	// down; 256 for 224) of the shorter side, then CenterCrop(Size).
	Train bool
	// Workers is how many goroutines decode the images of one FillBatch
	// call (the caller's goroutine is one of them); 0 means GOMAXPROCS.
	Workers int
	// OnCorrupt says what FillBatch does with a file that cannot be read or
	// decoded: OnCorruptFail ("" means it) returns an error naming the file;
	// OnCorruptSkip reports the file once (OnSkip) and uses instead the next
	// readable image of the same class, in file order and wrapping around,
	// so that the label stays right and the substitute is the same in every
	// run. The substitute is transformed with the draws of the original
	// index.
	OnCorrupt string
	// OnSkip receives each file skipped under OnCorruptSkip, once per
	// Folder; calls are serialised. nil writes a line to Notes.
	OnSkip func(path string, err error)
	// ListingCache, when not "", is a folder where OpenFolder keeps the
	// split's listing (one file per split, checksummed), so that a class
	// folder whose folders all have the modification time and size they
	// had is not listed and its files not stat'ed again: ImageNet's 1.28M
	// files take seconds to minutes to list. A file rewritten in place is
	// not noticed (its folder does not change), as the manifest does not
	// notice a same-size rewrite.
	ListingCache string
	// Mean and Std normalise each channel after scaling bytes to [0,1]:
	// (b/255 − Mean[c]) / Std[c] in float32, as torchvision's ToTensor and
	// Normalize compute it. nil means ImageNetMean and ImageNetStd.
	Mean, Std []float32
}

// Folder is one split of an image-folder dataset: every image file under
// dir/<class>/ (sub-folders included), labelled with its class's index.
// Samples are ordered by class, then by path within the class (byte order),
// which is torchvision ImageFolder's order for flat class folders, so that
// sample i here is sample i there.
//
// A Folder is safe for concurrent use: several FillBatch calls may run at
// once (for example, one filling the next batch while the trainer uses the
// last).
type Folder struct {
	dir       string // absolute when it could be made so
	classes   []string
	opt       FolderOptions
	skip      bool
	evalShort int            // evaluation: the side the shorter side is resized to
	goResize  bool           // the Go passes even where the C ones are built in (tests)
	prep      *preparedSplit // the prepared copy read instead of the folder, or nil

	names      []byte   // relative paths ("class/file.JPEG"), slash-separated, back to back
	ends       []uint32 // names[ends[i-1]:ends[i]] is sample i's path
	labels     []int32
	classStart []int // samples of class c: classStart[c] ≤ i < classStart[c+1]
	ignored    int
	ignoredEx  []string
	manifest   FileSum

	lut  [3 * 256]float32 // byte → normalised value, per channel
	pool sync.Pool        // *folderScratch

	bad     sampleSet // samples found unreadable (OnCorruptSkip)
	whole   sampleSet // samples whose file decoded cleanly to its end once in this process
	skipMu  sync.Mutex
	skipped map[int]string // sample → its path, for Skipped
	report  sync.Mutex     // serialises OnSkip
}

// OpenFolder lists the split in dir. classes is the class list: nil for a
// training split, whose classes are its sub-folders' names, sorted; an
// evaluation split passes the training split's Classes(), and then each of
// its sub-folders must be one of them (a class may lack a folder).
//
// Files whose name does not end in .jpeg, .jpg or .png (any case), and
// hidden files and folders (name starting with a dot), are ignored and
// counted (Ignored). A missing folder, one without class
// folders, an empty class folder, images lying outside class folders or a
// class folder not in classes are errors naming the path. OpenFolder reads
// folder listings and file sizes only; images are decoded by FillBatch.
func OpenFolder(dir string, classes []string, opt FolderOptions) (*Folder, error) {
	opt, err := resolveFolderOptions(opt)
	if err != nil {
		return nil, err
	}
	abs := dir
	if a, err := filepath.Abs(dir); err == nil {
		abs = a
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("imagenet: %s does not exist (%w); fix: give the folder that holds one sub-folder per class (ImageNet: train/n01440764/*.JPEG, …)", dir, fs.ErrNotExist)
	case err != nil:
		return nil, fmt.Errorf("imagenet: cannot read %s: %v; fix: check its permissions", dir, err)
	case !st.IsDir():
		return nil, fmt.Errorf("imagenet: %s is a file, not a folder; fix: give the folder that holds one sub-folder per class", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagenet: cannot list %s: %v; fix: check its permissions", dir, err)
	}
	f := &Folder{dir: abs, opt: opt, skip: opt.OnCorrupt == OnCorruptSkip, skipped: map[int]string{}}
	var folders []string
	var loose []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if hidden(e.Name()) {
			f.noteIgnored(p)
			continue
		}
		isDir, isFile, err := entryKind(p, e)
		if err != nil {
			return nil, err
		}
		switch {
		case isDir:
			folders = append(folders, e.Name())
		case isFile && isImageName(e.Name()):
			loose = append(loose, p)
		default:
			f.noteIgnored(p)
		}
	}
	if len(loose) > 0 {
		return nil, fmt.Errorf("imagenet: %d image(s) lie directly in %s (e.g. %s), outside any class folder; fix: move each into its class's sub-folder (for ImageNet's val/, the usual valprep.sh script sorts the 50000 images into the 1000 class folders), or remove them",
			len(loose), dir, loose[0])
	}
	if len(folders) == 0 {
		return nil, fmt.Errorf("imagenet: %s has no class folders (%w: want %s/<class>/<image>.JPEG); fix: give the folder that holds one sub-folder per class", dir, fs.ErrNotExist, dir)
	}
	classIndex := map[string]int{}
	if classes == nil {
		classes = folders // os.ReadDir sorts by name
	} else {
		if len(classes) == 0 {
			return nil, fmt.Errorf("imagenet: %s: the class list is empty; fix: pass nil to discover the classes (a training split), or the training split's Classes()", dir)
		}
		for c, name := range classes {
			if _, dup := classIndex[name]; dup {
				return nil, fmt.Errorf("imagenet: %s: class %q is listed twice", dir, name)
			}
			classIndex[name] = c
		}
		for _, name := range folders {
			if _, ok := classIndex[name]; !ok {
				return nil, fmt.Errorf("imagenet: %s is a class folder that the training split does not have (it has %d classes: %s); fix: use the same class folders in both splits, or remove it",
					filepath.Join(dir, name), len(classes), abbreviate(classes, 5))
			}
		}
	}
	f.classes = slices.Clone(classes)
	if err := f.list(dir, folders, classIndex); err != nil {
		return nil, err
	}
	f.finishOpen()
	return f, nil
}

// finishOpen makes what a listed Folder needs besides its listing.
func (f *Folder) finishOpen() {
	f.bad, f.whole = newSampleSet(f.Len()), newSampleSet(f.Len())
	f.pool.New = func() any { return new(folderScratch) }
	for c := 0; c < 3; c++ {
		for b := 0; b < 256; b++ {
			f.lut[c*256+b] = (float32(b)/float32(255) - f.opt.Mean[c]) / f.opt.Std[c]
		}
	}
	f.evalShort = f.opt.Size * 256 / 224
}

// ImageNetRoot is the folder that holds ImageNet's train/ and val/: dataDir
// itself when it has a train/ folder, else its imagenet/ sub-folder; with
// dataDir "", DefaultDir()'s imagenet/.
func ImageNetRoot(dataDir string) string {
	if dataDir == "" {
		return filepath.Join(DefaultDir(), ImageNetDir)
	}
	if st, err := os.Stat(filepath.Join(dataDir, "train")); err == nil && st.IsDir() {
		return dataDir
	}
	return filepath.Join(dataDir, ImageNetDir)
}

// OpenImageNet opens root/train (classes discovered, training transform)
// and root/val (the same classes, evaluation transform) at side size, with
// workers decode goroutines per FillBatch and the onCorrupt policy
// (OnCorruptFail or OnCorruptSkip; "" means fail) for both.
func OpenImageNet(root string, size, workers int, onCorrupt string) (train, val *Folder, err error) {
	return OpenImageNetOptions(root, FolderOptions{Size: size, Workers: workers, OnCorrupt: onCorrupt})
}

// DefaultListingCache is where runs cache ImageNet's listings: the user's
// cache folder's rst/listings.
func DefaultListingCache() string {
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "rst", "listings")
	}
	return ""
}

// OpenImageNetOptions is OpenImageNet with opt's Size, Workers, OnCorrupt
// and ListingCache (Train is set per split).
func OpenImageNetOptions(root string, opt FolderOptions) (train, val *Folder, err error) {
	fix := "fix: give the folder that holds ImageNet's train/ and val/ splits, each with one sub-folder per class (n01440764/, …) and val/ sorted into them"
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("imagenet: %s does not exist (%w); %s", root, fs.ErrNotExist, fix)
	case err != nil:
		return nil, nil, fmt.Errorf("imagenet: cannot read %s: %v; fix: check its permissions", root, err)
	case !st.IsDir():
		return nil, nil, fmt.Errorf("imagenet: %s is a file, not a folder; %s", root, fix)
	}
	for _, split := range []string{"train", "val"} {
		p := filepath.Join(root, split)
		if ok, err := probe(p); err != nil || !ok {
			if err == nil {
				err = fs.ErrNotExist
			}
			return nil, nil, fmt.Errorf("imagenet: %s has no %s/ folder (%w); %s", root, split, err, fix)
		}
	}
	// A prepared copy of both splits (rst data prepare imagenet) is read
	// instead of the folders.
	ptr, err := openPrepared(filepath.Join(root, PreparedDir, "train"))
	if err != nil {
		return nil, nil, err
	}
	pval, err := openPrepared(filepath.Join(root, PreparedDir, "val"))
	if err != nil {
		return nil, nil, err
	}
	if ptr != nil && pval != nil {
		opt.Train = true
		if train, err = openPreparedFolder(ptr, nil, opt); err != nil {
			return nil, nil, err
		}
		opt.Train = false
		if val, err = openPreparedFolder(pval, train.Classes(), opt); err != nil {
			return nil, nil, err
		}
		note("imagenet: reading the prepared copy in %s (longer sides at most %d pixels), not the folders; delete it to read them", filepath.Join(root, PreparedDir), ptr.idx.MaxSide)
		return train, val, nil
	}
	if ptr != nil || pval != nil {
		note("imagenet: %s holds a prepared copy of one split only; reading the folders (run rst data prepare imagenet again to finish it)", filepath.Join(root, PreparedDir))
	}
	opt.Train = true
	train, err = OpenFolder(filepath.Join(root, "train"), nil, opt)
	if err != nil {
		return nil, nil, err
	}
	opt.Train = false
	val, err = OpenFolder(filepath.Join(root, "val"), train.Classes(), opt)
	if err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

func resolveFolderOptions(opt FolderOptions) (FolderOptions, error) {
	if opt.Size == 0 {
		opt.Size = ImageNetSize
	}
	if opt.Size < 1 || opt.Size > 4096 {
		return opt, fmt.Errorf("imagenet: image side %d; want 1..4096 (224 for ImageNet)", opt.Size)
	}
	if opt.Workers < 0 {
		return opt, fmt.Errorf("imagenet: %d decode workers; want ≥ 0 (0: GOMAXPROCS)", opt.Workers)
	}
	if opt.Workers == 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	switch opt.OnCorrupt {
	case "":
		opt.OnCorrupt = OnCorruptFail
	case OnCorruptFail, OnCorruptSkip:
	default:
		return opt, fmt.Errorf("imagenet: OnCorrupt %q; want %q or %q", opt.OnCorrupt, OnCorruptFail, OnCorruptSkip)
	}
	if opt.Mean == nil {
		opt.Mean = ImageNetMean
	}
	if opt.Std == nil {
		opt.Std = ImageNetStd
	}
	if len(opt.Mean) != 3 || len(opt.Std) != 3 {
		return opt, fmt.Errorf("imagenet: mean/std have %d/%d entries; want 3 (images are RGB)", len(opt.Mean), len(opt.Std))
	}
	for c, v := range opt.Std {
		if !(v > 0) {
			return opt, fmt.Errorf("imagenet: std[%d] = %g; want > 0", c, v)
		}
	}
	opt.Mean, opt.Std = slices.Clone(opt.Mean), slices.Clone(opt.Std)
	return opt, nil
}

// entryKind says whether a folder entry is (or links to) a folder or a
// regular file; a broken link is an error.
func entryKind(p string, e fs.DirEntry) (isDir, isFile bool, err error) {
	t := e.Type()
	if t&fs.ModeSymlink != 0 {
		st, err := os.Stat(p)
		if err != nil {
			return false, false, fmt.Errorf("imagenet: %s is a broken link (%v); fix: restore its target or remove it", p, err)
		}
		t = st.Mode().Type()
	}
	return t.IsDir(), t.IsRegular(), nil
}

// hidden reports whether a folder entry is hidden. Hidden entries are
// ignored (and counted), files and folders alike: they are never data
// (.ipynb_checkpoints/, .DS_Store, macOS's ._name.JPEG companions), and
// torchvision would take such a folder for a class.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// isImageName reports whether a file name has an image extension.
func isImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".jpeg" || ext == ".jpg" || ext == ".png"
}

func (f *Folder) noteIgnored(p string) {
	f.ignored++
	if len(f.ignoredEx) < 3 {
		f.ignoredEx = append(f.ignoredEx, p)
	}
}

// folderEntry is one image file found by OpenFolder.
type folderEntry struct {
	rel  string // slash-separated, from the split's folder
	size int64
}

// classListing is what one class folder holds.
type classListing struct {
	files     []folderEntry
	ignored   int
	ignoredEx []string
	dirs      []dirStamp // the folders listed, for the listing cache
	err       error
}

// list walks the class folders (in parallel: on a network file system the
// listing of 1.28M files takes a while) and fills the sample tables and the
// manifest.
func (f *Folder) list(dir string, folders []string, classIndex map[string]int) error {
	lists := make([]classListing, len(folders))
	cache := loadListingCache(f.opt.ListingCache, f.dir)
	var listed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(f.opt.Workers, len(folders)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(folders) {
					return
				}
				l := &lists[k]
				if c, ok := cache[folders[k]]; ok && c.fresh(dir) {
					*l = c.listing()
					continue
				}
				listed.Add(1)
				l.err = walkImages(filepath.Join(dir, folders[k]), folders[k], 0, l)
				slices.SortFunc(l.files, func(a, b folderEntry) int { return strings.Compare(a.rel, b.rel) })
			}
		})
	}
	wg.Wait()
	if f.opt.ListingCache != "" {
		if listed.Load() == 0 {
			note("imagenet: %s's listing from the cache in %s (no class folder changed)", dir, f.opt.ListingCache)
		} else if err := saveListingCache(f.opt.ListingCache, f.dir, folders, lists); err != nil {
			note("imagenet: cannot cache the listing of %s in %s: %v (it is listed again next time)", dir, f.opt.ListingCache, err)
		}
	}
	byClass := make([]*classListing, len(f.classes))
	for k, name := range folders {
		l := &lists[k]
		if l.err != nil {
			return l.err
		}
		f.ignored += l.ignored
		for _, p := range l.ignoredEx {
			if len(f.ignoredEx) < 3 {
				f.ignoredEx = append(f.ignoredEx, p)
			}
		}
		if len(l.files) == 0 {
			return fmt.Errorf("imagenet: class folder %s holds no images (.JPEG, .jpg, .jpeg or .png files; %d other file(s) ignored); fix: restore its images, or remove the folder (from the training split, that removes the class)",
				filepath.Join(dir, name), l.ignored)
		}
		c := k // a training split: its folders are its classes
		if len(classIndex) > 0 {
			c = classIndex[name]
		}
		byClass[c] = l
	}
	n := 0
	for _, l := range byClass {
		if l != nil {
			n += len(l.files)
		}
	}
	f.labels = make([]int32, 0, n)
	f.ends = make([]uint32, 0, n)
	f.classStart = make([]int, 0, len(f.classes)+1)
	h := sha256.New()
	var total int64
	var line []byte
	for c, l := range byClass {
		f.classStart = append(f.classStart, len(f.labels))
		if l == nil {
			continue
		}
		for _, e := range l.files {
			f.names = append(f.names, e.rel...)
			if len(f.names) > 1<<32-1 {
				return fmt.Errorf("imagenet: %s: the file names take over 4 GiB", dir)
			}
			f.ends = append(f.ends, uint32(len(f.names)))
			f.labels = append(f.labels, int32(c))
			line = append(append(append(line[:0], e.rel...), '\t'), strconv.FormatInt(e.size, 10)...)
			h.Write(append(line, '\n'))
			total += e.size
		}
	}
	f.classStart = append(f.classStart, len(f.labels))
	f.manifest = FileSum{Path: f.dir, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: total}
	return nil
}

// walkImages appends the images under dir (whose path from the split's
// folder is rel) to l, following links.
func walkImages(dir, rel string, depth int, l *classListing) error {
	if depth > maxFolderDepth {
		return fmt.Errorf("imagenet: %s is more than %d folders deep inside its class folder (a link loop?); fix: flatten the class folder or remove the loop", dir, maxFolderDepth)
	}
	// Stamped before reading: a change while listing shows next time.
	if st, err := os.Stat(dir); err == nil {
		l.dirs = append(l.dirs, dirStamp{Rel: rel, MTime: st.ModTime().UnixNano(), Size: st.Size()})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("imagenet: cannot list %s: %v; fix: check its permissions", dir, err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if hidden(e.Name()) {
			l.ignored++
			if len(l.ignoredEx) < 3 {
				l.ignoredEx = append(l.ignoredEx, p)
			}
			continue
		}
		isDir, isFile, err := entryKind(p, e)
		if err != nil {
			return err
		}
		switch {
		case isDir:
			if err := walkImages(p, rel+"/"+e.Name(), depth+1, l); err != nil {
				return err
			}
		case isFile && isImageName(e.Name()):
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("imagenet: cannot read %s: %v; fix: check its permissions", p, err)
			}
			l.files = append(l.files, folderEntry{rel: rel + "/" + e.Name(), size: st.Size()})
		default:
			l.ignored++
			if len(l.ignoredEx) < 3 {
				l.ignoredEx = append(l.ignoredEx, p)
			}
		}
	}
	return nil
}

func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", …"
}

// Len is the number of images.
func (f *Folder) Len() int { return len(f.labels) }

// Dir is the split's folder.
func (f *Folder) Dir() string { return f.dir }

// Classes are the class names; label c is Classes()[c].
func (f *Folder) Classes() []string { return slices.Clone(f.classes) }

// Shape is the shape of one image FillBatch writes: Size×Size×3 (HWC).
func (f *Folder) Shape() (h, w, c int) { return f.opt.Size, f.opt.Size, 3 }

// ImageSize is H·W·C, the floats per image.
func (f *Folder) ImageSize() int { return f.opt.Size * f.opt.Size * 3 }

// Options are the options in force, defaults filled in.
func (f *Folder) Options() FolderOptions {
	o := f.opt
	o.Mean, o.Std = slices.Clone(o.Mean), slices.Clone(o.Std)
	return o
}

// Label is the label of sample i.
func (f *Folder) Label(i int) int32 { return f.labels[i] }

// Labels are the labels of all samples, a fresh copy.
func (f *Folder) Labels() []int32 { return slices.Clone(f.labels) }

// Histogram counts the samples of each class.
func (f *Folder) Histogram() []int {
	h := make([]int, len(f.classes))
	for c := range h {
		h[c] = f.classStart[c+1] - f.classStart[c]
	}
	return h
}

// rel is sample i's path relative to the split's folder, slash-separated.
func (f *Folder) rel(i int) string {
	lo := uint32(0)
	if i > 0 {
		lo = f.ends[i-1]
	}
	return string(f.names[lo:f.ends[i]])
}

// Path is the file of sample i.
func (f *Folder) Path(i int) string { return filepath.Join(f.dir, filepath.FromSlash(f.rel(i))) }

// Ignored is the number of files (and hidden folders) OpenFolder passed
// over, with up to three of their paths.
func (f *Folder) Ignored() (n int, examples []string) { return f.ignored, slices.Clone(f.ignoredEx) }

// Manifest identifies the split as a whole: Path is its folder, Bytes the
// total size of its images, and SHA256 the SHA-256 of one line
// "<relative path>\t<size in bytes>\n" per image in sample order (classes
// in order, paths sorted within a class; paths slash-separated). It is a
// hash of the listing, not of the contents: hashing the 140 GB of
// ImageNet's 1.28M training files would take longer than an epoch, while a
// listing hash already catches a missing, added, renamed or truncated file.
// A file rewritten in place with the same size is not caught.
func (f *Folder) Manifest() FileSum { return f.manifest }

// Skipped lists the files found unreadable so far under OnCorruptSkip,
// sorted.
func (f *Folder) Skipped() []string {
	f.skipMu.Lock()
	defer f.skipMu.Unlock()
	out := make([]string, 0, len(f.skipped))
	for _, p := range f.skipped {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// sampleSet is a set of sample indices, safe for concurrent use; indices
// outside it (−1: no sample) are never in it and cannot be added.
type sampleSet []atomic.Uint32

func newSampleSet(n int) sampleSet { return make(sampleSet, (n+31)/32) }

func (s sampleSet) has(i int) bool {
	return i >= 0 && i/32 < len(s) && s[i/32].Load()&(1<<(i%32)) != 0
}

// add adds i and reports whether it was there already.
func (s sampleSet) add(i int) bool {
	if i < 0 || i/32 >= len(s) {
		return false
	}
	return s[i/32].Or(1<<(i%32))&(1<<(i%32)) != 0
}

func (f *Folder) isBad(i int) bool { return f.bad.has(i) }

// markBad records sample i as unreadable and reports it the first time.
func (f *Folder) markBad(i int, err error) {
	if f.bad.add(i) {
		return // already known
	}
	p := f.Path(i)
	f.skipMu.Lock()
	f.skipped[i] = p
	f.skipMu.Unlock()
	f.report.Lock()
	defer f.report.Unlock()
	if f.opt.OnSkip != nil {
		f.opt.OnSkip(p, err)
		return
	}
	note("imagenet: skipping unreadable image %s (%v); its class's next readable image stands in for it (OnCorrupt skip)", p, err)
}

// FillBatch writes the images idx into dst as normalised NHWC float32
// (len(idx)·Size·Size·3 values) and their labels into labels, decoding them
// on up to Workers goroutines. The training transform's draws for sample i
// come from the stream rng.NewKey(seed, "augment", epoch, i), so the result
// for a sample is a pure function of (seed, epoch, i) and the file:
// independent of the batch it is in, its position there and the number of
// workers. The evaluation transform draws nothing.
//
// An unreadable image is an error naming its file under OnCorruptFail (the
// first such sample of the batch, whatever the number of workers), and
// substituted under OnCorruptSkip. A dst or labels too short or an index
// out of range is an error too; FillBatch does not panic. On error the
// contents of dst and labels are unspecified.
func (f *Folder) FillBatch(dst []float32, labels []int32, idx []int, seed uint64, epoch int) error {
	sz := f.ImageSize()
	if len(dst) < len(idx)*sz || len(labels) < len(idx) {
		return fmt.Errorf("imagenet: FillBatch: %d images of %d values need dst of %d and labels of %d; have %d and %d",
			len(idx), sz, len(idx)*sz, len(idx), len(dst), len(labels))
	}
	for k, i := range idx {
		if i < 0 || i >= f.Len() {
			return fmt.Errorf("imagenet: FillBatch: index %d (batch position %d) is outside 0..%d", i, k, f.Len()-1)
		}
	}
	n := len(idx)
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		errK   = n
		errOne error
	)
	work := func() {
		sc := f.pool.Get().(*folderScratch)
		defer f.pool.Put(sc)
		for !failed.Load() {
			k := int(next.Add(1) - 1)
			if k >= n {
				return
			}
			lab, err := f.fillOne(sc, dst[k*sz:(k+1)*sz:(k+1)*sz], idx[k], seed, epoch)
			if err != nil {
				// Positions are handed out in order, so every position
				// before k is already being filled and will report its own
				// error: the smallest one wins, whatever the schedule.
				mu.Lock()
				if k < errK {
					errK, errOne = k, err
				}
				mu.Unlock()
				failed.Store(true)
				return
			}
			labels[k] = lab
		}
	}
	w := min(f.opt.Workers, n)
	var wg sync.WaitGroup
	for range w - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return errOne
}

// fillOne writes sample i's transformed image into out and returns its
// label. A panic on the way (a bug, or one in an OnSkip callback) is
// returned as an error naming the file, so that it does not kill a run's
// other goroutines unannounced.
func (f *Folder) fillOne(sc *folderScratch, out []float32, i int, seed uint64, epoch int) (label int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			label, err = 0, fmt.Errorf("imagenet: internal error on image %s: %v; fix: report it with the file", f.Path(i), r)
		}
	}()
	return f.fill(sc, out, i, seed, epoch)
}

func (f *Folder) fill(sc *folderScratch, out []float32, i int, seed uint64, epoch int) (int32, error) {
	var img decoded
	var err error
	if f.skip && f.isBad(i) {
		err = errKnownBad
	} else {
		img, err = f.decode(sc, i, &drawKey{seed, epoch, i})
	}
	if err != nil {
		if !f.skip {
			return 0, fmt.Errorf("imagenet: cannot read image %s: %v; fix: replace it with a good copy or delete it (then reopen the split), or set OnCorrupt %q to have its class's next readable image stand in for it",
				f.Path(i), err, OnCorruptSkip)
		}
		if err != errKnownBad {
			f.markBad(i, err)
		}
		if img, err = f.substitute(sc, i, seed, epoch); err != nil {
			return 0, err
		}
	}
	f.transform(sc, out, img, seed, epoch, i)
	return f.labels[i], nil
}

var errKnownBad = errors.New("known unreadable")

// substitute decodes the next readable image after i in i's class, in file
// order and wrapping around, for i's draws.
func (f *Folder) substitute(sc *folderScratch, i int, seed uint64, epoch int) (decoded, error) {
	c := f.labels[i]
	lo, hi := f.classStart[c], f.classStart[c+1]
	for d := 1; d < hi-lo; d++ {
		j := lo + (i-lo+d)%(hi-lo)
		if f.isBad(j) {
			continue
		}
		img, err := f.decode(sc, j, &drawKey{seed, epoch, i})
		if err == nil {
			return img, nil
		}
		f.markBad(j, err)
	}
	return decoded{}, fmt.Errorf("imagenet: no image of class %q (%s) is readable, so none can stand in for %s; fix: restore the class folder's images from the archive",
		f.classes[c], filepath.Join(f.dir, f.classes[c]), f.Path(i))
}

// drawKey names the draws an image is transformed with: sample i's in
// epoch epoch of a run with seed seed.
type drawKey struct {
	seed     uint64
	epoch, i int
}

// decode reads and decodes sample i's file, for the transform with the
// draws key (nil: at full size). With libjpeg-turbo a JPEG is decoded at
// the DCT scale the transform's geometry needs (dctScale), which is a
// function of the draws and the image's size only, so the pixels are the
// same whatever the worker or batch. Anything libjpeg-turbo does not decode
// cleanly goes to the Go decoders, which decide what is corrupt as they did
// before.
func (f *Folder) decode(sc *folderScratch, i int, key *drawKey) (decoded, error) {
	var err error
	if f.prep != nil {
		err = f.prep.read(sc, i)
	} else {
		err = sc.readFile(f.Path(i))
	}
	if err != nil {
		return decoded{}, err
	}
	return f.decodeFile(sc, i, key)
}

// decodeFile decodes sc.file, sample file's (−1: none of the split's) for
// decode.
//
// With draws, libjpeg-turbo decodes only the region of the scaled image
// that the transform's resize reads (resizePlan): it skips the inverse DCT,
// upsampling and colour conversion of everything else, and stops reading
// the file below the region. The pixels are those of a whole decode
// (TestTurboRegionMatchesWhole), but damage below the region would go
// unseen, so the first decode of each file in a process still reads and
// checks all of it (whole); what is corrupt stays what a whole decode
// finds.
func (f *Folder) decodeFile(sc *folderScratch, file int, key *drawKey) (decoded, error) {
	if turboJPEG && bytes.HasPrefix(sc.file, jpegMagic) {
		if w, h, ok := turboHeader(sc); ok && w > 0 && h > 0 && int64(w)*int64(h) <= maxImagePixels {
			if key == nil {
				if d, ok := turboDecode(sc, w, h, 8); ok {
					return d, nil
				}
				return decodeImage(sc)
			}
			g := f.geometry(w, h, key.seed, key.epoch, key.i)
			num := turboScale(w, h, dctScale(g))
			r := f.plan(sc, scaledSide(w, num), scaledSide(h, num), num, g.box, g.outW, g.outH, g.ox, g.oy)
			checked := f.whole.has(file)
			if d, ok := turboDecodeRegion(sc, w, h, num, r.x0, r.y0, r.x1, r.y1, !checked); ok {
				f.whole.add(file)
				return d, nil
			}
		}
	}
	return decodeImage(sc)
}
