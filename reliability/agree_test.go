package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// syncBuffer is an output buffer a test reads while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watched is an rst process whose output can be read while it runs.
type watched struct {
	cmd    *exec.Cmd
	out    syncBuffer
	done   chan struct{}
	err    error
	exited bool
}

func startWatched(t *testing.T, dir string, args ...string) *watched {
	t.Helper()
	w := &watched{cmd: rstCmd(dir, args...), done: make(chan struct{})}
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); <-w.done })
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	return w
}

// until waits for the output to match re, or the process to exit; it
// returns the match (nil when the process exited without one).
func (w *watched) until(t *testing.T, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if m := re.FindStringSubmatch(w.out.String()); m != nil {
			return m
		}
		select {
		case <-w.done:
			return re.FindStringSubmatch(w.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %s:\n%s", re, limit, w.out.String())
		}
	}
}

func (w *watched) finish(t *testing.T, what string, limit time.Duration) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(limit):
		t.Fatalf("%s still running after %s:\n%s", what, limit, w.out.String())
	}
	if w.err != nil {
		t.Fatalf("%s: %v\n%s", what, w.err, w.out.String())
	}
}

// holdRun takes run p's lock in a store as another worker would, and
// returns a function that records the run (trained in this process, as
// that worker would) and lets go.
func holdRun(t *testing.T, results string, p experiments.Planned) (finish func()) {
	t.Helper()
	lock, err := durable.TryLock(filepath.Join(results, p.Config.Profile, "locks", p.ID+".lock"), "run "+p.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Unlock() })
	return func() {
		t.Helper()
		cfg := p.Config
		cfg.DataDir = dataDir
		rec, err := train.Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := (&store.Store{Dir: results}).Put(rec); err != nil {
			t.Fatal(err)
		}
		lock.Unlock()
	}
}

