package theory

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/rst-bench/rst/suite/rng"
)

// Function is a smooth test function with everything the theorems need known
// exactly.
type Function interface {
	Name() string
	Dim() int
	Value(x []float64) float64
	// Grad writes ∇L(x) into dst.
	Grad(dst, x []float64)
	// HessVec writes ∇²L(x)·v into dst (used for the gradient of ‖∇L‖).
	HessVec(dst, x, v []float64)
	// Beta is a proven smoothness constant: ‖∇L(a) − ∇L(b)‖ ≤ β‖a − b‖.
	Beta() float64
	// Min is L* = inf L.
	Min() float64
	// Mu is a PL constant: ½‖∇L‖² ≥ μ(L − L*); 0 when L is not PL.
	Mu() float64
	// Start is the initial point θ_0 (a fresh copy).
	Start() []float64
}

// ---- dense helpers (the dimensions are small: plain loops are fastest) ----

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

// matVec writes M·v for a row-major r×c matrix M.
func matVec(dst, m []float64, r, c int, v []float64) {
	for i := 0; i < r; i++ {
		dst[i] = dot(m[i*c:(i+1)*c], v)
	}
}

// matTVec writes Mᵀ·v.
func matTVec(dst, m []float64, r, c int, v []float64) {
	clear(dst[:c])
	for i := 0; i < r; i++ {
		row := m[i*c : (i+1)*c]
		for j, mij := range row {
			dst[j] += mij * v[i]
		}
	}
}

// symEigen returns the eigenvalues (ascending) of a symmetric d×d matrix.
func symEigen(a []float64, d int) []float64 {
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(d, append([]float64(nil), a...)), false) {
		panic("theory: eigen-decomposition failed")
	}
	return es.Values(nil)
}

func gaussian(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * r.NormFloat64()
	}
	return v
}

// ---- quadratic ----

// Quadratic is L(x) = ½(x−c)ᵀA(x−c) with A = Q·diag(λ)·Qᵀ for a random
// orthogonal Q, so that β = max λ, μ = min λ and L* = 0 exactly.
type Quadratic struct {
	name   string
	d      int
	a      []float64
	c, x0  []float64
	lo, hi float64
}

// NewQuadratic builds a d-dimensional quadratic with eigenvalues spaced
// geometrically from lo to hi.
func NewQuadratic(name string, d int, lo, hi float64, seed uint64) *Quadratic {
	r := rng.New(seed, "theory-quadratic")
	var qr mat.QR
	qr.Factorize(mat.NewDense(d, d, gaussian(r, d*d, 1)))
	var q mat.Dense
	qr.QTo(&q)
	lam := make([]float64, d)
	for i := range lam {
		f := 0.0
		if d > 1 {
			f = float64(i) / float64(d-1)
		}
		lam[i] = lo * math.Pow(hi/lo, f)
	}
	a := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			s := 0.0
			for k := 0; k < d; k++ {
				s += q.At(i, k) * lam[k] * q.At(j, k)
			}
			a[i*d+j] = s
		}
	}
	// Symmetrise exactly so that rounding does not make A's two triangles
	// disagree.
	for i := 0; i < d; i++ {
		for j := 0; j < i; j++ {
			m := (a[i*d+j] + a[j*d+i]) / 2
			a[i*d+j], a[j*d+i] = m, m
		}
	}
	return &Quadratic{name: name, d: d, a: a, c: gaussian(r, d, 0.5), x0: gaussian(r, d, 1), lo: lo, hi: hi}
}

