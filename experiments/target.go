package experiments

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

// Cell is one entry of a target's matrix: a paper model on a paper
// dataset trained with one method; it is run once per seed.
type Cell struct {
	Model, Data string // the paper's names (ResNet18, CIFAR10, ...)
	Method      optim.Spec
	Augment     string // "" = the profile's default
	// Recipe picks one of a model's training recipes where the paper uses
	// two: RecipeViTLong is Table 3's ViT setting (1200 epochs, mixup);
	// "" is the model's usual one (see applyRecipe).
	Recipe string
	// Regime, when set, is a calibration regime (calibrate.go) that
	// replaces the profile's setting for this cell.
	Regime string
	X      float64 // the cell's position on a figure's axis: its expected Δη, or its schedule's parameter when Param
	Param  bool    // X is the schedule's parameter (a group whose members all have one Δη)
	Series string  // the figure series or table group the cell belongs to
	// Profiles, when set, limits the cell to these profiles: a row one
	// profile adds (a stand-in's extra regime) stays out of the others'
	// plans, tables and "runs done". Empty: every profile.
	Profiles []string
}

// Label names the cell in messages.
func (c Cell) Label() string {
	l := Display(c.Model) + " / " + Display(c.Data) + " / " + MethodLabel(c.Method)
	if c.Method.Rho != 0 {
		l += fmt.Sprintf(" ρ %g", c.Method.Rho)
	}
	if c.Regime != "" {
		l += " [" + c.Regime + "]"
	}
	return l
}

// Target is one table or figure of the paper.
type Target struct {
	Name, Title string
	// About says what the target shows, for rst list and captions.
	About string
	// Cells is the target's run matrix in every profile, cells limited to
	// some profiles included (Cell.Profiles; CellsFor picks a profile's);
	// nil for a target computed without training (table2).
	Cells func() []Cell
	// Render builds the outputs from the runs of a profile.
	Render func(r *Results) (Output, error)
	// Sweep marks a long parameter sweep, which a profile may run on
	// fewer seeds by default (Profile.SweepSeeds).
	Sweep bool
	// PaperSeeds, when set, is the paper's own seed count for this target
	// where it is not the usual five (Table 4: three), the paper profile's
	// default for it.
	PaperSeeds int
}

// Seeds is the number of seeds t runs in profile p: n when positive, else
// the profile's default for t.
func (t *Target) Seeds(p *Profile, n int) int {
	switch {
	case n > 0:
		return n
	case t.Sweep && p.SweepSeeds > 0:
		return p.SweepSeeds
	case t.PaperSeeds > 0 && p.Name == "paper":
		return t.PaperSeeds
	}
	return p.Seeds
}

// Output is what a target renders.
type Output struct {
	Tables  []*report.Table
	Figures []*report.Figure
}

var targets = map[string]*Target{}

func register(t *Target) { targets[t.Name] = t }

// Names lists the targets in the paper's order: tables, then figures.
func Names() []string {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		ka, na := splitName(a)
		kb, nb := splitName(b)
		if ka != kb {
			return ka > kb // "table" before "figure"
		}
		return na < nb
	})
	return names
}

func splitName(s string) (string, int) {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return s, 0
	}
	n := 0
	fmt.Sscan(s[i:], &n)
	return s[:i], n
}

// Lookup returns the named target, or an error listing them.
func Lookup(name string) (*Target, error) {
	t, ok := targets[name]
	if !ok {
		return nil, fmt.Errorf("unknown target %q: choose from %s (rst list shows them)", name, strings.Join(Names(), ", "))
	}
	return t, nil
}

// Planned is one run of a target: a cell and a seed, with its resolved
// config, or the reason the profile cannot run it.
type Planned struct {
	Cell   Cell
	Seed   int
	Config train.Config
	ID     string
	Needs  string
}

// CellsFor is t's run matrix in profile p: its cells less those limited
// to other profiles.
func (t *Target) CellsFor(p *Profile) []Cell {
	if t.Cells == nil {
		return nil
	}
	var out []Cell
	for _, c := range t.Cells() {
		if len(c.Profiles) == 0 || slices.Contains(c.Profiles, p.Name) {
			out = append(out, c)
		}
	}
	return out
}

// Cells is the run matrix the results were collected for.
func (r *Results) Cells() []Cell { return r.Target.CellsFor(r.Profile) }

// Plan lists the runs of target t in profile p with seeds 1..seeds.
func (t *Target) Plan(p *Profile, seeds int) ([]Planned, error) {
	if seeds < 0 {
		return nil, fmt.Errorf("--seeds %d: want a positive number, or 0 for the profile's default", seeds)
	}
	seeds = t.Seeds(p, seeds)
	if t.Cells == nil {
		return nil, nil
	}
	var out []Planned
	for _, c := range t.CellsFor(p) {
		for s := 1; s <= seeds; s++ {
			cfg, needs, err := p.Config(c, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Name, err)
			}
			pl := Planned{Cell: c, Seed: s, Config: cfg, Needs: needs}
			if needs == "" {
				pl.ID = cfg.ID()
			}
			out = append(out, pl)
		}
	}
	return out, nil
}

