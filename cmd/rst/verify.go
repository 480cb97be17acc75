package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rst-bench/rst/experiments"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("verify", "check a store and the outputs rendered from it: every record's checksum, id and cell, every manifest", runVerify)
}

// runVerify checks, reading only, what rst render and rst run rely on:
// every file in PROFILE/runs/ is a whole record filed under its own id
// and is a run of some target of its profile, and every manifest beside
// the outputs names runs that the store holds with the records it was
// rendered from. Any problem makes it exit non-zero.
func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	f := &expFlags{set: map[string]bool{}}
	fs.StringVar(&f.profile, "profile", "", "the profile to check: "+strings.Join(experiments.ProfileNames, ", ")+" (default: every profile the store holds)")
	f.declareStore(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rst verify [--profile P] [--results R] [--tables T --figures F]\n\nChecks every record of the store and the manifests of the outputs rendered from it; exits 1 on any problem.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: rst verify checks a whole store (--profile P narrows it to one profile)", fs.Arg(0))
	}
	st, err := store.At(f.results)
	if err != nil {
		return err
	}
	if _, err := os.Stat(st.Dir); err != nil {
		return fmt.Errorf("--results %s: no store there (%v): give the folder rst run writes into", st.Dir, err)
	}
	var profiles []*experiments.Profile
	if f.profile != "" {
		p, err := experiments.LookupProfile(f.profile)
		if err != nil {
			return err
		}
		profiles = append(profiles, p)
	} else {
		for _, name := range experiments.ProfileNames {
			if _, err := os.Stat(filepath.Join(st.Dir, name)); err == nil {
				profiles = append(profiles, experiments.Profiles[name])
			}
		}
		if len(profiles) == 0 {
			return fmt.Errorf("--results %s holds no profile's runs (no %s folder): give the store's folder", st.Dir, strings.Join(experiments.ProfileNames, ", "))
		}
	}
	problems := 0
	for _, p := range profiles {
		v := &verifier{st: st, p: p}
		tdir, fdir := f.outputs(st, p)
		if err := v.records(); err != nil {
			return err
		}
		v.manifests(tdir, fdir)
		for _, n := range v.notes {
			fmt.Printf("%s: note: %s\n", p.Name, n)
		}
		for _, pr := range v.problems {
			fmt.Printf("%s: PROBLEM: %s\n", p.Name, pr)
		}
		fmt.Printf("%s: %d records in %s, %d of them runs of its targets; %d manifests in %s and %s; %d problems, %d notes\n",
			p.Name, v.nRecords, filepath.Join(st.Dir, p.Name, "runs"), v.nPlanned, v.nManifests, tdir, fdir, len(v.problems), len(v.notes))
		problems += len(v.problems)
	}
	if problems > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in the store %s or its outputs (listed above, each with its fix)", problems, st.Dir)}
	}
	return nil
}

// cellRef is where a run appears in a target's matrix.
type cellRef struct {
	target, cell string
	seed         int
}

// verifier checks one profile of a store.
type verifier struct {
	st                             *store.Store
	p                              *experiments.Profile
	good                           map[string]verifiedRecord // by run id
	bad                            map[string]bool           // run ids whose file is refused
	devices                        []string
	problems, notes                []string
	nRecords, nPlanned, nManifests int
}

type verifiedRecord struct {
	rec *train.Record
	sum string
}

func (v *verifier) problem(format string, a ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}
func (v *verifier) note(format string, a ...any) {
	v.notes = append(v.notes, fmt.Sprintf(format, a...))
}

