package data

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// A prepared copy of a split (rst data prepare imagenet --max-side N), in
// the manner of FFCV: every image re-encoded (JPEG, quality 90) so that its
// longer side is at most N, or copied as it is when it already is a JPEG
// that small, and the files concatenated into a few large shard files read
// with one pread each, under root/prepared/<split>/:
//
//	shard-00000.bin …   the images back to back, in sample order
//	index               "rst-imagenet-prepared 1 sha256=<hex of the rest>\n"
//	                    then JSON (preparedIndex): the classes, the original
//	                    split's manifest, each shard's size, and per image its
//	                    path, label, shard, offset, size and CRC-32C
//
// The index's checksum is checked when the copy is opened, each shard's
// size then too, and each image's CRC-32C when it is read: a damaged index
// or shard is refused with its name. A copy is written shard by shard, each
// to a temporary name renamed when complete and followed by a small part
// index (shard-K.part), so that a stopped preparation resumes at the first
// incomplete shard; the index is renamed into place last, so that a copy
// without one is never read. Opening the copy reads the index instead of
// listing the split (1.28M files for ImageNet's).

// PreparedDir is the folder of the prepared copies inside ImageNet's root.
const PreparedDir = "prepared"

const (
	preparedMagic = "rst-imagenet-prepared 1 sha256="
	preparedIndex = "index"
	XX
	preparedQuality   = 90
	preparedMaxSideLo = 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// preparedPerShard is the images a shard holds: 100–400 MB of ImageNet's
// at the usual sides (a variable for the tests).
var preparedPerShard = 4096

// preparedIndexData is the index's JSON.
type preparedIndexData struct {
	MaxSide int      `json:"max_side"`
	Quality int      `json:"quality"`
	Source  FileSum  `json:"source"` // the original split's manifest
	Classes []string `json:"classes"`
	Shards  []int64  `json:"shard_bytes"`
	// Per image, in sample order; Size 0: the original was unreadable
	// (prepared with --on-corrupt skip).
	Rel    []string `json:"rel"`
	Label  []int32  `json:"label"`
	Shard  []int32  `json:"shard"`
	Offset []int64  `json:"offset"`
	Size   []int32  `json:"size"`
	CRC    []uint32 `json:"crc32c"`
	// Why each unreadable original was, by sample.
	Bad map[int]string `json:"bad,omitempty"`
}

// preparedSplit is an opened prepared copy.
type preparedSplit struct {
	dir    string
	idx    preparedIndexData
	sum    string // the index's SHA-256
	mu     sync.Mutex
	shards []*os.File // opened on first read
}

func shardName(k int) string { return fmt.Sprintf("shard-%05d.bin", k) }

// writeChecked writes body under path atomically (a temporary file,
// synced, renamed), behind the checksummed header line.
func writeChecked(path string, body []byte) error {
	sum := sha256.Sum256(body)
	// A name of its own: two processes may write the same file at once.
	fh, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := fh.Name()
	defer os.Remove(tmp) // after a failure; gone after the rename
	w := bufio.NewWriter(fh)
	fmt.Fprintf(w, "%s%s\n", preparedMagic, hex.EncodeToString(sum[:]))
	w.Write(body)
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readChecked reads a file writeChecked wrote and returns its body and
// checksum; a missing header or a wrong checksum is an error.
func readChecked(path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	line, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte(preparedMagic)) {
		return nil, "", errors.New("it does not start with the prepared copy's header line")
	}
	want := string(line[len(preparedMagic):])
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, "", fmt.Errorf("its contents' SHA-256 is %s, not the %s its header records (truncated or changed)", got, want)
	}
	return body, want, nil
}

