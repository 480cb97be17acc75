package optim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// SharpStep is one sharpness-aware step as the suite knows it: the one
// place that names it, declares its parameters and says how to build it.
// Registering it (RegisterSharp) makes it a --method of its own, a --sharp
// choice of RST and G-RST, a line of `rst train -h`, a cost for the
// planner (ExtraPasses) and a row of the generated method table
// (MethodTable); nothing else needs editing.
type SharpStep struct {
	Name string
	// About is one line for the help and the method table.
	About string
	// Params are every --param the step reads, in the order shown.
	// Build may read only these (SharpArgs returns an error otherwise), so
	// the help and the docs cannot miss one.
	Params []Param
	// Rho is the default radius when --rho is not given (0 = SAM's 0.05).
	Rho float64
	// ExtraPasses is the forward-backward passes one step adds to a plain
	// step at the default parameters (SAM: 1). A step whose cost depends
	// on its parameters says so on the Method it builds, with an
	// ExtraPairs() float64 method, which the cost model prefers.
	ExtraPasses float64
	// Build makes the step from its arguments. Read parameters through
	// a, then return a.Err() with the step; under G-RST a.K is the degree
	// multiplier (see SharpArgs).
	Build func(a *SharpArgs) (Method, error)
}

// Param is one --param of a sharp step: its default and accepted range
// [Lo, Hi] (open at an end when LoOpen / HiOpen), and one line of help.
type Param struct {
	Name    string
	Default float64
	// DefaultDoc is the default in words where it depends on other values
	// ("2ρ"); Build then passes the value itself (SharpArgs.ValueOr).
	DefaultDoc     string
	Lo, Hi         float64
	LoOpen, HiOpen bool
	Integer        bool // only whole numbers are accepted
	Help           string
}

// DefaultText is the default as the help shows it.
func (p Param) DefaultText() string {
	if p.DefaultDoc != "" {
		return p.DefaultDoc
	}
	return strconv.FormatFloat(p.Default, 'g', -1, 64)
}