// distinct lists the distinct runs of a target with seeds 1..seeds.
func distinct(t *testing.T, target string, seeds int) []experiments.Planned {
	t.Helper()
	tg, err := experiments.Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := tg.Plan(experiments.Profiles[profile], seeds)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []experiments.Planned
	for _, r := range runs {
		if r.Needs == "" && !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

var waitingLine = regexp.MustCompile(`waiting for \d+ run\(s\) that other processes are training`)

// Three rst run table3 workers share one store while a fourth process
// (this test) holds one of the table's runs and finishes it last. Each
// worker must wait for it and end with the complete table, byte for byte
// the same as the others' (issue 24: they rendered "16 of 18" and "17 of
// 18" tables, exit 0); each run is trained once; and rst render, while
// the run is held, says that it is in progress elsewhere.
func TestWorkersAgree(t *testing.T) {
	const tgt, workers = "table3", 3
	sz := sizes()
	start := time.Now()
	runs := distinct(t, tgt, sz.agreeSeeds)
	waited := 0
	for trial := 0; trial < sz.agreeTrials; trial++ {
		waited += agreeTrial(t, tgt, workers, sz.agreeSeeds, runs, runs[trial%len(runs)])
	}
	figures(t, "agree: trials=%d workers=%d target=%s seeds=%d runs=%d held-run-finished-last=1 per trial, workers-waited=%d identical-complete-tables=%v time=%s",
		sz.agreeTrials, workers, tgt, sz.agreeSeeds, len(runs), waited, !t.Failed(), time.Since(start).Round(time.Second))
}

// agreeTrial is one round of TestWorkersAgree, with run held held by the
// test; it returns how many workers waited for it.
func agreeTrial(t *testing.T, tgt string, workers, seeds int, runs []experiments.Planned, held experiments.Planned) (waited int) {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	finishHeld := holdRun(t, results, held)
	seedArg := fmt.Sprint(seeds)
	ws := make([]*watched, workers)
	for i := range ws {
		ws[i] = startWatched(t, dir, "run", tgt, "--profile", profile, "--seeds", seedArg, "--results", results, "--data-dir", dataDir,
			"--tables", filepath.Join(dir, fmt.Sprint("w", i), "tables"), "--figures", filepath.Join(dir, fmt.Sprint("w", i), "figures"))
	}
	for i, w := range ws {
		if w.until(t, waitingLine, 10*time.Minute) == nil {
			t.Errorf("worker %d ended without waiting for the held run %s:\n%s", i, held.ID, w.out.String())
		} else {
			waited++
		}
	}
	r := rst(t, dir, "render", tgt, "--profile", profile, "--seeds", seedArg, "--results", results,
		"--tables", filepath.Join(dir, "r", "tables"), "--figures", filepath.Join(dir, "r", "figures"))
	if r.code != 0 {
		t.Errorf("rst render while a run is held: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "rst render while a run is held", r.stdout, tgt+": 1 run(s) in progress elsewhere")
	mb, _ := os.ReadFile(filepath.Join(dir, "r", "tables", profile, tgt+".manifest.json"))
	mustContain(t, "its manifest", string(mb), `"status": "in progress"`)
	finishHeld()

	trained := map[string]int{}
	var first map[string][]byte
	for i, w := range ws {
		w.finish(t, fmt.Sprint("worker ", i), 10*time.Minute)
		out := w.out.String()
		for _, m := range trainedLine.FindAllStringSubmatch(out, -1) {
			trained[m[1]]++
		}
		mustContain(t, fmt.Sprint("worker ", i), out, fmt.Sprintf("%s %s seed %d: done elsewhere", held.ID, held.Cell.Label(), held.Seed))
		if m := doneCaption.FindStringSubmatch(out); m == nil || m[1] != m[2] {
			t.Errorf("worker %d's table is not complete:\n%s", i, out)
		}
		files := map[string][]byte{}
		for _, ext := range []string{"md", "csv", "tex", "manifest.json"} {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("w", i), "tables", profile, tgt+"."+ext))
			if err != nil {
				t.Fatal(err)
			}
			files[ext] = b
			if first != nil && !bytes.Equal(first[ext], b) {
				t.Errorf("worker %d's %s.%s differs from worker 0's:\n%s\n---\n%s", i, tgt, ext, b, first[ext])
			}
		}
		if first == nil {
			first = files
		}
	}
	for _, p := range runs {
		want := 1
		if p.ID == held.ID {
			want = 0 // the holder trained it
		}
		if trained[p.ID] != want {
			t.Errorf("run %s was trained %d times by the workers, want %d", p.ID, trained[p.ID], want)
		}
	}
	return waited
}

// rst run --jobs reports each child's outcome as it was: a run another
// process holds is "skipped" (issue 24: it was reported "trained"), then
// waited for, and the summary counts trained, done, waited-for, skipped
// and failed runs apart; with --no-wait the run stays skipped.
func TestJobsReportWhatChildrenDid(t *testing.T) {
	runs := distinct(t, target, 1)
	held, other := runs[0], runs[1]
	heldLine := regexp.MustCompile(`(?m)^\[\d+/\d+\] ` + held.ID + ` ` + regexp.QuoteMeta(held.Cell.Label()) + ` seed 1: (.*)$`)
	for _, noWait := range []bool{false, true} {
		dir := t.TempDir()
		results := filepath.Join(dir, "results")
		finishHeld := holdRun(t, results, held)
		args := runArgs(results, 1, "--jobs", "2")
		if noWait {
			args = append(args, "--no-wait", "--no-render")
		}
		w := startWatched(t, dir, args...)
		m := w.until(t, heldLine, 5*time.Minute)
		if m == nil || !strings.HasPrefix(m[1], "skipped: another process is running it") {
			t.Errorf("--no-wait=%v: the held run is reported %q, want skipped\n%s", noWait, m, w.out.String())
		}
		var summary string
		if noWait {
			w.finish(t, "rst run --jobs 2 --no-wait", 5*time.Minute)
			summary = "1 trained, 0 already done, 0 finished by other processes while this one waited, 1 skipped (in progress elsewhere), 0 failed"
			finishHeld()
		} else {
			w.until(t, waitingLine, time.Minute)
			finishHeld()
			w.finish(t, "rst run --jobs 2", 5*time.Minute)
			summary = "1 trained, 0 already done, 1 finished by other processes while this one waited, 0 skipped (in progress elsewhere), 0 failed"
			mustContain(t, "rst run --jobs 2", w.out.String(), "[wait 1/1] "+held.ID)
		}
		out := w.out.String()
		mustContain(t, "rst run --jobs 2", out, "runs: "+summary)
		if m := regexp.MustCompile(`(?m)^\[\d+/\d+\] ` + other.ID + ` .*: trained: `).FindString(out); m == "" {
			t.Errorf("the run nobody held is not reported trained:\n%s", out)
		}
	}
}
