package experiments

import (
	"testing"

	"github.com/rst-bench/rst/suite/optim"
)

// A cell limited to one profile is planned, tabulated and counted there
// only; the table's title is the target's declared one.
func TestCellLimitedToAProfile(t *testing.T) {
	tg := &Target{Name: "tableX", Title: "Table X: a test-only target",
		Cells: func() []Cell {
			cells := cross([]string{ResNet18}, []string{CIFAR10}, specs(SGD, SAM))
			extra := cross([]string{ResNet18}, []string{CIFAR10}, specs(optim.Spec{Name: "rst", Schedule: "constant:0.5"}))
			extra[0].Profiles = []string{"cpu"}
			return append(cells, extra...)
		},
	}
	for _, c := range []struct {
		profile string
		cells   int
	}{{"smoke", 2}, {"cpu", 3}, {"paper", 2}} {
		p := Profiles[c.profile]
		runs, err := tg.Plan(p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(tg.CellsFor(p)) != c.cells || len(runs) != c.cells {
			t.Errorf("%s: %d cells and %d runs, want %d of each", c.profile, len(tg.CellsFor(p)), len(runs), c.cells)
		}
		r := &Results{Target: tg, Profile: p, Seeds: 1, Runs: runs}
		tab := methodTable(r, nil)
		if len(tab.Rows) != c.cells || tab.Title != tg.Title || tab.Name != tg.Name {
			t.Errorf("%s: table %q %q with %d rows, want %q %q with %d", c.profile, tab.Name, tab.Title, len(tab.Rows), tg.Name, tg.Title, c.cells)
		}
	}
}
