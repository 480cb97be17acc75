package experiments

import (
	"fmt"
	"math"
	"strings"

	"github.com/rst-bench/rst/suite/report"
	"github.com/rst-bench/rst/suite/train"
)

// Regime is one candidate training regime for the cpu profile: what its
// stand-ins train on and for how long. The calibration target runs SGD and
// SAM in each, so that the profile can adopt one in which sharpness-aware
// training helps, the regime the paper's claims are about.
//
// A regime spells out every setting it changes from calibrationBase, a
// frozen copy of the cpu profile's original setting (3,000 images, 6
// epochs), not from the profile as it stands: the candidates keep their
// meaning, and their stored runs, after the profile adopts one of them.
type Regime struct {
	Name string // the row label, e.g. "fit-1k"
	// What differs from calibrationBase; zero values keep the base's.
	Subset, Epochs, Warmup, EvalEvery int
	LR, Rho, LabelNoise               float64
	Augment                           string
	Data                              string            // the stand-in dataset, "" = fashion-mnist
	Models                            map[string]string // stand-in models by paper name, nil = the base's
}

// calibrationModels are the stand-ins the calibration compares regimes
// on; the wider ones come with Regime.Models.
var calibrationModels = map[string]string{ResNet18: "smallcnn", WRN2810: "wrn10-1", ViTS: "vit-mini"}

// calibrationBase is the cpu profile's original setting, frozen: every
// regime starts from it.
func calibrationBase(model, data string) train.Config {
	c := train.Defaults()
	c.Profile, c.Model, c.Data = "cpu", model, data
	c.Subset, c.TestSubset, c.Epochs, c.Batch = 3000, 2000, 6, 128
	return c
}

// Config is the regime's config for a stand-in model (before the ViT
// recipe and the method are applied).
func (g Regime) Config(paperModel string) (train.Config, bool) {
	model, ok := calibrationModels[paperModel]
	if m, wide := g.Models[paperModel]; wide {
		model = m
	}
	if !ok {
		return train.Config{}, false
	}
	c := calibrationBase(model, "fashion-mnist")
	g.apply(&c)
	return c, true
}

// apply sets what the regime changes on a config of calibrationBase.
func (g Regime) apply(c *train.Config) {
	if g.Data != "" {
		c.Data = g.Data
	}
	setInt := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setInt(&c.Subset, g.Subset)
	setInt(&c.Epochs, g.Epochs)
	setInt(&c.Warmup, g.Warmup)
	setInt(&c.EvalEvery, g.EvalEvery)
	if g.LR != 0 {
		c.LR = g.LR
	}
	if g.Augment != "" {
		c.Augment = g.Augment
	}
	c.LabelNoise = g.LabelNoise
}

// Steps is the run length T of the regime: epochs × ⌊images / batch⌋.
func (g Regime) Steps() int {
	c, _ := g.Config(ResNet18)
	return c.Epochs * (c.Subset / c.Batch)
}

// About says in words what the regime trains.
func (g Regime) About() string {
	c, _ := g.Config(ResNet18)
	parts := []string{fmt.Sprintf("%s images of %s, %d epochs (T = %d)", thousands(c.Subset), Display(c.Data), c.Epochs, g.Steps())}
	if c.Warmup > 0 {
		parts = append(parts, fmt.Sprintf("warm-up %d steps", c.Warmup))
	}
	parts = append(parts, fmt.Sprintf("lr %g", c.LR))
	if g.Rho != 0 {
		parts = append(parts, fmt.Sprintf("ρ %g", g.Rho))
	}
	if c.Augment != "none" {
		parts = append(parts, c.Augment)
	}
	if c.LabelNoise > 0 {
		parts = append(parts, fmt.Sprintf("%g%% symmetric label noise", 100*c.LabelNoise))
	}
	if len(g.Models) > 0 {
		var ms []string
		for _, pm := range []string{ResNet18, WRN2810, ViTS} {
			if m, ok := g.Models[pm]; ok {
				ms = append(ms, m)
			}
		}
		parts = append(parts, "models "+strings.Join(ms, ", "))
	}
	return strings.Join(parts, ", ")
}

