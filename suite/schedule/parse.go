package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse reads a schedule spec (see the package documentation), for example
// "constant:0.5", "piecewise:0,0.3", "linear1:0.7", "cos1",
// "table:0.1,0.5,0.9" or "expr:0.5+0.4*sin(2*pi*x)". Errors name the spec and
// the parameter at fault together with its accepted range.
func Parse(spec string) (Func, error) {
	f, err := parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return f, nil
}

func parse(spec string) (Func, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "expr" {
		return Expr(arg)
	}
	var args []float64
	if hasArg {
		for i, s := range strings.Split(arg, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("parameter %d %q is not a finite number", i+1, strings.TrimSpace(s))
			}
			args = append(args, v)
		}
	}
	want := func(n int, names string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d parameter(s) (%s), got %d", name, n, names, len(args))
		}
		return nil
	}
	switch name {
	case "constant":
		if err := want(1, "a_c in [0,1]"); err != nil {
			return nil, err
		}
		return Constant(args[0])
	case "piecewise":
		if err := want(2, "a_p in [0,1], b_p in [0,1]"); err != nil {
			return nil, err
		}
		return Piecewise(args[0], args[1])
	case "linear":
		if err := want(2, "slope a_l per unit t/T, intercept b_l; finite"); err != nil {
			return nil, err
		}
		return Linear(args[0], args[1])
	case "linear1":
		if err := want(1, "m in [0,1]"); err != nil {
			return nil, err
		}
		return Linear1(args[0])
	case "linear2":
		if err := want(1, "b_l in [0,1]"); err != nil {
			return nil, err
		}
		return Linear2(args[0])
	case "cos1", "cos2", "sin1", "sin2":
		if err := want(0, "none"); err != nil {
			return nil, err
		}
		return Trig(name)
	case "table":
		if len(args) == 0 {
			return nil, fmt.Errorf("table needs at least one value in [0,1]")
		}
		return Table(args...)
	}
	return nil, fmt.Errorf("unknown family %q (accepted: constant, piecewise, linear, linear1, linear2, cos1, cos2, sin1, sin2, table, expr)", name)
}

// ---- expressions ----

type expr struct {
	src  string
	eval func(x float64) float64
}

// Expr compiles a small expression in the variable x = t/T. It knows numbers,
// x, pi, e, the operators + - * / ^ (power, right-associative, binding
// tighter than unary minus: -x^2 = -(x^2)), parentheses, and the functions
// sin cos exp log sqrt abs (one argument) and min max (two). The value is a
// probability: it must lie in [0,1] at every x = k/10000, k = 0..10000, or
// Expr refuses it and says where it leaves the range, as Constant refuses
// a_c = 1.5. Silent clipping would let a typo such as x*2 run a different
// schedule from the one written; min(1,max(0,E)) clips on purpose. Between
// the grid points P still clips, so p never leaves [0,1] whatever T is.
func Expr(src string) (Func, error) {
	canon := strings.Join(strings.Fields(src), "")
	if canon == "" {
		return nil, fmt.Errorf("expr: empty expression (write one in x = t/T, e.g. expr:0.5+0.5*x)")
	}
	if len(canon) > maxExprLen {
		return nil, fmt.Errorf("expr: the expression has %d characters; at most %d are accepted", len(canon), maxExprLen)
	}
	p := &exprParser{s: canon}
	f, err := p.sum()
	if err == nil && p.i < len(p.s) {
		err = fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
	}
	if err != nil {
		return nil, fmt.Errorf("expr %q: %w", canon, err)
	}
	for k := 0; k <= exprGrid; k++ {
		x := float64(k) / exprGrid
		v := f(x)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("expr %q is %v at x = %g; it must be finite on [0,1]", canon, v, x)
		}
		if v < -exprSlack || v > 1+exprSlack {
			return nil, fmt.Errorf("expr %q leaves [0,1] %s (it is %v at x = %g); p must stay in [0,1] for every x in [0,1]: rescale it, or clip on purpose with min(1,max(0,...))",
				canon, outside(f, k), v, x)
		}
	}
	return expr{canon, f}, nil
}

const (
	// exprGrid is the number of intervals of the parse-time check on [0,1].
	exprGrid = 10000
	// exprSlack lets rounding such as 0.5+0.5*cos(pi) = -1e-17 through;
	// P clips it.
	exprSlack = 1e-12
	// maxExprLen bounds the parse-time check, which evaluates the
	// expression exprGrid+1 times.
	maxExprLen = 2000
)

// outside describes the first stretch of the grid, from point k on, where
// f leaves [0,1]: "from x = 0.5001 to x = 1", or "at x = 0.5".
func outside(f node, k int) string {
	out := func(k int) bool {
		v := f(float64(k) / exprGrid)
		return !(v >= -exprSlack && v <= 1+exprSlack)
	}
	end := k
	for end < exprGrid && out(end+1) {
		end++
	}
	if end == k {
		return fmt.Sprintf("at x = %g", float64(k)/exprGrid)
	}
	return fmt.Sprintf("from x = %g to x = %g", float64(k)/exprGrid, float64(end)/exprGrid)
}

