package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("list", "list the paper's tables and figures, what each needs, and runs done per profile", runList)
	register("run", "train what a target's tables and figures miss in the store, then render them", runRun)
	register("render", "render targets' tables and figures from the store (never trains)", runRender)
	register("plan", "list a target's missing runs, or write a Slurm job-array script for them (--slurm)", runPlan)
}

// expFlags are the flags shared by list, run, render, plan and verify.
type expFlags struct {
	profile, results, tables, figures, dataDir, device string
	seeds                                              int
	dryRun                                             int             // steps of a --dry-run; 0 = a real run
	set                                                map[string]bool // the flags given on the command line
}

func (f *expFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.profile, "profile", "cpu", "scale of the run matrix: "+strings.Join(experiments.ProfileNames, ", "))
	fs.IntVar(&f.seeds, "seeds", 0, "seeds 1..N for every target (0 = the profile's default: 5 for paper and cpu, 3 for cpu's figure2 and figure3 sweeps and for the paper's table4, 2 for smoke)")
	f.declareStore(fs)
	fs.StringVar(&f.dataDir, "data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data)")
	fs.StringVar(&f.device, "device", "cpu", "where runs train: "+strings.Join(nn.Devices(), ", ")+" (part of a run's identity: a cuda run is a run of its own)")
	fs.IntVar(&f.dryRun, "dry-run", 0, "train every planned run (one seed unless --seeds says) for only this many steps, at batch ≤ 2 on ≤ 16 training and test images, filed in RESULTS/dry-run/ (never the store itself) and rendered there: checks a device or data path end to end; its numbers mean nothing")
}

// defaultResults is the store a command uses without --results.
func defaultResults() string {
	if d := os.Getenv("RST_RESULTS"); d != "" {
		return d
	}
	return "results"
}

// declareStore declares the flags that name a store and its outputs.
func (f *expFlags) declareStore(fs *flag.FlagSet) {
	fs.StringVar(&f.results, "results", defaultResults(), "the store of run records (default $RST_RESULTS or results)")
	fs.StringVar(&f.tables, "tables", "", "where rendered tables go, in a PROFILE subfolder (default: the repository's tables/ for its own results/ store, else RESULTS/tables)")
	fs.StringVar(&f.figures, "figures", "", "where rendered figures go, in a PROFILE subfolder (default: the repository's figures/ for its own results/ store, else RESULTS/figures)")
}