func thousands(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%d,000", n/1000)
	}
	return fmt.Sprint(n)
}

// The candidates, cheapest first within each question the issue asks:
// does the first epoch blow up (warm-up, peak lr); does fitting the
// training set bring SAM's gain (length, images); ρ; augmentation; wider
// stand-ins; MNIST; label noise, SAM's best-documented effect, at ρ up to
// 0.2 (a larger radius is what keeps SAM from memorising wrong labels).
// The fit regimes evaluate every 5th epoch: their epochs are short.
var calibrationRegimes = []Regime{
	{Name: "current"}, // the profile before calibration: its runs are already in the store
	{Name: "warm-up", Warmup: 23},
	{Name: "warm-up, lr 0.05", Warmup: 23, LR: 0.05},
	{Name: "noise 20%", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, LabelNoise: 0.2},
	{Name: "noise 40%", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, LabelNoise: 0.4},
	{Name: "noise 20%, ρ 0.1", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, LabelNoise: 0.2, Rho: 0.1},
	{Name: "noise 20%, ρ 0.2", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, LabelNoise: 0.2, Rho: 0.2},
	{Name: "noise 40%, ρ 0.2", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, LabelNoise: 0.4, Rho: 0.2},
	{Name: "fit 1k", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5},
	{Name: "fit 1k, ρ 0.1", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, Rho: 0.1},
	{Name: "fit 1k, ρ 0.02", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, Rho: 0.02},
	{Name: "fit 1k, ρ 0.01", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, Rho: 0.01},
	{Name: "fit 1k, crop-flip", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, Augment: "crop-flip"},
	{Name: "fit 1k, MNIST", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5, Data: "mnist"},
	{Name: "fit 3k", Subset: 3000, Epochs: 20, Warmup: 50, EvalEvery: 5},
	{Name: "fit 1k, wide", Subset: 1000, Epochs: 40, Warmup: 50, EvalEvery: 5,
		Models: map[string]string{ResNet18: "smallcnn-w2", WRN2810: "wrn10-4"}},
	{Name: "fit 10k", Subset: 10000, Epochs: 8, Warmup: 78, EvalEvery: 2},
}

// vitRegimes are the regimes the ViT stand-in is calibrated in as well (a
// ViT run costs several CNN runs).
var vitRegimes = map[string]bool{"current": true, "noise 20%": true, "noise 40%": true, "noise 20%, ρ 0.2": true, "fit 1k": true}

// LookupRegime returns the named calibration regime.
func LookupRegime(name string) (Regime, bool) {
	for _, g := range calibrationRegimes {
		if g.Name == name {
			return g, true
		}
	}
	return Regime{}, false
}

// regimeConfig is the config of a calibration cell in profile p, or why p
// cannot run it.
func regimeConfig(p *Profile, c Cell) (train.Config, string) {
	if p.Name != "cpu" {
		return train.Config{}, "needs: cpu (the calibration compares candidate regimes for the cpu profile; run it with --profile cpu)"
	}
	g, ok := LookupRegime(c.Regime)
	if !ok {
		return train.Config{}, "needs: regime " + c.Regime + " (not a calibration regime)"
	}
	cfg, ok := g.Config(c.Model)
	if !ok {
		return train.Config{}, "needs: " + c.Model + " (no calibration stand-in)"
	}
	return cfg, ""
}

// cells are the regime's SGD and SAM cells for a paper model. SGD ignores
// ρ: the regimes that differ only in ρ share their SGD runs.
func (g Regime) cells(paperModel string) (sgd, sam Cell) {
	sgd = Cell{Model: paperModel, Data: CIFAR10, Method: SGD, Regime: g.Name, Series: g.Name}
	sam = sgd
	sam.Method = SAM
	sam.Method.Rho = g.Rho
	return sgd, sam
}