// NewDiagQuadratic is L = ½Σλ_i(x_i − c_i)² with a given start; it is used
// for the small hand-checkable counterexamples.
func NewDiagQuadratic(name string, lam, c, x0 []float64) *Quadratic {
	d := len(lam)
	a := make([]float64, d*d)
	lo, hi := math.Inf(1), 0.0
	for i, l := range lam {
		a[i*d+i] = l
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	return &Quadratic{name: name, d: d, a: a, c: append([]float64(nil), c...), x0: append([]float64(nil), x0...), lo: lo, hi: hi}
}

func (q *Quadratic) Name() string { return q.name }
func (q *Quadratic) Dim() int     { return q.d }
func (q *Quadratic) Value(x []float64) float64 {
	y := make([]float64, q.d)
	for i := range y {
		y[i] = x[i] - q.c[i]
	}
	ay := make([]float64, q.d)
	matVec(ay, q.a, q.d, q.d, y)
	return dot(y, ay) / 2
}
func (q *Quadratic) Grad(dst, x []float64) {
	y := make([]float64, q.d)
	for i := range y {
		y[i] = x[i] - q.c[i]
	}
	matVec(dst, q.a, q.d, q.d, y)
}
func (q *Quadratic) HessVec(dst, _, v []float64) { matVec(dst, q.a, q.d, q.d, v) }
func (q *Quadratic) Beta() float64               { return q.hi }
func (q *Quadratic) Min() float64                { return 0 }
func (q *Quadratic) Mu() float64                 { return q.lo }
func (q *Quadratic) Start() []float64            { return append([]float64(nil), q.x0...) }

// ---- least squares ----

// LeastSquares is L(x) = ‖Dx − y‖²/(2n) for a random n×d design D and an
// inconsistent target y, so L* > 0. β and μ are the extreme eigenvalues of
// DᵀD/n; L* comes from the normal equations.
type LeastSquares struct {
	n, d     int
	D, y, x0 []float64
	beta, mu float64
	lstar    float64
}

func NewLeastSquares(n, d int, seed uint64) *LeastSquares {
	r := rng.New(seed, "theory-lsq")
	ls := &LeastSquares{n: n, d: d, D: gaussian(r, n*d, 1), y: gaussian(r, n, 1), x0: gaussian(r, d, 1)}
	g := ls.gram()
	ev := symEigen(g, d)
	ls.mu, ls.beta = ev[0], ev[d-1]
	// Normal equations (DᵀD/n)x = Dᵀy/n.
	rhs := make([]float64, d)
	matTVec(rhs, ls.D, n, d, ls.y)
	for i := range rhs {
		rhs[i] /= float64(n)
	}
	var xs mat.VecDense
	if err := xs.SolveVec(mat.NewDense(d, d, g), mat.NewVecDense(d, rhs)); err != nil {
		panic(err)
	}
	ls.lstar = ls.Value(xs.RawVector().Data)
	return ls
}

func (l *LeastSquares) gram() []float64 {
	g := make([]float64, l.d*l.d)
	for i := 0; i < l.d; i++ {
		for j := 0; j < l.d; j++ {
			s := 0.0
			for k := 0; k < l.n; k++ {
				s += l.D[k*l.d+i] * l.D[k*l.d+j]
			}
			g[i*l.d+j] = s / float64(l.n)
		}
	}
	return g
}

func (l *LeastSquares) Name() string { return "least-squares" }
func (l *LeastSquares) Dim() int     { return l.d }
func (l *LeastSquares) resid(x []float64) []float64 {
	r := make([]float64, l.n)
	matVec(r, l.D, l.n, l.d, x)
	for i := range r {
		r[i] -= l.y[i]
	}
	return r
}
func (l *LeastSquares) Value(x []float64) float64 {
	r := l.resid(x)
	return dot(r, r) / (2 * float64(l.n))
}
func (l *LeastSquares) Grad(dst, x []float64) {
	matTVec(dst, l.D, l.n, l.d, l.resid(x))
	for i := range dst[:l.d] {
		dst[i] /= float64(l.n)
	}
}
func (l *LeastSquares) HessVec(dst, _, v []float64) {
	dv := make([]float64, l.n)
	matVec(dv, l.D, l.n, l.d, v)
	matTVec(dst, l.D, l.n, l.d, dv)
	for i := range dst[:l.d] {
		dst[i] /= float64(l.n)
	}
}
func (l *LeastSquares) Beta() float64    { return l.beta }
func (l *LeastSquares) Min() float64     { return l.lstar }
func (l *LeastSquares) Mu() float64      { return l.mu }
func (l *LeastSquares) Start() []float64 { return append([]float64(nil), l.x0...) }

// ---- logistic regression ----

// Logistic is ℓ2-regularised logistic regression,
// L(x) = (1/n)Σ log(1 + exp(−y_i a_iᵀx)) + (λ/2)‖x‖². Its Hessian is
// (1/n)Aᵀ diag(σ(1−σ)) A + λI with σ(1−σ) ≤ ¼, so β = λ_max(AᵀA)/(4n) + λ,
// and it is λ-strongly convex, hence PL with μ = λ. L* is found by Newton's
// method to machine precision.
type Logistic struct {
	n, d         int
	A, y, x0     []float64
	lambda, beta float64
	lstar        float64
	xstar        []float64
}

func NewLogistic(n, d int, lambda float64, seed uint64) *Logistic {
	r := rng.New(seed, "theory-logistic")
	lg := &Logistic{n: n, d: d, A: gaussian(r, n*d, 1), y: make([]float64, n), lambda: lambda}
	w := gaussian(r, d, 1)
	for i := 0; i < n; i++ {
		// Labels from a noisy linear rule, so the data are not separable.
		if dot(lg.A[i*d:(i+1)*d], w)+r.NormFloat64() > 0 {
			lg.y[i] = 1
		} else {
			lg.y[i] = -1
		}
	}
	lg.x0 = gaussian(r, d, 2)
	g := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			s := 0.0
			for k := 0; k < n; k++ {
				s += lg.A[k*d+i] * lg.A[k*d+j]
			}
			g[i*d+j] = s / float64(n)
		}
	}
	ev := symEigen(g, d)
	lg.beta = ev[d-1]/4 + lambda
	lg.xstar = lg.newton()
	lg.lstar = lg.Value(lg.xstar)
	return lg
}

