package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table is one of the paper's tables as strings: the caller formats the
// cells (FormatMeanStd, FormatDiff, fmt) and this package only lays them
// out. Name is the file stem and the LaTeX label (tab:Name); Title is a
// heading in Markdown and the caption's first sentence in LaTeX; Caption
// and Notes follow the table.
//
// Columns whose cells all read as numbers ("3.65 ± 0.12", "−0.4", "+83%",
// with "–" and "diverged …" allowed) are right-aligned in Markdown and
// LaTeX; all others are left-aligned.
type Table struct {
	Name, Title, Caption string
	Header               []string
	Rows                 [][]string
	Notes                []string
}

// check reports a table that cannot be rendered, naming the row.
func (t *Table) check() error {
	if err := checkName("table", t.Name); err != nil {
		return err
	}
	if len(t.Header) == 0 {
		return fmt.Errorf("report: table %s has no header; set Header to the column names", t.Name)
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Header) {
			return fmt.Errorf("report: table %s row %d has %d cells, the header has %d; pad the row with \"%s\" for missing values", t.Name, i+1, len(r), len(t.Header), Missing)
		}
	}
	return nil
}

// Markdown writes the table as GitHub-flavoured Markdown: "### Title", the
// table, then the caption as a paragraph and the notes as a list.
func (t *Table) Markdown(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", oneLine(t.Title))
	}
	right := t.numericColumns()
	aligns := make([]tw.Align, len(t.Header))
	for j := range aligns {
		aligns[j] = tw.AlignLeft
		if right[j] {
			aligns[j] = tw.AlignRight
		}
	}
	// The library's defaults upper-case and wrap header cells; a paper's
	// column names (Δη, ρ) must come out as written.
	tab := tablewriter.NewTable(&b,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
	)
	tab.Header(mdCells(t.Header))
	for _, r := range t.Rows {
		if err := tab.Append(mdCells(r)); err != nil {
			return fmt.Errorf("report: table %s: %w", t.Name, err)
		}
	}
	if err := tab.Render(); err != nil {
		return fmt.Errorf("report: table %s: %w", t.Name, err)
	}
	if t.Caption != "" {
		fmt.Fprintf(&b, "\n%s\n", oneLine(t.Caption))
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", oneLine(n))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdCells makes cells safe inside a Markdown table row: a '|' would end
// the cell and a newline the row. An empty cell keeps its place.
func mdCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(oneLine(c), "|", `\|`)
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// CSV writes the header row and the rows, nothing else: the file is for
// programs (pandas, spreadsheets), which the caption would only confuse.
func (t *Table) CSV(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return fmt.Errorf("report: table %s: %w", t.Name, err)
	}
	return nil
}