// openPrepared opens the prepared copy in dir; (nil, nil) when there is
// none (no index).
func openPrepared(dir string) (*preparedSplit, error) {
	p := filepath.Join(dir, preparedIndex)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	fix := fmt.Sprintf("fix: delete %s and run rst data prepare imagenet again, or delete it to read the folder", dir)
	body, sum, err := readChecked(p)
	if err != nil {
		return nil, fmt.Errorf("imagenet: the prepared copy's index %s is damaged: %v; %s", p, err, fix)
	}
	ps := &preparedSplit{dir: dir, sum: sum}
	if err := json.Unmarshal(body, &ps.idx); err != nil {
		return nil, fmt.Errorf("imagenet: the prepared copy's index %s is damaged: %v; %s", p, err, fix)
	}
	x := &ps.idx
	n := len(x.Rel)
	if len(x.Classes) == 0 || n == 0 || len(x.Label) != n || len(x.Shard) != n || len(x.Offset) != n || len(x.Size) != n || len(x.CRC) != n {
		return nil, fmt.Errorf("imagenet: the prepared copy's index %s is inconsistent (%d classes, %d images, column lengths differ); %s", p, len(x.Classes), n, fix)
	}
	for i := range n {
		s := int(x.Shard[i])
		if s < 0 || s >= len(x.Shards) || x.Offset[i] < 0 || x.Size[i] < 0 || x.Offset[i]+int64(x.Size[i]) > x.Shards[s] ||
			x.Label[i] < 0 || int(x.Label[i]) >= len(x.Classes) || (i > 0 && x.Label[i] < x.Label[i-1]) {
			return nil, fmt.Errorf("imagenet: the prepared copy's index %s is inconsistent at image %d (%s); %s", p, i, x.Rel[i], fix)
		}
	}
	for k, want := range x.Shards {
		sp := filepath.Join(dir, shardName(k))
		st, err := os.Stat(sp)
		if err != nil {
			return nil, fmt.Errorf("imagenet: the prepared copy's shard %s: %v; %s", sp, bareErr(err), fix)
		}
		if st.Size() != want {
			return nil, fmt.Errorf("imagenet: the prepared copy's shard %s has %d bytes; its index records %d (truncated or changed); %s", sp, st.Size(), want, fix)
		}
	}
	ps.shards = make([]*os.File, len(x.Shards))
	return ps, nil
}

// read reads image i's bytes into sc.file and checks its CRC-32C.
func (ps *preparedSplit) read(sc *folderScratch, i int) error {
	x := &ps.idx
	if x.Size[i] == 0 {
		why := x.Bad[i]
		if why == "" {
			why = "unreadable"
		}
		return fmt.Errorf("the original was unreadable when the copy was prepared (%s)", why)
	}
	s := int(x.Shard[i])
	ps.mu.Lock()
	fh := ps.shards[s]
	if fh == nil {
		var err error
		if fh, err = os.Open(filepath.Join(ps.dir, shardName(s))); err != nil {
			ps.mu.Unlock()
			return fmt.Errorf("the prepared copy's shard: %v", err)
		}
		ps.shards[s] = fh
	}
	ps.mu.Unlock()
	sc.file = growTo(sc.file, int(x.Size[i]))
	if _, err := fh.ReadAt(sc.file, x.Offset[i]); err != nil {
		return fmt.Errorf("the prepared copy's shard %s at %d: %v", fh.Name(), x.Offset[i], bareErr(err))
	}
	if crc32.Checksum(sc.file, castagnoli) != x.CRC[i] {
		return fmt.Errorf("the prepared copy's shard %s is damaged at bytes %d..%d (CRC-32C mismatch); fix: delete %s and run rst data prepare imagenet again", fh.Name(), x.Offset[i], x.Offset[i]+int64(x.Size[i]), ps.dir)
	}
	return nil
}

// openPreparedFolder makes a Folder over a prepared copy, which reads its
// listing from the index: the split's folder is not listed.
func openPreparedFolder(ps *preparedSplit, classes []string, opt FolderOptions) (*Folder, error) {
	opt, err := resolveFolderOptions(opt)
	if err != nil {
		return nil, err
	}
	x := &ps.idx
	if classes != nil && strings.Join(classes, "\x00") != strings.Join(x.Classes, "\x00") {
		return nil, fmt.Errorf("imagenet: the prepared copy %s has other classes than the training split (%d against %d); fix: prepare both splits from the same folders", ps.dir, len(x.Classes), len(classes))
	}
	f := &Folder{dir: x.Source.Path, classes: append([]string(nil), x.Classes...), opt: opt, skip: opt.OnCorrupt == OnCorruptSkip, skipped: map[int]string{}, prep: ps}
	f.labels = x.Label
	f.classStart = make([]int, len(x.Classes)+1)
	for _, l := range x.Label {
		f.classStart[l+1]++
	}
	for c := range x.Classes {
		f.classStart[c+1] += f.classStart[c]
	}
	for _, r := range x.Rel {
		f.names = append(f.names, r...)
		f.ends = append(f.ends, uint32(len(f.names)))
	}
	var total int64
	for _, b := range x.Shards {
		total += b
	}
	f.manifest = FileSum{Path: ps.dir, SHA256: ps.sum, Bytes: total}
	f.finishOpen()
	return f, nil
}

// PreparedFrom is the prepared copy's source: the original split's
// manifest and the longer side it was bounded to; ok is false for a
// Folder that reads its folder.
func (f *Folder) PreparedFrom() (source FileSum, maxSide int, ok bool) {
	if f.prep == nil {
		return FileSum{}, 0, false
	}
	return f.prep.idx.Source, f.prep.idx.MaxSide, true
}

// PreparedComplete reports whether dst holds a complete prepared copy; a
// damaged one is an error naming it.
func PreparedComplete(dst string) (bool, error) {
	ps, err := openPrepared(dst)
	return ps != nil, err
}

