package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rst-bench/rst/experiments"
)

// The committed outputs (tables/PROFILE and the figures' manifests under
// figures/PROFILE) equal a fresh render of the committed store for every
// target, so a table left stale after the store or the code changed fails
// here. Figures are compared by their manifests (every run, its status
// and its record's checksum), not by pixels, which differ across fonts.
// The fix for a failure is `rst render --profile PROFILE` and committing
// the outputs. It only reads the repository: the render goes to a
// temporary folder.
func TestCommittedOutputsMatchAFreshRender(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, pn := range experiments.ProfileNames {
		if _, err := os.Stat(filepath.Join(root, "tables", pn)); err != nil {
			continue // no committed outputs for this profile (paper)
		}
		t.Run(pn, func(t *testing.T) {
			problems, err := staleOutputs(root, filepath.Join(root, "results"), pn, nil, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

// The check fails on a stale table and on a stale figure manifest, and
// passes on outputs just rendered.
func TestStaleOutputsAreFound(t *testing.T) {
	repo := t.TempDir()
	results, _ := filepath.Abs(filepath.Join("..", "..", "results"))
	names := []string{"table1", "figure1"}
	f := &expFlags{profile: "smoke", results: results, device: "cpu",
		tables: filepath.Join(repo, "tables"), figures: filepath.Join(repo, "figures"), set: map[string]bool{}}
	p, st, ts, err := f.resolve(names, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := renderAll(st, p, ts, f, io.Discard); err != nil {
		t.Fatal(err)
	}
	if problems, err := staleOutputs(repo, results, "smoke", names, t.TempDir()); err != nil || len(problems) > 0 {
		t.Fatalf("outputs just rendered reported stale: %v %q", err, problems)
	}
	table := filepath.Join(repo, "tables", "smoke", "table1.md")
	b, _ := os.ReadFile(table)
	os.WriteFile(table, bytes.Replace(b, []byte("SAM"), []byte("SAN"), 1), 0o644)
	os.Remove(filepath.Join(repo, "figures", "smoke", "figure1.manifest.json"))
	problems, err := staleOutputs(repo, results, "smoke", names, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	if len(problems) != 2 || !strings.Contains(all, "table1.md is stale") || !strings.Contains(all, "figure1.manifest.json, which is not committed") {
		t.Errorf("a changed table and a missing manifest gave %d problem(s):\n%s", len(problems), all)
	}
}

// staleOutputs renders the targets (nil = all) of a profile from results
// into tmp and lists where repo's committed tables/PROFILE and figure
// manifests under figures/PROFILE differ from that render.
func staleOutputs(repo, results, pn string, targets []string, tmp string) ([]string, error) {
	f := &expFlags{profile: pn, results: results, device: "cpu",
		tables: filepath.Join(tmp, "tables"), figures: filepath.Join(tmp, "figures"), set: map[string]bool{}}
	p, st, ts, err := f.resolve(targets, true)
	if err != nil {
		return nil, err
	}
	if err := renderAll(st, p, ts, f, io.Discard); err != nil {
		return nil, fmt.Errorf("rendering the %s store %s: %w", pn, results, err)
	}
	var problems []string
	fresh := func(dir string) string { return filepath.Join(tmp, dir, pn) }
	committedT, committedF := filepath.Join(repo, "tables", pn), filepath.Join(repo, "figures", pn)
	ours := func(n string) bool { // claims.* come from rst claims, not from a target
		if strings.HasPrefix(n, "claims.") {
			return false
		}
		if targets == nil {
			return true
		}
		return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(n, t+".") })
	}
	isManifest := func(n string) bool { return ours(n) && strings.HasSuffix(n, ".manifest.json") }
	problems = append(problems, compare(pn, fresh("tables"), committedT, ours)...)
	problems = append(problems, onlyCommitted(committedT, fresh("tables"), ours)...)
	problems = append(problems, compare(pn, fresh("figures"), committedF, isManifest)...)
	problems = append(problems, onlyCommitted(committedF, fresh("figures"), isManifest)...)
	return problems, nil
}

// compare checks that every file of fresh that keep selects is in
// committed with the same bytes.
func compare(profile, fresh, committed string, keep func(string) bool) []string {
	var problems []string
	names, _ := os.ReadDir(fresh)
	for _, e := range names {
		if !keep(e.Name()) {
			continue
		}
		want, err := os.ReadFile(filepath.Join(fresh, e.Name()))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: a fresh render writes %s, which is not committed: run rst render --profile %s and commit it", committed, e.Name(), profile))
		case !bytes.Equal(got, want):
			problems = append(problems, fmt.Sprintf("%s is stale: it differs from a fresh render of results/%s (first difference at line %d); run rst render --profile %s and commit the outputs",
				filepath.Join(committed, e.Name()), profile, firstDiffLine(got, want), profile))
		}
	}
	return problems
}

// onlyCommitted reports committed files that keep selects and that a fresh
// render no longer writes (a target or table that was removed or renamed).
func onlyCommitted(committed, fresh string, keep func(string) bool) []string {
	var problems []string
	names, _ := os.ReadDir(committed)
	freshNames, _ := os.ReadDir(fresh)
	var have []string
	for _, e := range freshNames {
		have = append(have, e.Name())
	}
	for _, e := range names {
		if keep(e.Name()) && !slices.Contains(have, e.Name()) && !isPicture(e.Name()) {
			problems = append(problems, fmt.Sprintf("%s: no target renders it any more; delete it or restore its target", filepath.Join(committed, e.Name())))
		}
	}
	return problems
}

func isPicture(n string) bool { return strings.HasSuffix(n, ".png") || strings.HasSuffix(n, ".svg") }

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