func (e expr) P(t, T int) float64 {
	if T <= 0 {
		return 0
	}
	return clip01(e.eval(frac(t, T)))
}
func (e expr) ExpectedDeltaEta(T int) float64      { return mean(e, T) }
func (e expr) ClosedFormDeltaEta() (float64, bool) { return 0, false }
func (e expr) String() string                      { return "expr:" + e.src }

type node = func(x float64) float64

// exprParser is a recursive-descent parser over a string without spaces.
type exprParser struct {
	s string
	i int
}

func (p *exprParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// sum := product (('+'|'-') product)*
func (p *exprParser) sum() (node, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != '+' && op != '-' {
			return l, nil
		}
		p.i++
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		if op == '+' {
			l = func(x float64) float64 { return a(x) + b(x) }
		} else {
			l = func(x float64) float64 { return a(x) - b(x) }
		}
	}
}

// product := unary (('*'|'/') unary)*
func (p *exprParser) product() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' {
			return l, nil
		}
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		if op == '*' {
			l = func(x float64) float64 { return a(x) * b(x) }
		} else {
			l = func(x float64) float64 { return a(x) / b(x) }
		}
	}
}

// unary := ('-'|'+') unary | power
func (p *exprParser) unary() (node, error) {
	switch p.peek() {
	case '-':
		p.i++
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(x float64) float64 { return -a(x) }, nil
	case '+':
		p.i++
		return p.unary()
	}
	return p.power()
}

// power := primary ('^' unary)?
func (p *exprParser) power() (node, error) {
	a, err := p.primary()
	if err != nil {
		return nil, err
	}
	if p.peek() != '^' {
		return a, nil
	}
	p.i++
	b, err := p.unary()
	if err != nil {
		return nil, err
	}
	return func(x float64) float64 { return math.Pow(a(x), b(x)) }, nil
}

var unaryFuncs = map[string]func(float64) float64{
	"sin": math.Sin, "cos": math.Cos, "exp": math.Exp, "log": math.Log,
	"sqrt": math.Sqrt, "abs": math.Abs,
}

var binaryFuncs = map[string]func(a, b float64) float64{
	"min": math.Min, "max": math.Max,
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *exprParser) primary() (node, error) {
	c := p.peek()
	switch {
	case c == 0:
		return nil, fmt.Errorf("expression ends too early")
	case c == '(':
		p.i++
		a, err := p.sum()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ')' at offset %d", p.i)
		}
		p.i++
		return a, nil
	case isDigit(c) || c == '.':
		return p.number()
	case isLetter(c):
		start := p.i
		for isLetter(p.peek()) || isDigit(p.peek()) {
			p.i++
		}
		id := strings.ToLower(p.s[start:p.i])
		switch id {
		case "x":
			return func(x float64) float64 { return x }, nil
		case "pi":
			return func(float64) float64 { return math.Pi }, nil
		case "e":
			return func(float64) float64 { return math.E }, nil
		}
		if f, ok := unaryFuncs[id]; ok {
			args, err := p.args(id, 1)
			if err != nil {
				return nil, err
			}
			a := args[0]
			return func(x float64) float64 { return f(a(x)) }, nil
		}
		if f, ok := binaryFuncs[id]; ok {
			args, err := p.args(id, 2)
			if err != nil {
				return nil, err
			}
			a, b := args[0], args[1]
			return func(x float64) float64 { return f(a(x), b(x)) }, nil
		}
		return nil, fmt.Errorf("unknown name %q (accepted: x, pi, e, sin, cos, exp, log, sqrt, abs, min, max)", id)
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", string(c), p.i)
}

func (p *exprParser) args(name string, n int) ([]node, error) {
	if p.peek() != '(' {
		return nil, fmt.Errorf("%s needs '(' after it", name)
	}
	p.i++
	var out []node
	for {
		a, err := p.sum()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		if p.peek() == ',' {
			p.i++
			continue
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ')' after the arguments of %s", name)
		}
		p.i++
		break
	}
	if len(out) != n {
		return nil, fmt.Errorf("%s takes %d argument(s), got %d", name, n, len(out))
	}
	return out, nil
}

func (p *exprParser) number() (node, error) {
	start := p.i
	for isDigit(p.peek()) || p.peek() == '.' {
		p.i++
	}
	// An exponent only when digits follow; "2e" is the number 2 followed by
	// the name e, which the caller rejects as a missing operator.
	if c := p.peek(); c == 'e' || c == 'E' {
		j := p.i + 1
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if j < len(p.s) && isDigit(p.s[j]) {
			p.i = j
			for isDigit(p.peek()) {
				p.i++
			}
		}
	}
	v, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, fmt.Errorf("bad number %q at offset %d", p.s[start:p.i], start)
	}
	return func(float64) float64 { return v }, nil
}