// resolve checks the flags and returns the profile, the store and the
// targets named by args (all targets when args is empty and all is true).
// It creates nothing: a refused command leaves no folder behind.
func (f *expFlags) resolve(args []string, all bool) (*experiments.Profile, *store.Store, []*experiments.Target, error) {
	p, err := experiments.LookupProfile(f.profile)
	if err != nil {
		return nil, nil, nil, err
	}
	if f.seeds < 0 {
		return nil, nil, nil, fmt.Errorf("--seeds %d: want a positive number of seeds, or 0 for the profile's defaults", f.seeds)
	}
	if !slices.Contains(nn.Devices(), f.device) {
		return nil, nil, nil, fmt.Errorf("--device %q: choose one of %s", f.device, strings.Join(nn.Devices(), ", "))
	}
	if len(args) == 0 {
		if !all {
			return nil, nil, nil, errors.New("name at least one target, e.g. table3 (rst list shows them)")
		}
		args = experiments.Names()
	}
	var ts []*experiments.Target
	for _, a := range args {
		t, err := experiments.Lookup(a)
		if err != nil {
			return nil, nil, nil, err
		}
		ts = append(ts, t)
	}
	if f.dryRun < 0 {
		return nil, nil, nil, fmt.Errorf("--dry-run %d: want a positive number of steps", f.dryRun)
	}
	dir := f.results
	if f.dryRun > 0 {
		// Dry runs never enter a store that holds results: their records
		// (marked dry_run, so with ids of their own) and outputs go to a
		// sub-store that .gitignore leaves out.
		dir = filepath.Join(f.results, "dry-run")
		if f.seeds == 0 {
			f.seeds = 1 // a dry run checks the path, not the spread over seeds
		}
	}
	st, err := store.At(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, st, ts, nil
}

// configure sets what a run needs but does not identify it.
func (f *expFlags) configure(cfg train.Config) train.Config {
	cfg.DataDir = f.dataDir
	return cfg
}

// plan is t.Plan on the flags' device. The device is part of a run's
// config and so of its id: a run trained with --device cuda is filed
// under that id, and every command (run, render, plan, the Slurm tasks)
// must look it up by the same one.
func (f *expFlags) plan(t *experiments.Target, p *experiments.Profile) ([]experiments.Planned, error) {
	runs, err := t.Plan(p, f.seeds)
	if err != nil || (f.device == "cpu" && f.dryRun == 0) {
		return runs, err
	}
	for i := range runs {
		if runs[i].Needs != "" {
			continue
		}
		c := &runs[i].Config
		c.Device = f.device
		if f.dryRun > 0 {
			c.DryRun, c.Steps, c.Epochs, c.EvalEvery = true, f.dryRun, 0, 0
			c.Batch = min(c.Batch, 2) // the test data of `make test` has 3 CIFAR-100 images
			c.Subset, c.TestSubset = 16, 16
			c.Warmup = min(c.Warmup, f.dryRun)
		}
		runs[i].ID = c.ID()
	}
	return runs, nil
}

// collected is a target's runs with the store's records, as
// experiments.Collect reads them, plus what the manifest and the
// progress notes need: each record's checksum and the runs other
// processes are training now.
type collected struct {
	*experiments.Results
	sums    map[string]string // record checksum by run id
	running map[string]string // holder by run id, for runs without a record
}

func (f *expFlags) collect(st *store.Store, t *experiments.Target, p *experiments.Profile) (*collected, error) {
	runs, err := f.plan(t, p)
	if err != nil {
		return nil, err
	}
	r := &collected{
		Results: &experiments.Results{Target: t, Profile: p, Seeds: t.Seeds(p, f.seeds), Runs: runs, Records: map[string]*train.Record{}, Bad: map[string]error{}},
		sums:    map[string]string{}, running: map[string]string{},
	}
	for _, run := range runs {
		if run.Needs != "" {
			continue
		}
		if _, seen := r.Records[run.ID]; seen {
			continue
		}
		rec, sum, err := st.GetSum(p.Name, run.ID)
		switch {
		case err == nil:
			r.Records[run.ID], r.sums[run.ID] = rec, sum
		case errors.Is(err, store.ErrMissing):
			if holder, ok := st.InProgress(p.Name, run.ID); ok {
				r.running[run.ID] = holder
			}
		default:
			r.Bad[run.ID] = err
		}
	}
	return r, nil
}

// outputs are the folders a profile's tables and figures go to: the
// flags when given; otherwise the repository's tables/ and figures/ for
// the repository's own store, and folders inside the store for any other,
// so that rendering a scratch store never overwrites the committed
// outputs.
func (f *expFlags) outputs(st *store.Store, p *experiments.Profile) (tdir, fdir string) {
	tbase, fbase := f.tables, f.figures
	root := repoOf(st.Dir)
	if tbase == "" {
		tbase = filepath.Join(st.Dir, "tables")
		if root != "" {
			tbase = filepath.Join(root, "tables")
		}
	}
	if fbase == "" {
		fbase = filepath.Join(st.Dir, "figures")
		if root != "" {
			fbase = filepath.Join(root, "figures")
		}
	}
	return filepath.Join(tbase, p.Name), filepath.Join(fbase, p.Name)
}

// checkOutputs refuses, before any run trains, output folders that
// cannot be written, naming the flag that sets them.
func (f *expFlags) checkOutputs(st *store.Store, p *experiments.Profile) error {
	tdir, fdir := f.outputs(st, p)
	for _, o := range []struct{ flag, given, dir string }{{"--tables", f.tables, tdir}, {"--figures", f.figures, fdir}} {
		if err := durable.CheckDir(o.dir); err != nil {
			if o.given != "" {
				return fmt.Errorf("%s %s: %v; give %s a writable folder", o.flag, o.given, err, o.flag)
			}
			return fmt.Errorf("output folder %s (the default for --results %s): %v; give %s a writable folder", o.dir, st.Dir, err, o.flag)
		}
	}
	return nil
}

// repoModule is the first line of this repository's go.mod: a store
// named results/ beside it is the repository's own.
const repoModule = "module github.com/rst-bench/rst"

// repoOf returns the repository folder when results is the repository's
// own store (a folder named results beside this module's go.mod), and ""
// for any other store.
func repoOf(results string) string {
	abs, err := filepath.Abs(results)
	if err != nil || filepath.Base(abs) != "results" {
		return ""
	}
	root := filepath.Dir(abs)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if strings.TrimSpace(first) != repoModule {
		return ""
	}
	return root
}

func parseExp(name string, args []string, extra func(fs *flag.FlagSet)) (*expFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &expFlags{set: map[string]bool{}}
	f.declare(fs)
	if extra != nil {
		extra(fs)
	}
	targets, err := parseInterspersed(fs, args)
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, targets, err
}

func runList(args []string) error {
	var methods bool
	f, names, err := parseExp("list", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&methods, "methods", false, "list the training methods instead: every sharp step with its extra passes, default ρ and --param names, defaults, ranges and meaning")
	})
	if err != nil {
		return err
	}
	if methods {
		fmt.Print(optim.MethodTable())
		fmt.Println("\nsgd is the plain step; rst and grst take --schedule and --sharp (any step above) with its params; grst adds k [2] (or k=auto with penalty [1]).")
		return nil
	}
	_, st, ts, err := f.resolve(names, true)
	if err != nil {
		return err
	}
	fmt.Printf("%-8s %-58s", "target", "what")
	for _, pn := range experiments.ProfileNames {
		fmt.Printf(" %14s", pn+" done/runs")
	}
	fmt.Println()
	for _, t := range ts {
		fmt.Printf("%-8s %-58s", t.Name, clip(strings.TrimPrefix(t.Title, strings.SplitN(t.Title, ":", 2)[0]+": "), 58))
		var needs []string
		for _, pn := range experiments.ProfileNames {
			p := experiments.Profiles[pn]
			seeds := 0 // the profile's default for the target
			if pn == f.profile {
				seeds = f.seeds
			}
			r, err := experiments.Collect(st, t, p, seeds)
			if err != nil {
				return err
			}
			done, runnable := r.Done()
			if t.Cells == nil {
				fmt.Printf(" %14s", "no training")
				continue
			}
			fmt.Printf(" %14s", fmt.Sprintf("%d/%d", done, runnable))
			for _, run := range r.Runs {
				if run.Needs != "" && !slices.Contains(needs, pn+": "+run.Needs) {
					needs = append(needs, pn+": "+run.Needs)
				}
			}
		}
		fmt.Println()
		for _, n := range needs {
			fmt.Printf("%-8s   %s\n", "", n)
		}
	}
	fmt.Printf("\nstore: %s (seeds: the profile's default unless --seeds)\n", st.Dir)
	return nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// missingRuns lists, without duplicates and in plan order, the runs of ts
