package experiments

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every number REPRODUCE.md states about results must come from the
// generated outputs (tables/PROFILE/*.md, claims and calibration
// included), so that the prose cannot drift from the store. Timings and
// other measurements made by hand sit between "<!-- by hand -->" and
// "<!-- /by hand -->" and are exempt; so are code blocks.
func TestReproduceNumbersComeFromOutputs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "REPRODUCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	var generated strings.Builder
	files, _ := filepath.Glob(filepath.Join("..", "tables", "*", "*.md"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		generated.Write(b)
	}
	if len(files) == 0 {
		t.Fatal("no generated tables under tables/")
	}
	text := stripRegions(string(doc), "<!-- by hand -->", "<!-- /by hand -->")
	text = stripRegions(text, "```", "```")
	num := regexp.MustCompile(`\d+\.\d+`)
	missing := map[string]bool{}
	for _, n := range num.FindAllString(text, -1) {
		if !strings.Contains(generated.String(), n) {
			missing[n] = true
		}
	}
	for n := range missing {
		t.Errorf("REPRODUCE.md states %s, which no generated table under tables/ contains: quote the generated output, or mark a hand measurement <!-- by hand -->", n)
	}
}

// stripRegions removes every span from open to the next close.
func stripRegions(s, open, close string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, open)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+len(open):]
		j := strings.Index(rest, close)
		if j < 0 {
			return b.String()
		}
		s = rest[j+len(close):]
	}
}

func TestStripRegions(t *testing.T) {
	got := stripRegions("a 1.5 <!-- by hand --> 2.5 <!-- /by hand --> b 3.5", "<!-- by hand -->", "<!-- /by hand -->")
	if got != "a 1.5  b 3.5" {
		t.Errorf("stripRegions = %q", got)
	}
}
