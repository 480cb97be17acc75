package optim

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/schedule"
)

// Spec names a training method and its hyper-parameters. It is part of a
// run's config, so every value that changes the result is in it.
type Spec struct {
	Name     string             `json:"name"`               // sgd, sam, rst, grst, ...
	Sharp    string             `json:"sharp,omitempty"`    // the sharp step of rst/grst
	Schedule string             `json:"schedule,omitempty"` // p(t) of rst/grst
	Rho      float64            `json:"rho,omitempty"`
	Params   map[string]float64 `json:"params,omitempty"` // variant-specific (k, alpha, eta, ...)

	// resolved, when not nil, receives every parameter a constructor
	// reads, given or defaulted (see Resolve).
	resolved map[string]float64
}

// Resolve returns s with every default filled in: the radius, the sharp
// step of rst/grst, and each parameter the method reads with the value it
// would use. A run's identity is computed from the resolved spec, so a
// changed default gives a new run id instead of silently reusing a result.
func Resolve(s Spec) (Spec, error) {
	if s.Rho == 0 {
		s.Rho = DefaultRho(s.Name, s.Sharp)
	}
	if (s.Name == "rst" || s.Name == "grst") && s.Sharp == "" {
		s.Sharp = "sam"
		if s.Name == "grst" {
			s.Sharp = "gnr"
		}
	}
	if s.Name == "rst" || s.Name == "grst" {
		// The official code's schedule names are aliases: the resolved
		// spec (and so the run id) holds the suite's own form.
		s.Schedule = CanonicalSchedule(s.Schedule)
	}
	if _, sharp := sharpSteps[s.Name]; s.Name != "sgd" && s.Name != "rst" && s.Name != "grst" && !sharp {
		// A method registered from outside optim may need a network to be
		// built; its spec is recorded as given.
		return s, nil
	}
	s.resolved = map[string]float64{}
	if _, err := New(s, nil); err != nil {
		return Spec{}, err
	}
	s.Params, s.resolved = s.resolved, nil
	if len(s.Params) == 0 {
		s.Params = nil
	}
	return s, nil
}

// constructor builds a method for a network from its spec.
type constructor func(s Spec, net *nn.Net) (Method, error)

var methods = map[string]constructor{}

func registerMethod(name string, c constructor) { methods[name] = c }

// MethodNames lists the known methods.
func MethodNames() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Register adds a method under name; packages and tests outside optim
// use it to plug in their own methods.
func Register(name string, c func(s Spec, net *nn.Net) (Method, error)) { registerMethod(name, c) }

// New builds the method a spec names. Errors name the flag at fault and
// what it accepts.
func New(s Spec, net *nn.Net) (Method, error) {
	c, ok := methods[s.Name]
	if !ok {
		return nil, fmt.Errorf("--method %q: choose one of %s", s.Name, strings.Join(MethodNames(), ", "))
	}
	if s.Name != "rst" && s.Name != "grst" {
		if s.Sharp != "" {
			return nil, fmt.Errorf("--sharp %q: only --method rst and grst take a sharp step (got --method %s)", s.Sharp, s.Name)
		}
		if s.Schedule != "" {
			return nil, fmt.Errorf("--schedule %q: only --method rst and grst take a schedule (got --method %s)", s.Schedule, s.Name)
		}
	}
	m, err := c(s, net)
	if b, ok := m.(Binder); ok && err == nil && net != nil {
		b.Bind(net)
	}
	return m, err
}

func init() {
	registerMethod("sgd", func(s Spec, _ *nn.Net) (Method, error) {
		p := newParams("sgd", s)
		return Plain{}, p.done()
	})
	registerMethod("rst", func(s Spec, _ *nn.Net) (Method, error) { return buildRST(s, false) })
	registerMethod("grst", func(s Spec, _ *nn.Net) (Method, error) { return buildRST(s, true) })
}

// buildRST reads --sharp, --schedule and, for G-RST, the multiplier k
// (or k_auto: k follows p(t), see RST.Penalty).
func buildRST(s Spec, g bool) (Method, error) {
	who := s.Name
	sharp := s.Sharp
	if sharp == "" {
		sharp = "sam"
		if g {
			sharp = "gnr"
		}
	}
	if _, ok := sharpSteps[sharp]; !ok {
		return nil, fmt.Errorf("%s: --sharp %q: choose one of %s", who, sharp, strings.Join(sharpOrder, ", "))
	}
	if s.Schedule == "" {
		return nil, fmt.Errorf("%s: --schedule is required, e.g. --schedule constant:0.5 (%s)", who, ScheduleFamilies)
	}
	if err := checkAlias(s.Schedule); err != nil {
		return nil, fmt.Errorf("%s: --schedule: %w", who, err)
	}
	f, err := schedule.Parse(CanonicalSchedule(s.Schedule))
	if err != nil {
		return nil, fmt.Errorf("%s: --schedule: %w", who, err)
	}
	p := newParams(who+" --sharp "+sharp, s)
	k, penalty := 1.0, 0.0
	if g {
		auto, err := p.flag("k_auto", "1 = k follows p(t) so that the expected penalty p(t)·k·ρ stays penalty·ρ (--param k=auto)")
		if err != nil {
			return nil, err
		}
		if auto {
			if _, ok := s.Params["k"]; ok {
				return nil, fmt.Errorf("%s: --param k and k=auto both given: keep one (k=auto sets k = penalty/p(t) at every step)", who)
			}
			if penalty, err = p.get("penalty", 1, 0, inf, true, true, "the expected penalty p(t)·k·ρ in units of ρ under k=auto (1 = SAM's ρ)"); err != nil {
				return nil, err
			}
		} else if k, err = p.get("k", 2, 0, inf, false, true, "the degree multiplier γ_gnr/ρ of docs/PAPER.md §1"); err != nil {
			return nil, err
		}
		if sharp == "gnr" {
			if _, ok := s.Params["gamma"]; ok {
				return nil, fmt.Errorf("%s: --param gamma: G-RST's GNR degree is k·ρ; set --param k instead", who)
			}
		}
	} else if _, ok := s.Params["k_auto"]; ok {
		return nil, fmt.Errorf("%s: --param k=auto: only --method grst has a degree multiplier k", who)
	}
	m, err := buildSharp(sharp, who+" --sharp "+sharp, s.Rho, p, k, g, penalty > 0)
	if err != nil {
		return nil, err
	}
	if err := p.done(); err != nil {
		return nil, err
	}
	return &RST{Plain: Plain{}, Sharp: m, P: f, Label: who, Penalty: penalty}, nil
}

