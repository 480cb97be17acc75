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
func methodTable(r *Results, name, title string, cells []Cell, paper map[string]PaperValue) *report.Table {
	t := &report.Table{
		Name: name, Title: title,
		Header: []string{"Model", "Data", "Method", "Error (%)", "n", "Δη", "Extra time / SAM's", "vs SGD (95% CI)", "vs SAM (95% CI)", "Paper"},
	}
	var notes []string
	for _, c := range cells {
		st := r.Stat(c)
		row := []string{modelName(r, c.Model), dataName(r, c.Data), MethodLabel(c.Method)}
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
			extraTime(st, sgd, sam),
			diffText(st, sgd, c.Method.Name == "sgd"),
			diffText(st, sam, c.Method.Name == "sam"),
			paperText(paper, c))
		t.Rows = append(t.Rows, row)
		if s.Diverged > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d run(s) diverged and are not averaged.", c.Label(), s.Diverged))
		}
	}
	t.Caption = r.Caption() + " Error: mean ± std of the final test error over seeds (n finished, undiverged runs). " +
		"Δη: realised extra forward-backward pairs per step. Extra time: (time − SGD's) / (SAM's − SGD's), training time only, from runs that may have shared the machine with other work (rst bench --compare measures cost side by side); \"mixed builds\" where the runs compared were trained by different kernels or thread counts. " +
		"vs SGD / vs SAM: mean paired difference of the error over the same seeds (same data order and initialisation), with its 95% Student-t interval; negative is better."
	t.Notes = append(notes, badNotes(r)...)
	return t
}

func modelName(r *Results, model string) string {
	if m, ok := r.Profile.Models[model]; ok && m != model {
		return Display(model) + " (stand-in: " + Display(m) + ")"
	}
	return Display(model)
}

func dataName(r *Results, data string) string {
	if d, ok := r.Profile.Data[data]; ok && d != data {
		return Display(data) + " (stand-in: " + Display(d) + ")"
	}
	return Display(data)
}

func num(v float64, digits int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

func extraTime(st, sgd, sam Stat) string {
	tm := func(r *train.Record) float64 { return r.TrainSeconds }
	a, b, c := st.Mean(tm), sgd.Mean(tm), sam.Mean(tm)
	if math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(c) || c <= b {
		return "–"
	}
	if !sameBuild(st, sgd, sam) {
		return mixedBuilds
	}
	return fmt.Sprintf("%.2f", (a-b)/(c-b))
}

// mixedBuilds stands for a time ratio whose runs were trained by different
// kernels or thread counts (an OpenBLAS run against a oneDNN one), whose
// times say nothing about the methods.
const mixedBuilds = "mixed builds"

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

func diffText(st, base Stat, self bool) string {
	if self {
		return "(baseline)"
	}
	d, ok := Paired(st, base)
	if !ok {
		return "–"
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
