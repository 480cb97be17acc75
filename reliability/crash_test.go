package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rst-bench/rst/suite/rng"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// proc is an rst process the test may kill.
type proc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startProc(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: rstCmd(dir, args...), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// kill sends SIGKILL and reports whether the signal ended the process
// (false when it had already exited by itself).
func (p *proc) kill(t *testing.T) bool {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	p.done <- err // exited by itself: let the caller read the outcome
	return false
}

// finish waits for a process that must succeed.
func (p *proc) finish(t *testing.T, what string) {
	t.Helper()
	if err := <-p.done; err != nil {
		t.Fatalf("%s: %v\n%s", what, err, p.out.String())
	}
}

// onDisk says what a kill left in a store: checkpoints and temporary
// files of writes in progress.
func onDisk(results string) (ckpts, temps int) {
	for _, kind := range []string{"runs", "ckpt"} {
		entries, _ := os.ReadDir(filepath.Join(results, profile, kind))
		for _, e := range entries {
			switch {
			case strings.HasSuffix(e.Name(), ".tmp"):
				temps++
			case strings.HasSuffix(e.Name(), ".ckpt"):
				ckpts++
			}
		}
	}
	return ckpts, temps
}

// resumedRuns counts the records of a store that continued from a
// checkpoint, which proves the resume path ran.
func resumedRuns(t *testing.T, results string) int {
	st := &store.Store{Dir: results}
	ids, _ := st.IDs(profile)
	n := 0
	for _, id := range ids {
		if r, err := st.Get(profile, id); err == nil && r.Provenance.Resumed > 0 {
			n++
		}
	}
	return n
}

// rst run is SIGKILLed at seeded random moments and restarted until it
// finishes; the store it ends with must equal an uninterrupted run's.
func TestCrashRandomKills(t *testing.T) {
	sz := sizes()
	ref := referenceStore(t)
	r := rng.New(1, "reliability/random-kills")
	start := time.Now()
	kills, trials, starts, lost, leftCkpt, leftTemp, resumed := 0, 0, 0, 0, 0, 0, 0
	leftovers := map[string]int{}
	for kills < sz.randomKills {
		trials++
		dir := t.TempDir()
		results := filepath.Join(dir, "results")
		// Waits span the uninterrupted run's time, so most kills land in
		// training; the longest grows after every kill, so a machine
		// slower than expected still finishes a run between two kills.
		hi := refTime
		for {
			starts++
			if starts > 40*sz.randomKills {
				t.Fatalf("%d starts and the store is still incomplete", starts)
			}
			p := startProc(t, dir, runArgs(results, sz.seeds, "--no-render")...)
			if kills >= sz.randomKills {
				p.finish(t, "the last restart")
				break
			}
			delay := 20*time.Millisecond + time.Duration(r.Float64()*float64(hi))
			select {
			case err := <-p.done:
				if err != nil {
					t.Fatalf("rst run failed: %v\n%s", err, p.out.String())
				}
			case <-time.After(delay):
				if p.kill(t) {
					kills++
					c, tmp := onDisk(results)
					leftCkpt += min(c, 1)
					leftTemp += min(tmp, 1)
					hi += hi / 4
					continue
				}
				p.finish(t, "rst run")
			}
			break
		}
		l, left := checkStore(t, ref, results)
		lost += l
		kinds(left, leftovers)
		resumed += resumedRuns(t, results)
	}
	figures(t, "random-kill: trials=%d kills=%d starts=%d kills-leaving-checkpoint=%d kills-leaving-temp=%d resumed-runs=%d runs-lost=%d left-in-ckpt=%v time=%s reference=%s",
		trials, kills, starts, leftCkpt, leftTemp, resumed, lost, leftovers, time.Since(start).Round(time.Second), refTime.Round(time.Second))
}

// rst run is SIGKILLed right after a checkpoint or a record file appears
// in the store (polled every half millisecond), alternately, and
// restarted until it finishes: the kills land between the checkpoint and
// the record write, and between the record write and the checkpoint's
// removal.
func TestCrashAfterWrites(t *testing.T) {
	sz := sizes()
	ref := referenceStore(t)
	r := rng.New(1, "reliability/write-kills")
	start := time.Now()
	kills, trials, starts, lost, resumed, tempsSeen := 0, 0, 0, 0, 0, 0
	leftovers := map[string]int{}
	hits := map[string]int{}
	for kills < sz.writeKills {
		trials++
		dir := t.TempDir()
		results := filepath.Join(dir, "results")
		for {
			starts++
			if starts > 20*sz.writeKills {
				t.Fatalf("%d starts and the store is still incomplete", starts)
			}
			kind := []string{".ckpt", ".json"}[kills%2]
			skip := r.IntN(2) // kill at the first or the second such file
			seen := listNames(results)
			p := startProc(t, dir, runArgs(results, sz.seeds, "--no-render")...)
			if kills >= sz.writeKills {
				p.finish(t, "the last restart")
				break
			}
			killed := false
		poll:
			for {
				select {
				case err := <-p.done:
					if err != nil {
						t.Fatalf("rst run failed: %v\n%s", err, p.out.String())
					}
					break poll
				default:
				}
				for name := range listNames(results) {
					if seen[name] {
						continue
					}
					seen[name] = true
					if strings.HasSuffix(name, ".tmp") {
						tempsSeen++
						continue
					}
					if strings.HasSuffix(name, kind) {
						if skip > 0 {
							skip--
							continue
						}
						if killed = p.kill(t); killed {
							kills++
							hits[kind]++
						} else {
							p.finish(t, "rst run")
						}
						break poll
					}
				}
				time.Sleep(500 * time.Microsecond)
			}
			if !killed {
				break
			}
		}
		l, left := checkStore(t, ref, results)
		lost += l
		kinds(left, leftovers)
		resumed += resumedRuns(t, results)
	}
	figures(t, "write-kill: trials=%d kills=%d (after-checkpoint=%d after-record=%d) starts=%d temp-files-seen=%d resumed-runs=%d runs-lost=%d left-in-ckpt=%v time=%s",
		trials, kills, hits[".ckpt"], hits[".json"], starts, tempsSeen, resumed, lost, leftovers, time.Since(start).Round(time.Second))
}

// listNames is the set of files in the store's runs/ and ckpt/ folders.
func listNames(results string) map[string]bool {
	m := map[string]bool{}
	for _, kind := range []string{"runs", "ckpt"} {
		entries, _ := os.ReadDir(filepath.Join(results, profile, kind))
		for _, e := range entries {
			m[kind+"/"+e.Name()] = true
		}
	}
	return m
}

// trainArgs is a three-epoch run on the smoke-sized MNIST subset with RST
// draws, so that the checkpoint carries weights, momentum, draws and
// per-epoch metrics.
func trainArgs(extra ...string) []string {
	return append([]string{"train", "--profile", profile, "--model", "mlp", "--data", "mnist", "--data-dir", dataDir, "--subset", "512", "--test-subset", "256",
		"--batch", "64", "--epochs", "3", "--method", "rst", "--schedule", "constant:0.5", "--seed", "7"}, extra...)
}

func readRecord(t *testing.T, path string) *train.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec train.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &rec
}