// that the store lacks (all of them with force) and how many distinct
// runs the targets have. A record that exists but cannot be used is not
// missing: it is returned in bad (by run id, in plan order) and stays
// refused until it is deleted or restored, since training over it would
// hide the damage.
func missingRuns(st *store.Store, p *experiments.Profile, ts []*experiments.Target, f *expFlags, force bool) (todo []experiments.Planned, total int, bad []badRun, err error) {
	seen := map[string]bool{}
	for _, t := range ts {
		runs, err := f.plan(t, p)
		if err != nil {
			return nil, 0, nil, err
		}
		for _, r := range runs {
			if r.Needs != "" || seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			total++
			if !force {
				if _, err := st.Get(p.Name, r.ID); err == nil {
					continue
				} else if !errors.Is(err, store.ErrMissing) {
					bad = append(bad, badRun{r.ID, err})
					continue
				}
			}
			todo = append(todo, r)
		}
	}
	return todo, total, bad, nil
}

// badRun is a run whose record exists but cannot be used.
type badRun struct {
	id  string
	err error
}

// refuseBad is the error of a command that will not go on while records
// it needs cannot be used; each line names the file and the fix.
func refuseBad(bad []badRun, f *expFlags, what string) error {
	lines := make([]string, len(bad))
	for i, b := range bad {
		lines[i] = b.err.Error()
	}
	return fmt.Errorf("%d record(s) of these targets cannot be used, so %s:\n  %s\n(rst verify --profile %s --results %s lists every problem of the store)",
		len(bad), what, strings.Join(lines, "\n  "), f.profile, f.results)
}