// newton minimises L; the function is strongly convex, so plain Newton from
// 0 with step halving converges to machine precision in a few iterations.
func (l *Logistic) newton() []float64 {
	d := l.d
	x := make([]float64, d)
	g := make([]float64, d)
	for it := 0; it < 100; it++ {
		l.Grad(g, x)
		if norm(g) < 1e-14 {
			break
		}
		h := make([]float64, d*d)
		for i := 0; i < d; i++ {
			e := make([]float64, d)
			e[i] = 1
			col := make([]float64, d)
			l.HessVec(col, x, e)
			for j := 0; j < d; j++ {
				h[j*d+i] = col[j]
			}
		}
		var step mat.VecDense
		if err := step.SolveVec(mat.NewDense(d, d, h), mat.NewVecDense(d, g)); err != nil {
			panic(err)
		}
		s := step.RawVector().Data
		f0 := l.Value(x)
		t := 1.0
		for {
			xn := make([]float64, d)
			for i := range xn {
				xn[i] = x[i] - t*s[i]
			}
			if l.Value(xn) <= f0 || t < 1e-10 {
				x = xn
				break
			}
			t /= 2
		}
	}
	return x
}

// softplus is log(1 + e^z) without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func (l *Logistic) Name() string { return "logistic-l2" }
func (l *Logistic) Dim() int     { return l.d }
func (l *Logistic) Value(x []float64) float64 {
	s := 0.0
	for i := 0; i < l.n; i++ {
		s += softplus(-l.y[i] * dot(l.A[i*l.d:(i+1)*l.d], x))
	}
	return s/float64(l.n) + l.lambda/2*dot(x, x)
}
func (l *Logistic) Grad(dst, x []float64) {
	for j := range dst[:l.d] {
		dst[j] = l.lambda * x[j]
	}
	for i := 0; i < l.n; i++ {
		row := l.A[i*l.d : (i+1)*l.d]
		// d/dz softplus(−y z) = −y σ(−y z)
		c := -l.y[i] * sigmoid(-l.y[i]*dot(row, x)) / float64(l.n)
		for j, a := range row {
			dst[j] += c * a
		}
	}
}
func (l *Logistic) HessVec(dst, x, v []float64) {
	for j := range dst[:l.d] {
		dst[j] = l.lambda * v[j]
	}
	for i := 0; i < l.n; i++ {
		row := l.A[i*l.d : (i+1)*l.d]
		s := sigmoid(dot(row, x))
		c := s * (1 - s) * dot(row, v) / float64(l.n)
		for j, a := range row {
			dst[j] += c * a
		}
	}
}
func (l *Logistic) Beta() float64    { return l.beta }
func (l *Logistic) Min() float64     { return l.lstar }
func (l *Logistic) Mu() float64      { return l.lambda }
func (l *Logistic) Start() []float64 { return append([]float64(nil), l.x0...) }

// ---- non-convex: rippled quadratic ----

