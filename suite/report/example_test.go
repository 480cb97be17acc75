package report_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rst-bench/rst/suite/report"
)

// Test errors of five seeds, two of which diverged: they are counted,
// never averaged in.
func ExampleFormatMeanStd() {
	s := report.Summarize([]float64{3.52, 3.71, 3.66}, 0, 2)
	fmt.Println(s.N, report.FormatMeanStd(s, 2))
	fmt.Println(report.FormatMeanStd(report.Summarize([]float64{3.65}, 4, 0), 2))
	fmt.Println(report.FormatMeanStd(report.Summarize(nil, 5, 0), 2))
	// Output:
	// 3 3.63 ± 0.10 (diverged 2/5)
	// 3.65 ± – (4 missing)
	// –
}

// RST against SGD on the same three seeds: the interval excludes 0.
func ExamplePaired() {
	rst := map[int]float64{1: 4.31, 2: 4.25, 3: 4.40} // by seed
	sgd := map[int]float64{1: 4.70, 2: 4.62, 3: 4.75}
	d, err := report.Paired(rst, sgd)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("n=%d t=%.3f %s\n", d.N, d.T, report.FormatDiff(d, 2))
	// Output:
	// n=3 t=4.303 −0.37 [−0.42, −0.32]
}

func exampleTable() *report.Table {
	return &report.Table{
		Name:    "table1",
		Title:   "Test error (%), CIFAR-10",
		Caption: "Mean ± std over 3 seeds; ρ = 0.05.",
		Header:  []string{"method", "error", "Δη"},
		Rows: [][]string{
			{"SGD", "4.69 ± 0.07", "0"},
			{"SAM", "4.22 ± 0.05", "1"},
			{"RST p=0.5", "4.32 ± 0.08", "0.5"},
		},
		Notes: []string{"Δη: extra forward-backward passes per step."},
	}
}

func ExampleTable_Markdown() {
	if err := exampleTable().Markdown(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ### Test error (%), CIFAR-10
	//
	// | method    |       error |  Δη |
	// |:----------|------------:|----:|
	// | SGD       | 4.69 ± 0.07 |   0 |
	// | SAM       | 4.22 ± 0.05 |   1 |
	// | RST p=0.5 | 4.32 ± 0.08 | 0.5 |
	//
	// Mean ± std over 3 seeds; ρ = 0.05.
	//
	// - Δη: extra forward-backward passes per step.
}

func ExampleTable_CSV() {
	if err := exampleTable().CSV(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// method,error,Δη
	// SGD,4.69 ± 0.07,0
	// SAM,4.22 ± 0.05,1
	// RST p=0.5,4.32 ± 0.08,0.5
}

func ExampleTable_LaTeX() {
	if err := exampleTable().LaTeX(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// \begin{table}[t]
	// \centering
	// \caption{Test error (\%), CIFAR-10. Mean $\pm$ std over 3 seeds; $\rho$ = 0.05.}
	// \label{tab:table1}
	// \begin{tabular}{lrr}
	// \toprule
	// method & error & $\Delta\eta$ \\
	// \midrule
	// SGD & 4.69 $\pm$ 0.07 & 0 \\
	// SAM & 4.22 $\pm$ 0.05 & 1 \\
	// RST p=0.5 & 4.32 $\pm$ 0.08 & 0.5 \\
	// \bottomrule
	// \end{tabular}
	// \par\smallskip{\footnotesize $\Delta\eta$: extra forward-backward passes per step.\par}
	// \end{table}
}

// Error against extra cost with the SGD and SAM levels, and a heat map,
// saved as PNG and SVG.
func ExampleFigure_Save() {
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	fig := &report.Figure{
		Name:  "figure1c",
		Title: "Constant schedules, ResNet-18, CIFAR-10",
		Cols:  2,
		Panels: []report.Panel{
			{
				Title: "test error vs Δη", XLabel: "Δη", YLabel: "test error (%)",
				Series: []report.Series{{Name: "RST", X: []float64{0.2, 0.5, 0.8}, Y: []float64{4.55, 4.40, 4.27}, YErr: []float64{0.08, 0.06, 0.07}}},
				Lines: []report.RefLine{
					{Name: "SGD", Intercept: 4.69, Band: 0.07},
					{Name: "SAM", Intercept: 4.22, Band: 0.05},
				},
			},
			{
				Title: "error over p × γ", XLabel: "p", YLabel: "γ_rst / ρ",
				Heat: &report.Heat{X: []float64{0.1, 0.5, 0.9}, Y: []float64{0.5, 1}, Z: [][]float64{{4.6, 4.4, 4.3}, {4.5, 4.3, 4.2}}, ZLabel: "error (%)", Digits: 2},
			},
		},
		Caption: "Mean ± std over 3 seeds.",
	}
	if err := fig.Save(dir); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := filepath.Glob(filepath.Join(dir, "figure1c.*"))
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	// Output:
	// figure1c.png
	// figure1c.svg
}
