package data

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Throughput of the folder loader on ImageNet-like files.
const (
	benchClasses  = 4
	benchPerClass = 64 // 256 images
	benchW        = 500
	benchH        = 375 // ImageNet's most common size
	benchQuality  = 90
	benchBatch    = 64
)

// benchFolder, when set, has TestWriteBenchFolder write the benchmark's
// folder there, for the torchvision peer (bench/peer/input_peer.py) to read
// the same files.
var benchFolder = flag.String("bench-folder", "", "TestWriteBenchFolder writes BenchmarkFolderFillBatch's images into this folder")

// TestWriteBenchFolder writes the benchmark's images into -bench-folder
// (skipped without it):
//
//	go test -run TestWriteBenchFolder ./suite/data/ -args -bench-folder /tmp/bench-imagenet
func TestWriteBenchFolder(t *testing.T) {
	if *benchFolder == "" {
		t.Skip("no -bench-folder")
	}
	kb := writeBenchFolder(t, *benchFolder)
	t.Logf("%d images, %.1f KB each on average, in %s", benchClasses*benchPerClass, kb, *benchFolder)
}

// writeBenchFolder writes benchClasses×benchPerClass synthetic 500×375
// photos at quality 90 (about 100 KB each, as ImageNet's files) into dir,
// on all cores, and returns their mean size in KB.
func writeBenchFolder(b testing.TB, dir string) float64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var total int64
	jobs := make(chan [2]int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				c, i := j[0], j[1]
				class := fmt.Sprintf("n%08d", c)
				data, err := EncodeJPEG(SyntheticPhoto(benchW, benchH, c, false, 34, 1, i), benchQuality)
				if err == nil {
					err = writeFile(filepath.Join(dir, class, fmt.Sprintf("%s_%d.JPEG", class, i)), data)
				}
				mu.Lock()
				total += int64(len(data))
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for c := range benchClasses {
		for i := range benchPerClass {
			jobs <- [2]int{c, i}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return float64(total) / (benchClasses * benchPerClass) / 1000
}

// BenchmarkFolderFillBatch measures FillBatch at 224 on 256 synthetic
// ImageNet-size JPEGs (500×375, quality 90, about 100 KB each, written once
// into a temporary folder): batches of 64 in epoch order, the training
// transform with 1 and 2 decode workers and the evaluation transform with
// 1; and the training transform on prepared copies of the folder (rst data
// prepare imagenet) with the longer side bounded to 320 and to 256 pixels.
// It reports decoded, transformed images per second of wall time, the
// same per core used (workers, at most GOMAXPROCS), and per second of the
// process's CPU time (images/cpu-s: per core, but not lowered by other
// processes competing for the cores, and counting the garbage collector's
// work), and the user and system parts of that CPU time per 1000 images.
// Run:
//
//	go test [-tags turbojpeg] -run '^$' -bench BenchmarkFolderFillBatch -benchtime 20x ./suite/data/
//
// The files stay in the page cache after they are written, so this is the
// decoder's and the transform's speed, not the disk's.
func BenchmarkFolderFillBatch(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "train")
	kb := writeBenchFolder(b, dir)
	for _, c := range []struct {
		name    string
		train   bool
		workers int
		maxSide int // read a prepared copy with this bound (0: the folder)
	}{
		{"train/workers=1", true, 1, 0},
		{"train/workers=2", true, 2, 0},
		{"eval/workers=1", false, 1, 0},
		{"prepared-320/train/workers=1", true, 1, 320},
		{"prepared-256/train/workers=1", true, 1, 256},
	} {
		b.Run(c.name, func(b *testing.B) {
			opt := FolderOptions{Size: ImageNetSize, Train: c.train, Workers: c.workers}
			var f *Folder
			var err error
			if c.maxSide > 0 {
				pdir := filepath.Join(dir, "..", fmt.Sprintf("prepared-%d", c.maxSide))
				if _, serr := os.Stat(pdir); serr != nil {
					err = PrepareSplit(dir, pdir, nil, PrepareOptions{MaxSide: c.maxSide})
				}
				var ps *preparedSplit
				if err == nil {
					ps, err = openPrepared(pdir)
				}
				if err == nil {
					f, err = openPreparedFolder(ps, nil, opt)
				}
			} else {
				f, err = OpenFolder(dir, nil, opt)
			}
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, benchBatch*f.ImageSize())
			labels := make([]int32, benchBatch)
			perEpoch := f.Len() / benchBatch
			var order []int
			b.ReportAllocs()
			n := 0
			cpu0 := processCPUTime()
			user0, sys0 := processCPUTimes()
			for b.Loop() {
				epoch, k := n/perEpoch, n%perEpoch
				if k == 0 {
					order = Order(f.Len(), 1, epoch)
				}
				if err := f.FillBatch(dst, labels, order[k*benchBatch:(k+1)*benchBatch], 1, epoch); err != nil {
					b.Fatal(err)
				}
				n++
			}
			cpu := processCPUTime() - cpu0
			user1, sys1 := processCPUTimes()
			// The loop's user and system CPU seconds per 1000 images.
			b.ReportMetric((user1-user0).Seconds()/float64(n*benchBatch)*1000, "user-s/kimage")
			b.ReportMetric((sys1-sys0).Seconds()/float64(n*benchBatch)*1000, "sys-s/kimage")
			perSec := float64(n*benchBatch) / b.Elapsed().Seconds()
			b.ReportMetric(perSec, "images/s")
			b.ReportMetric(perSec/float64(min(c.workers, runtime.GOMAXPROCS(0))), "images/s/core")
			if cpu > 0 {
				// Robust to other processes sharing the cores: what the
				// work cost in CPU time, the garbage collector's included.
				b.ReportMetric(float64(n*benchBatch)/cpu.Seconds(), "images/cpu-s")
			}
			if f.prep != nil {
				b.ReportMetric(float64(f.Manifest().Bytes)/float64(f.Len())/1000, "KB/file")
			} else {
				b.ReportMetric(kb, "KB/file")
			}
			b.ReportMetric(0, "ns/op") // a batch's time is in images/s
		})
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTurboDecode splits a 500×375 q90 file's decode (the
// benchmark folder's kind) into what each part costs, in CPU µs an image:
// a whole decode at full size and at 1/8; the training transform's
// regions (the draws of 256 samples, each region read alone, as after a
// file's first epoch); and the last row at 1/8, which skips the inverse DCT
// of all but one row of blocks and so costs about what entropy decoding
// the whole file does, the part of a decode no scale or region saves.
//
//	go test -tags turbojpeg -run '^$' -bench BenchmarkTurboDecode ./suite/data/
func BenchmarkTurboDecode(b *testing.B) {
	if !turboJPEG {
		b.Skip("built without libjpeg-turbo (-tags turbojpeg)")
	}
	file, err := EncodeJPEG(SyntheticPhoto(benchW, benchH, 1, false, 34, 1, 0), benchQuality)
	if err != nil {
		b.Fatal(err)
	}
	f := &Folder{opt: FolderOptions{Size: ImageNetSize, Train: true}}
	type region struct{ num, x0, y0, x1, y1 int }
	var train []region
	sc := &folderScratch{file: file}
	for i := range 256 {
		g := f.geometry(benchW, benchH, 1, 0, i)
		num := turboScale(benchW, benchH, dctScale(g))
		r := f.plan(sc, scaledSide(benchW, num), scaledSide(benchH, num), num, g.box, g.outW, g.outH, g.ox, g.oy)
		train = append(train, region{num, r.x0, r.y0, r.x1, r.y1})
	}
	last := region{1, 0, scaledSide(benchH, 1) - 1, scaledSide(benchW, 1), scaledSide(benchH, 1)}
	for _, c := range []struct {
		name   string
		decode func(i int) bool
	}{
		{"whole-8of8", func(int) bool { _, ok := turboDecode(sc, benchW, benchH, 8); return ok }},
		{"whole-1of8", func(int) bool { _, ok := turboDecode(sc, benchW, benchH, 1); return ok }},
		{"train-regions", func(i int) bool {
			r := train[i%len(train)]
			_, ok := turboDecodeRegion(sc, benchW, benchH, r.num, r.x0, r.y0, r.x1, r.y1, false)
			return ok
		}},
		{"train-regions-checked", func(i int) bool {
			r := train[i%len(train)]
			_, ok := turboDecodeRegion(sc, benchW, benchH, r.num, r.x0, r.y0, r.x1, r.y1, true)
			return ok
		}},
		{"last-row-1of8", func(int) bool {
			_, ok := turboDecodeRegion(sc, benchW, benchH, last.num, last.x0, last.y0, last.x1, last.y1, false)
			return ok
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			cpu0 := processCPUTime()
			for b.Loop() {
				if !c.decode(i) {
					b.Fatal("decode failed")
				}
				i++
			}
			b.ReportMetric(float64((processCPUTime()-cpu0).Microseconds())/float64(i), "cpu-µs/image")
			b.ReportMetric(float64(len(file))/1000, "KB/file")
		})
	}
}
