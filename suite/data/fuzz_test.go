package data

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// The fuzz targets run as ordinary tests on their seeds (and on any
// failing input kept in testdata/fuzz/); to search for new inputs:
//
//	go test -run '^$' -fuzz FuzzIdx -fuzztime 60s -parallel 1 ./suite/data
//	go test -run '^$' -fuzz FuzzCIFAR -fuzztime 60s -parallel 1 ./suite/data

// testdataFiles returns the committed test files under testdata/folder.
func testdataFiles(f *testing.F, folder string) [][]byte {
	entries, err := os.ReadDir(filepath.Join(testdataRoot, folder))
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(testdataRoot, folder, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzIdx: any bytes give an error or a result that agrees with itself
// (dimensions as asked, data as long as they declare, the same result from
// the re-encoded content), never a panic; memory follows the bytes present.
// The seeds are the committed idx files cut down to 2 samples of 4×4
// pixels, raw and gzipped: the fuzzer minimises each new input in time
// quadratic in its length, so small seeds keep it fuzzing rather than
// minimising.
func FuzzIdx(f *testing.F) {
	for _, folder := range []string{"mnist", "fashion-mnist"} {
		for _, name := range MNISTFiles {
			p, err := findIdx(filepath.Join(testdataRoot, folder), name)
			if err != nil {
				f.Fatal(err)
			}
			want := 1
			if name == MNISTTrainImages || name == MNISTTestImages {
				want = 3
			}
			_, data, _, err := mnistData.readIdx(p, want, "")
			if err != nil {
				f.Fatal(err)
			}
			var seed []byte
			if want == 3 {
				var crop []byte
				for i := range 2 {
					for y := range 4 {
						crop = append(crop, data[i*784+y*28:i*784+y*28+4]...)
					}
				}
				seed = idxBytes(0x803, []uint32{2, 4, 4}, crop)
			} else {
				seed = idxBytes(0x801, []uint32{2}, data[:2])
			}
			f.Add(seed, want == 3)
			f.Add(gzipped(seed), want == 3)
		}
	}
	f.Add(idxBytes(0x803, []uint32{1 << 15, 1 << 15, 2}, []byte{1}), true) // lying header
	f.Add(gzipped(idxBytes(0x801, []uint32{1 << 30}, nil)), false)
	f.Fuzz(func(t *testing.T, b []byte, images bool) {
		want := 1
		if images {
			want = 3
		}
		dims, data, err := decodeIdx(bytes.NewReader(b), want)
		if err != nil {
			if dims != nil || data != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if len(dims) != want {
			t.Fatalf("%d dimensions, want %d", len(dims), want)
		}
		n := 1
		for _, d := range dims {
			if d <= 0 {
				t.Fatalf("dimension %d in %v", d, dims)
			}
			n *= d
		}
		if n != len(data) {
			t.Fatalf("dims %v but %d bytes", dims, len(data))
		}
		enc := binary.BigEndian.AppendUint32(nil, uint32(idxUbyte)<<8|uint32(want))
		for _, d := range dims {
			enc = binary.BigEndian.AppendUint32(enc, uint32(d))
		}
		enc = append(enc, data...)
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			if !bytes.Equal(enc, b) {
				t.Fatal("a raw file that parses is not header + data")
			}
		}
		// A gzipped input decodes to what its content, re-encoded, decodes to.
		dims2, data2, err := decodeIdx(bytes.NewReader(enc), want)
		if err != nil || !bytes.Equal(data2, data) || !slices.Equal(dims2, dims) {
			t.Fatalf("re-encoded file: %v", err)
		}
	})
}

// FuzzCIFAR: the record parser gives an error or images whose planes and
// labels are those of the records, never a panic. It parses records of 2×2
// images: the same code as for the files' 32×32 ones (TestCIFARPlaneOrder
// and the loaders' tests cover those), on inputs small enough that the
// fuzzer's minimisation of each new input (quadratic in its length) takes
// moments instead of the whole run. The seeds are the committed files'
// records cut down to their first 2×2 pixels of each plane.
func FuzzCIFAR(f *testing.F) {
	shrink := func(b []byte, labelBytes int) []byte {
		full := cifarRecord{labelBytes, cifarPlane}
		var out []byte
		for i := 0; i+full.size() <= len(b); i += full.size() {
			rec := b[i : i+full.size()]
			out = append(out, rec[:labelBytes]...)
			for c := range 3 {
				p := rec[labelBytes+c*cifarPlane:]
				out = append(out, p[0], p[1], p[cifarSide], p[cifarSide+1])
			}
		}
		return out
	}
	for _, b := range testdataFiles(f, CIFAR10Dir) {
		f.Add(shrink(b, 1), false)
	}
	for _, b := range testdataFiles(f, CIFAR100Dir) {
		f.Add(shrink(b, 2), true)
	}
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, hundred bool) {
		r, classes := cifarRecord{labelBytes: 1, plane: 4}, 10
		if hundred {
			r.labelBytes, classes = 2, 100
		}
		n, err := r.count(len(b))
		if err != nil {
			if n != 0 || (len(b) > 0 && len(b)%r.size() == 0) {
				t.Fatalf("%d bytes: %v, n = %d", len(b), err, n)
			}
			return
		}
		img := 3 * r.plane
		pix, lab := make([]uint8, n*img), make([]int32, n)
		if err := r.decode(pix, lab, b, classes); err != nil {
			return
		}
		planar := make([]byte, img)
		for i := range n {
			rec := b[i*r.size() : (i+1)*r.size()]
			if lab[i] != int32(rec[r.labelBytes-1]) || lab[i] >= int32(classes) || (hundred && rec[0] >= 20) {
				t.Fatalf("record %d: label %d from bytes %v", i, lab[i], rec[:r.labelBytes])
			}
			hwcToPlanar(planar, pix[i*img:(i+1)*img], r.plane)
			if !bytes.Equal(planar, rec[r.labelBytes:]) {
				t.Fatalf("record %d: pixels differ from its planes", i)
			}
		}
	})
}

// TestIdxLyingHeaderAllocatesLittle: a header declaring 2 GiB over a few
// bytes of data is an error that costs about what the bytes do, not 2 GiB.
func TestIdxLyingHeaderAllocatesLittle(t *testing.T) {
	for _, b := range [][]byte{
		idxBytes(0x803, []uint32{1 << 11, 1 << 10, 1 << 10}, make([]byte, 100)),
		gzipped(idxBytes(0x803, []uint32{1 << 11, 1 << 10, 1 << 10}, make([]byte, 100))),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := decodeIdx(bytes.NewReader(b), 3)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("no error")
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%v: allocated %d bytes", err, grew)
		}
	}
}
