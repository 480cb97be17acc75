package optim

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/METHODS.md from the registered sharp steps")

// toyStep is a sharp step known only to this file: SAM at a fraction of
// the radius. It has no ExtraPairs method, so its cost comes from the
// table.
type toyStep struct{ sam *SAM }

func (toyStep) Name() string                     { return "toy" }
func (m toyStep) Step(c *StepContext) StepResult { return m.sam.Step(c) }

var toy = SharpStep{
	Name: "toy", About: "SAM at scale·ρ (a test-only step)", ExtraPasses: 0.25,
	Params: []Param{{Name: "scale", Default: 0.5, Lo: 0, Hi: 1, LoOpen: true, Help: "the fraction of ρ used"}},
	Build: func(a *SharpArgs) (Method, error) {
		return toyStep{&SAM{Rho: a.Value("scale") * a.Rho}}, a.Err()
	},
}

// registerToy adds toy for one test and takes it out again, so that the
// generated docs table (TestMethodsDoc) stays the built-in one.
func registerToy(t *testing.T) {
	RegisterSharp(toy)
	t.Cleanup(func() {
		delete(methods, toy.Name)
		delete(sharpSteps, toy.Name)
		sharpOrder = slices.DeleteFunc(sharpOrder, func(n string) bool { return n == toy.Name })
	})
}

// A sharp step registered in one file is a --method, a --sharp of rst and
// grst, in the help, costed and in the docs table, with no other edit.
func TestRegisteredSharpStepIsEverywhere(t *testing.T) {
	registerToy(t)

	// --method toy, its default resolved into the spec (and so the run id).
	s, err := Resolve(Spec{Name: "toy"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Rho != 0.05 || s.Params["scale"] != 0.5 {
		t.Errorf("Resolve(--method toy) = ρ %v params %v, want ρ 0.05 and scale 0.5 filled in", s.Rho, s.Params)
	}
	m, err := New(Spec{Name: "toy", Rho: 0.1, Params: map[string]float64{"scale": 0.2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(toyStep).sam.Rho; got < 0.0199 || got > 0.0201 {
		t.Errorf("--param scale=0.2 at ρ 0.1 built radius %v, want 0.02", got)
	}
	if _, err := New(Spec{Name: "toy", Rho: 0.1, Params: map[string]float64{"scale": 2}}, nil); err == nil || !strings.Contains(err.Error(), "--param scale=2 is outside the accepted range (0, 1]") {
		t.Errorf("scale=2: got %v, want the declared range in the error", err)
	}

	// --sharp toy under rst and grst; grst wraps it in Degree (toy does
	// not take k itself).
	r, err := New(Spec{Name: "rst", Sharp: "toy", Rho: 0.05, Schedule: "constant:0.5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*RST).Sharp.(toyStep); !ok {
		t.Errorf("rst --sharp toy built sharp step %T, want toyStep", r.(*RST).Sharp)
	}
	g, err := New(Spec{Name: "grst", Sharp: "toy", Rho: 0.05, Schedule: "constant:0.5", Params: map[string]float64{"k": 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := g.(*RST).Sharp.(*Degree); !ok || d.K != 3 {
		t.Errorf("grst --sharp toy k=3 built %#v, want Degree{K: 3} around toy", g.(*RST).Sharp)
	}
	gs, err := Resolve(Spec{Name: "grst", Sharp: "toy", Schedule: "constant:0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Params["scale"] != 0.5 || gs.Params["k"] != 2 {
		t.Errorf("Resolve(grst --sharp toy) params = %v, want scale 0.5 and k 2", gs.Params)
	}

	// The help of rst train (--method lists MethodNames).
	if !slices.Contains(MethodNames(), "toy") || !strings.Contains(SharpHelp(), "toy") || !strings.Contains(ParamHelp(), "toy scale") {
		t.Errorf("toy missing from the help:\n%v\n%s\n%s", MethodNames(), SharpHelp(), ParamHelp())
	}

	// The cost model: the table's 0.25 alone, times p = 0.5 under rst.
	if x, err := ExtraPasses(Spec{Name: "toy", Rho: 0.05}, 100); err != nil || x != 0.25 {
		t.Errorf("ExtraPasses(toy) = %v, %v; want 0.25", x, err)
	}
	if x, err := ExtraPasses(Spec{Name: "rst", Sharp: "toy", Rho: 0.05, Schedule: "constant:0.5"}, 100); err != nil || x != 0.125 {
		t.Errorf("ExtraPasses(rst --sharp toy, p 0.5) = %v, %v; want 0.125", x, err)
	}

	// The generated method table.
	if !strings.Contains(MethodTable(), "| toy | SAM at scale·ρ (a test-only step) | 0.25 | 0.05 | scale | 0.5 | (0, 1] | the fraction of ρ used |") {
		t.Errorf("the method table lacks toy's row:\n%s", MethodTable())
	}
}

// A Build that reads a parameter it did not declare fails, so the help
// and the docs cannot miss one.
func TestUndeclaredParamIsAnError(t *testing.T) {
	st := &SharpStep{Name: "undeclared", Build: func(a *SharpArgs) (Method, error) {
		return &SAM{Rho: a.Rho * a.Value("nope")}, a.Err()
	}}
	_, err := st.Build(&SharpArgs{Rho: 0.05, K: 1, Who: "undeclared", step: st, p: newParams("undeclared", Spec{})})
	if err == nil || !strings.Contains(err.Error(), "does not declare") {
		t.Errorf("got %v, want an error naming the undeclared parameter", err)
	}
}

// Each built-in step's declared extra passes agree with what the built
// step reports at its defaults.
func TestExtraPassesMatchTheSteps(t *testing.T) {
	for _, n := range SharpNames() {
		st, _ := Sharp(n)
		m, err := New(Spec{Name: n, Rho: DefaultRho(n, "")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := stepExtra(m, n); got != st.ExtraPasses {
			t.Errorf("%s: the table says %v extra passes, the built step %v", n, st.ExtraPasses, got)
		}
	}
}

const methodsDoc = "../../docs/METHODS.md"

func methodsDocText() string {
	return "# Training methods\n\n" +
		"Generated from the sharp steps registered in suite/optim (optim.RegisterSharp) by\n" +
		"`go test ./suite/optim -run TestMethodsDoc -update`; `rst list --methods` prints the same table.\n" +
		"Every step is a `--method` of its own and a `--sharp` of `rst` and `grst`. `sgd` is the plain step;\n" +
		"`rst` and `grst` take `--schedule` and the sharp step's parameters, `grst` adds `k` [2]\n" +
		"(or `k=auto` with `penalty` [1]). Extra passes are forward-backward pairs per step beyond SGD's one,\n" +
		"at the default parameters; the planner weighs runs by them.\n\n" +
		MethodTable()
}

// docs/METHODS.md is the generated table of the registered steps.
func TestMethodsDoc(t *testing.T) {
	want := methodsDocText()
	if *update {
		if err := os.WriteFile(methodsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(methodsDoc)
	if err != nil {
		t.Fatalf("%v (create it: go test ./suite/optim -run TestMethodsDoc -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: a sharp step was added or changed; rewrite it with go test ./suite/optim -run TestMethodsDoc -update", methodsDoc)
	}
}
