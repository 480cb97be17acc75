package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/store"
)

func init() {
	register("claims", "check the paper's qualitative claims on the store: reproduced, not reproduced or inconclusive, with statistics", runClaims)
}

// runClaims checks every claim of experiments.Claims on one profile's
// store, prints the verdicts and writes them to TABLES/PROFILE/claims.*.
// It never trains: a claim whose runs are missing is inconclusive.
func runClaims(args []string) error {
	fs := flag.NewFlagSet("claims", flag.ContinueOnError)
	profile := fs.String("profile", "cpu", "whose store to check: "+strings.Join(experiments.ProfileNames, ", "))
	results := fs.String("results", defaultResults(), "the store of run records (default $RST_RESULTS or results)")
	tables := fs.String("tables", "", "where claims.{md,csv,tex} go, in a PROFILE subfolder (default: the repository's tables/ for its own store results/, else RESULTS/tables)")
	seeds := fs.Int("seeds", 0, "seeds 1..N (0 = the profile's defaults)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("rst claims takes no arguments (got %q); choose the store with --profile and --results", fs.Args())
	}
	p, err := experiments.LookupProfile(*profile)
	if err != nil {
		return err
	}
	if *seeds < 0 {
		return fmt.Errorf("--seeds %d: want a positive number of seeds, or 0 for the profile's defaults", *seeds)
	}
	if _, err := os.Stat(*results); err != nil {
		return fmt.Errorf("--results %s: %w (give the folder that holds PROFILE/runs/)", *results, err)
	}
	st, err := store.At(*results)
	if err != nil {
		return err
	}
	// The same rule as rst render's: the repository's tables/ for its own
	// store, a folder inside any other store, so a scratch store's claims
	// never overwrite the committed ones.
	f := &expFlags{tables: *tables, figures: os.DevNull}
	out, _ := f.outputs(st, p)
	if err := durable.CheckDir(out); err != nil {
		return fmt.Errorf("--tables: %s: %v; give --tables a writable folder", out, err)
	}
	res, err := experiments.CheckClaims(st, p, *seeds)
	if err != nil {
		return err
	}
	t := experiments.ClaimsTable(p, res, p.Seeds)
	if *seeds > 0 {
		t = experiments.ClaimsTable(p, res, *seeds)
	}
	if err := t.WriteAll(out); err != nil {
		return fmt.Errorf("--tables %s: %w", filepath.Dir(out), err)
	}
	if err := t.Markdown(os.Stdout); err != nil {
		return err
	}
	fmt.Printf("\n(written to %s.{md,csv,tex})\n", filepath.Join(out, t.Name))
	for _, c := range res {
		fmt.Printf("%-28s %s\n", c.Claim.ID, c.Summary())
	}
	return nil
}
