package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/rst-bench/rst/suite/durable"
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

// writeFiles writes each name → content pair into dir atomically (through
// durable.WriteBytes: a reader never sees half a file, and a failure
// leaves no temporary file). dir is created when missing.
func writeFiles(dir string, files []namedBytes) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: output directory: %w", err)
	}
	for _, f := range files {
		if err := durable.WriteBytes(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

type namedBytes struct {
	name string
	data []byte
}