// RangeText is the accepted range in interval notation.
func (p Param) RangeText() string {
	l, r := "[", "]"
	if p.LoOpen {
		l = "("
	}
	if p.HiOpen {
		r = ")"
	}
	f := func(v float64) string {
		if math.IsInf(v, 1) {
			return "∞"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return l + f(p.Lo) + ", " + f(p.Hi) + r
}

var (
	sharpSteps = map[string]*SharpStep{}
	sharpOrder []string
)

// RegisterSharp adds a sharp step to the table, as a method of its own
// and as a --sharp choice of RST and G-RST. Call it from an init function
// in the step's own file. It panics on a second registration of a name or
// a step without Build, which are programming errors found at start-up.
func RegisterSharp(s SharpStep) {
	if s.Name == "" || s.Build == nil {
		panic("optim.RegisterSharp: a sharp step needs a Name and a Build function")
	}
	if _, dup := methods[s.Name]; dup {
		panic("optim.RegisterSharp: " + s.Name + " is already registered")
	}
	st := s
	sharpSteps[s.Name] = &st
	sharpOrder = append(sharpOrder, s.Name)
	registerMethod(s.Name, func(sp Spec, _ *nn.Net) (Method, error) {
		p := newParams(sp.Name, sp)
		m, err := buildSharp(sp.Name, sp.Name, sp.Rho, p, 1, false, false)
		if err != nil {
			return nil, err
		}
		return m, p.done()
	})
}

// SharpNames lists the sharp steps RST and G-RST accept, built-in ones
// first, in the order they were registered.
func SharpNames() []string { return append([]string(nil), sharpOrder...) }

// Sharp returns the registered sharp step of that name.
func Sharp(name string) (SharpStep, bool) {
	s, ok := sharpSteps[name]
	if !ok {
		return SharpStep{}, false
	}
	return *s, true
}

// SharpArgs is what a sharp step's Build reads its values from. The
// getters keep the first error and return 0 after one, so Build can read
// every value and then return a.Err().
type SharpArgs struct {
	Rho float64
	// K is G-RST's degree multiplier (1 under RST and alone). A step that
	// takes K itself implements SetDegree; any other step is wrapped in
	// Degree, which scales its update direction by K.
	K float64
	// GRST says the step runs under G-RST; Auto that G-RST sets K at every
	// step (k=auto), so a step taking K itself must allow it to change.
	GRST, Auto bool
	Who        string // the step as errors name it ("grst --sharp looksam")

	step *SharpStep
	p    *params
	err  error
}

func (a *SharpArgs) param(name string) (Param, bool) {
	if a.err != nil {
		return Param{}, false
	}
	for _, q := range a.step.Params {
		if q.Name == name {
			return q, true
		}
	}
	a.err = fmt.Errorf("%s: reads --param %s, which its SharpStep.Params does not declare (declare it, so that the help and docs list it)", a.Who, name)
	return Param{}, false
}

func (a *SharpArgs) check(q Param, v float64, err error) float64 {
	if err != nil {
		a.err = err
		return 0
	}
	if q.Integer && v != math.Trunc(v) {
		a.err = fmt.Errorf("%s: --param %s=%v: must be an integer (%s)", a.Who, q.Name, v, q.Help)
		return 0
	}
	return v
}

// Value reads a parameter that is always recorded in the resolved spec
// (and so in the run id), given or defaulted.
func (a *SharpArgs) Value(name string) float64 {
	q, ok := a.param(name)
	if !ok {
		return 0
	}
	return a.ValueOr(name, q.Default)
}

// ValueOr is Value with a default computed by Build (Param.DefaultDoc
// says it in words), e.g. GNR's γ = 2ρ.
func (a *SharpArgs) ValueOr(name string, def float64) float64 {
	q, ok := a.param(name)
	if !ok {
		return 0
	}
	v, err := a.p.get(name, def, q.Lo, q.Hi, q.LoOpen, q.HiOpen, q.Help)
	return a.check(q, v, err)
}

// Optional reads a parameter added after runs were recorded without it:
// the resolved spec holds it only when given with a value other than the
// default, so that those runs keep their ids.
func (a *SharpArgs) Optional(name string) float64 {
	q, ok := a.param(name)
	if !ok {
		return 0
	}
	v, err := a.p.opt(name, q.Default, q.Lo, q.Hi, q.LoOpen, q.HiOpen, q.Help)
	return a.check(q, v, err)
}

// Switch reads an optional 0/1 parameter that is off by default.
func (a *SharpArgs) Switch(name string) bool {
	q, ok := a.param(name)
	if !ok {
		return false
	}
	v, err := a.p.flag(name, q.Help)
	if err != nil {
		a.err = err
	}
	return v
}

// Given says whether the parameter was given on the command line.
func (a *SharpArgs) Given(name string) bool {
	_, ok := a.p.m[name]
	return ok
}

// Failf records an error of Build's own checks (it keeps the first).
func (a *SharpArgs) Failf(format string, args ...any) {
	if a.err == nil {
		a.err = fmt.Errorf(a.Who+": "+format, args...)
	}
}

// Err is the first error met while reading the arguments.
func (a *SharpArgs) Err() error { return a.err }

// DegreeSetter is a sharp step that takes G-RST's degree multiplier k
// itself (GNR: γ = k·ρ); G-RST calls SetDegree at each sharp step under
// k=auto. Other steps are wrapped in Degree.
type DegreeSetter interface{ SetDegree(k float64) }

// SharpHelp is the --sharp help: every step, the defaults of rst and grst.
func SharpHelp() string {
	return "sharp step of rst/grst: " + strings.Join(SharpNames(), ", ") + " (rst default sam, grst default gnr; rst list --methods describes them)"
}

// ParamHelp is the --param help: each method's parameter names.
func ParamHelp() string {
	var b strings.Builder
	b.WriteString("method hyper-parameter NAME=VALUE (repeatable): ")
	for i, n := range sharpOrder {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(n)
		for j, q := range sharpSteps[n].Params {
			if j == 0 {
				b.WriteString(" ")
			} else {
				b.WriteString(",")
			}
			b.WriteString(q.Name)
		}
	}
	b.WriteString("; grst k (a number, or auto: k = penalty/p(t)), penalty; rst list --methods gives defaults and ranges")
	return b.String()
}

// MethodTable is the generated Markdown table of the sharp steps: name,
// extra passes, default radius and each parameter with its default,
// range and help. docs/METHODS.md is this table (TestMethodsDoc).
func MethodTable() string {
	var b strings.Builder
	b.WriteString("| method | what it does | extra passes per step | default ρ | --param | default | range | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, n := range sharpOrder {
		s := sharpSteps[n]
		head := fmt.Sprintf("| %s | %s | %g | %g ", n, esc(s.About), s.ExtraPasses, DefaultRho(n, ""))
		if len(s.Params) == 0 {
			fmt.Fprintf(&b, "%s| – | | | |\n", head)
			continue
		}
		for i, q := range s.Params {
			if i > 0 {
				head = "| | | | "
			}
			fmt.Fprintf(&b, "%s| %s | %s | %s | %s |\n", head, q.Name, q.DefaultText(), q.RangeText(), esc(q.Help))
		}
	}
	return b.String()
}

// RhoHelp is the --rho help: SAM's default and the steps with their own.
func RhoHelp() string {
	var own []string
	for _, n := range sharpOrder {
		if r := sharpSteps[n].Rho; r > 0 {
			own = append(own, fmt.Sprintf("%g for %s", r, n))
		}
	}
	h := "radius ρ of the sharp step (default 0.05"
	if len(own) > 0 {
		h += "; " + strings.Join(own, ", ")
	}
	return h + ")"
}

// ExtraPasses is the expected forward-backward passes per step that a
// method adds to plain SGD over a run of total steps: 0 for sgd, the
// step's own for a sharp step, p(t)'s mean times the sharp step's for RST
// and G-RST. The cost model weighs runs by it, so a registered step is
// costed without naming it anywhere else.
func ExtraPasses(s Spec, total int) (x float64, err error) {
	defer func() {
		// A method registered from outside may need a network to be
		// built; it is then not costed here.
		if r := recover(); r != nil {
			x, err = 0, fmt.Errorf("--method %s: cannot be built without a network to cost it: %v", s.Name, r)
		}
	}()
	m, err := New(s, nil)
	if err != nil {
		return 0, err
	}
	if r, ok := m.(*RST); ok {
		sharp := s.Sharp
		if sharp == "" { // buildRST's defaults
			sharp = map[bool]string{false: "sam", true: "gnr"}[s.Name == "grst"]
		}
		return r.P.ExpectedDeltaEta(total) * stepExtra(r.Sharp, sharp), nil
	}
	if _, ok := m.(Plain); ok {
		return 0, nil
	}
	return stepExtra(m, s.Name), nil
}

// stepExtra asks a built step for its extra passes (ExtraPairs, which may
// depend on its parameters), else the table, else one pass as SAM.
func stepExtra(m Method, name string) float64 {
	if d, ok := m.(*Degree); ok { // G-RST's wrapper costs what its step does
		m = d.Inner
	}
	if e, ok := m.(interface{ ExtraPairs() float64 }); ok {
		return e.ExtraPairs()
	}
	if s, ok := sharpSteps[name]; ok {
		return s.ExtraPasses
	}
	return 1
}