// buildSharp builds one sharpness-aware step from the table (RegisterSharp).
// Under G-RST (grst), k is the degree multiplier: a step that implements
// DegreeSetter takes it itself (GNR: γ = k·ρ), any other is wrapped in
// Degree. auto says that RST will set k at every step (k=auto): the step
// is then built so that its degree can change.
func buildSharp(name, who string, rho float64, p *params, k float64, grst, auto bool) (Method, error) {
	st, ok := sharpSteps[name]
	if !ok {
		return nil, fmt.Errorf("%s: --sharp %q: choose one of %s", who, name, strings.Join(sharpOrder, ", "))
	}
	if !(rho > 0) {
		return nil, fmt.Errorf("%s: --rho %v: the radius must be positive (docs/PAPER.md: 0.05 on CIFAR)", who, rho)
	}
	a := &SharpArgs{Rho: rho, K: k, GRST: grst, Auto: auto, Who: who, step: st, p: p}
	m, err := st.Build(a)
	if err == nil {
		err = a.Err()
	}
	if err != nil {
		return nil, err
	}
	if grst {
		if _, ok := p.m["normalized"]; ok && !p.used["normalized"] {
			return nil, fmt.Errorf("%s: --param normalized: only GNR steps (--sharp gnr) mix a normalised gradient", who)
		}
	}
	if _, own := m.(DegreeSetter); (k != 1 || auto) && !own {
		if s, ok := m.(*SAM); ok && s.M > 0 {
			return nil, fmt.Errorf("%s: --param m: G-RST's degree ×k over SAM steps takes the whole batch's g; use --sharp gnr (G-RST's default), which takes m", who)
		}
		m = &Degree{Inner: m, K: k}
	}
	return m, nil
}

var inf = math.Inf(1)

// params reads a method's --param values and remembers which were used,
// so that a misspelt name is an error rather than silently ignored.
type params struct {
	who      string
	m        map[string]float64
	used     map[string]bool
	resolved map[string]float64 // nil unless resolving
}

func newParams(who string, s Spec) *params {
	return &params{who: who, m: s.Params, used: map[string]bool{}, resolved: s.resolved}
}

// get returns the named value or def, checked against [lo, hi] (open at an
// end when loOpen / hiOpen).
func (p *params) get(name string, def, lo, hi float64, loOpen, hiOpen bool, about string) (float64, error) {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok {
		if p.resolved != nil {
			p.resolved[name] = def
		}
		return def, nil
	}
	bad := math.IsNaN(v) || v < lo || v > hi || (loOpen && v == lo) || (hiOpen && v == hi)
	if bad {
		l, r := "[", "]"
		if loOpen {
			l = "("
		}
		if hiOpen {
			r = ")"
		}
		return 0, fmt.Errorf("%s: --param %s=%v is outside the accepted range %s%v, %v%s (%s)", p.who, name, v, l, lo, hi, r, about)
	}
	if p.resolved != nil {
		p.resolved[name] = v
	}
	return v, nil
}

// opt is get for a parameter added after runs were recorded without it:
// the resolved spec holds it only when it differs from def, so that every
// run made before it existed keeps its id.
func (p *params) opt(name string, def, lo, hi float64, loOpen, hiOpen bool, about string) (float64, error) {
	_, given := p.m[name]
	v, err := p.get(name, def, lo, hi, loOpen, hiOpen, about)
	if err == nil && p.resolved != nil && (!given || v == def) {
		delete(p.resolved, name)
	}
	return v, err
}

// flag is opt for a 0/1 switch that is off by default.
func (p *params) flag(name, about string) (bool, error) {
	v, err := p.opt(name, 0, 0, 1, false, false, about)
	if err == nil && v != 0 && v != 1 {
		err = fmt.Errorf("%s: --param %s=%v: accepted values are 0 and 1 (%s)", p.who, name, v, about)
	}
	return v == 1, err
}

// done reports parameters that no part of the method read.
func (p *params) done() error {
	var unknown, known []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	for k := range p.used {
		known = append(known, k)
	}
	sort.Strings(unknown)
	sort.Strings(known)
	acc := "none"
	if len(known) > 0 {
		acc = strings.Join(known, ", ")
	}
	return fmt.Errorf("%s: --param %s: not a parameter of this method (accepted: %s)", p.who, strings.Join(unknown, ", "), acc)
}

// DefaultRho is the radius a method uses when none is given: the sharp
// step's own (SharpStep.Rho; ASAM's 0.5, its perturbation being scaled by
// |w|), SAM's usual 0.05 on CIFAR otherwise (docs/PAPER.md §1, §3); 0 for
// plain SGD.
func DefaultRho(method, sharp string) float64 {
	if method == "sgd" {
		return 0
	}
	name := method
	if method == "rst" || method == "grst" {
		name = sharp
	}
	if s, ok := sharpSteps[name]; ok && s.Rho > 0 {
		return s.Rho
	}
	return 0.05
}