// PrepareOptions configures PrepareSplit.
type PrepareOptions struct {
	MaxSide   int    // the longer side's bound, in pixels
	OnCorrupt string // OnCorruptFail ("") or OnCorruptSkip (recorded; the loader substitutes)
	Workers   int    // decode/encode goroutines; 0: GOMAXPROCS
	Progress  func(done, total int)
}

// PrepareSplit writes the prepared copy of the split in src into dst
// (resuming a stopped one there; an existing complete copy is an error).
// classes is as for OpenFolder.
func PrepareSplit(src, dst string, classes []string, opt PrepareOptions) error {
	if opt.MaxSide < preparedMaxSideLo || opt.MaxSide > 1<<14 {
		return fmt.Errorf("imagenet: --max-side %d; want %d..%d (FFCV-style copies use 256–512)", opt.MaxSide, preparedMaxSideLo, 1<<14)
	}
	if _, err := os.Stat(filepath.Join(dst, preparedIndex)); err == nil {
		return fmt.Errorf("imagenet: %s already holds a prepared copy; fix: delete it first to prepare it again", dst)
	}
	f, err := OpenFolder(src, classes, FolderOptions{Workers: opt.Workers, OnCorrupt: opt.OnCorrupt})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("imagenet: cannot make %s: %v", dst, err)
	}
	n := f.Len()
	nShards := (n + preparedPerShard - 1) / preparedPerShard
	x := preparedIndexData{MaxSide: opt.MaxSide, Quality: preparedQuality, Source: f.Manifest(), Classes: f.Classes(),
		Shards: make([]int64, nShards), Rel: make([]string, n), Label: f.Labels(), Shard: make([]int32, n),
		Offset: make([]int64, n), Size: make([]int32, n), CRC: make([]uint32, n), Bad: map[int]string{}}
	for i := range n {
		x.Rel[i] = f.rel(i)
	}
	for k := range nShards {
		lo, hi := k*preparedPerShard, min((k+1)*preparedPerShard, n)
		if ok := resumeShard(dst, k, lo, hi, &x); ok {
			if opt.Progress != nil {
				opt.Progress(hi, n)
			}
			continue
		}
		if err := writeShard(f, dst, k, lo, hi, &x, opt); err != nil {
			return err
		}
		if opt.Progress != nil {
			opt.Progress(hi, n)
		}
	}
	body, err := json.Marshal(&x)
	if err != nil {
		return err
	}
	if err := writeChecked(filepath.Join(dst, preparedIndex), body); err != nil {
		return fmt.Errorf("imagenet: cannot write %s: %v", filepath.Join(dst, preparedIndex), err)
	}
	for k := range nShards {
		os.Remove(filepath.Join(dst, partName(k))) // the index holds them now
	}
	return nil
}

func partName(k int) string { return fmt.Sprintf("shard-%05d.part", k) }

// shardPart is a shard's entries, written beside it once it is complete.
type shardPart struct {
	MaxSide int
	Lo, Hi  int
	Rel     []string
	Bytes   int64
	Size    []int32
	CRC     []uint32
	Bad     map[int]string
}

// resumeShard takes shard k from an earlier run when its part index
// verifies, is for the same --max-side, covers the same images and the
// shard has its size.
func resumeShard(dst string, k, lo, hi int, x *preparedIndexData) bool {
	body, _, err := readChecked(filepath.Join(dst, partName(k)))
	if err != nil {
		return false
	}
	var p shardPart
	if json.Unmarshal(body, &p) != nil || p.MaxSide != x.MaxSide || p.Lo != lo || p.Hi != hi || len(p.Size) != hi-lo || len(p.CRC) != hi-lo || len(p.Rel) != hi-lo {
		return false
	}
	for j := range p.Rel {
		if p.Rel[j] != x.Rel[lo+j] {
			return false
		}
	}
	st, err := os.Stat(filepath.Join(dst, shardName(k)))
	if err != nil || st.Size() != p.Bytes {
		return false
	}
	fillShard(x, k, lo, &p)
	return true
}

func fillShard(x *preparedIndexData, k, lo int, p *shardPart) {
	off := int64(0)
	for j := range p.Size {
		i := lo + j
		x.Shard[i], x.Offset[i], x.Size[i], x.CRC[i] = int32(k), off, p.Size[j], p.CRC[j]
		off += int64(p.Size[j])
	}
	for i, why := range p.Bad {
		x.Bad[i] = why
	}
	x.Shards[k] = p.Bytes
}

