package theory

// Sizes sets how much work the checks do.
type Sizes struct {
	Thm1Steps  int // T of the Theorem 1 sweep along paths
	MCSteps    int // T of the Monte Carlo runs
	MCPaths    int // paths per Monte Carlo estimate (the issue asks ≥ 1,000)
	Lemma1MaxT int
	Draws      int // Bernoulli draws for equation 5
	Table2T    int
	Table2Runs int
	NoisySteps int // T of the stochastic-gradient runs
	NoisyPaths int // paths per stochastic-gradient estimate
}

// DefaultSizes fit `go test ./theory` in well under a minute on 2 cores.
func DefaultSizes() Sizes {
	return Sizes{Thm1Steps: 300, MCSteps: 100, MCPaths: 1000, Lemma1MaxT: 5000, Draws: 20000, Table2T: 1000, Table2Runs: 100, NoisySteps: 200, NoisyPaths: 100}
}

// Section is a named group of checks.
type Section struct {
	Name   string
	Checks []Check
}

// AllChecks runs every check on fns.
func AllChecks(fns []Function, s Sizes) []Section {
	st := newStochasticSuite(fns, s.NoisySteps, s.NoisyPaths)
	return []Section{
		{"Test functions", FunctionChecks(fns)},
		{"Theorem 1 along paths", Theorem1Paths(fns, s.Thm1Steps)},
		{"Theorem 1 and corollaries in expectation", Theorem1Expectation(fns, s.MCSteps, s.MCPaths)},
		{"Theorem 1 and corollaries: false readings", []Check{Theorem1StepTooLarge(), Theorem1LastIterate(), Corollary2LargeC()}},
		{"Theorem 2 with a deterministic ρ_t", Theorem2Scaled(fns, s.MCSteps, s.MCPaths)},
		{"Theorem 2 with a fixed ρ", Theorem2FixedRho(fns, s.MCSteps, s.MCPaths)},
		{"Theorem 2 as printed: counterexamples", Theorem2PrintedCounterexample(fns)},
		{"Theorem 2 as printed: runs from the usual start", Theorem2PrintedRuns(fns, 2*s.MCSteps, s.MCPaths/5)},
		{"Lemma 1", Lemma1(s.Lemma1MaxT)},
		{"Equations 5–7", Equation5(fns, s.Draws)},
		{"Table 2 (Δη)", Table2(s.Table2T, s.Table2Runs)},
		{"Stochastic gradients: the deterministic bounds do not carry over, the cross term is needed", evalChecks(st.counter, derived)},
		{"Stochastic gradients: exact identities (two-sided)", evalChecks(st.identity, derived)},
		{"Stochastic gradients: Theorem 1 and corollaries with σ²", evalChecks(st.thm1, derived)},
		{"Stochastic gradients: Theorem 2 with σ²", evalChecks(st.thm2, derived)},
		{"Stochastic gradients: mutation test (wrong bounds the checks must reject)", Mutations(st.all())},
	}
}