func runRun(args []string) (err error) {
	var jobs int
	var force, noRender, noWait bool
	var only, outcomeFile string
	f, names, err := parseExp("run", args, func(fs *flag.FlagSet) {
		fs.IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process")
		fs.BoolVar(&force, "force", false, "train again runs that already have a record")
		fs.BoolVar(&noRender, "no-render", false, "train only; do not render")
		fs.BoolVar(&noWait, "no-wait", false, "do not wait for runs that other processes are training; render what the store holds now")
		fs.StringVar(&only, "id", "", "train only this run id (what a Slurm array task does); a run another process holds is skipped, not waited for")
		fs.StringVar(&outcomeFile, "outcome", "", "with --id: write what happened to the run (trained, done, skipped or failed) into this file; rst run --jobs reads its children's")
	})
	if err != nil {
		return err
	}
	if jobs < 1 {
		return fmt.Errorf("--jobs %d: want at least 1 (the number of runs trained at once)", jobs)
	}
	if outcomeFile != "" && only == "" {
		return errors.New("--outcome reports on one run: give it with --id")
	}
	p, st, ts, err := f.resolve(names, false)
	if err != nil {
		return err
	}
	outcome := "failed" // what --outcome says unless the run's fate is known
	if outcomeFile != "" {
		defer func() { os.WriteFile(outcomeFile, []byte(outcome+"\n"), 0o644) }()
	}
	todo, total, bad, err := missingRuns(st, p, ts, f, force)
	if err != nil {
		return err
	}
	if only != "" {
		all, _, _, err := missingRuns(st, p, ts, f, true)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(all, func(r experiments.Planned) bool { return r.ID == only }) {
			return fmt.Errorf("--id %s: not a run of %s in the %s profile with %s on device %s (rst plan lists them)", only, strings.Join(names, " "), p.Name, seedsText(p, names, f.seeds), f.device)
		}
		if i := slices.IndexFunc(bad, func(b badRun) bool { return b.id == only }); i >= 0 {
			return refuseBad(bad[i:i+1], f, "it was not trained")
		}
		i := slices.IndexFunc(todo, func(r experiments.Planned) bool { return r.ID == only })
		if i < 0 {
			fmt.Fprintf(os.Stderr, "skip %s: done\n", only)
			outcome = "done"
			return nil
		}
		todo = todo[i : i+1]
		noRender = true
	} else if len(bad) > 0 {
		return refuseBad(bad, f, "nothing was trained")
	}
	// Every output is checked before the first run trains: a mistake
	// found after hours of training costs the hours.
	if !noRender {
		if err := f.checkOutputs(st, p); err != nil {
			return err
		}
	}
	if len(todo) > 0 {
		if err := durable.CheckDir(st.Dir); err != nil {
			return fmt.Errorf("--results %s: %v", st.Dir, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "%s profile, %s: %d of %d runs to train, store %s\n", p.Name, seedsText(p, names, f.seeds), len(todo), total, st.Dir)
	tl, err := trainAll(ctx, st, f, names, todo, jobs, force, !noWait && only == "")
	outcome = tl.word()
	if err != nil {
		return err
	}
	if noRender {
		return nil
	}
	return renderAll(st, p, ts, f, os.Stdout)
}

// kind is what happened to one run.
type kind int

const (
	kindTrained kind = iota // trained here
	kindDone                // a record was there already
	kindBusy                // another process holds it
	kindFailed
)

// tally counts what happened to the runs of one rst run.
type tally struct {
	trained   int // trained by this process
	done      int // recorded before this process got to them
	elsewhere int // finished by other processes while this one waited
	skipped   int // held by other processes and not waited for
	failed    int
	errs      []string
}

func (t *tally) String() string {
	return fmt.Sprintf("%d trained, %d already done, %d finished by other processes while this one waited, %d skipped (in progress elsewhere), %d failed",
		t.trained, t.done, t.elsewhere, t.skipped, t.failed)
}

// word is the --outcome of a one-run tally.
func (t *tally) word() string {
	switch {
	case t.failed > 0:
		return "failed"
	case t.skipped > 0:
		return "skipped"
	case t.trained > 0:
		return "trained"
	}
	return "done"
}

// trainAll trains the runs, one in this process (live progress) or jobs
// child processes at once, each logging to RESULTS/PROFILE/logs/ID.log.
// Runs that other processes hold are waited for at the end when wait is
// set (their holder's record is then this worker's too; a holder that
// died leaves the run to this worker, which resumes it), and skipped
// otherwise.
func trainAll(ctx context.Context, st *store.Store, f *expFlags, targets []string, todo []experiments.Planned, jobs int, force, wait bool) (*tally, error) {
	tl := &tally{}
	if len(todo) == 0 {
		return tl, nil
	}
	start := time.Now()
	var mu sync.Mutex
	n := 0
	var busy []experiments.Planned
	// The ETA weighs each run by its expected passes per step, so that the
	// SAM runs still to come are not counted at an SGD run's speed.
	steps := experiments.Profiles[f.profile].Steps
	var totalCost, doneCost float64
	for _, r := range todo {
		totalCost += r.Cost(steps)
	}
	report := func(r experiments.Planned, k kind, rec *train.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		doneCost += r.Cost(steps)
		elapsed := time.Since(start)
		eta := time.Duration(float64(elapsed) / doneCost * (totalCost - doneCost)).Round(time.Second)
		var text string
		switch k {
		case kindTrained:
			tl.trained++
			text = outcomeText(rec, store.Trained)
		case kindDone:
			tl.done++
			text = outcomeText(rec, store.Done)
		case kindBusy:
			holder, _ := st.InProgress(r.Config.Profile, r.ID)
			text = "skipped: another process is running it (" + holderText(holder) + ")"
			if wait {
				busy = append(busy, r)
				text += "; waiting for it at the end"
			} else {
				tl.skipped++
			}
		default:
			tl.failed++
			text = "FAILED: " + err.Error()
			tl.errs = append(tl.errs, r.ID+": "+err.Error())
		}
		fmt.Fprintf(os.Stderr, "[%d/%d] %s %s seed %d: %s (elapsed %s, ETA %s)\n", n, len(todo), r.ID, r.Cell.Label(), r.Seed, text, elapsed.Round(time.Second), eta)
	}
	if jobs == 1 {
		for i, r := range todo {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(os.Stderr, "[%d/%d] training %s: %s, seed %d\n", i+1, len(todo), r.ID, r.Cell.Label(), r.Seed)
			k, rec, err := runHere(ctx, st, f, r, force)
			if errors.Is(err, context.Canceled) {
				return tl, fmt.Errorf("interrupted during run %s: its last checkpoint (if an epoch finished) is kept in %s; run the same command again to resume", r.ID, st.CheckpointPath(r.Config.Profile, r.ID))
			}
			report(r, k, rec, err)
		}
	} else {
		exe, err := os.Executable()
		if err != nil {
			return tl, err
		}
		sem := make(chan struct{}, jobs)
		var wg sync.WaitGroup
		for _, r := range todo {
			if ctx.Err() != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(r experiments.Planned) {
				defer wg.Done()
				defer func() { <-sem }()
				k, err := runChild(ctx, exe, st, f, r, force, targets, jobs)
				var rec *train.Record
				if k == kindTrained || k == kindDone {
					if rec, err = st.Get(r.Config.Profile, r.ID); err != nil {
						k = kindFailed
					}
				}
				report(r, k, rec, err)
			}(r)
		}
		wg.Wait()
	}
	if ctx.Err() != nil {
		return tl, errors.New("interrupted: finished runs are in the store, unfinished ones keep their checkpoints; run the same command again to resume")
	}
	if len(busy) > 0 {
		if err := waitFor(ctx, st, f, busy, tl); err != nil {
			return tl, err
		}
	}
	if len(todo) > 1 || tl.failed > 0 || tl.skipped > 0 || tl.elsewhere > 0 {
		fmt.Fprintf(os.Stderr, "runs: %s\n", tl)
	}
	if tl.failed > 0 {
		return tl, fmt.Errorf("%d of %d runs failed:\n  %s", tl.failed, len(todo), strings.Join(tl.errs, "\n  "))
	}
	return tl, nil
}

// runHere trains run r in this process, or finds it done or busy.
func runHere(ctx context.Context, st *store.Store, f *expFlags, r experiments.Planned, force bool) (kind, *train.Record, error) {
	rec, o, err := st.Run(ctx, f.configure(r.Config), force, train.ForWriter(os.Stderr))
	switch {
	case errors.Is(err, store.ErrBusy):
		return kindBusy, nil, err
	case err != nil:
		return kindFailed, nil, err
	case o == store.Done:
		return kindDone, rec, nil
	}
	return kindTrained, rec, nil
}

// How often a worker looks at the runs it waits for, and says that it
// still waits.
var (
	pollEvery = time.Second
	noteEvery = 30 * time.Second
)

// waitFor waits until every run in busy has a record: the one its holder
// writes, or, when the holder stops without one, the one this process
// writes after taking the run over (it resumes from the holder's last
// checkpoint). Without it, workers sharing a store would each render
// whatever happened to be finished when they ran out of work.
func waitFor(ctx context.Context, st *store.Store, f *expFlags, busy []experiments.Planned, tl *tally) error {
	fmt.Fprintf(os.Stderr, "waiting for %d run(s) that other processes are training, so that the outputs are complete (Ctrl-C stops waiting, the runs go on there; --no-wait renders what the store holds):\n", len(busy))
	for _, r := range busy {
		holder, _ := st.InProgress(r.Config.Profile, r.ID)
		fmt.Fprintf(os.Stderr, "  %s %s seed %d: %s\n", r.ID, r.Cell.Label(), r.Seed, holderText(holder))
	}
	start, note := time.Now(), time.Now()
	left, k := busy, 0
	for len(left) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for %d run(s) that other processes are training (they go on there): run the same command again to render them, or add --no-wait", len(left))
		case <-time.After(pollEvery):
		}
		var still []experiments.Planned
		for _, r := range left {
			// Run takes the run's lock only once its holder has let go;
			// it then finds the holder's record, or trains the run here.
			rec, o, err := st.Run(ctx, f.configure(r.Config), false, train.ForWriter(os.Stderr))
			var text string
			switch {
			case errors.Is(err, store.ErrBusy):
				still = append(still, r)
				continue
			case errors.Is(err, context.Canceled):
				return fmt.Errorf("interrupted during run %s, taken over from a process that stopped: its last checkpoint is kept in %s; run the same command again to resume", r.ID, st.CheckpointPath(r.Config.Profile, r.ID))
			case err != nil:
				tl.failed++
				tl.errs = append(tl.errs, r.ID+": "+err.Error())
				text = "FAILED: " + err.Error()
			case o == store.Done:
				tl.elsewhere++
				text = "done elsewhere: " + strings.TrimPrefix(outcomeText(rec, o), "already done: ")
			default:
				tl.trained++
				text = outcomeText(rec, o) + " (taken over: its holder stopped before finishing)"
			}
			k++
			fmt.Fprintf(os.Stderr, "[wait %d/%d] %s %s seed %d: %s (waited %s)\n", k, len(busy), r.ID, r.Cell.Label(), r.Seed, text, time.Since(start).Round(time.Second))
		}
		left = still
		if len(left) > 0 && time.Since(note) >= noteEvery {
			note = time.Now()
			ids := make([]string, len(left))
			for i, r := range left {
				ids[i] = r.ID
			}
			fmt.Fprintf(os.Stderr, "still waiting for %d run(s) after %s: %s\n", len(left), time.Since(start).Round(time.Second), strings.Join(ids, " "))
		}
	}
	return nil
}