// Results are a target's planned runs with whatever records the store
// holds for them.
type Results struct {
	Target  *Target
	Profile *Profile
	Seeds   int
	Runs    []Planned
	Records map[string]*train.Record // by run id
	// Bad holds the records that could not be read (corrupt, tampered):
	// they count as missing and are listed under the table.
	Bad map[string]error
}

// Collect reads from st the records of t's runs in profile p.
func Collect(st *store.Store, t *Target, p *Profile, seeds int) (*Results, error) {
	runs, err := t.Plan(p, seeds)
	if err != nil {
		return nil, err
	}
	r := &Results{Target: t, Profile: p, Seeds: t.Seeds(p, seeds), Runs: runs, Records: map[string]*train.Record{}, Bad: map[string]error{}}
	for _, run := range runs {
		if run.Needs != "" {
			continue
		}
		rec, err := st.Get(p.Name, run.ID)
		switch {
		case err == nil:
			r.Records[run.ID] = rec
		case errors.Is(err, store.ErrMissing):
		default:
			r.Bad[run.ID] = err
		}
	}
	return r, nil
}

// Stat is what the runs of one cell came to.
type Stat struct {
	Cell     Cell
	Needs    string
	Errors   map[int]float64 // finite final test error by seed
	Records  []*train.Record // finished runs, diverged ones included
	Missing  int
	Diverged int
}

// Summary aggregates the cell's finite errors.
func (s Stat) Summary() report.Summary {
	return report.Summarize(s.values(), s.Missing, s.Diverged)
}

func (s Stat) values() []float64 {
	seeds := slices.Sorted(maps.Keys(s.Errors))
	v := make([]float64, len(seeds))
	for i, k := range seeds {
		v[i] = s.Errors[k]
	}
	return v
}

// Mean of a per-record quantity over the cell's finished, undiverged runs.
func (s Stat) Mean(f func(*train.Record) float64) float64 {
	var sum float64
	n := 0
	for _, r := range s.Records {
		if r.Diverged == nil {
			sum += f(r)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Stat gathers the runs of cell c.
func (r *Results) Stat(c Cell) Stat {
	st := Stat{Cell: c, Errors: map[int]float64{}}
	for _, run := range r.Runs {
		if !sameCell(run.Cell, c) {
			continue
		}
		if run.Needs != "" {
			st.Needs = run.Needs
			continue
		}
		rec, ok := r.Records[run.ID]
		if !ok {
			st.Missing++
			continue
		}
		st.Records = append(st.Records, rec)
		if rec.Diverged != nil || !rec.TestError.Finite() {
			st.Diverged++
			continue
		}
		st.Errors[run.Seed] = float64(rec.TestError)
	}
	return st
}

func sameCell(a, b Cell) bool {
	return a.Model == b.Model && a.Data == b.Data && a.Augment == b.Augment && a.Recipe == b.Recipe && a.Regime == b.Regime && a.X == b.X && a.Param == b.Param && a.Series == b.Series &&
		a.Method.Name == b.Method.Name && a.Method.Sharp == b.Method.Sharp && a.Method.Schedule == b.Method.Schedule &&
		a.Method.Rho == b.Method.Rho && fmt.Sprint(a.Method.Params) == fmt.Sprint(b.Method.Params)
}

// Paired is the paired difference of the errors of a and b over the seeds
// both have, or ok = false when fewer than two seeds are shared.
func Paired(a, b Stat) (report.Diff, bool) {
	d, err := report.Paired(a.Errors, b.Errors)
	return d, err == nil
}

// Done counts the runs with a record, and those the profile can run.
func (r *Results) Done() (done, runnable int) {
	for _, run := range r.Runs {
		if run.Needs == "" {
			runnable++
			if _, ok := r.Records[run.ID]; ok {
				done++
			}
		}
	}
	return done, runnable
}

// Caption is the common caption line: the profile, its stand-ins, seeds
// and ρ, and how many runs are in.
func (r *Results) Caption() string {
	done, runnable := r.Done()
	return fmt.Sprintf("Profile %s (%s). Seeds 1–%d; %d of %d runs done.", r.Profile.Name, r.Profile.About, r.Seeds, done, runnable)
}

// Cost is a run's expected forward-backward pairs per step, 1 + the
// expected Δη of its method (optim.ExtraPasses asks the method): what a
// matrix's ETA weighs runs by, since a SAM run takes about twice an SGD
// run's time. A spec that does not build is weighed as SAM.
func (p Planned) Cost(steps int) float64 {
	x, err := optim.ExtraPasses(p.Config.Method, steps)
	if err != nil {
		return 2
	}
	return 1 + x
}
