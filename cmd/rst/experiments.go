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
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("list", "list the paper's tables and figures, what each needs, and runs done per profile", runList)
	register("run", "train what a target's tables and figures miss in the store, then render them", runRun)
	register("render", "render targets' tables and figures from the store (never trains)", runRender)
	register("plan", "list a target's missing runs, or write a Slurm job-array script for them (--slurm)", runPlan)
}

// expFlags are the flags shared by list, run, render and plan.
type expFlags struct {
	profile, results, tables, figures, dataDir, device string
	seeds                                              int
}

func (f *expFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.profile, "profile", "cpu", "scale of the run matrix: "+strings.Join(experiments.ProfileNames, ", "))
	fs.IntVar(&f.seeds, "seeds", 0, "seeds 1..N for every target (0 = the profile's default: 5 for paper and cpu, 3 for cpu's figure2 and figure3 sweeps and for the paper's table4, 2 for smoke)")
	def := os.Getenv("RST_RESULTS")
	if def == "" {
		def = "results"
	}
	fs.StringVar(&f.results, "results", def, "the store of run records (default $RST_RESULTS or results)")
	fs.StringVar(&f.tables, "tables", "tables", "where rendered tables go (a PROFILE subfolder is added)")
	fs.StringVar(&f.figures, "figures", "figures", "where rendered figures go (a PROFILE subfolder is added)")
	fs.StringVar(&f.dataDir, "data-dir", "", "where datasets live (default $RST_DATA_DIR or ~/.cache/rst/data)")
	fs.StringVar(&f.device, "device", "cpu", "cpu or cuda")
}

