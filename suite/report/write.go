package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// validName keeps file names portable and usable as a LaTeX label:
// "table1", "figure5_heat", "table6-cutout".
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func checkName(kind, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("report: %s name %q is not usable as a file name; use letters, digits, '.', '_' and '-' (e.g. \"table1\")", kind, name)
	}
	return nil
}

// writeFiles writes each name → content pair into dir atomically: each
// goes to a temporary file in dir, is closed, then renamed over the
// target. A reader never sees half a file, and a failure removes the
// temporary file. dir is created when missing.
func writeFiles(dir string, files []namedBytes) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: output directory: %w", err)
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

type namedBytes struct {
	name string
	data []byte
}

func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("report: writing %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; results are meant to be shared.
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
