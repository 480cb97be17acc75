package nn

import (
	"strings"
	"testing"
)

func TestBLASCoreNote(t *testing.T) {
	for _, c := range []struct {
		core             string
		avx512, avx2, av bool
		want             string // "" or the core the note must suggest
	}{
		{"Prescott", true, true, true, "SkylakeX"},
		{"Nehalem", false, true, true, "Haswell"},
		{"Core2", false, false, true, "Sandybridge"},
		{"Prescott", false, false, false, ""}, // an old CPU: Prescott is right
		{"SkylakeX", true, true, true, ""},
		{"Haswell", false, true, true, ""},
		{"", true, true, true, ""}, // gonum
	} {
		if got := blasCoreFor(c.core, c.avx512, c.avx2, c.av); got != c.want {
			t.Errorf("%s (avx512 %v, avx2 %v, avx %v): native core %q, want %q", c.core, c.avx512, c.avx2, c.av, got, c.want)
		}
		got := blasCoreNote(c.core, c.avx512, c.avx2, c.av)
		if c.want == "" {
			if got != "" {
				t.Errorf("%s (avx512 %v, avx2 %v, avx %v): note %q, want none", c.core, c.avx512, c.avx2, c.av, got)
			}
			continue
		}
		if !strings.Contains(got, "OPENBLAS_CORETYPE="+c.want) || !strings.Contains(got, c.core) {
			t.Errorf("%s (avx512 %v, avx2 %v, avx %v): note %q, want one naming %s and suggesting %s", c.core, c.avx512, c.avx2, c.av, got, c.core, c.want)
		}
	}
}