// rst train --checkpoint is killed after its first or second checkpoint
// and at a random moment, and resumed until it writes its record, which
// must equal an uninterrupted run's.
func TestCrashTrainResume(t *testing.T) {
	sz := sizes()
	base := t.TempDir()
	start := time.Now()
	refOut := filepath.Join(base, "ref.json")
	t0 := time.Now()
	res := rst(t, base, trainArgs("--out", refOut)...)
	whole := time.Since(t0)
	if res.code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", res.code, res.stderr)
	}
	want := readRecord(t, refOut)
	r := rng.New(1, "reliability/train-resume")
	kills, afterCkpt, starts, resumedMax := 0, 0, 0, 0
	for trial := 0; trial < sz.trainTrials; trial++ {
		dir := t.TempDir()
		ckpt, out := filepath.Join(dir, "run.ckpt"), filepath.Join(dir, "run.json")
		// The first start dies right after checkpoint 1 or 2 is renamed
		// into place; the second, after checkpoint 2 when it resumed from
		// 1, else at a random moment; the third finishes.
		first := 1 + r.IntN(2)
		for attempt := 0; ; attempt++ {
			starts++
			p := startProc(t, dir, trainArgs("--checkpoint", ckpt, "--out", out)...)
			killed := false
			switch {
			case attempt == 0 || attempt == 1 && first == 1:
				// The checkpoint already on disk counts as the first seen.
				killed = killAfterReplacements(t, p, ckpt, []int{first, 2}[attempt])
				if killed {
					afterCkpt++
				}
			case attempt == 1:
				select {
				case <-time.After(time.Duration(r.Float64() * float64(whole))):
					killed = p.kill(t)
				case err := <-p.done:
					p.done <- err
				}
			}
			if killed {
				kills++
				continue
			}
			p.finish(t, "rst train")
			break
		}
		got := readRecord(t, out)
		if d := sameResult(want, got); len(d) > 0 {
			t.Errorf("trial %d: the resumed run differs from the uninterrupted one:\n  %s", trial, strings.Join(d, "\n  "))
		}
		if got.Provenance.Resumed < 1 {
			t.Errorf("trial %d: the record says it was never resumed, though a checkpoint was kept", trial)
		}
		resumedMax = max(resumedMax, got.Provenance.Resumed)
	}
	figures(t, "train-resume: trials=%d kills=%d (after-checkpoint=%d) starts=%d max-resumes=%d records-differing=0 time=%s",
		sz.trainTrials, kills, afterCkpt, starts, resumedMax, time.Since(start).Round(time.Second))
}

// killAfterReplacements kills p as soon as path has been replaced n times
// (each checkpoint is renamed into place, so its inode changes).
func killAfterReplacements(t *testing.T, p *proc, path string, n int) bool {
	t.Helper()
	type version struct {
		ino   uint64
		mtime int64
	}
	var last version
	seen := 0
	for {
		select {
		case err := <-p.done:
			p.done <- err
			return false
		default:
		}
		if st, err := os.Stat(path); err == nil {
			// An inode number can be reused by the next file, the
			// modification time with it cannot.
			if v := (version{st.Sys().(*syscall.Stat_t).Ino, st.ModTime().UnixNano()}); v != last {
				last = v
				seen++
				if seen >= n {
					return p.kill(t)
				}
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
}
