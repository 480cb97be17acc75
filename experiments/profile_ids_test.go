package experiments

import (
	"slices"
	"testing"
)

// Committed records in results/cpu are found by the hash of their resolved
// config: an option added with a default that changes the resolved config
// (or a model description) of a cpu or smoke run orphans hours of
// training. The cpu ids below are committed runs (seed 1): table3's SGD on
// the small CNN and SAM on WRN-10-1 (the label-noise regime, shared with
// the calibration), its ViT SGD run (the calibration's "noise 20%" run), and
// the calibration's original-regime SGD and SAM runs (the ViT's original
// regime run, c70264a771139512, is the calibration's "current" one now).
func TestCommittedRunIDsAreStable(t *testing.T) {
	plan := func(target string) []string {
		tg, err := Lookup(target)
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
		return ids
	}
	for target, want := range map[string]map[string]string{
		"table3": {"9bf8c7fbcd786f6f": "sgd smallcnn", "f7ddf2a684334879": "sam wrn10-1", "f5e19d758dc2dbd1": "sgd vit-mini, noise 20%"},
		"calibrate": {"b1c92ad34bc62363": "sgd smallcnn, original regime", "eb66612e1ac39aa8": "sam wrn10-1, original regime",
			"c70264a771139512": "sgd vit-mini, original regime", "f5e19d758dc2dbd1": "sgd vit-mini, noise 20%"},
	} {
		ids := plan(target)
		for id, what := range want {
			if !slices.Contains(ids, id) {
				t.Errorf("cpu %s no longer plans run %s (%s, seed 1): a change altered its resolved config; its record in results/cpu would be orphaned", target, id, what)
			}
		}
	}
	tg, _ := Lookup("table3")
	var ids []string
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
