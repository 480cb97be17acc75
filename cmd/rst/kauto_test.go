package main

import "testing"

// --param k=auto is G-RST's k = penalty/p(t), recorded as k_auto = 1;
// "auto" is no value for any other parameter.
func TestParamKAuto(t *testing.T) {
	k, v, err := parseParam("k=auto")
	if err != nil || k != "k_auto" || v != 1 {
		t.Errorf("k=auto parsed as %s=%v (%v), want k_auto=1", k, v, err)
	}
	if _, _, err := parseParam("alpha=auto"); err == nil {
		t.Error("alpha=auto accepted")
	}
}
