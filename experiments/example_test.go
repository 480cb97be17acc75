package experiments_test

import (
	"fmt"

	"github.com/rst-bench/rst/experiments"
)

// A target's run matrix in a profile: what `rst plan table3 --profile
// smoke` lists. Cells the profile cannot run say what they need.
func ExampleTarget_Plan() {
	t, _ := experiments.Lookup("table3")
	runs, _ := t.Plan(experiments.Profiles["smoke"], 2)
	ids := map[string]bool{}
	needs := map[string]int{}
	for _, r := range runs {
		if r.Needs != "" {
			needs[r.Needs]++
			continue
		}
		ids[r.ID] = true
	}
	fmt.Println(len(runs), "planned runs,", len(ids), "distinct to train")
	fmt.Println(needs["needs: cifar100 (the smoke profile trains one dataset: see the cpu and paper profiles)"], "need CIFAR-100")
	// Output:
	// 36 planned runs, 12 distinct to train
	// 18 need CIFAR-100
}
