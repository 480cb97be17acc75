package durable

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing %s: %w", path, err)
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
		return fmt.Errorf("cannot create the folder %s for %s: %w; choose a writable path", dir, path, err)
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
		return fmt.Errorf("cannot write in %s (for %s): %w; choose a writable path", filepath.Dir(path), path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
