package bench

import (
	"fmt"
	"runtime"
	"time"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
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
	// Backend names the kernels and thread count that ran the steps.
	Backend string `json:"backend,omitempty"`
}

// CompareRecord is a side-by-side timing kept with a profile's results
// (`rst bench --compare … --out FILE`): what the cost claims read.
type CompareRecord struct {
	Config  train.Config    `json:"config"` // the model, input shape and batch timed
	Steps   int             `json:"steps"`
	Rounds  int             `json:"rounds"`
	Commit  string          `json:"commit"`
	Threads int             `json:"threads"`
	Start   time.Time       `json:"start"`
	Results []CompareResult `json:"results"`
}

// Compare times several methods on cfg's model side by side: it builds
// one stepper on a synthetic batch and one method object per spec on its
// network, and runs them interleaved, steps/rounds steps of each per round,
// rotating which method goes first, so that the machine's drift and other
// load fall on all of them alike. Each method sees a run of `steps` steps
// (so p(t) spans the whole schedule) and gets 2 untimed warm-up steps
// first.
func Compare(cfg train.Config, specs []optim.Spec, labels []string, steps, rounds int) ([]CompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if steps <= 0 || rounds <= 0 || steps%rounds != 0 {
		return nil, fmt.Errorf("--bench-steps %d, --rounds %d: need positive numbers with the rounds dividing the steps", steps, rounds)
	}
	if len(specs) == 0 || len(labels) != len(specs) {
		return nil, fmt.Errorf("bench: %d method specs and %d labels; give one label per spec, at least one", len(specs), len(labels))
	}
	set, err := syntheticSet(&cfg)
	if err != nil {
		return nil, err
	}
	type entry struct {
		method optim.Method
		step   int
		res    CompareResult
		secs   float64
		pairs  float64
	}
	// One stepper, one network, one set of buffers for every method: two
	// trainers doing identical work differ by ~5% in step time here (memory
	// placement), which is the size of the effect being measured. Only the
	// method object changes between timed segments.
	c := cfg
	c.Method = specs[0]
	s, err := train.NewStepper(c, set, steps, steps)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labels[0], err)
	}
	if err := s.Load(firstBatch(cfg.Batch)); err != nil {
		return nil, err
	}
	var es []*entry
	for i, spec := range specs {
		m := s.Method()
		if i > 0 {
			if m, err = optim.New(spec, s.Net()); err != nil {
				return nil, fmt.Errorf("%s: %w", labels[i], err)
			}
		}
		for w := 0; w < warm; w++ {
			s.Step(m, 0)
		}
		es = append(es, &entry{method: m, res: CompareResult{Label: labels[i], Method: spec, Steps: steps}})
	}
	per := steps / rounds
	for r := 0; r < rounds; r++ {
		runtime.GC() // outside the timed region, so no method pays for another's garbage
		for k := range es {
			e := es[(r+k)%len(es)]
			var pairs float64
			t0 := time.Now()
			for i := 0; i < per; i++ {
				res := s.Step(e.method, e.step+i)
				pairs += res.Pairs
			}
			d := time.Since(t0).Seconds()
			e.step += per
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
		e.res.Backend = s.Backend()
		out[i] = e.res
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("bench --compare: %w", err)
	}
	return out, nil
}
