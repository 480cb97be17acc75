package experiments

import (
	"slices"
	"testing"
)

// Committed records in results/cpu are found by the hash of their resolved
// config: an option added with a default that changes the resolved config
// (or a model description) of a cpu or smoke run orphans hours of
// training. These ids are three committed cpu table3 runs (seed 1):
// SGD on the small CNN, SAM and G-RST on WRN-10-1.
func TestCommittedRunIDsAreStable(t *testing.T) {
	tg, err := Lookup("table3")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := tg.Plan(Profiles["cpu"], 1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	for id, what := range map[string]string{
		"b1c92ad34bc62363": "sgd smallcnn",
		"eb66612e1ac39aa8": "sam wrn10-1",
		"0c298c9811ed60bd": "grst wrn10-1",
	} {
		if !slices.Contains(ids, id) {
			t.Errorf("cpu table3 no longer plans run %s (%s, seed 1): a change altered its resolved config; its record in results/cpu would be orphaned", id, what)
		}
	}
	smoke, err := tg.Plan(Profiles["smoke"], 1)
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, r := range smoke {
		ids = append(ids, r.ID)
	}
	for _, id := range []string{"2a6aa7d656c33bb7", "d8923deedf5c5a3f", "f676b20975c789f6"} {
		if !slices.Contains(ids, id) {
			t.Errorf("smoke table3 no longer plans run %s", id)
		}
	}
}
