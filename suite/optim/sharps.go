package optim

// The built-in sharp steps, registered in the order the help lists them.
// A step added by a researcher registers itself the same way from its own
// file (docs/EXTENDING.md); nothing here needs to change for it.

// mSharpness is SAM's and GNR's m: recorded only when set (it came after
// runs were recorded without it).
var mSharpness = Param{Name: "m", Lo: 0, Hi: inf, HiOpen: true, Integer: true,
	Help: "m-sharpness: the perturbation is computed per sub-batch of m samples (0 = the whole batch)"}

func init() {
	RegisterSharp(SharpStep{
		Name: "sam", About: "ε = ρĝ", ExtraPasses: 1,
		Params: []Param{mSharpness},
		Build: func(a *SharpArgs) (Method, error) {
			return &SAM{Rho: a.Rho, M: int(a.Optional("m"))}, a.Err()
		},
	})
	RegisterSharp(SharpStep{
		Name: "gnr", About: "G = (1−γ/ρ)g + (γ/ρ)g′; under grst γ = kρ", ExtraPasses: 1,
		Params: []Param{
			{Name: "gamma", DefaultDoc: "2ρ", Lo: 0, Hi: inf, Help: "the penalty degree γ (γ = ρ is SAM; not under grst, which sets γ = kρ)"},
			{Name: "normalized", Lo: 0, Hi: 1, Help: "1 = the official code's variant that mixes ĝ = g/‖g‖ instead of g"},
			mSharpness,
		},
		Build: func(a *SharpArgs) (Method, error) {
			if a.GRST {
				// Recorded only when set, so that the G-RST runs made
				// before the option existed keep their ids.
				norm := a.Switch("normalized")
				return &GNR{Rho: a.Rho, Gamma: a.K * a.Rho, Normalized: norm, M: int(a.Optional("m"))}, a.Err()
			}
			gamma := a.ValueOr("gamma", 2*a.Rho)
			norm := a.Value("normalized")
			if norm != 0 && norm != 1 {
				a.Failf("--param normalized=%v: accepted values are 0 and 1", norm)
			}
			return &GNR{Rho: a.Rho, Gamma: gamma, Normalized: norm == 1, M: int(a.Optional("m"))}, a.Err()
		},
	})
	RegisterSharp(SharpStep{
		Name: "asam", About: "T_w = |w|+η on weights only", Rho: 0.5, ExtraPasses: 1,
		Params: []Param{
			{Name: "eta", Default: 0.01, Lo: 0, Hi: inf, HiOpen: true, Help: "T_w = |w| + η"},
			{Name: "bn_gamma", Lo: 0, Hi: 1, Help: "1 = rescale batch-norm γ by |γ| + η too, as the official ASAM ('weight' in the name)"},
		},
		Build: func(a *SharpArgs) (Method, error) {
			return &ASAM{Rho: a.Rho, Eta: a.Value("eta"), BNGamma: a.Switch("bn_gamma")}, a.Err()
		},
	})
	RegisterSharp(SharpStep{
		Name: "gsam", About: "SAM plus α times the orthogonal part; ρ may follow the learning rate", ExtraPasses: 1,
		Params: []Param{
			{Name: "alpha", Default: 0.4, Lo: 0, Hi: inf, HiOpen: true, Help: "the weight α of the orthogonal part"},
			{Name: "rho_max", DefaultDoc: "ρ", Lo: 0, Hi: inf, LoOpen: true, HiOpen: true, Help: "ρ at the peak learning rate (default --rho)"},
			{Name: "rho_min", DefaultDoc: "rho_max", Lo: 0, Hi: inf, HiOpen: true, Help: "ρ at lr_min, at most rho_max (default rho_max: constant ρ)"},
			{Name: "lr_max", Lo: 0, Hi: inf, HiOpen: true, Help: "the peak learning rate (0 = the largest seen so far)"},
			{Name: "lr_min", Lo: 0, Hi: inf, HiOpen: true, Help: "the learning rate at which ρ = rho_min"},
			{Name: "adaptive", Lo: 0, Hi: 1, Help: "1 = ε = ρ·|w|²·g/‖|w|·g‖ on every parameter, as GSAM's CIFAR example"},
		},
		Build: func(a *SharpArgs) (Method, error) {
			alpha := a.Value("alpha")
			hi := a.ValueOr("rho_max", a.Rho)
			lo := a.ValueOr("rho_min", hi)
			if lo > hi {
				a.Failf("--param rho_min=%v is above rho_max %v (ρ at lr_min, at most rho_max)", lo, hi)
			}
			m := &GSAM{Alpha: alpha, RhoMax: hi, RhoMin: lo, LRMax: a.Value("lr_max"), LRMin: a.Value("lr_min")}
			m.Adaptive = a.Switch("adaptive")
			return m, a.Err()
		},
	})
	RegisterSharp(SharpStep{
		Name: "looksam", About: "a full SAM step every k-th step, the reused g_v between", ExtraPasses: 1.0 / 5,
		Params: []Param{
			{Name: "k", Default: 5, Lo: 1, Hi: inf, HiOpen: true, Integer: true, Help: "a full SAM step every k-th step (looksam_k under grst, where k is the degree)"},
			{Name: "looksam_k", Default: 5, Lo: 1, Hi: inf, HiOpen: true, Integer: true, Help: "k under grst"},
			{Name: "alpha", Default: 0.7, Lo: 0, Hi: inf, HiOpen: true, Help: "the weight α of the reused g_v"},
		},
		Build: func(a *SharpArgs) (Method, error) {
			key := "k"
			if a.GRST {
				key = "looksam_k" // under G-RST, k is the degree multiplier
			}
			every := a.Value(key)
			return &LookSAM{Rho: a.Rho, K: int(every), Alpha: a.Value("alpha")}, a.Err()
		},
	})
	RegisterSharp(SharpStep{
		Name: "esam", About: "perturb a fraction β of the weights, second pass on a fraction γ of the batch", ExtraPasses: 0.5,
		Params: []Param{
			{Name: "beta", Default: 0.6, Lo: 0, Hi: 1, LoOpen: true, Help: "the fraction of weights perturbed"},
			{Name: "gamma", Default: 0.5, Lo: 0, Hi: 1, LoOpen: true, Help: "the fraction of the batch in the second pass"},
		},
		Build: func(a *SharpArgs) (Method, error) {
			return &ESAM{Rho: a.Rho, Beta: a.Value("beta"), Gamma: a.Value("gamma")}, a.Err()
		},
	})
	ssam := func(dynamic bool) func(a *SharpArgs) (Method, error) {
		return func(a *SharpArgs) (Method, error) {
			s := &SSAM{Rho: a.Rho, Dynamic: dynamic, Sparsity: a.Value("sparsity"), Refresh: a.Value("refresh")}
			s.RefreshSteps = int(a.Value("refresh_steps"))
			if dynamic {
				s.Drop = a.Value("drop")
			} else {
				s.NumSamples = int(a.Value("num_samples"))
			}
			return s, a.Err()
		}
	}
	ssamParams := []Param{
		{Name: "sparsity", Default: 0.5, Lo: 0, Hi: 1, Help: "the fraction of scalars left unperturbed"},
		{Name: "refresh", Default: 1, Lo: 0, Hi: inf, LoOpen: true, HiOpen: true, Help: "epochs between mask updates"},
		{Name: "refresh_steps", Lo: 0, Hi: inf, HiOpen: true, Integer: true, Help: "steps between mask updates (0 = use refresh)"},
	}
	RegisterSharp(SharpStep{
		Name: "ssam-f", About: "sparse SAM, mask from the Fisher information", ExtraPasses: 1,
		Params: append(append([]Param(nil), ssamParams...),
			Param{Name: "num_samples", Default: 16, Lo: 1, Hi: inf, HiOpen: true, Integer: true, Help: "steps of squared batch gradients per Fisher estimate"}),
		Build: ssam(false),
	})
	RegisterSharp(SharpStep{
		Name: "ssam-d", About: "sparse SAM, dynamic mask", ExtraPasses: 1,
		Params: append(append([]Param(nil), ssamParams...),
			Param{Name: "drop", Default: 0.5, Lo: 0, Hi: 1, Help: "the death rate at the start of the run"}),
		Build: ssam(true),
	})
}