// LaTeX writes a booktabs table float (\usepackage{booktabs} in the
// preamble) labelled tab:Name, with every cell, the caption and the notes
// escaped by EscapeLaTeX.
func (t *Table) LaTeX(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	right := t.numericColumns()
	spec := make([]byte, len(t.Header))
	for j := range spec {
		spec[j] = 'l'
		if right[j] {
			spec[j] = 'r'
		}
	}
	row := func(cells []string) {
		for j, c := range cells {
			if j > 0 {
				b.WriteString(" & ")
			}
			e := EscapeLaTeX(oneLine(c))
			// After "\\" LaTeX reads a leading '[' or '*' as the line
			// break's own argument; an empty group shields the cell.
			if strings.HasPrefix(e, "[") || strings.HasPrefix(e, "*") {
				e = "{}" + e
			}
			b.WriteString(e)
		}
		b.WriteString(` \\` + "\n")
	}
	b.WriteString("\\begin{table}[t]\n\\centering\n")
	if c := t.captionText(); c != "" {
		fmt.Fprintf(&b, "\\caption{%s}\n", EscapeLaTeX(c))
	}
	fmt.Fprintf(&b, "\\label{tab:%s}\n", t.Name)
	fmt.Fprintf(&b, "\\begin{tabular}{%s}\n\\toprule\n", spec)
	row(t.Header)
	b.WriteString("\\midrule\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n")
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "\\par\\smallskip{\\footnotesize %s\\par}\n", EscapeLaTeX(oneLine(n)))
	}
	b.WriteString("\\end{table}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// captionText joins Title and Caption into one caption: "Title. Caption".
func (t *Table) captionText() string {
	title, cap := oneLine(t.Title), oneLine(t.Caption)
	switch {
	case title == "":
		return cap
	case cap == "":
		return title
	case strings.HasSuffix(title, ".") || strings.HasSuffix(title, "?") || strings.HasSuffix(title, "!"):
		return title + " " + cap
	default:
		return title + ". " + cap
	}
}

// WriteAll writes dir/NAME.md, dir/NAME.csv and dir/NAME.tex, each
// atomically; dir is created when missing. Nothing is written when the
// table is malformed.
func (t *Table) WriteAll(dir string) error {
	var md, cs, tex bytes.Buffer
	if err := t.Markdown(&md); err != nil {
		return err
	}
	if err := t.CSV(&cs); err != nil {
		return err
	}
	if err := t.LaTeX(&tex); err != nil {
		return err
	}
	return writeFiles(dir, []namedBytes{
		{t.Name + ".md", md.Bytes()},
		{t.Name + ".csv", cs.Bytes()},
		{t.Name + ".tex", tex.Bytes()},
	})
}

// numericColumns marks the columns to right-align: at least one cell reads
// as a number and every other body cell is a number or a missing/diverged
// mark.
func (t *Table) numericColumns() []bool {
	right := make([]bool, len(t.Header))
	for j := range t.Header {
		seen := false
		ok := true
		for _, r := range t.Rows {
			c := strings.TrimSpace(r[j])
			switch {
			case c == "" || c == Missing || strings.HasPrefix(c, "diverged"):
			case looksNumeric(c):
				seen = true
			default:
				ok = false
			}
		}
		right[j] = seen && ok
	}
	return right
}

// looksNumeric: an optional sign (ASCII or typographic), then a digit or a
// decimal point followed by a digit.
func looksNumeric(s string) bool {
	for _, p := range []string{"+", "-", "−", "±", "≈", "~"} {
		if strings.HasPrefix(s, p) {
			s = strings.TrimSpace(s[len(p):])
			break
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == '.' {
		r, _ = utf8.DecodeRuneInString(s[n:])
	}
	return unicode.IsDigit(r)
}

// latexText maps the characters LaTeX treats specially, and the
// non-ASCII symbols the paper's tables use, to text-mode or math-mode
// commands. Math-mode entries are marked by a leading '$' and are merged
// with neighbouring math ("Δη" → "$\Delta\eta$").
var latexText = map[rune]string{
	'&': `\&`, '%': `\%`, '$': `\$`, '#': `\#`, '_': `\_`, '{': `\{`, '}': `\}`,
	'~': `\textasciitilde{}`, '^': `\textasciicircum{}`, '\\': `\textbackslash{}`,
	'|': `\textbar{}`, '<': `$<`, '>': `$>`,
	'–': `--`, '—': `---`,
	'±': `$\pm`, '×': `$\times`, '·': `$\cdot`, '≈': `$\approx`, '≤': `$\le`, '≥': `$\ge`,
	'−': `$-`, '∇': `$\nabla`, '‖': `$\|`, '∞': `$\infty`, '√': `$\surd`, '²': `$^2`,
	'α': `$\alpha`, 'β': `$\beta`, 'γ': `$\gamma`, 'δ': `$\delta`, 'ε': `$\varepsilon`,
	'η': `$\eta`, 'θ': `$\theta`, 'κ': `$\kappa`, 'λ': `$\lambda`, 'μ': `$\mu`,
	'ρ': `$\rho`, 'σ': `$\sigma`, 'τ': `$\tau`, 'φ': `$\phi`, 'ω': `$\omega`,
	'Γ': `$\Gamma`, 'Δ': `$\Delta`, 'Θ': `$\Theta`, 'Λ': `$\Lambda`, 'Σ': `$\Sigma`, 'Ω': `$\Omega`,
}

// EscapeLaTeX makes s safe as LaTeX text: it escapes & % $ # _ { } ~ ^ \
// and writes the symbols ± × · ≈ ≤ ≥ − ∇ ‖ ∞ √ ² and the Greek letters in
// math mode (adjacent ones share one $…$), '–' as "--" and '—' as "---".
// Other characters pass through (UTF-8 input is assumed).
func EscapeLaTeX(s string) string {
	var b, math strings.Builder
	flush := func() {
		if math.Len() > 0 {
			b.WriteString("$" + math.String() + "$")
			math.Reset()
		}
	}
	for _, r := range s {
		e, ok := latexText[r]
		if ok && strings.HasPrefix(e, "$") {
			// Every math entry starts with '\' or a symbol, so
			// concatenating them never glues a control word to a letter.
			math.WriteString(e[1:])
			continue
		}
		flush()
		if ok {
			b.WriteString(e)
		} else {
			b.WriteRune(r)
		}
	}
	flush()
	return b.String()
}