func init() {
	cells := func() []Cell {
		var out []Cell
		for _, g := range calibrationRegimes {
			for _, m := range []string{ResNet18, WRN2810, ViTS} {
				if m == ViTS && !vitRegimes[g.Name] {
					continue
				}
				sgd, sam := g.cells(m)
				out = append(out, sgd, sam)
			}
		}
		return out
	}
	register(&Target{
		Name: "calibrate", Title: "Calibration of the cpu profile: SGD and SAM in candidate regimes",
		About: "cpu profile only: SGD and SAM on each stand-in in candidate regimes (warm-up and lr, length up to fitting the training set, ρ, augmentation, wider models, MNIST, label noise), to adopt one in which SAM helps",
		Cells: cells,
		Render: func(r *Results) (Output, error) {
			t := calibrationTable(r, cells())
			f := calibrationFigure(r, cells())
			return Output{Tables: []*report.Table{t}, Figures: []*report.Figure{f}}, nil
		},
	})
}

// calibrationTable has one row per regime and stand-in: SGD's and SAM's
// errors, SAM − SGD with its paired interval, the epoch-1 and final
// training losses, the training error at the end, and the cost.
func calibrationTable(r *Results, cells []Cell) *report.Table {
	t := &report.Table{
		Name: "calibration", Title: "Calibration: SAM − SGD in candidate regimes of the cpu profile",
		Header: []string{"Regime", "Stand-in", "SGD error (%)", "SAM error (%)", "SAM − SGD (95% CI)", "pairs",
			"Epoch-1 loss SGD / SAM", "Final train loss SGD / SAM", "Train error (%) SGD / SAM", "T", "Cost (SGD runs)"},
	}
	for _, c := range cells {
		if c.Method.Name != "sgd" {
			continue
		}
		g, _ := LookupRegime(c.Regime)
		sgdCell, samCell := g.cells(c.Model)
		sgd, sam := r.Stat(sgdCell), r.Stat(samCell)
		cfg, _ := g.Config(c.Model)
		row := []string{g.Name, Display(cfg.Model)}
		if sgd.Needs != "" {
			short, _ := shortNeeds(sgd.Needs)
			row = append(row, short, "–", "–", "0", "–", "–", "–", fmt.Sprint(g.Steps()), "–")
			t.Rows = append(t.Rows, row)
			continue
		}
		row = append(row, report.FormatMeanStd(sgd.Summary(), 2), report.FormatMeanStd(sam.Summary(), 2))
		if d, ok := Paired(sam, sgd); ok {
			row = append(row, report.FormatDiff(d, 2), fmt.Sprint(d.N))
		} else {
			row = append(row, report.Missing, "0")
		}
		firstLoss := func(rec *train.Record) float64 {
			if len(rec.Epochs) == 0 {
				return math.NaN()
			}
			return float64(rec.Epochs[0].TrainLoss)
		}
		lastLoss := func(rec *train.Record) float64 {
			if len(rec.Epochs) == 0 {
				return math.NaN()
			}
			return float64(rec.Epochs[len(rec.Epochs)-1].TrainLoss)
		}
		trainErr := func(rec *train.Record) float64 {
			if rec.FinalTrain == nil {
				return math.NaN()
			}
			return float64(rec.FinalTrain.Error)
		}
		pair := func(f func(*train.Record) float64, digits int) string {
			return num(sgd.Mean(f), digits) + " / " + num(sam.Mean(f), digits)
		}
		// Cost of one SGD and one SAM run, in SGD runs of the current
		// profile of the same model (T = 138): (T_SGD + 2·T_SAM)/138, from
		// the pairs the runs counted, so it is exact, not timed.
		cost := "–"
		pairs := func(rec *train.Record) float64 { return rec.Pairs }
		if a, b := sgd.Mean(pairs), sam.Mean(pairs); !math.IsNaN(a) && !math.IsNaN(b) {
			orig, _ := LookupRegime("current")
			cost = fmt.Sprintf("%.1f", (a+b)/float64(orig.Steps()))
			if len(g.Models) > 0 {
				cost += " (wider model)"
			}
		}
		row = append(row, pair(firstLoss, 2), pair(lastLoss, 3), pair(trainErr, 2), fmt.Sprint(g.Steps()), cost)
		t.Rows = append(t.Rows, row)
	}
	var about []string
	for _, g := range calibrationRegimes {
		about = append(about, g.Name+": "+g.About())
	}
	t.Caption = fmt.Sprintf("Profile cpu. Seeds 1–%d; %s SGD and SAM (ρ 0.05 unless the regime says) on each stand-in in each regime, from a frozen copy of the cpu profile's original setting (3,000 Fashion-MNIST images, 6 epochs, batch 128, lr 0.1 cosine, Nesterov 0.9, L2 1e-3, clip 5). ", r.Seeds, runsDone(r)) +
		"SAM − SGD: mean paired difference of the final test error over the seeds both finished (same subset, order and initialisation), with its 95% Student-t interval; negative means SAM helps. " +
		"Epoch-1 loss: mean training loss over the first epoch (chance is 2.30). Final train loss: mean over the last epoch's steps. Train error: the finished model on its whole training split, against the labels it trained on (noisy ones under label noise; – for runs recorded before this was measured). " +
		"Cost: forward-backward pairs of one SGD and one SAM run, in SGD runs of the original profile (T = 138) of the same model. " +
		"Regimes: " + strings.Join(about, "; ") + "."
	t.Notes = badNotes(r)
	return t
}