// holderText names the process holding a run, from its lock file.
func holderText(holder string) string {
	if holder == "" {
		return "a process that has not yet written its name, or one that just finished"
	}
	return holder
}

func outcomeText(rec *train.Record, o store.Outcome) string {
	if rec == nil {
		return ""
	}
	what := "trained"
	if o == store.Done {
		what = "already done"
	}
	if rec.Diverged != nil {
		return fmt.Sprintf("%s: DIVERGED at step %d", what, rec.Diverged.Step)
	}
	return fmt.Sprintf("%s: test error %.2f%%, %.0f s", what, float64(rec.TestError), rec.TrainSeconds)
}

// runChild trains one run in a child process, its output in a log file,
// and says what the child did: it writes one word into an outcome file
// (rst run --id --outcome), so that a run the child found done or held
// by another process is not reported as trained.
func runChild(ctx context.Context, exe string, st *store.Store, f *expFlags, r experiments.Planned, force bool, targets []string, jobs int) (kind, error) {
	logPath := filepath.Join(st.Dir, r.Config.Profile, "logs", r.ID+".log")
	if err := durable.EnsureDir(logPath); err != nil {
		return kindFailed, err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return kindFailed, fmt.Errorf("log %s: %w", logPath, err)
	}
	defer log.Close()
	of, err := os.CreateTemp("", "rst-outcome-*")
	if err != nil {
		return kindFailed, err
	}
	of.Close()
	defer os.Remove(of.Name())
	results := st.Dir
	if f.dryRun > 0 {
		results = filepath.Dir(st.Dir) // the child adds dry-run/ again
	}
	args := []string{"run", "--profile", f.profile, "--seeds", strconv.Itoa(f.seeds), "--results", results, "--device", f.device, "--id", r.ID, "--outcome", of.Name()}
	if f.dryRun > 0 {
		args = append(args, "--dry-run", strconv.Itoa(f.dryRun))
	}
	if f.dataDir != "" {
		args = append(args, "--data-dir", f.dataDir)
	}
	if force {
		args = append(args, "--force")
	}
	cmd := exec.CommandContext(ctx, exe, append(args, targets...)...)
	cmd.Stdout, cmd.Stderr = log, log
	// jobs runs share the machine's cores rather than each taking all of
	// them, so their timings still measure the methods.
	threads := strconv.Itoa(max(1, runtime.NumCPU()/jobs))
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+threads, "OPENBLAS_NUM_THREADS="+threads)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	word, _ := os.ReadFile(of.Name())
	b, _ := os.ReadFile(logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	switch strings.TrimSpace(string(word)) {
	case "trained":
		return kindTrained, nil
	case "done":
		return kindDone, nil
	case "skipped":
		return kindBusy, fmt.Errorf("%w: %s", store.ErrBusy, last)
	}
	if runErr == nil {
		runErr = errors.New("the child said nothing about the run")
	}
	return kindFailed, fmt.Errorf("%v: %s (log: %s)", runErr, last, logPath)
}

