package rng

import "testing"

func TestStreamsAreReproducibleAndDistinct(t *testing.T) {
	a := New(1, "data", 3).Uint64()
	if b := New(1, "data", 3).Uint64(); a != b {
		t.Fatalf("same key gave %d then %d", a, b)
	}
	for _, other := range []uint64{
		New(2, "data", 3).Uint64(),
		New(1, "init", 3).Uint64(),
		New(1, "data", 4).Uint64(),
		New(1, "data").Uint64(),
	} {
		if other == a {
			t.Fatalf("different keys gave the same first draw %d", a)
		}
	}
}
