package train

import (
	"fmt"
	"runtime"
	"time"

	"github.com/rst-bench/rst/suite/optim"
)

// CompareResult is one method's line of a side-by-side timing.
type CompareResult struct {
	Label        string     `json:"label"`
	Method       optim.Spec `json:"method"`
	Steps        int        `json:"steps"`
	MeanStepMS   float64    `json:"mean_step_ms"`
	PairsPerStep float64    `json:"pairs_per_step"`
	// RoundMS and RoundPairs are each round's mean step time and pairs
	// per step, for the spread.
	RoundMS    []float64 `json:"round_ms"`
	RoundPairs []float64 `json:"round_pairs"`
}

// BenchCompare times several methods on cfg's model side by side: it
// builds one trainer on a synthetic batch and one method object per spec
// on its network, and runs them
// interleaved, steps/rounds steps of each per round, rotating which method
// goes first, so that the machine's drift and other load fall on all of
// them alike. Each method sees a run of `steps` steps (so p(t) spans the
// whole schedule) and gets 2 untimed warm-up steps first.
func BenchCompare(cfg Config, specs []optim.Spec, labels []string, steps, rounds int) ([]CompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if steps <= 0 || rounds <= 0 || steps%rounds != 0 {
		return nil, fmt.Errorf("--bench-steps %d, --rounds %d: need positive numbers with the rounds dividing the steps", steps, rounds)
	}
	set, err := benchSet(&cfg)
	if err != nil {
		return nil, err
	}
	idx := make([]int, cfg.Batch)
	for i := range idx {
		idx[i] = i
	}
	type entry struct {
		method optim.Method
		step   int
		res    CompareResult
		secs   float64
		pairs  float64
	}
	// One trainer, one network, one set of buffers for every method: two
	// trainers doing identical work differ by ~5% in step time here (memory
	// placement), which is the size of the effect being measured. Only the
	// method object changes between timed segments.
	c := cfg
	c.Method = specs[0]
	t, err := newTrainer(c, set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labels[0], err)
	}
	t.load(idx, 0)
	sc := &optim.StepContext{Net: t.net, Total: steps, Seed: cfg.Seed, BatchSize: cfg.Batch, StepsPerEpoch: steps, Pass: t.runPass}
	var es []*entry
	for i, s := range specs {
		m := t.method
		if i > 0 {
			if m, err = optim.New(s, t.net); err != nil {
				return nil, fmt.Errorf("%s: %w", labels[i], err)
			}
		}
		t.method, t.step = m, 0
		const warm = 2
		for w := 0; w < warm; w++ {
			t.methodStep(sc, steps)
		}
		es = append(es, &entry{method: m, res: CompareResult{Label: labels[i], Method: s, Steps: steps}})
	}
	per := steps / rounds
	for r := 0; r < rounds; r++ {
		runtime.GC() // outside the timed region, so no method pays for another's garbage
		for k := range es {
			e := es[(r+k)%len(es)]
			var pairs float64
			t.method, t.step = e.method, e.step
			t0 := time.Now()
			for i := 0; i < per; i++ {
				res := t.methodStep(sc, steps)
				pairs += res.Pairs
				t.step++
			}
			d := time.Since(t0).Seconds()
			e.step = t.step
			e.secs += d
			e.pairs += pairs
			e.res.RoundMS = append(e.res.RoundMS, 1e3*d/float64(per))
			e.res.RoundPairs = append(e.res.RoundPairs, pairs/float64(per))
		}
	}
	out := make([]CompareResult, len(es))
	for i, e := range es {
		e.res.MeanStepMS = 1e3 * e.secs / float64(steps)
		e.res.PairsPerStep = e.pairs / float64(steps)
		out[i] = e.res
	}
	return out, nil
}