func runRender(args []string) error {
	f, names, err := parseExp("render", args, nil)
	if err != nil {
		return err
	}
	p, st, ts, err := f.resolve(names, true)
	if err != nil {
		return err
	}
	if err := f.checkOutputs(st, p); err != nil {
		return err
	}
	return renderAll(st, p, ts, f, os.Stdout)
}

// renderAll renders each target from the store into the tables and
// figures folders, with a manifest of the runs behind it, and prints the
// tables as Markdown on w. Runs that other processes are training are
// counted and said; a record that cannot be used is marked under its
// target and makes the command fail once everything is written.
func renderAll(st *store.Store, p *experiments.Profile, ts []*experiments.Target, f *expFlags, w io.Writer) error {
	tdir, fdir := f.outputs(st, p)
	var bad []string
	seenBad := map[string]bool{}
	for _, t := range ts {
		r, err := f.collect(st, t, p)
		if err != nil {
			return err
		}
		out, err := t.Render(r.Results)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		if f.dryRun > 0 {
			// Nobody should paste a dry run's numbers as results.
			mark := fmt.Sprintf("DRY RUN (%d steps a run; the numbers mean nothing): ", f.dryRun)
			for _, tab := range out.Tables {
				tab.Title = mark + tab.Title
			}
			for _, fig := range out.Figures {
				fig.Title = mark + fig.Title
			}
		}
		m := manifest(r)
		for _, tab := range out.Tables {
			if err := tab.WriteAll(tdir); err != nil {
				return fmt.Errorf("%s: %w; choose another --tables", t.Name, err)
			}
			if err := store.WriteJSON(filepath.Join(tdir, tab.Name+".manifest.json"), m); err != nil {
				return err
			}
			if err := tab.Markdown(w); err != nil {
				return err
			}
			fmt.Fprintf(w, "\n(written to %s.{md,csv,tex})\n\n", filepath.Join(tdir, tab.Name))
		}
		for _, fig := range out.Figures {
			if err := fig.Save(fdir); err != nil {
				return fmt.Errorf("%s: %w; choose another --figures", t.Name, err)
			}
			if err := store.WriteJSON(filepath.Join(fdir, fig.Name+".manifest.json"), m); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s: %s.{png,svg}\n", fig.Title, filepath.Join(fdir, fig.Name))
		}
		if len(r.running) > 0 {
			fmt.Fprintf(w, "%s: %d run(s) in progress elsewhere (held by other processes), counted as missing: render again when they finish\n", t.Name, len(r.running))
		}
		if len(r.Bad) > 0 {
			fmt.Fprintf(w, "%s: INCOMPLETE: %d record(s) cannot be used and are counted as missing:\n", t.Name, len(r.Bad))
			for _, id := range slices.Sorted(maps.Keys(r.Bad)) {
				fmt.Fprintf(w, "  %v\n", r.Bad[id])
				if !seenBad[id] {
					seenBad[id] = true
					bad = append(bad, r.Bad[id].Error())
				}
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d record(s) these outputs need cannot be used; the outputs are written, marked, and count them as missing:\n  %s\n(rst verify --profile %s --results %s lists every problem of the store)",
			len(bad), strings.Join(bad, "\n  "), p.Name, st.Dir)
	}
	return nil
}

// Manifest lists the runs behind a rendered output.
type Manifest struct {
	Target   string        `json:"target"`
	Profile  string        `json:"profile"`
	Seeds    int           `json:"seeds"`
	Done     int           `json:"runs_done"`
	Runnable int           `json:"runs_runnable"`
	Runs     []ManifestRun `json:"runs"`
}

// ManifestRun is one run of a manifest. SHA256 is the checksum of the
// record the output was rendered from (the one its file carries), so that
// rst verify can tell an output rendered from other records than the
// store holds now.
type ManifestRun struct {
	ID      string `json:"id,omitempty"`
	Cell    string `json:"cell"`
	Seed    int    `json:"seed"`
	Status  string `json:"status"` // done, diverged, missing, in progress, unreadable, or what the profile needs
	SHA256  string `json:"sha256,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Machine string `json:"machine,omitempty"`
}

func manifest(r *collected) Manifest {
	done, runnable := r.Done()
	m := Manifest{Target: r.Target.Name, Profile: r.Profile.Name, Seeds: r.Seeds, Done: done, Runnable: runnable}
	for _, run := range r.Runs {
		mr := ManifestRun{ID: run.ID, Cell: run.Cell.Label(), Seed: run.Seed}
		switch rec, ok := r.Records[run.ID]; {
		case run.Needs != "":
			mr.Status = run.Needs
		case ok:
			mr.Status = "done"
			if rec.Diverged != nil {
				mr.Status = "diverged"
			}
			mr.SHA256 = r.sums[run.ID]
			mr.Commit = rec.Provenance.GitCommit
			mr.Machine = rec.Provenance.CPU + ", " + rec.Provenance.Backend
		case r.Bad[run.ID] != nil:
			mr.Status = "unreadable"
		case r.running[run.ID] != "":
			mr.Status = "in progress"
		default:
			mr.Status = "missing"
		}
		m.Runs = append(m.Runs, mr)
	}
	return m
}

func runPlan(args []string) error {
	var slurm bool
	var rstPath string
	var extra sbatchArgs
	f, names, err := parseExp("plan", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&slurm, "slurm", false, "write a Slurm job-array script (one task per missing run) on stdout")
		fs.StringVar(&rstPath, "rst", "", "the rst binary the Slurm tasks run (default: this binary's absolute path)")
		fs.Var(&extra, "sbatch-arg", "an sbatch option for every task in its long form, e.g. --sbatch-arg=--partition=gpu --sbatch-arg=--time=24:00:00 (repeatable; one naming --job-name, --output, --cpus-per-task, a memory or a GPU request replaces the script's own)")
	})
	if err != nil {
		return err
	}
	// The paper profile's runs are meant for GPUs: planning them for the
	// CPU by default would submit weeks of work to the wrong nodes.
	defaulted := false
	if f.profile == "paper" && !f.set["device"] {
		f.device, defaulted = "cuda", true
	}
	p, st, ts, err := f.resolve(names, false)
	if err != nil {
		return err
	}
	if slurm && f.dryRun > 0 {
		return errors.New("--slurm with --dry-run: a dry run takes minutes; run it here (rst run --dry-run N) before submitting the real runs")
	}
	if len(extra) > 0 && !slurm {
		return errors.New("--sbatch-arg adds options to the Slurm script: give it with --slurm")
	}
	todo, total, bad, err := missingRuns(st, p, ts, f, false)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return refuseBad(bad, f, "nothing was planned")
	}
	note := ""
	if defaulted {
		note = "--device cuda: the paper profile's default for rst plan; give --device cpu to plan CPU runs"
		fmt.Fprintln(os.Stderr, "rst plan: "+note)
	}
	if !slurm {
		dev := ""
		if f.device != "cpu" {
			dev = ", device " + f.device
		}
		fmt.Printf("%s profile, %s%s: %d of %d runs missing in %s\n", p.Name, seedsText(p, names, f.seeds), dev, len(todo), total, st.Dir)
		for _, r := range todo {
			fmt.Printf("%s  %s, seed %d\n", r.ID, r.Cell.Label(), r.Seed)
		}
		return nil
	}
	if rstPath == "" {
		if rstPath, err = os.Executable(); err != nil {
			return err
		}
	}
	job := slurmJob{profile: p.Name, device: f.device, seeds: f.seeds, targets: names, todo: todo, extra: extra, note: note,
		summary: fmt.Sprintf("%s profile, %s, targets %s: %d missing runs.", p.Name, seedsText(p, names, f.seeds), strings.Join(names, " "), len(todo))}
	for _, a := range []struct {
		flag, path string
		to         *string
	}{{"--rst", rstPath, &job.rst}, {"--results", st.Dir, &job.results}, {"--data-dir", f.dataDir, &job.dataDir}} {
		if a.path == "" {
			continue
		}
		if *a.to, err = filepath.Abs(a.path); err != nil {
			return fmt.Errorf("%s %s: %w", a.flag, a.path, err)
		}
	}
	script, err := job.script()
	if err != nil {
		return err
	}
	if len(todo) > 0 {
		// Slurm opens each task's output file before the script runs, so
		// the folder must exist at submission.
		if err := os.MkdirAll(filepath.Join(job.results, "slurm"), 0o755); err != nil {
			return fmt.Errorf("--results %s: %w; choose a writable store on the shared file system%s", st.Dir, err, hintOf(err))
		}
	}
	_, err = os.Stdout.Write(script)
	return err
}

// hintOf is durable.Hint as a parenthesis, or "".
func hintOf(err error) string {
	if h := durable.Hint(err); h != "" {
		return " (" + h + ")"
	}
	return ""
}

// seedsText says how many seeds the targets names run in profile p: one
// count when they agree, else the most common one and the exceptions
// (figure2 and figure3 on the cpu profile, table4 on the paper's).
func seedsText(p *experiments.Profile, names []string, n int) string {
	count := map[int][]string{}
	for _, name := range names {
		t, err := experiments.Lookup(name)
		if err != nil || t.Cells == nil {
			continue
		}
		k := t.Seeds(p, n)
		count[k] = append(count[k], name)
	}
	if len(count) == 0 { // no target that trains: the flag's count, else the profile's
		k := p.Seeds
		if n > 0 {
			k = n
		}
		count[k] = nil
	}
	keys := slices.Collect(maps.Keys(count))
	slices.Sort(keys) // a tie in counts shows the smaller number first
	slices.SortStableFunc(keys, func(a, b int) int { return len(count[b]) - len(count[a]) })
	text := fmt.Sprintf("%d seeds", keys[0])
	var rest []string
	for _, k := range keys[1:] {
		rest = append(rest, fmt.Sprintf("%d for %s", k, strings.Join(count[k], ", ")))
	}
	if len(rest) > 0 {
		text += " (" + strings.Join(rest, "; ") + ")"
	}
	return text
}