// records checks every file of runs/ (format, checksum, id against its
// config and its file name, profile) and that each record is a run of
// one of the profile's targets.
func (v *verifier) records() error {
	entries, err := v.st.Scan(v.p.Name)
	if err != nil {
		return err
	}
	v.good, v.bad = map[string]verifiedRecord{}, map[string]bool{}
	v.devices = []string{"cpu"}
	maxSeed := 0
	for _, e := range entries {
		switch {
		case e.Temp:
			v.note("%s is a temporary file: a record being written now, or left by a killed writer (the next rst run of its run removes it)", filepath.Join(v.st.Dir, v.p.Name, "runs", e.Name))
		case e.Err != nil:
			v.nRecords++
			v.problem("%v", e.Err)
			if e.ID != "" {
				v.bad[e.ID] = true
			}
		default:
			v.nRecords++
			v.good[e.ID] = verifiedRecord{e.Rec, e.Sum}
			maxSeed = max(maxSeed, int(e.Rec.Config.Seed))
			if !slices.Contains(v.devices, e.Rec.Config.Device) {
				v.devices = append(v.devices, e.Rec.Config.Device)
			}
		}
	}
	// Every target's matrix with as many seeds as any record has, on
	// every device a record was trained on.
	where := map[string]cellRef{}
	for _, name := range experiments.Names() {
		t, _ := experiments.Lookup(name)
		if t.Cells == nil {
			continue
		}
		for _, dev := range v.devices {
			runs, err := (&expFlags{seeds: max(maxSeed, t.Seeds(v.p, 0)), device: dev}).plan(t, v.p)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if _, seen := where[r.ID]; r.Needs == "" && !seen {
					where[r.ID] = cellRef{t.Name, r.Cell.Label(), r.Seed}
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(v.good)) {
		rec := v.good[id].rec
		if _, ok := where[id]; ok {
			v.nPlanned++
			continue
		}
		v.problem("record %s (%s %s on %s, %s, seed %d) is not a run of any target of the %s profile: its config is not one the targets plan today (an older default, or a run filed by hand); rst render never shows it: move it out of the store, or restore the code that plans it",
			v.st.RecordPath(v.p.Name, id), rec.Config.Model, rec.Config.Method.Name, rec.Config.Data, rec.Config.Device, rec.Config.Seed, v.p.Name)
	}
	return nil
}

// manifests checks every manifest in the profile's output folders
// against the store: a run it says is done must be there, with the
// record the output was rendered from; a run it says is missing but the
// store now holds only makes the output stale (a note).
func (v *verifier) manifests(dirs ...string) {
	for _, dir := range dirs {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.manifest.json"))
		for _, path := range paths {
			v.nManifests++
			v.manifest(path)
		}
		if _, err := os.Stat(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			v.problem("output folder %s: %v", dir, err)
		}
	}
}

func (v *verifier) manifest(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		v.problem("manifest %s: %v", path, err)
		return
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		v.problem("manifest %s is not valid JSON (%v): render its target again (rst render TARGET)", path, err)
		return
	}
	render := fmt.Sprintf("rst render %s --profile %s --results %s", m.Target, v.p.Name, v.st.Dir)
	if m.Profile != v.p.Name {
		v.problem("manifest %s is of the %s profile, in the %s profile's folder: move it to its own, or render again (%s)", path, m.Profile, v.p.Name, render)
		return
	}
	t, err := experiments.Lookup(m.Target)
	if err != nil {
		v.problem("manifest %s: %v: delete it and the outputs beside it", path, err)
		return
	}
	// The runs today's code plans for each (cell, seed) of the target, on
	// every device the store has runs of.
	planned := map[cellRef][]string{}
	for _, dev := range v.devices {
		runs, err := (&expFlags{seeds: m.Seeds, device: dev}).plan(t, v.p)
		if err != nil {
			v.problem("manifest %s: %v", path, err)
			return
		}
		for _, r := range runs {
			k := cellRef{cell: r.Cell.Label(), seed: r.Seed}
			planned[k] = append(planned[k], r.ID)
		}
	}
	// Runs that disagree in the same way are reported together, one line
	// per manifest and kind with the first of them, since a stale output
	// can list hundreds and the fix is one command.
	type kind struct{ what, fix string }
	var order []kind
	found := map[kind][]string{}
	add := func(k kind, r ManifestRun) {
		if found[k] == nil {
			order = append(order, k)
		}
		found[k] = append(found[k], fmt.Sprintf("run %s (%s, seed %d)", r.ID, r.Cell, r.Seed))
	}
	rerun := fmt.Sprintf("train and render again (rst run %s --profile %s --results %s)", m.Target, v.p.Name, v.st.Dir)
	var (
		replanned = kind{"shown for a cell and seed whose config the targets plan differently now (the config changed since the output was rendered)", rerun}
		refused   = kind{"rendered from a record that the store now refuses (see its problem above)", "fix the record, then render again (" + render + ")"}
		lost      = kind{"shown as done but without a record in the store (rendered from another store, or the record was lost)", "restore the records, or render again (" + render + ")"}
		replaced  = kind{"rendered from another record than the store holds now (its sha256 differs)", "render again (" + render + ")"}
		diverged  = kind{"shown as diverged or not, unlike the store's record", "render again (" + render + ")"}
	)
	done, stale := 0, 0
	for _, r := range m.Runs {
		if r.ID == "" {
			continue
		}
		if r.Status == "done" || r.Status == "diverged" {
			done++
		}
		if ids := planned[cellRef{cell: r.Cell, seed: r.Seed}]; !slices.Contains(ids, r.ID) {
			add(replanned, r)
			continue
		}
		got, ok := v.good[r.ID]
		switch r.Status {
		case "done", "diverged":
			switch {
			case v.bad[r.ID]:
				add(refused, r)
			case !ok:
				add(lost, r)
			case r.SHA256 != "" && r.SHA256 != got.sum:
				add(replaced, r)
			case (r.Status == "diverged") != (got.rec.Diverged != nil):
				add(diverged, r)
			}
		default:
			if ok {
				stale++
			}
		}
	}
	for _, k := range order {
		runs := found[k]
		more := ""
		if len(runs) > 1 {
			more = fmt.Sprintf(" and %d more", len(runs)-1)
		}
		v.problem("manifest %s: %s%s %s: %s", path, runs[0], more, k.what, k.fix)
	}
	if done != m.Done {
		v.problem("manifest %s counts %d runs done but lists %d: render again (%s)", path, m.Done, done, render)
	}
	if stale > 0 {
		v.note("%s is stale: %d of its runs were recorded after it was rendered (%s)", path, stale, render)
	}
}
