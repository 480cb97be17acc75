package main

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseParam(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		v    float64
		err  string // part of the error; "" = accepted
	}{
		{"k=5", "k", 5, ""},
		{" alpha = 0.7 ", "alpha", 0.7, ""},
		{"rho_max=1e-2", "rho_max", 0.01, ""},
		{"k", "", 0, "want NAME=NUMBER"},
		{"=5", "", 0, "want NAME=NUMBER"},
		{"k=", "", 0, "not a number"},
		{"k=five", "", 0, "not a number"},
		{"k=NaN", "", 0, "finite"},
		{"k=-Inf", "", 0, "finite"},
		{"k=1e999", "", 0, "not a number"},
	} {
		name, v, err := parseParam(c.in)
		switch {
		case c.err == "" && (err != nil || name != c.name || v != c.v):
			t.Errorf("parseParam(%q) = %q, %v, %v; want %q, %v", c.in, name, v, err, c.name, c.v)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parseParam(%q): error %v, want one mentioning %q", c.in, err, c.err)
		}
	}
	p := paramFlag{}
	if err := p.Set("k=2"); err != nil {
		t.Fatal(err)
	}
	if err := p.Set("k=2"); err != nil {
		t.Errorf("the same --param twice: %v", err)
	}
	if err := p.Set("k=3"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("--param k=2 then k=3: %v, want a refusal", err)
	}
}

// FuzzParamFlag: --param never panics; an accepted NAME=VALUE has a
// trimmed, non-empty name without '=' and a finite value, which the
// shortest decimal writes back exactly.
func FuzzParamFlag(f *testing.F) {
	for _, s := range []string{"k=5", "alpha=0.7", " k = 1 ", "k=NaN", "k=inf", "=1", "k", "k==1", "a=b=c", "k=0x1p-2", "k=1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := paramFlag{}
		if err := p.Set(s); err != nil {
			return
		}
		if len(p) != 1 {
			t.Fatalf("Set(%q) stored %v", s, p)
		}
		for k, v := range p {
			if k == "" || k != strings.TrimSpace(k) || strings.Contains(k, "=") {
				t.Fatalf("Set(%q): name %q", s, k)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("Set(%q): value %v", s, v)
			}
			back := k + "=" + strconv.FormatFloat(v, 'g', -1, 64)
			q := paramFlag{}
			if err := q.Set(back); err != nil || q[k] != v {
				t.Fatalf("Set(%q) gave %s=%v, which reads back as %v (%v)", s, k, v, q, err)
			}
		}
	})
}
