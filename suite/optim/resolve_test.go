package optim

import (
	"maps"
	"testing"
)

func TestResolveFillsEveryDefault(t *testing.T) {
	cases := []struct {
		in   Spec
		want Spec
	}{
		{Spec{Name: "sgd"}, Spec{Name: "sgd"}},
		{Spec{Name: "sam"}, Spec{Name: "sam", Rho: 0.05}},
		{Spec{Name: "gnr", Rho: 0.1}, Spec{Name: "gnr", Rho: 0.1, Params: map[string]float64{"gamma": 0.2, "normalized": 0}}},
		{Spec{Name: "asam"}, Spec{Name: "asam", Rho: 0.5, Params: map[string]float64{"eta": 0.01}}},
		{Spec{Name: "looksam", Params: map[string]float64{"k": 3}}, Spec{Name: "looksam", Rho: 0.05, Params: map[string]float64{"k": 3, "alpha": 0.7}}},
		{Spec{Name: "esam"}, Spec{Name: "esam", Rho: 0.05, Params: map[string]float64{"beta": 0.6, "gamma": 0.5}}},
		{Spec{Name: "rst", Schedule: "constant:0.5"}, Spec{Name: "rst", Sharp: "sam", Schedule: "constant:0.5", Rho: 0.05}},
		{Spec{Name: "grst", Schedule: "constant:0.5"}, Spec{Name: "grst", Sharp: "gnr", Schedule: "constant:0.5", Rho: 0.05, Params: map[string]float64{"k": 2}}},
		{Spec{Name: "rst", Sharp: "asam", Schedule: "cos1"}, Spec{Name: "rst", Sharp: "asam", Schedule: "cos1", Rho: 0.5, Params: map[string]float64{"eta": 0.01}}},
	}
	for _, c := range cases {
		got, err := Resolve(c.in)
		if err != nil {
			t.Errorf("Resolve(%+v): %v", c.in, err)
			continue
		}
		if got.Name != c.want.Name || got.Sharp != c.want.Sharp || got.Schedule != c.want.Schedule || got.Rho != c.want.Rho || !maps.Equal(got.Params, c.want.Params) {
			t.Errorf("Resolve(%+v) = %+v, want %+v", c.in, got, c.want)
		}
		// A resolved spec resolves to itself and still builds.
		again, err := Resolve(got)
		if err != nil || !maps.Equal(again.Params, got.Params) || again.Rho != got.Rho {
			t.Errorf("Resolve is not idempotent on %+v: %+v, %v", got, again, err)
		}
	}
	if _, err := Resolve(Spec{Name: "sam", Params: map[string]float64{"bogus": 1}}); err == nil {
		t.Error("an unknown parameter was accepted")
	}
}

// G-RST with k = 1 (figure 5's p = 0.5, γ_rst = 0.5ρ) resolves and builds:
// its GNR degree is k·ρ whatever k is, never a --param gamma.
func TestResolveGRSTWithUnitDegree(t *testing.T) {
	s, err := Resolve(Spec{Name: "grst", Schedule: "constant:0.5", Params: map[string]float64{"k": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Params["gamma"]; ok || s.Params["k"] != 1 {
		t.Errorf("resolved params %v: want k = 1 and no gamma", s.Params)
	}
	m, err := New(s, nil)
	if err != nil {
		t.Fatalf("the resolved spec does not build: %v", err)
	}
	if g := m.(*RST).Sharp.(*GNR); g.Gamma != 0.05 || g.Normalized {
		t.Errorf("G-RST k=1 sharp step %+v, want GNR γ = ρ = 0.05", g)
	}
}
