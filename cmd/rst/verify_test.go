package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// craftRecords puts a made-up finished record for every run of table1 on
// the smoke profile, seed 1, into a new store: all rst verify reads.
func craftRecords(t *testing.T, results string, testError float64) *store.Store {
	t.Helper()
	st, err := store.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := experiments.Lookup("table1")
	runs, err := tg.Plan(experiments.Profiles["smoke"], 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range runs {
		if p.Needs != "" {
			continue
		}
		r := &train.Record{ID: p.ID, Config: p.Config, Steps: 8, Pairs: 8, TestError: train.Metric(testError), TestLoss: 0.5,
			Epochs: []train.Epoch{{Epoch: 1, TrainLoss: 1, TestLoss: 0.5, TestError: train.Metric(testError), Pairs: 8}}}
		if err := st.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// rst verify passes a store and the outputs rendered from it, and names
// each way they can stop agreeing: a record replaced after rendering, a
// record lost, a file that is not a record, a record no target plans.
func TestVerifyStoreAndManifests(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	st := craftRecords(t, results, 10)
	if _, stderr, code := runIn(t, dir, "render", "table1", "--profile", "smoke", "--seeds", "1", "--results", results); code != 0 {
		t.Fatalf("rst render: exit %d: %s", code, stderr)
	}
	verify := func(want int, says ...string) {
		t.Helper()
		stdout, stderr, code := runIn(t, dir, "verify", "--results", results)
		if code != want {
			t.Errorf("rst verify: exit %d, want %d\n%s%s", code, want, stdout, stderr)
		}
		for _, s := range says {
			if !strings.Contains(stdout, s) {
				t.Errorf("rst verify does not say %q:\n%s", s, stdout)
			}
		}
	}
	verify(0, "smoke: 2 records", "2 of them runs of its targets", "1 manifests", "0 problems")

	ids, _ := st.IDs("smoke")
	path := st.RecordPath("smoke", ids[0])
	good, _ := os.ReadFile(path)
	// The same runs recorded again with other results, after rendering.
	craftRecords(t, results, 20)
	verify(1, "rendered from another record than the store holds now", "rst render table1")

	os.Remove(path)
	verify(1, "shown as done but without a record in the store", "restore the records, or render again")
	os.WriteFile(path, good, 0o644)
	craftRecords(t, results, 10)
	verify(0)

	stray := filepath.Join(filepath.Dir(path), "notes.txt")
	os.WriteFile(stray, nil, 0o644)
	verify(1, stray, "is not a record file", "move it out of the store")
	os.Remove(stray)

	rec, _ := st.Get("smoke", ids[0])
	rec.Config.LR *= 2
	rec.ID = rec.Config.ID()
	if err := st.Put(rec); err != nil {
		t.Fatal(err)
	}
	verify(1, "is not a run of any target of the smoke profile", rec.ID)
}
