// Package bench times the suite's models and methods on synthetic inputs:
// a forward+backward pass, a whole method step, and several methods side
// by side. It steps the trainer through train.Stepper, so what it times is
// exactly what a training run executes, and it needs no data on disk.
package bench

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/train"
)

// Result is what `rst bench` measures for one model and method.
type Result struct {
	Model             string  `json:"model"`
	Method            string  `json:"method"`
	Schedule          string  `json:"schedule,omitempty"`
	Input             []int   `json:"input"` // H, W, C
	Batch             int     `json:"batch"`
	Steps             int     `json:"steps"`
	Params            int     `json:"params"`
	Backend           string  `json:"backend"`
	FwdBwdMS          float64 `json:"fwd_bwd_ms"`   // median forward+backward pass
	StepMS            float64 `json:"step_ms"`      // median whole method step (passes, clip, update)
	MeanStepMS        float64 `json:"mean_step_ms"` // mean step: what a run of RST costs on average
	GFLOP             float64 `json:"gflop"`        // forward+backward work per pass
	GFLOPS            float64 `json:"gflops"`       // GFLOP / median forward+backward time
	PairsPerStep      float64 `json:"pairs_per_step"`
	AllocBytesPerStep float64 `json:"alloc_bytes_per_step"` // heap bytes allocated per step after warm-up
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	// CPU time of the whole process (all threads) over the timed passes
	// and over the timed steps, from getrusage before and after each loop
	// (warm-up excluded), in seconds, and the minor page faults in them:
	// sys time and faults show what the allocator and the kernel cost.
	UserS      float64 `json:"user_s"`
	SysS       float64 `json:"sys_s"`
	MinFlt     int64   `json:"minflt"`
	StepUserS  float64 `json:"step_user_s"`
	StepSysS   float64 `json:"step_sys_s"`
	StepMinFlt int64   `json:"step_minflt"`
	// Kernels, when asked for, is where a forward+backward pass goes: the
	// milliseconds per pass of each kind of kernel (nn.KernelTimer), from
	// `steps` further passes timed kernel by kernel after the others, and
	// last "untimed", the rest of those passes (kernels the timer does not
	// list, the layers' own Go code).
	Kernels []KernelTime `json:"kernels,omitempty"`
}

// KernelTime is one kind of kernel's share of a pass.
type KernelTime struct {
	Kernel string  `json:"kernel"`
	MS     float64 `json:"ms"`    // per pass
	Share  float64 `json:"share"` // of the pass
}

// Shapes are the input shapes (H, W, C) of the datasets, so a benchmark
// needs no data on disk.
var Shapes = map[string][3]int{"mnist": {28, 28, 1}, "fashion-mnist": {28, 28, 1}, "cifar10": {32, 32, 3}, "cifar100": {32, 32, 3},
	"imagenet": {224, 224, 3}}

// classes is the number of classes of a dataset bench knows the shape of.
func classes(name string) int {
	switch name {
	case "cifar100":
		return 100
	case "imagenet":
		return 1000
	}
	return 10
}

// warm is the number of untimed steps before the timed ones: they plan
// the buffers and fault in the memory.
const warm = 2

