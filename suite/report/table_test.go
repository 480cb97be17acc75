package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenTable exercises what the renderers must get right: Greek letters
// and ± in cells, LaTeX specials (% _ & #), a '|' inside a cell, a missing
// cell, a diverged mark and a text column beside numeric ones.
func goldenTable() *Table {
	return &Table{
		Name:    "table_golden",
		Title:   "Test error (%) of SGD, SAM and RST, CIFAR-10",
		Caption: "Mean ± std over 5 seeds; Δη = extra fraction of forward-backward passes; ρ = 0.05 & γ_rst ≈ 0.1.",
		Header:  []string{"model", "method", "error %", "Δη", "time [min]"},
		Rows: [][]string{
			{"ResNet-18", "SGD", "4.68 ± 0.11", "0.00", "24.4"},
			{"ResNet-18", "SAM (ρ=0.05)", "4.22 ± 0.09", "1.00", "43.8"},
			{"ResNet-18", "RST p=0.5 | #2", "4.31 ± 0.10", "0.50", Missing},
			{"WRN-28-10", "RST cos1_a", "diverged (5/5)", "−0.02", "~"},
			{"[paper]", "SAM", "4.22", "1.00", "43.8"},
		},
		Notes: []string{"Paper: SGD 95.32% accuracy in 24m21s, SAM 95.78% in 43m47s.", "– = no run yet."},
	}
}

func TestTableGolden(t *testing.T) {
	tb := goldenTable()
	for _, f := range []struct {
		ext    string
		render func(*Table, *bytes.Buffer) error
	}{
		{"md", func(t *Table, b *bytes.Buffer) error { return t.Markdown(b) }},
		{"csv", func(t *Table, b *bytes.Buffer) error { return t.CSV(b) }},
		{"tex", func(t *Table, b *bytes.Buffer) error { return t.LaTeX(b) }},
	} {
		var b bytes.Buffer
		if err := f.render(tb, &b); err != nil {
			t.Fatalf("%s: %v", f.ext, err)
		}
		golden(t, tb.Name+"."+f.ext, b.Bytes())
	}
}

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	tb := goldenTable()
	if err := tb.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "table_golden.csv table_golden.md table_golden.tex" {
		t.Fatalf("files written: %s (temporary files must be gone)", got)
	}
	var md bytes.Buffer
	if err := tb.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(filepath.Join(dir, "table_golden.md"))
	if err != nil || !bytes.Equal(disk, md.Bytes()) {
		t.Fatalf("NAME.md on disk differs from Markdown(): %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "table_golden.md")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode of NAME.md: %v %v, want 0644", fi.Mode(), err)
	}

	// A failing write (the target is a directory) leaves no temporary file.
	bad := t.TempDir()
	if err := os.Mkdir(filepath.Join(bad, "table_golden.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tb.WriteAll(bad); err == nil || !strings.Contains(err.Error(), "table_golden.md") {
		t.Fatalf("WriteAll over a directory: error %v, want one naming table_golden.md", err)
	}
	ents, _ = os.ReadDir(bad)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

func TestTableErrors(t *testing.T) {
	for _, c := range []struct {
		t    Table
		want string
	}{
		{Table{Name: "", Header: []string{"a"}}, "not usable as a file name"},
		{Table{Name: "../x", Header: []string{"a"}}, "not usable as a file name"},
		{Table{Name: "t1"}, "no header"},
		{Table{Name: "t1", Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}, {"1"}}}, "row 2 has 1 cells, the header has 2"},
	} {
		for _, render := range []func(io.Writer) error{c.t.Markdown, c.t.LaTeX, c.t.CSV, func(io.Writer) error { return c.t.WriteAll(t.TempDir()) }} {
			var b bytes.Buffer
			if err := render(&b); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("table %+v: error %v, want one containing %q", c.t, err, c.want)
			}
			if b.Len() != 0 {
				t.Errorf("table %+v: wrote %q before failing", c.t, b.String())
			}
		}
	}
}

func TestEscapeLaTeX(t *testing.T) {
	for in, want := range map[string]string{
		`50% & $5 #1 a_b {x} ~ ^ \`: `50\% \& \$5 \#1 a\_b \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}`,
		"Δη ≈ 0.5":                  `$\Delta\eta$ $\approx$ 0.5`,
		"3.65 ± 0.12":               `3.65 $\pm$ 0.12`,
		"γ_rst = 2ρ":                `$\gamma$\_rst = 2$\rho$`,
		"1–2, −3":                   `1--2, $-$3`,
		"‖∇L‖²":                     `$\|\nabla$L$\|^2$`,
		"plain text":                "plain text",
		"naïve résumé":              "naïve résumé",
	} {
		if got := EscapeLaTeX(in); got != want {
			t.Errorf("EscapeLaTeX(%q) = %q, want %q", in, got, want)
		}
	}
}