// Ripple is L(x) = ½xᵀAx + b·Σ(1 − cos x_i) with A positive semi-definite.
// Both terms are ≥ 0 and vanish at 0, so L* = 0. The Hessian is
// A + b·diag(cos x_i), whose spectral norm is at most λ_max(A) + b (attained
// at 0), so β = λ_max(A) + b. With b > λ_min(A) the Hessian has a negative
// eigenvalue near x_i = π: L is non-convex, with spurious local minima.
type Ripple struct {
	q *Quadratic
	b float64
}

func NewRipple(d int, lo, hi, b float64, seed uint64) *Ripple {
	q := NewQuadratic("ripple", d, lo, hi, seed)
	clear(q.c)
	r := rng.New(seed, "theory-ripple-start")
	for i := range q.x0 {
		q.x0[i] = 4 * (2*r.Float64() - 1)
	}
	return &Ripple{q: q, b: b}
}

func (f *Ripple) Name() string { return "ripple-nonconvex" }
func (f *Ripple) Dim() int     { return f.q.d }
func (f *Ripple) Value(x []float64) float64 {
	s := f.q.Value(x)
	for _, v := range x {
		s += f.b * (1 - math.Cos(v))
	}
	return s
}
func (f *Ripple) Grad(dst, x []float64) {
	f.q.Grad(dst, x)
	for i, v := range x {
		dst[i] += f.b * math.Sin(v)
	}
}
func (f *Ripple) HessVec(dst, x, v []float64) {
	f.q.HessVec(dst, x, v)
	for i := range v {
		dst[i] += f.b * math.Cos(x[i]) * v[i]
	}
}
func (f *Ripple) Beta() float64    { return f.q.hi + f.b }
func (f *Ripple) Min() float64     { return 0 }
func (f *Ripple) Mu() float64      { return 0 }
func (f *Ripple) Start() []float64 { return f.q.Start() }

// ---- non-convex: Cauchy loss ----

// Cauchy is L(x) = Σ log(1 + (x_i − c_i)²): L* = 0, second derivative
// 2(1 − u²)/(1 + u²)² ∈ [−¼, 2], so β = 2; non-convex for |u| > 1, with a
// bounded gradient that makes progress from far away slow.
type Cauchy struct {
	c, x0 []float64
}

func NewCauchy(d int, seed uint64) *Cauchy {
	r := rng.New(seed, "theory-cauchy")
	c := gaussian(r, d, 1)
	x0 := make([]float64, d)
	for i := range x0 {
		x0[i] = c[i] + 3*(2*r.Float64()-1)
	}
	return &Cauchy{c: c, x0: x0}
}

func (f *Cauchy) Name() string { return "cauchy-nonconvex" }
func (f *Cauchy) Dim() int     { return len(f.c) }
func (f *Cauchy) Value(x []float64) float64 {
	s := 0.0
	for i, v := range x {
		u := v - f.c[i]
		s += math.Log1p(u * u)
	}
	return s
}
func (f *Cauchy) Grad(dst, x []float64) {
	for i, v := range x {
		u := v - f.c[i]
		dst[i] = 2 * u / (1 + u*u)
	}
}
func (f *Cauchy) HessVec(dst, x, v []float64) {
	for i := range v {
		u := x[i] - f.c[i]
		w := 1 + u*u
		dst[i] = 2 * (1 - u*u) / (w * w) * v[i]
	}
}
func (f *Cauchy) Beta() float64    { return 2 }
func (f *Cauchy) Min() float64     { return 0 }
func (f *Cauchy) Mu() float64      { return 0 }
func (f *Cauchy) Start() []float64 { return append([]float64(nil), f.x0...) }

// Suite is the set of test functions every check runs on. μ = 1 for both
// quadratics, so they satisfy the PL inequality exactly as the paper prints
// it (½‖∇L‖² ≥ L − L*).
func Suite() []Function {
	return []Function{
		NewQuadratic("quadratic-ill", 20, 1, 100, 1),
		NewQuadratic("quadratic-well", 20, 1, 2, 2),
		NewLeastSquares(60, 8, 3),
		NewLogistic(80, 6, 0.1, 4),
		NewRipple(10, 0.1, 1, 2, 5),
		NewCauchy(10, 6),
	}
}

func describe(f Function) string {
	mu := "not PL"
	if f.Mu() > 0 {
		mu = fmt.Sprintf("μ = %.4g", f.Mu())
	}
	return fmt.Sprintf("d = %d, β = %.4g, %s, L* = %.6g", f.Dim(), f.Beta(), mu, f.Min())
}