// Run times cfg's model and method on random inputs of cfg.Data's shape:
// first `steps` forward+backward passes alone, then `steps` whole method
// steps of a run `steps` long, each after warm-up. With kernels, it also
// times `steps` more passes kernel by kernel (Result.Kernels).
func Run(cfg train.Config, steps int, kernels bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if steps <= 0 {
		return nil, fmt.Errorf("--bench-steps %d: need at least 1 timed step", steps)
	}
	set, err := syntheticSet(&cfg)
	if err != nil {
		return nil, err
	}
	var timer *nn.KernelTimer
	var opts []train.StepperOption
	if kernels {
		opts = append(opts, train.WithBackend(func(b nn.Backend) nn.Backend {
			timer = nn.NewKernelTimer(b)
			timer.On = false // until the passes it times
			return timer
		}))
	}
	s, err := train.NewStepper(cfg, set, steps, 0, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.Load(firstBatch(cfg.Batch)); err != nil {
		return nil, err
	}
	fwd, bwd := s.Net().FLOPs(cfg.Batch)
	r := &Result{Model: cfg.Model, Method: cfg.Method.Name, Schedule: cfg.Method.Schedule,
		Input: []int{set.H, set.W, set.C}, Batch: cfg.Batch, Steps: steps, Params: s.Net().NumParams(),
		Backend: s.Backend(), GFLOP: float64(fwd+bwd) / 1e9}

	pass := make([]float64, 0, steps)
	for i := 0; i < warm; i++ {
		s.Pass()
	}
	u0 := rusage()
	for i := 0; i < steps; i++ {
		t0 := time.Now()
		s.Pass()
		pass = append(pass, time.Since(t0).Seconds())
	}
	r.UserS, r.SysS, r.MinFlt = rusage().since(u0)
	r.FwdBwdMS = 1e3 * median(pass)
	r.GFLOPS = r.GFLOP / median(pass)
	if timer != nil {
		timer.On = true
		t0 := time.Now()
		for i := 0; i < steps; i++ {
			s.Pass()
		}
		r.Kernels = kernelTimes(timer.Times(), time.Since(t0), steps)
		timer.On = false
	}

	m := s.Method()
	for i := 0; i < warm; i++ {
		s.Step(m, 0)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	times := make([]float64, 0, steps)
	var pairs float64
	u0 = rusage()
	for i := 0; i < steps; i++ {
		t0 := time.Now()
		res := s.Step(m, i)
		times = append(times, time.Since(t0).Seconds())
		pairs += res.Pairs
	}
	r.StepUserS, r.StepSysS, r.StepMinFlt = rusage().since(u0)
	runtime.ReadMemStats(&ms1)
	r.StepMS = 1e3 * median(times)
	var sum float64
	for _, v := range times {
		sum += v
	}
	r.MeanStepMS = 1e3 * sum / float64(steps)
	r.PairsPerStep = pairs / float64(steps)
	r.AllocBytesPerStep = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(steps)
	r.PeakRSSMB = peakRSSMB()
	if err := s.Err(); err != nil { // timings of failed kernels are not a benchmark
		return nil, fmt.Errorf("bench %s: %w", cfg.Model, err)
	}
	return r, nil
}

// kernelTimes is each kind's milliseconds per pass and share of the
// passes' wall time, and the untimed rest last.
func kernelTimes(kinds []nn.KernelTime, wall time.Duration, passes int) []KernelTime {
	out := make([]KernelTime, 0, len(kinds)+1)
	var counted time.Duration
	for _, k := range kinds {
		out = append(out, KernelTime{Kernel: k.Kernel, MS: k.Time.Seconds() * 1e3 / float64(passes), Share: k.Time.Seconds() / wall.Seconds()})
		counted += k.Time
	}
	rest := max(wall-counted, 0)
	return append(out, KernelTime{Kernel: "untimed", MS: rest.Seconds() * 1e3 / float64(passes), Share: rest.Seconds() / wall.Seconds()})
}

// syntheticSet is a synthetic training set of cfg.Data's shape, two
// batches long, so benchmarks need no data on disk; it turns off what
// would read or transform real data.
func syntheticSet(cfg *train.Config) (*data.Set, error) {
	shape, ok := Shapes[cfg.Data]
	if !ok {
		return nil, fmt.Errorf("--data %q: bench knows the shapes of mnist, fashion-mnist, cifar10, cifar100 and imagenet (224×224×3, 1000 classes)", cfg.Data)
	}
	cfg.Subset, cfg.Augment = 0, "none"
	return data.Synthetic(cfg.Data, 2*cfg.Batch, shape[0], shape[1], shape[2], classes(cfg.Data), nil, nil), nil
}

// firstBatch is the positions 0..batch-1: benchmarks step one fixed batch.
func firstBatch(batch int) []int {
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// usage is the process's CPU time so far and its minor page faults.
type usage struct {
	user, sys time.Duration
	minflt    int64
}

func rusage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return usage{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), int64(ru.Minflt)}
}

// since is the user and system seconds and the minor faults from u0 to u.
func (u usage) since(u0 usage) (user, sys float64, minflt int64) {
	return (u.user - u0.user).Seconds(), (u.sys - u0.sys).Seconds(), u.minflt - u0.minflt
}

// peakRSSMB is the process's peak resident set (Linux reports KiB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
