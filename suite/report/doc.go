// Package report renders the paper's tables and figures from aggregated
// run results. It knows nothing about training or about where records are
// stored: callers (the experiments) reduce their runs to numbers and pass
// them in.
//
// Three pieces:
//
//   - Aggregation: Summarize reduces one metric over seeds to a Summary
//     (mean, sample standard deviation, counts of missing and diverged
//     runs, which never enter the mean); Paired gives the mean paired
//     difference of two methods over the same seeds with a Student-t 95%
//     confidence interval. FormatMeanStd and FormatDiff turn them into
//     table cells.
//   - Tables: a Table of strings rendered as GitHub-flavoured Markdown,
//     CSV and a booktabs LaTeX table; WriteAll writes all three.
//   - Figures: a declarative Figure of panels (series with error bars,
//     reference lines, heat maps) saved as PNG and SVG with gonum/plot.
//     Legends sit outside the plot area, so they never cover data, and all
//     text is set in DejaVu Sans, which has the Greek letters and the ∇, Δ,
//     ≈ and ± glyphs the paper's labels use.
//
// Every file is written atomically (a temporary file in the same
// directory, then a rename), so an interrupted run leaves either the old
// file or the new one.
package report