func runsDone(r *Results) string {
	done, runnable := r.Done()
	return fmt.Sprintf("%d of %d runs done;", done, runnable)
}

// calibrationFigure draws SAM − SGD with its interval for each regime, one
// panel per stand-in, regimes along x in the table's order.
func calibrationFigure(r *Results, cells []Cell) *report.Figure {
	f := &report.Figure{Name: "calibration", Title: "Calibration: SAM − SGD by regime (cpu profile)", Cols: 1, PanelWidth: 7, PanelHeight: 3}
	var legend []string
	for i, g := range calibrationRegimes {
		legend = append(legend, fmt.Sprintf("%d = %s", i+1, g.Name))
	}
	for _, m := range []string{ResNet18, WRN2810, ViTS} {
		p := report.Panel{Title: "stand-in for " + Display(m), XLabel: "regime (numbered as in the caption)", YLabel: "SAM − SGD error (points)",
			Lines: []report.RefLine{{Name: "no difference"}}, XMin: report.Limit(0.5), XMax: report.Limit(float64(len(calibrationRegimes)) + 0.5)}
		for i := range calibrationRegimes {
			p.XTicks = append(p.XTicks, float64(i+1))
		}
		s := report.Series{Name: "mean with 95% interval", Style: report.Points}
		for i, g := range calibrationRegimes {
			sgd, sam := g.cells(m)
			d, ok := Paired(r.Stat(sam), r.Stat(sgd))
			if !ok {
				continue
			}
			s.X = append(s.X, float64(i+1))
			s.Y = append(s.Y, d.Mean)
			s.YErr = append(s.YErr, d.Hi-d.Mean)
		}
		if len(s.X) == 0 {
			p.Title += " (no paired runs yet)"
		} else {
			p.Series = append(p.Series, s)
		}
		f.Panels = append(f.Panels, p)
	}
	f.Caption = fmt.Sprintf("Profile cpu; %s points: mean paired difference of the test error, SAM − SGD, over the seeds both finished; bars: its 95%% Student-t interval; below 0 means SAM helps. Regimes: %s.",
		runsDone(r), strings.Join(legend, ", "))
	return f
}
