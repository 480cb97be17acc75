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
