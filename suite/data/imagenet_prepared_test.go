package data

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// prepareTestRoot copies the tiny ImageNet into a temporary root and
// prepares both splits at maxSide, 4 images a shard.
func prepareTestRoot(t *testing.T, maxSide int) string {
	t.Helper()
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		src := copyTree(t, filepath.Join(imagenetTestdataRoot, split))
		if err := os.Rename(src, filepath.Join(root, split)); err != nil {
			t.Fatal(err)
		}
	}
	old := preparedPerShard
	preparedPerShard = 4
	t.Cleanup(func() { preparedPerShard = old })
	tr, err := OpenFolder(filepath.Join(root, "train"), nil, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train", "val"} {
		var classes []string
		if split == "val" {
			classes = tr.Classes()
		}
		if err := PrepareSplit(filepath.Join(root, split), filepath.Join(root, PreparedDir, split), classes, PrepareOptions{MaxSide: maxSide, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// A prepared copy is read instead of the folders, says so, keeps the
// samples, labels and classes, bounds the longer side, and its batches are
// the same with 1 and 2 workers.
func TestPreparedCopy(t *testing.T) {
	root := prepareTestRoot(t, 32)
	var notes bytes.Buffer
	old := Notes
	Notes = &notes
	defer func() { Notes = old }()
	tr, val, err := OpenImageNet(root, 16, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes.String(), "prepared copy") {
		t.Errorf("notes %q do not say the prepared copy is read", notes.String())
	}
	ftr, fval := openTestImageNet(t, 16, 1, "")
	if tr.Len() != ftr.Len() || val.Len() != fval.Len() || !slices.Equal(tr.Labels(), ftr.Labels()) || !slices.Equal(tr.Classes(), ftr.Classes()) {
		t.Fatalf("prepared: %d/%d images; folder: %d/%d", tr.Len(), val.Len(), ftr.Len(), fval.Len())
	}
	for i := range tr.Len() {
		if filepath.Base(tr.Path(i)) != filepath.Base(ftr.Path(i)) {
			t.Fatalf("image %d: %s, folder's %s", i, tr.Path(i), ftr.Path(i))
		}
	}
	if src, side, ok := tr.PreparedFrom(); !ok || side != 32 || src.SHA256 != ftr.Manifest().SHA256 || src.Bytes != ftr.Manifest().Bytes {
		t.Errorf("PreparedFrom: %+v %d %v; want the folder's manifest %+v", src, side, ok, ftr.Manifest())
	}
	sc := new(folderScratch)
	for i := range tr.Len() {
		if err := tr.prep.read(sc, i); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := imageConfig(sc.file)
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if max(cfg.Width, cfg.Height) > 32 {
			t.Errorf("image %d is %d×%d; want the longer side ≤ 32", i, cfg.Width, cfg.Height)
		}
	}
	tr2, _, err := OpenImageNet(root, 16, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := fill(t, tr, allIndices(tr.Len()), 3, 1)
	b, _ := fill(t, tr2, allIndices(tr.Len()), 3, 1)
	if !slices.Equal(a, b) {
		t.Error("the prepared copy's batches differ between 1 and 2 workers")
	}
	// A copy is not prepared twice over itself.
	if err := PrepareSplit(filepath.Join(root, "train"), filepath.Join(root, PreparedDir, "train"), nil, PrepareOptions{MaxSide: 32}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("preparing over a copy: %v", err)
	}
}

func imageConfig(b []byte) (cfg struct{ Width, Height int }, format string, err error) {
	c, err := jpeg.DecodeConfig(bytes.NewReader(b))
	return struct{ Width, Height int }{c.Width, c.Height}, "jpeg", err
}

// A damaged index or shard is refused, naming it; an image whose bytes
// changed in its shard is an error naming the shard.
func TestPreparedCopyDamage(t *testing.T) {
	root := prepareTestRoot(t, 32)
	dir := filepath.Join(root, PreparedDir, "train")
	index := filepath.Join(dir, preparedIndex)
	good, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	// The index: a changed byte.
	bad := slices.Clone(good)
	bad[len(bad)-3] ^= 1
	os.WriteFile(index, bad, 0o644)
	if _, _, err := OpenImageNet(root, 16, 1, ""); err == nil || !strings.Contains(err.Error(), index) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("damaged index: %v", err)
	}
	os.WriteFile(index, good, 0o644)
	// A shard: truncated.
	shard := filepath.Join(dir, shardName(1))
	sb, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(shard, sb[:len(sb)-1], 0o644)
	if _, _, err := OpenImageNet(root, 16, 1, ""); err == nil || !strings.Contains(err.Error(), shard) {
		t.Errorf("truncated shard: %v", err)
	}
	// A shard: a changed byte, found when the image is read.
	sb2 := slices.Clone(sb)
	sb2[len(sb2)/2] ^= 0x40
	os.WriteFile(shard, sb2, 0o644)
	tr, _, err := OpenImageNet(root, 16, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, tr.Len()*tr.ImageSize())
	labels := make([]int32, tr.Len())
	if err := tr.FillBatch(dst, labels, allIndices(tr.Len()), 1, 0); err == nil || !strings.Contains(err.Error(), shard) || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("damaged shard: %v", err)
	}
}

// A stopped preparation resumes: complete shards are kept, not
// rewritten, and the copy is the same as one prepared in one go.
func TestPreparedCopyResumes(t *testing.T) {
	root := prepareTestRoot(t, 32)
	dir := filepath.Join(root, PreparedDir, "train")
	want, err := os.ReadFile(filepath.Join(dir, preparedIndex))
	if err != nil {
		t.Fatal(err)
	}
	old := preparedPerShard
	preparedPerShard = 4
	defer func() { preparedPerShard = old }()
	again := filepath.Join(root, "again")
	// Stopped after two shards (a panic stands for the kill).
	func() {
		defer func() { recover() }()
		PrepareSplit(filepath.Join(root, "train"), again, nil, PrepareOptions{MaxSide: 32, Workers: 1, Progress: func(done, total int) {
			if done >= 8 {
				panic("stop")
			}
		}})
	}()
	if _, err := os.Stat(filepath.Join(again, preparedIndex)); err == nil {
		t.Fatal("a stopped preparation left an index")
	}
	if _, _, err := OpenImageNet(root, 16, 1, ""); err != nil {
		t.Fatal(err) // the other copy is untouched
	}
	st0, err := os.Stat(filepath.Join(again, shardName(0)))
	if err != nil {
		t.Fatal(err)
	}
	// Shard 1 damaged meanwhile: it is redone, shard 0 kept.
	os.WriteFile(filepath.Join(again, shardName(1)), []byte("x"), 0o644)
	if err := PrepareSplit(filepath.Join(root, "train"), again, nil, PrepareOptions{MaxSide: 32, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	st0b, err := os.Stat(filepath.Join(again, shardName(0)))
	if err != nil || !os.SameFile(st0, st0b) || !st0.ModTime().Equal(st0b.ModTime()) {
		t.Errorf("shard 0 was rewritten on resuming")
	}
	got, err := os.ReadFile(filepath.Join(again, preparedIndex))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the resumed copy's index differs from one prepared in one go")
	}
	if m, _ := filepath.Glob(filepath.Join(again, "*.part")); len(m) != 0 {
		t.Errorf("part indexes left: %v", m)
	}
}

// The listing cache: a second opening of an unchanged split takes the
// listing from the cache (same samples and manifest); a file added to a
// class folder is seen; a damaged cache file is ignored.
func TestFolderListingCache(t *testing.T) {
	dir := copyTree(t, filepath.Join(imagenetTestdataRoot, "train"))
	cache := t.TempDir()
	var notes bytes.Buffer
	old := Notes
	Notes = &notes
	defer func() { Notes = old }()
	opt := FolderOptions{Size: 16, ListingCache: cache}
	a := openFolder(t, dir, nil, opt)
	if strings.Contains(notes.String(), "from the cache") {
		t.Fatal("the first listing came from the cache")
	}
	b := openFolder(t, dir, nil, opt)
	if !strings.Contains(notes.String(), "from the cache") {
		t.Errorf("the second listing did not come from the cache: %q", notes.String())
	}
	if a.Manifest() != b.Manifest() || a.Len() != b.Len() || !slices.Equal(a.Labels(), b.Labels()) {
		t.Fatalf("cached listing differs: %+v against %+v", b.Manifest(), a.Manifest())
	}
	// A new file in class 1.
	data, err := os.ReadFile(a.Path(0))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(filepath.Join(dir, a.Classes()[1], "zz_new.JPEG"), data)
	notes.Reset()
	c := openFolder(t, dir, nil, opt)
	if c.Len() != a.Len()+1 || strings.Contains(notes.String(), "from the cache") {
		t.Errorf("after adding a file: %d images (want %d), notes %q", c.Len(), a.Len()+1, notes.String())
	}
	ref := openFolder(t, dir, nil, FolderOptions{Size: 16})
	if c.Manifest().SHA256 != ref.Manifest().SHA256 {
		t.Error("the listing after a change differs from an uncached one")
	}
	// A damaged cache file: listed again, correctly.
	files, _ := filepath.Glob(filepath.Join(cache, "*.listing"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	os.WriteFile(files[0], []byte("garbage"), 0o644)
	notes.Reset()
	d := openFolder(t, dir, nil, opt)
	if d.Manifest().SHA256 != ref.Manifest().SHA256 || strings.Contains(notes.String(), "from the cache") {
		t.Errorf("with a damaged cache: manifest %s, notes %q", d.Manifest().SHA256, notes.String())
	}
}
