package reliability

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rst-bench/rst/suite/store"
)

var doneCaption = regexp.MustCompile(`(\d+) of (\d+) runs done`)

// Several rst run processes start at once on one target and one store, as
// the tasks of a Slurm array or workers on several machines sharing a
// folder would: every run must be trained by exactly one of them, every
// record must read back whole and equal the uninterrupted run's, each
// worker must end with the complete table (it waits for the runs the
// others hold), and rendering must work afterwards.
func TestConcurrentWorkers(t *testing.T) {
	sz := sizes()
	ref := referenceStore(t)
	want := planned(t, sz.seeds)
	start := time.Now()
	skipped, alreadyDone, trainings, waitedFor := 0, 0, 0, 0
	for trial := 0; trial < sz.concTrials; trial++ {
		dir := t.TempDir()
		results := filepath.Join(dir, "results")
		procs := make([]*proc, sz.workers)
		for i := range procs {
			// All workers render into the same folders at the end, as
			// they would on a shared file system.
			procs[i] = startProc(t, dir, runArgs(results, sz.seeds)...)
		}
		trained := map[string]int{}
		for i, p := range procs {
			p.finish(t, fmt.Sprintf("worker %d", i))
			out := p.out.String()
			for _, m := range trainedLine.FindAllStringSubmatch(out, -1) {
				trained[m[1]]++
				trainings++
			}
			skipped += strings.Count(out, "skipped: another process is running it")
			alreadyDone += strings.Count(out, ": already done: ")
			waitedFor += strings.Count(out, ": done elsewhere: ")
			// A worker that skipped runs another held waits for them, so
			// every worker's own table is complete.
			if m := doneCaption.FindStringSubmatch(out); m == nil || m[1] != m[2] {
				t.Errorf("trial %d: worker %d's table is not complete:\n%s", trial, i, out)
			}
		}
		for _, p := range want {
			if trained[p.ID] != 1 {
				t.Errorf("trial %d: run %s was trained %d times by %d workers, want once", trial, p.ID, trained[p.ID], sz.workers)
			}
		}
		if len(trained) != len(want) {
			t.Errorf("trial %d: workers trained %d distinct runs, the target has %d", trial, len(trained), len(want))
		}
		if lost, _ := checkStore(t, ref, results); lost > 0 {
			t.Errorf("trial %d: %d runs lost", trial, lost)
		}
		st := &store.Store{Dir: results}
		starts := map[time.Time]string{}
		for _, p := range want {
			rec, err := st.Get(profile, p.ID)
			if err != nil {
				continue // reported by checkStore
			}
			if rec.Provenance.Resumed != 0 {
				t.Errorf("run %s resumed %d times though no worker died", p.ID, rec.Provenance.Resumed)
			}
			if other, dup := starts[rec.Provenance.Start]; dup {
				t.Errorf("runs %s and %s record the same start time", other, p.ID)
			}
			starts[rec.Provenance.Start] = p.ID
		}
		res := rst(t, dir, "render", target, "--profile", profile, "--seeds", fmt.Sprint(sz.seeds), "--results", results,
			"--tables", filepath.Join(dir, "tables"), "--figures", filepath.Join(dir, "figures"))
		if res.code != 0 {
			t.Fatalf("rst render after the workers: exit %d\n%s", res.code, res.stderr)
		}
		// The caption counts table rows' runs (rows of different models
		// share the MLP's runs): all of them must be done.
		if m := doneCaption.FindStringSubmatch(res.stdout); m == nil || m[1] != m[2] {
			t.Errorf("rst render after the workers does not say every run is done:\n%s", res.stdout)
		}
	}
	figures(t, "concurrency: trials=%d workers=%d runs-per-trial=%d trainings=%d (want %d) busy-skips=%d waited-for=%d already-done=%d runs-lost=0 time=%s",
		sz.concTrials, sz.workers, len(want), trainings, sz.concTrials*len(want), skipped, waitedFor, alreadyDone, time.Since(start).Round(time.Second))
}
