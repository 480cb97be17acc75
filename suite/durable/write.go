package durable

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// file is what WriteFile needs of a temporary file; tests replace
// createTemp to simulate a full disk or a failing sync.
type file interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

var createTemp = func(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }

// WriteFile replaces path with what write produces, atomically: the bytes
// go to a temporary file in the same folder, which is synced, closed and
// renamed over path, and the folder is synced so the rename survives a
// power cut. On any failure the temporary file is removed, path keeps its
// old content (or stays absent), and the error names path.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := createTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return withHint(fmt.Errorf("writing %s: %w", path, err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = withHint(fmt.Errorf("writing %s: %w", path, err))
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// WriteBytes is WriteFile for bytes already in memory.
func WriteBytes(path string, b []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// syncDir makes a rename in dir durable. Some filesystems refuse to sync a
// folder; the rename itself has happened, so that is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// EnsureDir creates the folder that will hold path, so that a run can check
// before it starts that its outputs can be written. The error names the
// folder and says what to do.
func EnsureDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the folder %s for %s: %w; choose a writable path%s", dir, path, err, also(err))
	}
	return nil
}

// CheckWritable creates the folder of path and proves that a file can be
// created there, so a run fails at its start rather than after hours of
// training.
func CheckWritable(path string) error {
	if err := EnsureDir(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.probe")
	if err != nil {
		return fmt.Errorf("cannot write in %s (for %s): %w; choose a writable path%s", filepath.Dir(path), path, err, also(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// CheckDir checks, creating nothing, that dir is a folder this process can
// write in, or could be created: dir itself when it exists, else the
// nearest folder above it that exists. A command checks its outputs this
// way before it starts work, so that a refusal leaves no trace.
func CheckDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			if p == filepath.Clean(dir) {
				return fmt.Errorf("%s is a file, not a folder: choose another folder", dir)
			}
			return fmt.Errorf("cannot create the folder %s: %s is a file: choose another folder", dir, p)
		case err == nil:
			if err := syscall.Access(p, 2 /* W_OK */); err != nil {
				return fmt.Errorf("cannot write in %s: %w; choose a writable folder%s", p, err, also(err))
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			// ENOTDIR: a file stands higher up, which the walk up names.
			return fmt.Errorf("cannot use the folder %s: %w; choose another folder%s", dir, err, also(err))
		}
		up := filepath.Dir(p)
		if up == p {
			return fmt.Errorf("cannot create the folder %s: no folder above it exists", dir)
		}
		p = up
	}
}
