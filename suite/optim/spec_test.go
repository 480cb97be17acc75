package optim

import (
	"math"
	"strings"
	"testing"
)

func TestSpecValidation(t *testing.T) {
	p := func(kv ...any) map[string]float64 {
		m := map[string]float64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(float64)
		}
		return m
	}
	cases := []struct {
		spec Spec
		err  string // empty: must build
	}{
		{Spec{Name: "sgd"}, ""},
		{Spec{Name: "sgd", Params: p("k", 2.0)}, "--param k: not a parameter"},
		{Spec{Name: "sam"}, "--rho 0"},
		{Spec{Name: "sam", Rho: 0.05, Schedule: "constant:0.5"}, "--schedule"},
		{Spec{Name: "sam", Rho: 0.05, Sharp: "gnr"}, "--sharp"},
		{Spec{Name: "gnr", Rho: 0.05, Params: p("gamma", 0.1, "normalized", 1.0)}, ""},
		{Spec{Name: "gnr", Rho: 0.05, Params: p("normalized", 0.5)}, "accepted values are 0 and 1"},
		{Spec{Name: "asam", Rho: 0.5, Params: p("eta", -1.0)}, "--param eta=-1 is outside the accepted range [0, +Inf)"},
		{Spec{Name: "gsam", Rho: 0.05, Params: p("rho_min", 0.1)}, "--param rho_min=0.1"},
		{Spec{Name: "looksam", Rho: 0.05, Params: p("k", 2.5)}, "must be an integer"},
		{Spec{Name: "looksam", Rho: 0.05, Params: p("k", 0.0)}, "--param k=0 is outside the accepted range [1, +Inf)"},
		{Spec{Name: "esam", Rho: 0.05, Params: p("beta", 0.0)}, "--param beta=0 is outside the accepted range (0, 1]"},
		{Spec{Name: "esam", Rho: 0.05, Params: p("gamma", 1.5)}, "--param gamma=1.5"},
		{Spec{Name: "ssam-f", Rho: 0.05, Params: p("sparsity", 1.2)}, "--param sparsity=1.2"},
		{Spec{Name: "ssam-d", Rho: 0.05, Params: p("num_samples", 4.0)}, "--param num_samples: not a parameter"},
		{Spec{Name: "rst", Rho: 0.05}, "--schedule is required"},
		{Spec{Name: "rst", Rho: 0.05, Schedule: "constant:1.5"}, "--schedule"},
		{Spec{Name: "rst", Rho: 0.05, Schedule: "constant:0.5", Sharp: "adam"}, "--sharp \"adam\": choose one of"},
		{Spec{Name: "rst", Rho: 0.05, Schedule: "cos1", Sharp: "looksam", Params: p("k", 5.0)}, ""},
		{Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Params: p("k", 2.0)}, ""},
		{Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Params: p("gamma", 0.1)}, "set --param k instead"},
		{Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Sharp: "looksam", Params: p("looksam_k", 3.0)}, ""},
		{Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Params: p("k", -1.0)}, "--param k=-1"},
		{Spec{Name: "nope"}, "--method \"nope\": choose one of"},
	}
	for _, c := range cases {
		m, err := New(c.spec, nil)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%+v: %v", c.spec, err)
		case c.err != "" && err == nil:
			t.Errorf("%+v: built %T, want an error with %q", c.spec, m, c.err)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("%+v: error %q does not say %q", c.spec, err, c.err)
		}
	}
	// What the specs build.
	m, _ := New(Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Params: p("k", 3.0)}, nil)
	if r, ok := m.(*RST); !ok || math.Abs(r.Sharp.(*GNR).Gamma-0.15) > 1e-15 || r.Name() != "grst" {
		t.Errorf("grst k=3 built %#v", m)
	}
	m, _ = New(Spec{Name: "grst", Rho: 0.05, Schedule: "constant:0.5", Sharp: "gsam"}, nil)
	if d, ok := m.(*RST).Sharp.(*Degree); !ok || d.K != 2 {
		t.Errorf("grst --sharp gsam built %#v", m.(*RST).Sharp)
	}
}
