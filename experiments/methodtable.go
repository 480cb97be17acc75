package experiments

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/schedule"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/train"
)

// PaperValue is a number the paper's text states for a cell (SPEC §4),
// shown beside ours.
type PaperValue struct {
	Error  float64 // test error, percent
	Source string  // where the paper or the official code states it
}

// paperKey identifies a cell for the paper's numbers.
func paperKey(model, data string, m string) string { return model + "|" + data + "|" + m }

// methodTable renders cells as one row each: the error over seeds, the
// realised Δη, the extra time relative to SAM's, and the paired difference
// to the SGD and SAM runs of the same model, data and seeds.
func methodTable(r *Results, paper map[string]PaperValue) *report.Table {
	cells := r.Cells()
	t := &report.Table{
		Name: r.Target.Name, Title: r.Target.Title,
		Header: []string{"Model", "Data", "Method", "Error (%)", "n", "Δη", "Extra passes / SAM's", "vs SGD (95% CI)", "vs SAM (95% CI)", "Paper"},
	}
	var notes []string
	for _, c := range cells {
		st := r.Stat(c)
		row := []string{modelName(r, c.Model), dataName(r, c.Model, c.Data), MethodLabel(c.Method)}
		if st.Needs != "" {
			short, full := shortNeeds(st.Needs)
			row = append(row, short, "0", "–", "–", "–", "–", paperText(paper, c))
			t.Rows = append(t.Rows, row)
			if !slices.Contains(notes, full) {
				notes = append(notes, full)
			}
			continue
		}
		sgd := r.Stat(Cell{Model: c.Model, Data: c.Data, Method: SGD, Augment: c.Augment, Recipe: c.Recipe})
		sam := r.Stat(Cell{Model: c.Model, Data: c.Data, Method: SAM, Augment: c.Augment, Recipe: c.Recipe})
		s := st.Summary()
		row = append(row, report.FormatMeanStd(s, 2), fmt.Sprint(s.N),
			num(st.Mean(func(r *train.Record) float64 { return r.DeltaEtaRealised }), 3),
			extraPasses(st, sam),
			diffText(st, sgd, c.Method.Name == "sgd", r.Seeds),
			diffText(st, sam, c.Method.Name == "sam", r.Seeds),
			paperText(paper, c))
		t.Rows = append(t.Rows, row)
		if s.Diverged > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d run(s) diverged and are not averaged.", c.Label(), s.Diverged))
		}
	}
	t.Caption = r.Caption() + " Error: mean ± std of the final test error over seeds (n finished, undiverged runs). " +
		"Δη: realised extra forward-backward pairs per step. Extra passes: realised Δη over SAM's, both counted by the runs, so no machine load enters it (what a pass costs in time is measured side by side by rst bench --compare; rst claims checks that cost follows Δη). " +
		"vs SGD / vs SAM: mean paired difference of the error over the same seeds (same data order and initialisation), with its 95% Student-t interval, and (n=K) where fewer seeds than the table's pair; negative is better. Intervals are per row, not adjusted for the many rows of a table: rst claims tests the paper's claims with Holm's adjustment."
	t.Notes = append(notes, badNotes(r)...)
	return t
}

func modelName(r *Results, model string) string {
	if m, ok := r.Profile.Models[model]; ok && m != model {
		return Display(model) + " (stand-in: " + Display(m) + ")"
	}
	return Display(model)
}

func dataName(r *Results, model, data string) string {
	d, ok := r.Profile.Data[data]
	if !ok || d == data {
		return Display(data)
	}
	if note := r.Profile.dataNote(model); note != "" {
		return Display(data) + " (stand-in: " + Display(d) + " with " + note + ")"
	}
	return Display(data) + " (stand-in: " + Display(d) + ")"
}
func num(v float64, digits int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// extraPasses is the cell's extra forward-backward passes per step over
// SAM's, both counted by the runs: the cost in the paper's unit (Δη),
// exact whatever the machine's load. What a pass costs in time is measured
// side by side by `rst bench --compare` (the cost-follows-delta-eta claim).
func extraPasses(st, sam Stat) string {
	de := func(r *train.Record) float64 { return r.DeltaEtaRealised }
	a, c := st.Mean(de), sam.Mean(de)
	if math.IsNaN(a) || math.IsNaN(c) || c <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", a/c)
}

// diffText is the paired difference to a baseline, with the number of
// seeds it pairs when that is fewer than the table's (a seed missing on
// either side).
func diffText(st, base Stat, self bool, seeds int) string {
	if self {
		return "(baseline)"
	}
	d, ok := Paired(st, base)
	if !ok {
		return "–"
	}
	if d.N < seeds {
		return fmt.Sprintf("%s (n=%d)", report.FormatDiff(d, 2), d.N)
	}
	return report.FormatDiff(d, 2)
}

func paperText(paper map[string]PaperValue, c Cell) string {
	if v, ok := paper[paperKey(c.Model, c.Data, MethodLabel(c.Method))]; ok {
		return fmt.Sprintf("%.2f (%s)", v.Error, v.Source)
	}
	return "–"
}

func badNotes(r *Results) []string {
	var notes []string
	for id, err := range r.Bad {
		notes = append(notes, fmt.Sprintf("run %s: unreadable record, counted as missing: %v", id, err))
	}
	return notes
}

// cross builds the cells models × data × methods.
func cross(models, data []string, methods ...[]Cell) []Cell {
	var out []Cell
	for _, m := range models {
		for _, d := range data {
			for _, group := range methods {
				for _, c := range group {
					c.Model, c.Data = m, d
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// specs turns method specs into cells (model and data filled in by cross).
func specs(ms ...optim.Spec) []Cell {
	out := make([]Cell, len(ms))
	for i, m := range ms {
		out[i] = Cell{Method: m}
	}
	return out
}

// scheduleCells are RST (or G-RST) cells over a group of schedules, each
// placed at its expected Δη on a figure's axis.
func scheduleCells(series string, grst bool, group []schedule.Func) []Cell {
	out := make([]Cell, len(group))
	for i, f := range group {
		m := RST(f.String())
		if grst {
			m = GRST(f.String())
		}
		out[i] = Cell{Method: m, Series: series, X: f.ExpectedDeltaEta(1000)}
	}
	return out
}

// withAugment sets the augmentation of every cell.
func withAugment(aug string, cells []Cell) []Cell {
	for i := range cells {
		cells[i].Augment = aug
	}
	return cells
}

// shortNeeds turns "needs: vit-s16 (why...)" into the cell text
// "needs vit-s16" and the note "vit-s16: why...".
func shortNeeds(needs string) (short, full string) {
	rest := strings.TrimPrefix(needs, "needs: ")
	what, why, _ := strings.Cut(rest, " ")
	return "needs " + what, what + ": " + strings.Trim(why, "()")
}

// sameBuild says whether every finished run of the stats was trained by
// one backend build with one thread count (Provenance.Backend names both).
func sameBuild(stats ...Stat) bool {
	first := ""
	for _, st := range stats {
		for _, r := range st.Records {
			switch {
			case first == "":
				first = r.Provenance.Backend
			case r.Provenance.Backend != first:
				return false
			}
		}
	}
	return true
}
