package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rst-bench/rst/theory"
)

func init() {
	register("theory", "check the paper's theorems numerically and write tables and plots", runTheory)
}

// runTheory runs every numerical check of the theory package and writes its
// Markdown tables and PNG/SVG plots.
func runTheory(args []string) error {
	fs := flag.NewFlagSet("theory", flag.ContinueOnError)
	out := fs.String("out", "theory/out", "directory for README.md and the plots")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return theory.WriteReport(*out, os.Stderr)
}