// resolve checks the flags and returns the profile, the store and the
// targets named by args (all targets when args is empty and all is true).
func (f *expFlags) resolve(args []string, all bool) (*experiments.Profile, *store.Store, []*experiments.Target, error) {
	p, err := experiments.LookupProfile(f.profile)
	if err != nil {
		return nil, nil, nil, err
	}
	if f.seeds < 0 {
		return nil, nil, nil, fmt.Errorf("--seeds %d: want a positive number of seeds, or 0 for the profile's defaults", f.seeds)
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
	st, err := store.Open(f.results)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, st, ts, nil
}

// configure sets what a run needs but does not identify it.
func (f *expFlags) configure(cfg train.Config) train.Config {
	cfg.DataDir = f.dataDir
	if f.device != "cpu" {
		cfg.Device = f.device
	}
	return cfg
}

func parseExp(name string, args []string, extra func(fs *flag.FlagSet)) (*expFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &expFlags{}
	f.declare(fs)
	if extra != nil {
		extra(fs)
	}
	targets, err := parseInterspersed(fs, args)
	return f, targets, err
}

func runList(args []string) error {
	f, names, err := parseExp("list", args, nil)
	if err != nil {
		return err
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
// that the store lacks (all of them with force).
func missingRuns(st *store.Store, p *experiments.Profile, ts []*experiments.Target, seeds int, force bool) ([]experiments.Planned, int, error) {
	seen := map[string]bool{}
	var out []experiments.Planned
	total := 0
	for _, t := range ts {
		runs, err := t.Plan(p, seeds)
		if err != nil {
			return nil, 0, err
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
					// Training over it would hide the damage: the run stays
					// refused until the file is deleted or restored.
					fmt.Fprintf(os.Stderr, "rst: %v\n", err)
				}
			}
			out = append(out, r)
		}
	}
	return out, total, nil
}

func runRun(args []string) error {
	var jobs int
	var force, noRender bool
	var only string
	f, names, err := parseExp("run", args, func(fs *flag.FlagSet) {
		fs.IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process")
		fs.BoolVar(&force, "force", false, "train again runs that already have a record")
		fs.BoolVar(&noRender, "no-render", false, "train only; do not render")
		fs.StringVar(&only, "id", "", "train only this run id (what a Slurm array task does)")
	})
	if err != nil {
		return err
	}
	p, st, ts, err := f.resolve(names, false)
	if err != nil {
		return err
	}
	if jobs < 1 {
		return fmt.Errorf("--jobs %d: want at least 1", jobs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	todo, total, err := missingRuns(st, p, ts, f.seeds, force)
	if err != nil {
		return err
	}
	if only != "" {
		i := slices.IndexFunc(todo, func(r experiments.Planned) bool { return r.ID == only })
		if i < 0 {
			all, _, _ := missingRuns(st, p, ts, f.seeds, true)
			if !slices.ContainsFunc(all, func(r experiments.Planned) bool { return r.ID == only }) {
				return fmt.Errorf("--id %s: not a run of %s in the %s profile with %s (rst plan lists them)", only, strings.Join(names, " "), p.Name, seedsText(p, names, f.seeds))
			}
			fmt.Fprintf(os.Stderr, "skip %s: done\n", only)
			return nil
		}
		todo = todo[i : i+1]
		noRender = true
	}
	fmt.Fprintf(os.Stderr, "%s profile, %s: %d of %d runs to train, store %s\n", p.Name, seedsText(p, names, f.seeds), len(todo), total, st.Dir)
	if err := trainAll(ctx, st, f, names, todo, jobs, force); err != nil {
		return err
	}
	if noRender {
		return nil
	}
	return renderAll(st, p, ts, f, os.Stdout)
}

// trainAll trains the runs, one in this process (live progress) or jobs
// child processes at once, each logging to RESULTS/PROFILE/logs/ID.log.
func trainAll(ctx context.Context, st *store.Store, f *expFlags, targets []string, todo []experiments.Planned, jobs int, force bool) error {
	if len(todo) == 0 {
		return nil
	}
	start := time.Now()
	var mu sync.Mutex
	done, failed, busy := 0, 0, 0
	var errs []string
	// The ETA weighs each run by its expected passes per step, so that the
	// SAM runs still to come are not counted at an SGD run's speed.
	steps := experiments.Profiles[f.profile].Steps
	var totalCost, doneCost float64
	for _, r := range todo {
		totalCost += r.Cost(steps)
	}
	report := func(r experiments.Planned, outcome string, err error) {
		mu.Lock()
		defer mu.Unlock()
		done++
		doneCost += r.Cost(steps)
		elapsed := time.Since(start)
		eta := time.Duration(float64(elapsed) / doneCost * (totalCost - doneCost)).Round(time.Second)
		switch {
		case errors.Is(err, store.ErrBusy):
			busy++
			outcome = "skipped: another process is running it"
		case err != nil:
			failed++
			outcome = "FAILED: " + err.Error()
			errs = append(errs, r.ID+": "+err.Error())
		}
		fmt.Fprintf(os.Stderr, "[%d/%d] %s %s seed %d: %s (elapsed %s, ETA %s)\n", done, len(todo), r.ID, r.Cell.Label(), r.Seed, outcome, elapsed.Round(time.Second), eta)
	}
	if jobs == 1 {
		for i, r := range todo {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(os.Stderr, "[%d/%d] training %s: %s, seed %d\n", i+1, len(todo), r.ID, r.Cell.Label(), r.Seed)
			rec, outcome, err := st.Run(ctx, f.configure(r.Config), force, train.ForWriter(os.Stderr))
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("interrupted during run %s: its last checkpoint (if an epoch finished) is kept in %s; run the same command again to resume", r.ID, st.CheckpointPath(r.Config.Profile, r.ID))
			}
			report(r, outcomeText(rec, outcome), err)
		}
	} else {
		exe, err := os.Executable()
		if err != nil {
			return err
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
				err := runChild(ctx, exe, st, f, r, force, targets, jobs)
				outcome := "trained"
				if err == nil {
					if rec, e := st.Get(r.Config.Profile, r.ID); e == nil {
						outcome = outcomeText(rec, store.Trained)
					}
				}
				report(r, outcome, err)
			}(r)
		}
		wg.Wait()
		if ctx.Err() != nil {
			return errors.New("interrupted: finished runs are in the store, unfinished ones keep their checkpoints; run the same command again to resume")
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs failed:\n  %s", failed, len(todo), strings.Join(errs, "\n  "))
	}
	return nil
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

// runChild trains one run in a child process, its output in a log file.
func runChild(ctx context.Context, exe string, st *store.Store, f *expFlags, r experiments.Planned, force bool, targets []string, jobs int) error {
	logPath := filepath.Join(st.Dir, r.Config.Profile, "logs", r.ID+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	args := []string{"run", "--profile", f.profile, "--seeds", strconv.Itoa(f.seeds), "--results", st.Dir, "--device", f.device, "--id", r.ID}
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
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		last := lines[len(lines)-1]
		if strings.Contains(last, "in use by") {
			return fmt.Errorf("%w: %s", store.ErrBusy, last)
		}
		return fmt.Errorf("%v: %s (log: %s)", err, last, logPath)
	}
	return nil
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
	return renderAll(st, p, ts, f, os.Stdout)
}

// renderAll renders each target from the store into the tables and
// figures folders, with a manifest of the runs behind it, and prints the
// tables as Markdown on w.
func renderAll(st *store.Store, p *experiments.Profile, ts []*experiments.Target, f *expFlags, w io.Writer) error {
	tdir := filepath.Join(f.tables, p.Name)
	fdir := filepath.Join(f.figures, p.Name)
	for _, t := range ts {
		r, err := experiments.Collect(st, t, p, f.seeds)
		if err != nil {
			return err
		}
		out, err := t.Render(r)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		for _, tab := range out.Tables {
			if err := tab.WriteAll(tdir); err != nil {
				return err
			}
			if err := store.WriteJSON(filepath.Join(tdir, tab.Name+".manifest.json"), manifest(r)); err != nil {
				return err
			}
			if err := tab.Markdown(w); err != nil {
				return err
			}
			fmt.Fprintf(w, "\n(written to %s.{md,csv,tex})\n\n", filepath.Join(tdir, tab.Name))
		}
		for _, fig := range out.Figures {
			if err := fig.Save(fdir); err != nil {
				return err
			}
			if err := store.WriteJSON(filepath.Join(fdir, fig.Name+".manifest.json"), manifest(r)); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s: %s.{png,svg}\n", fig.Title, filepath.Join(fdir, fig.Name))
		}
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

// ManifestRun is one run of a manifest.
type ManifestRun struct {
	ID      string `json:"id,omitempty"`
	Cell    string `json:"cell"`
	Seed    int    `json:"seed"`
	Status  string `json:"status"` // done, diverged, missing, unreadable, or what the profile needs
	Commit  string `json:"commit,omitempty"`
	Machine string `json:"machine,omitempty"`
}

func manifest(r *experiments.Results) Manifest {
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
			mr.Commit = rec.Provenance.GitCommit
			mr.Machine = rec.Provenance.CPU + ", " + rec.Provenance.Backend
		case r.Bad[run.ID] != nil:
			mr.Status = "unreadable"
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
	f, names, err := parseExp("plan", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&slurm, "slurm", false, "write a Slurm job-array script (one task per missing run) on stdout")
		fs.StringVar(&rstPath, "rst", "", "the rst binary the Slurm tasks run (default: this binary's absolute path)")
	})
	if err != nil {
		return err
	}
	p, st, ts, err := f.resolve(names, false)
	if err != nil {
		return err
	}
	todo, total, err := missingRuns(st, p, ts, f.seeds, false)
	if err != nil {
		return err
	}
	if !slurm {
		fmt.Printf("%s profile, %s: %d of %d runs missing in %s\n", p.Name, seedsText(p, names, f.seeds), len(todo), total, st.Dir)
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
	results, err := filepath.Abs(st.Dir)
	if err != nil {
		return err
	}
	// Slurm opens each task's output file before the script runs, so the
	// folder must exist at submission.
	if err := os.MkdirAll(filepath.Join(results, "slurm"), 0o755); err != nil {
		return fmt.Errorf("--results %s: %w; choose a writable store on the shared filesystem", st.Dir, err)
	}
	return writeSlurm(os.Stdout, rstPath, results, p.Name, f, names, todo)
}

// writeSlurm writes a job-array script: one task per missing run, all
// writing into one shared store. The run ids are fixed in the script, so
// a task runs the same run whatever the store holds by then; a run that
// another task or worker finished is skipped.
func writeSlurm(w io.Writer, rst, results, profile string, f *expFlags, names []string, todo []experiments.Planned) error {
	fmt.Fprintf(w, "#!/bin/bash\n# %s profile, %s, targets %s: %d missing runs.\n", profile, seedsText(experiments.Profiles[profile], names, f.seeds), strings.Join(names, " "), len(todo))
	if len(todo) == 0 {
		fmt.Fprintf(w, "echo 'nothing to run: every run of %s is in %s'\nexit 0\n", strings.Join(names, " "), results)
		return nil
	}
	fmt.Fprintf(w, "#SBATCH --job-name=rst-%s\n#SBATCH --array=0-%d\n#SBATCH --output=%s/slurm/%%A_%%a.out\n#SBATCH --cpus-per-task=1\n",
		strings.Join(names, "-"), len(todo)-1, results)
	// A task gets the CPUs it asked for: without pinning (task/none) two
	// tasks on one node would otherwise each use every core, and their
	// timings would no longer measure the method.
	fmt.Fprintf(w, "set -euo pipefail\nexport GOMAXPROCS=${SLURM_CPUS_PER_TASK:-1} OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\nIDS=(\n")
	for _, r := range todo {
		fmt.Fprintf(w, "  %s  # %s, seed %d\n", r.ID, r.Cell.Label(), r.Seed)
	}
	fmt.Fprintf(w, ")\nexec %s run --results %s --profile %s --seeds %d --device %s", shellQuote(rst), shellQuote(results), profile, f.seeds, f.device)
	if f.dataDir != "" {
		fmt.Fprintf(w, " --data-dir %s", shellQuote(f.dataDir))
	}
	fmt.Fprintf(w, " --id \"${IDS[$SLURM_ARRAY_TASK_ID]}\" %s\n", strings.Join(names, " "))
	return nil
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