// writeShard prepares images lo..hi-1 into shard k.
func writeShard(f *Folder, dst string, k, lo, hi int, x *preparedIndexData, opt PrepareOptions) error {
	out := make([][]byte, hi-lo)
	errs := make([]error, hi-lo)
	var next sync.Mutex
	cur := lo
	var wg sync.WaitGroup
	for range f.opt.Workers {
		wg.Go(func() {
			sc := new(folderScratch)
			for {
				next.Lock()
				i := cur
				cur++
				next.Unlock()
				if i >= hi {
					return
				}
				out[i-lo], errs[i-lo] = f.prepareOne(sc, i, opt.MaxSide)
			}
		})
	}
	wg.Wait()
	p := shardPart{MaxSide: opt.MaxSide, Lo: lo, Hi: hi, Rel: x.Rel[lo:hi], Size: make([]int32, hi-lo), CRC: make([]uint32, hi-lo), Bad: map[int]string{}}
	sp := filepath.Join(dst, shardName(k))
	fh, err := os.Create(sp + ".tmp")
	if err != nil {
		return fmt.Errorf("imagenet: cannot write %s: %v", sp, err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	for j, b := range out {
		if errs[j] != nil {
			if opt.OnCorrupt != OnCorruptSkip {
				fh.Close()
				return fmt.Errorf("imagenet: cannot read image %s: %v; fix: replace it with a good copy or delete it, or prepare with --on-corrupt skip (the loader then substitutes its class's next readable image)", f.Path(lo+j), errs[j])
			}
			note("imagenet: %s is unreadable (%v); recorded in the prepared copy as such", f.Path(lo+j), errs[j])
			p.Bad[lo+j] = errs[j].Error()
			continue
		}
		w.Write(b)
		p.Size[j], p.CRC[j] = int32(len(b)), crc32.Checksum(b, castagnoli)
		p.Bytes += int64(len(b))
	}
	if err := w.Flush(); err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(sp+".tmp", sp)
	}
	if err != nil {
		return fmt.Errorf("imagenet: cannot write %s: %v", sp, err)
	}
	body, err := json.Marshal(&p)
	if err == nil {
		err = writeChecked(filepath.Join(dst, partName(k)), body)
	}
	if err != nil {
		return fmt.Errorf("imagenet: cannot write %s: %v", filepath.Join(dst, partName(k)), err)
	}
	fillShard(x, k, lo, &p)
	return nil
}

// prepareOne is image i's bytes in the prepared copy: the file itself when
// it is a JPEG (not CMYK) whose longer side is at most maxSide, otherwise
// the image resized (the loader's antialiased bilinear resize) so that its
// longer side is maxSide, encoded as a quality-90 JPEG.
func (f *Folder) prepareOne(sc *folderScratch, i, maxSide int) ([]byte, error) {
	img, err := f.decode(sc, i, nil)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(sc.file, jpegMagic) && max(img.w, img.h) <= maxSide {
		if _, isCMYK := img.img.(*image.CMYK); !isCMYK {
			return append([]byte(nil), sc.file...), nil
		}
	}
	ow, oh := img.w, img.h
	if max(ow, oh) > maxSide {
		if ow >= oh {
			ow, oh = maxSide, max(1, roundHalfEven(float64(oh)*float64(maxSide)/float64(ow)))
		} else {
			ow, oh = max(1, roundHalfEven(float64(ow)*float64(maxSide)/float64(oh))), maxSide
		}
	}
	rgb := f.resizeRGB(sc, img, ow, oh)
	m := rgbToImage(ow, oh, rgb)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: preparedQuality}); err != nil {
		return nil, fmt.Errorf("re-encoding: %v", err)
	}
	return buf.Bytes(), nil
}

// resizeRGB resizes the whole of img to ow×oh RGB bytes with render's
// passes (through an identity table), in square windows of the output.
func (f *Folder) resizeRGB(sc *folderScratch, img decoded, ow, oh int) []byte {
	S := min(ow, oh, 256)
	g := &Folder{opt: FolderOptions{Size: S}, goResize: f.goResize}
	for c := range 3 {
		for b := range 256 {
			g.lut[c*256+b] = float32(b)
		}
	}
	out := make([]byte, ow*oh*3)
	tile := make([]float32, S*S*3)
	for ty := 0; ty < oh; ty += S {
		for tx := 0; tx < ow; tx += S {
			// The last windows overlap the ones before: the same pixels.
			x0, y0 := min(tx, ow-S), min(ty, oh-S)
			g.render(sc, tile, img, cropBox{0, 0, img.w, img.h}, ow, oh, x0, y0, false)
			for y := range S {
				for x := range S {
					o, t := ((y0+y)*ow+x0+x)*3, (y*S+x)*3
					out[o], out[o+1], out[o+2] = byte(tile[t]), byte(tile[t+1]), byte(tile[t+2])
				}
			}
		}
	}
	return out
}

// rgbToImage wraps RGB bytes as an opaque *image.RGBA, for the encoder.
func rgbToImage(w, h int, rgb []byte) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := range w * h {
		copy(m.Pix[4*p:4*p+3], rgb[3*p:3*p+3])
		m.Pix[4*p+3] = 255
	}
	return m
}
