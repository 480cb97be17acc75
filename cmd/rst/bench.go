package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rst-bench/rst/suite/bench"
	"github.com/rst-bench/rst/suite/buildinfo"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/store"
	"github.com/rst-bench/rst/suite/train"
)

func init() {
	register("bench", "time a model's forward+backward pass and a method's training step", runBench)
}

func runBench(args []string) error {
	cfg := train.Defaults()
	cfg.Data = "cifar10"
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	params := trainFlags(fs, &cfg)
	steps := fs.Int("bench-steps", 20, "timed steps of each method, after 2 untimed warm-up steps; p(t) and the lr schedule span them as a run of this many steps")
	// bench trains nothing: --steps, shared with train, would otherwise
	// be a second run length; it is the same number as --bench-steps.
	fs.Lookup("steps").Usage = "the same as --bench-steps"
	fs.Lookup("data").Usage = "the input shape to time (inputs are synthetic, no data is read): mnist, fashion-mnist, cifar10, cifar100, imagenet"
	asJSON := fs.Bool("json", false, "print the result as JSON")
	compare := fs.String("compare", "", "time several methods side by side, interleaved in rounds, e.g. sgd,sam,rst:0.25,rst:0.5,grst:0.5,looksam:5 (rst:P and grst:P take a constant p or a schedule name such as cos1; looksam:K its k; --rho applies to all, --sharp to rst/grst, --param to all but sgd and sam)")
	out := fs.String("out", "", "with --compare: also write the timing, with the config, commit and thread count, to this JSON file (what `rst claims` reads from STORE/PROFILE/bench/)")
	sgemmN := fs.Int("sgemm", 1024, "on the cpu device: also time an N×N×N SGEMM through the engine's BLAS at the same thread count, the machine's GEMM rate to read the model's GFLOP/s against (0: skip)")
	kernels := fs.Bool("kernels", false, "also time further forward+backward passes kernel by kernel and print where a pass goes (convolution, GEMM, batch-norm, …; each kernel waits for the device on cuda)")
	rounds := fs.Int("rounds", 0, "with --compare: rounds the timed steps are split into (0 = one step of each method per round, the least sensitive to the machine's drift)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["steps"] {
		if set["bench-steps"] && *steps != cfg.Steps {
			return fmt.Errorf("--steps %d and --bench-steps %d: in bench they are the same number; give one", cfg.Steps, *steps)
		}
		*steps = cfg.Steps
	}
	if len(params) > 0 {
		cfg.Method.Params = params
	}
	if *kernels && *compare != "" {
		return fmt.Errorf("--kernels times one method's passes kernel by kernel: leave out --compare, or time the methods without --kernels")
	}
	if *out != "" && *compare == "" {
		return fmt.Errorf("--out %s: only a --compare timing is written to a file; add --compare sgd,sam,…", *out)
	}
	if *out != "" {
		if err := durable.CheckWritable(*out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if *compare != "" {
		if *rounds == 0 {
			*rounds = *steps
		}
		return runCompare(cfg, *compare, *steps, *rounds, *asJSON, *out)
	}
	if cfg.Method.Rho == 0 {
		cfg.Method.Rho = optim.DefaultRho(cfg.Method.Name, cfg.Method.Sharp)
	}
	r, err := bench.Run(cfg, *steps, *kernels)
	if err != nil {
		return err
	}
	res := benchResult{Result: r}
	if cfg.Device == "cpu" && *sgemmN > 0 {
		res.SGEMMN, res.SGEMMGFLOPS = *sgemmN, sgemmRate(*sgemmN)
		res.OfSGEMM = r.GFLOPS / res.SGEMMGFLOPS
		res.BLASNote = nn.BLASNote()
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Printf("%s\n", b)
		return nil
	}
	fmt.Fprintf(os.Stdout, "%s on synthetic inputs shaped like %s %v, batch %d, %d params, method %s %s on %s\n", r.Model, cfg.Data, r.Input, r.Batch, r.Params, r.Method, r.Schedule, r.Backend)
	fmt.Fprintf(os.Stdout, "  forward+backward: %.1f ms median, %.2f GFLOP, %.1f GFLOP/s", r.FwdBwdMS, r.GFLOP, r.GFLOPS)
	if res.SGEMMN > 0 {
		fmt.Fprintf(os.Stdout, " = %.2f× SGEMM's %.1f GFLOP/s (n = %d, %d threads)", res.OfSGEMM, res.SGEMMGFLOPS, res.SGEMMN, runtime.GOMAXPROCS(0))
	}
	fmt.Fprintln(os.Stdout)
	if res.BLASNote != "" {
		fmt.Fprintf(os.Stdout, "  note: %s\n", res.BLASNote)
	}
	fmt.Fprintf(os.Stdout, "  CPU time:         %.1f ms user + %.1f ms sys per pass, %.1f + %.1f per step (all threads)\n",
		1e3*r.UserS/float64(r.Steps), 1e3*r.SysS/float64(r.Steps), 1e3*r.StepUserS/float64(r.Steps), 1e3*r.StepSysS/float64(r.Steps))
	fmt.Fprintf(os.Stdout, "  method step:      %.1f ms median, %.1f ms mean, %.2f pairs/step over %d steps\n", r.StepMS, r.MeanStepMS, r.PairsPerStep, r.Steps)
	fmt.Fprintf(os.Stdout, "  allocated/step:   %.0f bytes; peak RSS %.0f MB\n", r.AllocBytesPerStep, r.PeakRSSMB)
	if len(r.Kernels) > 0 {
		fmt.Fprintf(os.Stdout, "  kernels:          milliseconds per forward+backward pass, over %d more passes timed kernel by kernel\n", r.Steps)
		for _, k := range r.Kernels {
			fmt.Fprintf(os.Stdout, "    %-16s %9.1f ms %6.1f%%\n", k.Kernel, k.MS, 100*k.Share)
		}
	}
	return nil
}

// benchResult is what `rst bench` prints for one model: the benchmark,
// and on the cpu device the machine's SGEMM rate beside it.
type benchResult struct {
	*bench.Result
	SGEMMN      int     `json:"sgemm_n,omitempty"`         // the square SGEMM's size (0: not timed)
	SGEMMGFLOPS float64 `json:"sgemm_gflops,omitempty"`    // its median rate, same BLAS and thread count
	OfSGEMM     float64 `json:"gflops_of_sgemm,omitempty"` // the model's fwd+bwd GFLOP/s over it
	BLASNote    string  `json:"blas_note,omitempty"`       // nn.BLASNote: OpenBLAS runs kernels older than the CPU
}

// sgemmRate is the median GFLOP/s of C = A·B with n×n matrices through
// the CPU backend's MatMul (the BLAS the model's GEMMs use, on GOMAXPROCS
// threads): one untimed product, then products until 0.3 s or 50 have
// run, at least 3, so it stays short whatever the machine.
func sgemmRate(n int) float64 {
	c := nn.NewCPU()
	a, b, out := c.New(n, n), c.New(n, n), c.New(n, n)
	for i := range a.Data {
		a.Data[i] = float32(i%13-6) / 8
		b.Data[i] = float32(i%7-3) / 4
	}
	c.MatMul(false, false, 1, a, b, 0, out)
	var ts []float64
	for start := time.Now(); len(ts) < 3 || (len(ts) < 50 && time.Since(start) < 300*time.Millisecond); {
		t0 := time.Now()
		c.MatMul(false, false, 1, a, b, 0, out)
		ts = append(ts, time.Since(t0).Seconds())
	}
	slices.Sort(ts)
	med := ts[len(ts)/2]
	if len(ts)%2 == 0 {
		med = (ts[len(ts)/2-1] + med) / 2
	}
	return 2 * float64(n) * float64(n) * float64(n) / med / 1e9
}

// compareSpec turns one item of --compare into a method spec: NAME, or
// rst:P / grst:P (a constant p, or a schedule spec without commas), or
// looksam:K. SGD and SAM are the references of the ratios, so they stay
// plain whatever --param says.
func compareSpec(item string, base optim.Spec) (optim.Spec, error) {
	name, arg, hasArg := strings.Cut(item, ":")
	s := optim.Spec{Name: name, Rho: base.Rho, Params: map[string]float64{}}
	for k, v := range base.Params {
		s.Params[k] = v
	}
	if s.Rho == 0 {
		s.Rho = optim.DefaultRho(name, base.Sharp)
	}
	switch {
	case name == "rst" || name == "grst":
		if !hasArg {
			return s, fmt.Errorf("--compare %q: give p, e.g. %s:0.5", item, name)
		}
		s.Sharp = base.Sharp
		s.Schedule = arg
		if _, err := strconv.ParseFloat(arg, 64); err == nil {
			s.Schedule = "constant:" + arg
		}
	case name == "looksam" && hasArg:
		k, err := strconv.Atoi(arg)
		if err != nil {
			return s, fmt.Errorf("--compare %q: looksam:K takes an integer k", item)
		}
		s.Params["k"] = float64(k)
	case hasArg:
		return s, fmt.Errorf("--compare %q: only rst:P, grst:P and looksam:K take an argument", item)
	}
	switch name {
	case "sgd":
		s.Rho, s.Params = 0, nil
	case "sam": // the reference takes no --param, which is meant for the variants
		s.Params = nil
	}
	if len(s.Params) == 0 {
		s.Params = nil
	}
	return s, nil
}

func runCompare(cfg train.Config, list string, steps, rounds int, asJSON bool, out string) error {
	start := time.Now()
	var specs []optim.Spec
	var labels []string
	for _, item := range strings.Split(list, ",") {
		s, err := compareSpec(strings.TrimSpace(item), cfg.Method)
		if err != nil {
			return err
		}
		if _, err := optim.New(s, nil); err != nil { // constructors need no net
			return fmt.Errorf("--compare %q: %w", item, err)
		}
		specs, labels = append(specs, s), append(labels, strings.TrimSpace(item))
	}
	rs, err := bench.Compare(cfg, specs, labels, steps, rounds)
	if err != nil {
		return err
	}
	if out != "" {
		rec := bench.CompareRecord{Config: cfg, Steps: steps, Rounds: rounds, Commit: buildinfo.Commit(),
			Threads: runtime.GOMAXPROCS(0), Start: start, Results: rs}
		if err := store.WriteJSON(out, rec); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if asJSON {
		b, _ := json.MarshalIndent(rs, "", "  ")
		fmt.Printf("%s\n", b)
		return nil
	}
	find := func(name string) *bench.CompareResult {
		for i := range rs {
			if rs[i].Method.Name == name && rs[i].Method.Params == nil {
				return &rs[i]
			}
		}
		return nil
	}
	sgd, sam := find("sgd"), find("sam")
	fmt.Printf("%s on synthetic inputs shaped like %s, batch %d, %d steps per method in %d interleaved rounds\n", cfg.Model, cfg.Data, cfg.Batch, steps, rounds)
	fmt.Printf("%-12s %10s %8s %10s %16s %8s %9s %14s\n", "method", "step ms", "pairs", "t/t(SGD)", "extra/extra(SAM)", "target", "realised", "per pair")
	for _, r := range rs {
		ratio, extra, perPair := "-", "-", "-"
		if sgd != nil {
			ratio = fmt.Sprintf("%.3f", r.MeanStepMS/sgd.MeanStepMS)
			if sam != nil {
				x := (r.MeanStepMS - sgd.MeanStepMS) / (sam.MeanStepMS - sgd.MeanStepMS)
				extra = fmt.Sprintf("%.3f", x)
				if d := r.PairsPerStep - 1; d > 0 {
					// The ± is one standard error over rounds of the per-pair
					// cost, which takes out each round's own draws: it is the
					// timing noise alone.
					var v []float64
					for i := range r.RoundMS {
						if di := r.RoundPairs[i] - 1; di > 0 {
							v = append(v, (r.RoundMS[i]-sgd.RoundMS[i])/(sam.RoundMS[i]-sgd.RoundMS[i])/di)
						}
					}
					perPair = fmt.Sprintf("%.3f ±%.3f", x/d, stderr(v))
				}
			}
		}
		target := "-"
		if m, err := optim.New(r.Method, nil); err == nil {
			if e, ok := m.(interface{ ExpectedDeltaEta(int) float64 }); ok {
				target = fmt.Sprintf("%.3f", e.ExpectedDeltaEta(steps))
			} else {
				target = "0"
			}
		}
		fmt.Printf("%-12s %10.1f %8.3f %10s %16s %8s %9.3f %14s\n", r.Label, r.MeanStepMS, r.PairsPerStep, ratio, extra, target, r.PairsPerStep-1, perPair)
	}
	fmt.Println("target: expected Δη (extra pairs per step); realised: pairs/step − 1 over the timed steps;")
	fmt.Println("per pair: extra/extra(SAM) ÷ realised Δη, the cost of one extra pair relative to SAM's (1 = proportional)")
	return nil
}

func stderr(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	var m, s float64
	for _, x := range v {
		m += x / float64(len(v))
	}
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}
