// Command rst is the suite's one command-line program: train, bench, data,
// theory and version. Each subcommand lives in its own file and registers
// itself in init, so that the pieces of the suite stay independent.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: run receives the arguments after its name and
// returns an error for anything a user can get wrong.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// exitError is an error whose message is already complete and whose exit
// status is not the usual 1 (130 after an interrupt, as shells report
// SIGINT).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// parseFlags parses args into fs. A bad flag or value gets its one-line
// error and a pointer to -h, not the list of every flag (which buries the
// error); -h alone prints the list.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		if fs.Usage != nil {
			fs.Usage()
		} else {
			fmt.Fprintf(os.Stderr, "usage of rst %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return err
	case err != nil:
		return fmt.Errorf("%v; run `rst %s -h` for the flags", err, fs.Name())
	}
	return nil
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: rst COMMAND [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\n'rst COMMAND -h' shows a command's flags.\n")
}

func main() {
	useBLASEnv()
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "rst: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "rst %s: %v\n", os.Args[1], err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
