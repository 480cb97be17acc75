// Package schedule holds the scheduling functions p(t) of randomized
// sharpness-aware training: at step t of a run of T steps, RST takes a
// sharp (SAM or GNR) step with probability p(t) and a plain step otherwise.
//
// A Func gives p(t) on the discrete steps t = 0..T-1, the exact expected
// extra cost Δη (the mean of p over those steps) and, where the paper has
// one, the continuous-time formula for Δη (docs/PAPER.md §2). The two differ by
// O(1/T); tests and the theory package check both.
//
// Every Func prints a canonical spec with String that Parse reads back, so a
// schedule can live in a run's config as one string:
//
//	constant:a        p = a
//	piecewise:a,b     p = a while t < b·T, then 1 − a
//	linear:a,b        p = a·(t/T) + b, clipped to [0,1]; a is the change over
//	                  the whole run (per unit of t/T), not per step
//	linear1:m         the paper's linear group 1: through (0,0) and (T/2,m)
//	                  when m ≤ 0.5, else through (T/2,m) and (T,1)
//	linear2:b         the paper's linear group 2: through (0,b) and (T/2,0.5)
//	cos1, cos2        ½ ± ½cos(πt/T)
//	sin1, sin2        sin(πt/T), 1 − sin(πt/T)
//	table:v1,v2,...   v_k on the k-th of n equal segments of the run
//	expr:E            an expression in x = t/T (see Expr); refused unless it
//	                  stays in [0,1] on all of [0,1]
//
// Draw is the Bernoulli draw X_t ~ Bernoulli(p(t)) itself. It depends only on
// the run's seed and t (through suite/rng's "bernoulli" stream), never on the
// data order or on earlier draws, so a resumed run redraws the same X_t.
package schedule
