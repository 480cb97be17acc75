package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// rst bench reports the CPU time of its timed loops and, on the cpu
// device, the SGEMM rate of the same BLAS and thread count beside the
// model's GFLOP/s; --sgemm 0 leaves it out.
func TestBenchCPUTimeAndSGEMM(t *testing.T) {
	base := []string{"bench", "--model", "mlp", "--data", "mnist", "--batch", "16", "--bench-steps", "2"}
	stdout, stderr, code := run(t, append(base, "--sgemm", "96", "--json")...)
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
		t.Fatalf("bench --json: exit %d:\n%s%s", code, stdout, stderr)
	}
	for _, k := range []string{"user_s", "sys_s", "step_user_s", "step_sys_s", "minflt", "step_minflt"} {
		if v, ok := r[k].(float64); !ok || v < 0 {
			t.Errorf("bench --json: %s = %v, want a non-negative number", k, r[k])
		}
	}
	if r["user_s"].(float64)+r["sys_s"].(float64) <= 0 {
		t.Errorf("bench --json: the timed passes took no CPU time: %v", r)
	}
	if n, g, of := r["sgemm_n"], r["sgemm_gflops"], r["gflops_of_sgemm"]; n != 96.0 || !(g.(float64) > 0) || !(of.(float64) > 0) {
		t.Errorf("bench --json --sgemm 96: sgemm_n %v, sgemm_gflops %v, gflops_of_sgemm %v", n, g, of)
	}
	stdout, stderr, code = run(t, append(base, "--sgemm", "96")...)
	if code != 0 || !strings.Contains(stdout, "SGEMM's") || !strings.Contains(stdout, "(n = 96, ") || !strings.Contains(stdout, "ms sys per pass") {
		t.Errorf("bench --sgemm 96: exit %d, want the SGEMM rate and the CPU time:\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = run(t, append(base, "--sgemm", "0", "--json")...)
	if code != 0 || strings.Contains(stdout, "sgemm") {
		t.Errorf("bench --sgemm 0: exit %d, want no SGEMM fields:\n%s%s", code, stdout, stderr)
	}
}
