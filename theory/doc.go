// Package theory checks the convergence statements of the RST paper
// (docs/PAPER.md §5) numerically, on smooth functions whose gradient, smoothness
// constant β, minimum L* and (where they have one) Polyak–Łojasiewicz
// constant μ are known exactly.
//
// It runs full-gradient RST: at step t it draws X_t ~ Bernoulli(p(t)) with
// suite/schedule and takes a gradient step (X_t = 0) or a SAM step
// (X_t = 1) with ε_t = ρ·∇L/‖∇L‖. Each statement is turned into one or more
// readings, each checked as a bound against an observed value. A Check
// records the bound, the observation, the slack and a verdict: holds,
// violated, or (for a Monte Carlo interval that straddles the bound)
// inconclusive; readings that the mathematics says are false come with an
// explicit counterexample and are expected to be violated. Where a bound is
// an equality the check is two-sided, and mutation.go feeds deliberately
// wrong stochastic bounds to the same runs, which the checks must reject.
//
// Config.Noise adds Gaussian gradient noise of known variance σ²;
// stochastic.go states and checks the bounded-variance forms of the
// theorems, and asserts that the exact-gradient bounds fail under noise.
//
// The tests assert every verdict; WriteReport writes the same checks as
// Markdown tables together with PNG and SVG plots (rst theory --out DIR).
package theory
