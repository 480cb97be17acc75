package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var imagenetTestdataRoot = filepath.Join(testdataRoot, ImageNetDir)

// TestImageNetTestdataGolden checks that the committed testdata/imagenet/
// is what WriteImageNetTestdata writes, and holds nothing else; -update
// (go generate ./suite/data) rewrites it. A JPEG whose bytes differ (a Go
// release may encode differently) passes if its pixels agree within a few
// levels, with a note.
func TestImageNetTestdataGolden(t *testing.T) {
	if *update {
		if err := os.RemoveAll(imagenetTestdataRoot); err != nil {
			t.Fatal(err)
		}
		if err := WriteImageNetTestdata(testdataRoot); err != nil {
			t.Fatal(err)
		}
	}
	gen := t.TempDir()
	if err := WriteImageNetTestdata(gen); err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(gen, ImageNetDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(gen, p)
		generated[filepath.ToSlash(rel)] = true
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(testdataRoot, rel))
		if err != nil {
			t.Errorf("testdata/%s: %v; run `go generate ./suite/data`", rel, err)
			return nil
		}
		if bytes.Equal(want, got) {
			return nil
		}
		if d := pictureDiff(want, got); d != "" {
			t.Errorf("testdata/%s differs from the generator's output (%s); run `go generate ./suite/data`", rel, d)
		} else {
			t.Logf("testdata/%s: encoded differently by this Go release, same picture", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) != len(imagenetTestdataFiles) || len(imagenetTestdataFiles) != imagenetTestdataTrain+imagenetTestdataVal {
		t.Fatalf("the generator wrote %d files; want %d", len(generated), len(imagenetTestdataFiles))
	}
	err = filepath.WalkDir(imagenetTestdataRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(testdataRoot, p)
		if !generated[filepath.ToSlash(rel)] {
			t.Errorf("testdata/%s is not the generator's; remove it or run `go generate ./suite/data`", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pictureDiff decodes two image files and says how they differ beyond a
// re-encoding's rounding; "" when they do not.
func pictureDiff(a, b []byte) string {
	ia, _, errA := image.Decode(bytes.NewReader(a))
	ib, _, errB := image.Decode(bytes.NewReader(b))
	if errA != nil || errB != nil {
		return fmt.Sprintf("decoding: %v, %v", errA, errB)
	}
	if ia.Bounds() != ib.Bounds() {
		return fmt.Sprintf("size %v vs %v", ia.Bounds(), ib.Bounds())
	}
	var sum, n, worst float64
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca := color.NRGBAModel.Convert(ia.At(x, y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(ib.At(x, y)).(color.NRGBA)
			for _, d := range []float64{float64(ca.R) - float64(cb.R), float64(ca.G) - float64(cb.G), float64(ca.B) - float64(cb.B)} {
				sum += math.Abs(d)
				worst = max(worst, math.Abs(d))
				n++
			}
		}
	}
	if sum/n > 1.5 || worst > 24 {
		return fmt.Sprintf("pixels differ by %.2f levels on average, %v at most", sum/n, worst)
	}
	return ""
}

func openTestImageNet(t *testing.T, size, workers int, onCorrupt string) (train, val *Folder) {
	t.Helper()
	train, val, err := OpenImageNet(imagenetTestdataRoot, size, workers, onCorrupt)
	if err != nil {
		t.Fatal(err)
	}
	return train, val
}

// fill fills the images idx of f and fails the test on error.
func fill(t *testing.T, f *Folder, idx []int, seed uint64, epoch int) ([]float32, []int32) {
	t.Helper()
	dst := make([]float32, len(idx)*f.ImageSize())
	labels := make([]int32, len(idx))
	if err := f.FillBatch(dst, labels, idx, seed, epoch); err != nil {
		t.Fatal(err)
	}
	return dst, labels
}

func allIndices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func TestOpenImageNetTestdata(t *testing.T) {
	train, val := openTestImageNet(t, 32, 2, "")
	if !slices.Equal(train.Classes(), ImageNetTestdataClasses) || !slices.Equal(val.Classes(), ImageNetTestdataClasses) {
		t.Fatalf("classes %v / %v; want %v", train.Classes(), val.Classes(), ImageNetTestdataClasses)
	}
	if train.Len() != imagenetTestdataTrain || val.Len() != imagenetTestdataVal {
		t.Fatalf("%d train and %d val images; want %d and %d", train.Len(), val.Len(), imagenetTestdataTrain, imagenetTestdataVal)
	}
	if got := train.Labels(); !slices.Equal(got, []int32{0, 0, 0, 1, 1, 1, 2, 2, 2, 2}) {
		t.Errorf("train labels %v", got)
	}
	if got := val.Histogram(); !slices.Equal(got, []int{2, 2, 2}) {
		t.Errorf("val histogram %v", got)
	}
	wantPaths := []string{"n01484850/n01484850_1001.JPEG", "n01484850/n01484850_1002.JPEG", "n01484850/n01484850_1004.png", "n01484850/n01484850_1005.JPEG"}
	for k, want := range wantPaths {
		if got := train.Path(6 + k); got != filepath.Join(train.Dir(), filepath.FromSlash(want)) {
			t.Errorf("train.Path(%d) = %s; want …/%s", 6+k, got, want)
		}
	}
	if h, w, c := train.Shape(); h != 32 || w != 32 || c != 3 {
		t.Errorf("shape %d×%d×%d", h, w, c)
	}
	if n, _ := train.Ignored(); n != 0 {
		t.Errorf("%d files ignored in the tiny tree", n)
	}
	if o := train.Options(); !o.Train || o.OnCorrupt != OnCorruptFail || o.Workers != 2 || !slices.Equal(o.Mean, ImageNetMean) {
		t.Errorf("train options %+v", o)
	}
	if val.Options().Train {
		t.Error("val uses the training transform")
	}
	// Every image decodes (the greyscale JPEG and the PNG named .JPEG too).
	for _, f := range []*Folder{train, val} {
		dst, labels := fill(t, f, allIndices(f.Len()), 1, 0)
		if !slices.Equal(labels, f.Labels()) {
			t.Errorf("FillBatch labels %v; want %v", labels, f.Labels())
		}
		for _, v := range dst {
			if math.IsNaN(float64(v)) || v < -2.2 || v > 2.7 {
				t.Fatalf("normalised value %v outside ImageNet's range", v)
			}
		}
	}
}

func TestFolderManifest(t *testing.T) {
	train, val := openTestImageNet(t, 32, 1, "")
	m := train.Manifest()
	abs, _ := filepath.Abs(filepath.Join(imagenetTestdataRoot, "train"))
	h := sha256.New()
	var total int64
	for i := range train.Len() {
		st, err := os.Stat(train.Path(i))
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(train.Dir(), train.Path(i))
		fmt.Fprintf(h, "%s\t%d\n", filepath.ToSlash(rel), st.Size())
		total += st.Size()
	}
	if m.Path != abs || m.Bytes != total || m.SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("manifest %+v; want path %s, %d bytes, sha256 %x", m, abs, total, h.Sum(nil))
	}
	if val.Manifest().SHA256 == m.SHA256 {
		t.Error("train and val have the same manifest")
	}
	// A file more or a file changed in size changes it.
	dir := copyTree(t, filepath.Join(imagenetTestdataRoot, "train"))
	f2 := openFolder(t, dir, nil, FolderOptions{})
	if f2.Manifest().SHA256 != m.SHA256 {
		t.Fatal("a copy of the split has another manifest")
	}
	if err := os.WriteFile(filepath.Join(dir, "n01440764", "n01440764_1001.JPEG"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if openFolder(t, dir, nil, FolderOptions{}).Manifest().SHA256 == m.SHA256 {
		t.Error("the manifest did not change when a file did")
	}
}

func openFolder(t *testing.T, dir string, classes []string, opt FolderOptions) *Folder {
	t.Helper()
	f, err := OpenFolder(dir, classes, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// copyTree copies a folder tree into a fresh temporary folder.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// The training transform is a pure function of (seed, epoch, index): the
// same with 1 or 4 workers, in any batch order or composition, and call
// after call; another epoch or seed gives other crops.
func TestFolderTrainDeterminism(t *testing.T) {
	dir := filepath.Join(imagenetTestdataRoot, "train")
	f1 := openFolder(t, dir, nil, FolderOptions{Size: 24, Train: true, Workers: 1})
	f4 := openFolder(t, dir, nil, FolderOptions{Size: 24, Train: true, Workers: 4})
	n, sz := f1.Len(), f1.ImageSize()
	want, _ := fill(t, f1, allIndices(n), 3, 1)
	image := func(b []float32, k int) []float32 { return b[k*sz : (k+1)*sz] }
	for _, batch := range [][]int{{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {7, 2}, {0, 9, 4, 4, 1}, {5}} {
		for _, f := range []*Folder{f1, f4} {
			got, labels := fill(t, f, batch, 3, 1)
			for k, i := range batch {
				if !slices.Equal(image(got, k), image(want, i)) {
					t.Fatalf("workers %d, batch %v: image %d differs from the one filled alone", f.opt.Workers, batch, i)
				}
				if labels[k] != f.Label(i) {
					t.Fatalf("label of %d: %d, want %d", i, labels[k], f.Label(i))
				}
			}
		}
	}
	for _, other := range []struct {
		seed  uint64
		epoch int
	}{{3, 2}, {4, 1}} {
		got, _ := fill(t, f4, allIndices(n), other.seed, other.epoch)
		for i := range n {
			if slices.Equal(image(got, i), image(want, i)) {
				t.Errorf("seed %d epoch %d: image %d is the same as with seed 3 epoch 1", other.seed, other.epoch, i)
			}
		}
	}
}

// FillBatch's training output is render with the box and flip drawn from
// the stream (seed, "augment", epoch, index).
func TestFolderTrainUsesItsDraws(t *testing.T) {
	f := openFolder(t, filepath.Join(imagenetTestdataRoot, "train"), nil, FolderOptions{Size: 20, Train: true, Workers: 2})
	const seed, epoch = 11, 5
	got, _ := fill(t, f, allIndices(f.Len()), seed, epoch)
	sc := new(folderScratch)
	flips := 0
	for i := range f.Len() {
		img, err := f.decode(sc, i, &drawKey{seed, epoch, i})
		if err != nil {
			t.Fatal(err)
		}
		box, flip := trainDraws(img.w, img.h, seed, epoch, i)
		if flip {
			flips++
		}
		want := make([]float32, f.ImageSize())
		f.render(sc, want, img, box, 20, 20, 0, 0, flip)
		if !slices.Equal(got[i*f.ImageSize():(i+1)*f.ImageSize()], want) {
			t.Fatalf("image %d is not its box %+v (flip %v) resized", i, box, flip)
		}
	}
	if flips == 0 || flips == f.Len() {
		t.Errorf("%d of %d images flipped", flips, f.Len())
	}
	// Over many samples the flip is a fair coin.
	flips = 0
	const n = 4000
	for i := range n {
		if _, flip := trainDraws(500, 375, 1, 0, i); flip {
			flips++
		}
	}
	if p := float64(flips) / n; p < 0.46 || p > 0.54 {
		t.Errorf("flip rate %.3f; want 1/2", p)
	}
}

// The evaluation transform draws nothing: any seed and epoch give the same
// images, with any number of workers.
func TestFolderEvalIsDeterministic(t *testing.T) {
	_, val := openTestImageNet(t, 28, 1, "")
	val4 := openFolder(t, val.Dir(), val.Classes(), FolderOptions{Size: 28, Workers: 4})
	want, _ := fill(t, val, allIndices(val.Len()), 1, 0)
	for _, c := range []struct {
		f     *Folder
		seed  uint64
		epoch int
	}{{val, 2, 0}, {val, 1, 7}, {val4, 99, 3}} {
		got, _ := fill(t, c.f, allIndices(val.Len()), c.seed, c.epoch)
		if !slices.Equal(got, want) {
			t.Errorf("seed %d epoch %d workers %d: evaluation images differ", c.seed, c.epoch, c.f.opt.Workers)
		}
	}
}

// writePNG writes a solid w×h PNG (lossless, so every pixel keeps its
// colour through the resize).
func writeSolidPNG(t *testing.T, path string, w, h int, c color.NRGBA) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for p := 0; p < len(m.Pix); p += 4 {
		m.Pix[p], m.Pix[p+1], m.Pix[p+2], m.Pix[p+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(path, b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// A solid colour comes out as torchvision's ToTensor + Normalize of it,
// in every pixel, under both transforms, with the default and with given
// mean and std; alpha is dropped as PIL's convert("RGB") does.
func TestFolderNormalisation(t *testing.T) {
	dir := t.TempDir()
	c := color.NRGBA{255, 0, 128, 200}
	writeSolidPNG(t, filepath.Join(dir, "a", "wide.png"), 61, 23, c)
	writeSolidPNG(t, filepath.Join(dir, "a", "tall.PNG"), 17, 40, c)
	for _, opt := range []FolderOptions{
		{Size: 16, Train: true},
		{Size: 16},
		{Size: 9, Train: true, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.25, 2}},
	} {
		f := openFolder(t, dir, nil, opt)
		mean, std := f.opt.Mean, f.opt.Std
		var want [3]float32
		for ch, b := range []uint8{c.R, c.G, c.B} {
			want[ch] = (float32(b)/255 - mean[ch]) / std[ch]
		}
		for epoch := range 3 {
			got, _ := fill(t, f, []int{0, 1}, 5, epoch)
			for p, v := range got {
				if v != want[p%3] {
					t.Fatalf("options %+v: value %d is %v; want %v", opt, p, v, want[p%3])
				}
			}
		}
	}
}

// The greyscale JPEG comes out with three equal channels (mean 0, std 1
// keep the bytes' order).
func TestFolderGreyscale(t *testing.T) {
	f := openFolder(t, filepath.Join(imagenetTestdataRoot, "train"), nil,
		FolderOptions{Size: 16, Train: true, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}})
	i := slices.IndexFunc(allIndices(f.Len()), func(i int) bool { return strings.HasSuffix(f.Path(i), "n01443537_1007.JPEG") })
	got, _ := fill(t, f, []int{i}, 1, 0)
	for p := 0; p < len(got); p += 3 {
		if got[p] != got[p+1] || got[p] != got[p+2] {
			t.Fatalf("pixel %d of the greyscale image is %v", p/3, got[p:p+3])
		}
	}
}

// corruptTree is a copy of the tiny train split plus a truncated JPEG in
// class 1 (index 4), a file that is no image in class 2 (index 9), two
// files without an image extension, a hidden file and a hidden folder.
func corruptTree(t *testing.T) (dir string, bad1, bad2 int) {
	t.Helper()
	dir = copyTree(t, filepath.Join(imagenetTestdataRoot, "train"))
	good, err := os.ReadFile(filepath.Join(dir, "n01443537", "n01443537_1001.JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"n01443537/n01443537_1002.JPEG":   good[:len(good)/2],
		"n01484850/n01484850_1003.JPEG":   []byte("GIF89a: not what the name says"),
		"n01484850/notes.txt":             []byte("not an image"),
		"README":                          []byte("top-level file"),
		"n01440764/._n01440764_1001.JPEG": []byte("macOS companion file"),
		".ipynb_checkpoints/x.JPEG":       good,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(name))), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, 4, 9
}

func TestFolderCorruptFail(t *testing.T) {
	dir, bad1, bad2 := corruptTree(t)
	for _, workers := range []int{1, 4} {
		f := openFolder(t, dir, nil, FolderOptions{Size: 16, Train: true, Workers: workers})
		if n, ex := f.Ignored(); f.Len() != 12 || n != 4 || len(ex) != 3 || len(f.Classes()) != 3 {
			t.Fatalf("%d images in %d classes, %d ignored (%v); want 12 in 3 and 4", f.Len(), len(f.Classes()), n, ex)
		}
		if !strings.HasSuffix(f.Path(bad1), "n01443537_1002.JPEG") || !strings.HasSuffix(f.Path(bad2), "n01484850_1003.JPEG") {
			t.Fatalf("corrupt files at %s, %s", f.Path(bad1), f.Path(bad2))
		}
		dst := make([]float32, 5*f.ImageSize())
		labels := make([]int32, 5)
		for rep := range 5 {
			// The error is the first bad image's in batch order, whatever
			// the workers did first.
			for _, c := range []struct {
				batch []int
				bad   int
			}{{[]int{0, bad1, 5}, bad1}, {[]int{6, 5, bad2, 0, bad1}, bad2}, {[]int{bad1, bad2}, bad1}} {
				err := f.FillBatch(dst, labels, c.batch, 1, rep)
				if err == nil || !strings.Contains(err.Error(), f.Path(c.bad)) || !strings.Contains(err.Error(), `"skip"`) {
					t.Fatalf("workers %d, batch %v: error %v; want one naming %s and the skip policy", workers, c.batch, err, f.Path(c.bad))
				}
			}
		}
		if s := f.Skipped(); len(s) != 0 {
			t.Errorf("Skipped() = %v under the fail policy", s)
		}
	}
}

func TestFolderCorruptSkip(t *testing.T) {
	dir, bad1, bad2 := corruptTree(t)
	var mu sync.Mutex
	reports := map[string]int{}
	opt := FolderOptions{Size: 16, Workers: 3, OnCorrupt: OnCorruptSkip, OnSkip: func(path string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reports[path]++
		if err == nil {
			t.Error("OnSkip without an error")
		}
	}}
	f := openFolder(t, dir, nil, opt)
	batch := []int{bad1, bad2, bad1 + 1, bad2 + 1, 0}
	sz := f.ImageSize()
	for epoch := range 3 {
		got, labels := fill(t, f, batch, 1, epoch)
		// Evaluation transform: a substitute is exactly the next image of
		// the class, and the label stays.
		if !slices.Equal(got[0:sz], got[2*sz:3*sz]) || !slices.Equal(got[sz:2*sz], got[3*sz:4*sz]) {
			t.Fatal("a corrupt image's substitute is not the next image of its class")
		}
		if !slices.Equal(labels, []int32{1, 2, 1, 2, 0}) {
			t.Fatalf("labels %v", labels)
		}
	}
	if len(reports) != 2 || reports[f.Path(bad1)] != 1 || reports[f.Path(bad2)] != 1 {
		t.Errorf("reports %v; want each corrupt file once", reports)
	}
	if s := f.Skipped(); !slices.Equal(s, []string{f.Path(bad1), f.Path(bad2)}) {
		t.Errorf("Skipped() = %v", s)
	}
	// Training transform: deterministic, the substitute transformed with
	// the corrupt index's draws.
	opt.Train = true
	ft := openFolder(t, dir, nil, opt)
	a, _ := fill(t, ft, []int{bad1}, 2, 0)
	b, _ := fill(t, ft, []int{5, bad1}, 2, 0)
	if !slices.Equal(a, b[sz:]) {
		t.Error("a substituted training image changes with the batch")
	}
	sc := new(folderScratch)
	img, err := ft.decode(sc, bad1+1, &drawKey{2, 0, bad1})
	if err != nil {
		t.Fatal(err)
	}
	box, flip := trainDraws(img.w, img.h, 2, 0, bad1)
	want := make([]float32, sz)
	ft.render(sc, want, img, box, 16, 16, 0, 0, flip)
	if !slices.Equal(a, want) {
		t.Error("a substituted training image is not the substitute with the corrupt index's draws")
	}
}

// With no OnSkip the report goes to Notes; a class with no readable image
// is an error, not a panic or a loop.
func TestFolderCorruptSkipNotesAndWholeClass(t *testing.T) {
	var notes bytes.Buffer
	old := Notes
	Notes = &notes
	defer func() { Notes = old }()
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "a", "x.JPEG"), []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10}); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "a", "y.jpg"), nil); err != nil {
		t.Fatal(err)
	}
	writeSolidPNG(t, filepath.Join(dir, "b", "ok.png"), 8, 8, color.NRGBA{1, 2, 3, 255})
	f := openFolder(t, dir, nil, FolderOptions{Size: 8, OnCorrupt: OnCorruptSkip, Workers: 2})
	dst := make([]float32, 2*f.ImageSize())
	labels := make([]int32, 2)
	err := f.FillBatch(dst, labels, []int{2, 0}, 1, 0)
	if err == nil || !strings.Contains(err.Error(), `class "a"`) || !strings.Contains(err.Error(), filepath.Join(dir, "a")) {
		t.Fatalf("error %v; want one saying no image of class a is readable", err)
	}
	for _, name := range []string{"x.JPEG", "y.jpg"} {
		if strings.Count(notes.String(), filepath.Join(dir, "a", name)) != 1 {
			t.Errorf("notes %q do not name %s once", notes.String(), name)
		}
	}
	if err := f.FillBatch(dst, labels, []int{2}, 1, 0); err != nil {
		t.Errorf("a batch of good images: %v", err)
	}
}

// A panic inside FillBatch (here: the OnSkip callback's) comes back as an
// error naming the file.
func TestFolderFillBatchRecovers(t *testing.T) {
	dir, bad, _ := corruptTree(t)
	f := openFolder(t, dir, nil, FolderOptions{Size: 8, OnCorrupt: OnCorruptSkip, Workers: 2,
		OnSkip: func(string, error) { panic("callback bug") }})
	dst := make([]float32, 2*f.ImageSize())
	err := f.FillBatch(dst, make([]int32, 2), []int{0, bad}, 1, 0)
	if err == nil || !strings.Contains(err.Error(), "callback bug") || !strings.Contains(err.Error(), f.Path(bad)) {
		t.Fatalf("error %v; want the panic, naming %s", err, f.Path(bad))
	}
}

func TestFolderFillBatchArguments(t *testing.T) {
	_, val := openTestImageNet(t, 8, 1, "")
	sz := val.ImageSize()
	for _, c := range []struct {
		dst    int
		labels int
		idx    []int
		want   string
	}{
		{2*sz - 1, 2, []int{0, 1}, "need dst"},
		{2 * sz, 1, []int{0, 1}, "need dst"},
		{sz, 1, []int{-1}, "outside"},
		{sz, 1, []int{val.Len()}, "outside"},
	} {
		err := val.FillBatch(make([]float32, c.dst), make([]int32, c.labels), c.idx, 1, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dst %d, labels %d, idx %v: error %v; want %q", c.dst, c.labels, c.idx, err, c.want)
		}
	}
	if err := val.FillBatch(nil, nil, nil, 1, 0); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// Several FillBatch calls may run at once on one Folder.
func TestFolderConcurrentFillBatch(t *testing.T) {
	train, _ := openTestImageNet(t, 16, 2, "")
	want, _ := fill(t, train, allIndices(train.Len()), 8, 2)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() {
			dst := make([]float32, len(want))
			labels := make([]int32, train.Len())
			if err := train.FillBatch(dst, labels, allIndices(train.Len()), 8, 2); err != nil {
				errs[g] = err
			} else if !slices.Equal(dst, want) {
				errs[g] = errors.New("concurrent FillBatch gave other images")
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenFolderErrors(t *testing.T) {
	root := t.TempDir()
	mk := func(name string, b []byte) string {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := writeFile(p, b); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jpg, err := os.ReadFile(filepath.Join(imagenetTestdataRoot, "train", "n01440764", "n01440764_1001.JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	file := mk("plain-file", []byte("x"))
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	mk("flat/ILSVRC2012_val_00000001.JPEG", jpg)
	mk("mixed/a/x.JPEG", jpg)
	mk("mixed/stray.jpg", jpg)
	mk("emptyclass/a/x.JPEG", jpg)
	os.MkdirAll(filepath.Join(root, "emptyclass", "b"), 0o755)
	mk("textclass/a/x.JPEG", jpg)
	mk("textclass/b/readme.txt", []byte("x"))
	mk("val/a/x.JPEG", jpg)
	mk("val/zebra/x.JPEG", jpg)
	mk("link/a/x.JPEG", jpg)
	if err := os.Symlink(filepath.Join(root, "nowhere.JPEG"), filepath.Join(root, "link", "a", "y.JPEG")); err != nil {
		t.Fatal(err)
	}
	mk("nosplits/train/a/x.JPEG", jpg)

	tests := []struct {
		name    string
		dir     string
		classes []string
		opt     FolderOptions
		want    []string
		notExit bool
	}{
		{"missing", filepath.Join(root, "nope"), nil, FolderOptions{}, []string{filepath.Join(root, "nope"), "does not exist"}, true},
		{"file", file, nil, FolderOptions{}, []string{file, "not a folder"}, false},
		{"no classes", filepath.Join(root, "empty"), nil, FolderOptions{}, []string{"no class folders"}, true},
		{"flat val", filepath.Join(root, "flat"), []string{"a"}, FolderOptions{}, []string{"ILSVRC2012_val_00000001.JPEG", "outside any class folder", "valprep"}, false},
		{"stray image", filepath.Join(root, "mixed"), nil, FolderOptions{}, []string{"stray.jpg"}, false},
		{"empty class", filepath.Join(root, "emptyclass"), nil, FolderOptions{}, []string{filepath.Join(root, "emptyclass", "b"), "holds no images"}, false},
		{"no image in class", filepath.Join(root, "textclass"), nil, FolderOptions{}, []string{filepath.Join(root, "textclass", "b"), "1 other file"}, false},
		{"unknown val class", filepath.Join(root, "val"), []string{"a", "b"}, FolderOptions{}, []string{filepath.Join(root, "val", "zebra"), "does not have"}, false},
		{"empty class list", filepath.Join(root, "val"), []string{}, FolderOptions{}, []string{"class list is empty"}, false},
		{"duplicate class", filepath.Join(root, "val"), []string{"a", "zebra", "a"}, FolderOptions{}, []string{`"a" is listed twice`}, false},
		{"broken link", filepath.Join(root, "link"), nil, FolderOptions{}, []string{"y.JPEG", "broken link"}, false},
		{"policy", filepath.Join(root, "val"), nil, FolderOptions{OnCorrupt: "ignore"}, []string{`"ignore"`}, false},
		{"mean", filepath.Join(root, "val"), nil, FolderOptions{Mean: []float32{0, 0}}, []string{"mean/std"}, false},
		{"std", filepath.Join(root, "val"), nil, FolderOptions{Std: []float32{1, 0, 1}}, []string{"std[1]"}, false},
		{"size", filepath.Join(root, "val"), nil, FolderOptions{Size: -3}, []string{"side -3"}, false},
		{"workers", filepath.Join(root, "val"), nil, FolderOptions{Workers: -1}, []string{"workers"}, false},
	}
	for _, tc := range tests {
		_, err := OpenFolder(tc.dir, tc.classes, tc.opt)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
		if tc.notExit != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: errors.Is(%v, fs.ErrNotExist) = %v", tc.name, err, !tc.notExit)
		}
	}

	for _, c := range []struct{ root, want string }{
		{filepath.Join(root, "nope"), "does not exist"},
		{file, "not a folder"},
		{filepath.Join(root, "nosplits"), "has no val/ folder"},
		{filepath.Join(root, "val"), "has no train/ folder"},
	} {
		_, _, err := OpenImageNet(c.root, 16, 1, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.root) {
			t.Errorf("OpenImageNet(%s): error %v; want one naming it and saying %q", c.root, err, c.want)
		}
	}
}

// Files are read by content: a JPEG named .png and a PNG named .JPEG both
// decode; a file of another format is an error saying so.
func TestDecodeSniffsContent(t *testing.T) {
	dir := t.TempDir()
	jpg, err := EncodeJPEG(SyntheticPhoto(20, 10, 0, false, 5, 1, 0), 80)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(filepath.Join(dir, "a", "really-a-jpeg.png"), jpg)
	writeSolidPNG(t, filepath.Join(dir, "a", "really-a-png.JPEG"), 10, 20, color.NRGBA{9, 9, 9, 255})
	writeFile(filepath.Join(dir, "a", "gif.jpg"), []byte("GIF89a\x01\x00\x01\x00"))
	// A JFIF header then a frame header claiming 65535×65535 pixels.
	huge := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 16}, "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"...)
	huge = append(huge, 0xff, 0xc0, 0, 11, 8, 0xff, 0xff, 0xff, 0xff, 1, 1, 0x11, 0)
	writeFile(filepath.Join(dir, "a", "huge.jpeg"), huge)
	f := openFolder(t, dir, nil, FolderOptions{Size: 8})
	sc := new(folderScratch)
	for i := range f.Len() {
		d, err := f.decode(sc, i, nil)
		name := filepath.Base(f.Path(i))
		switch name {
		case "really-a-jpeg.png", "really-a-png.JPEG":
			if err != nil || d.w*d.h != 200 {
				t.Errorf("%s: %dx%d, %v", name, d.w, d.h, err)
			}
		case "gif.jpg":
			if err == nil || !strings.Contains(err.Error(), "not a JPEG or PNG") {
				t.Errorf("%s: error %v", name, err)
			}
		case "huge.jpeg":
			if err == nil || !strings.Contains(err.Error(), "65535×65535") {
				t.Errorf("%s: error %v", name, err)
			}
		}
	}
}
