package rng

import (
	"math"
	"testing"
)

// NormalAt's series agree with the math library's Box–Muller to float32
// precision, over the whole range of u₁ and u₂ (its ends included).
func TestNormalAtIsBoxMuller(t *testing.T) {
	for _, u := range []float64{1, 0.75, 0.5, 0.3, 1e-3, 1.0 / (1 << 32)} {
		if got, want := logSeries(u), math.Log(u); math.Abs(got-want) > 1e-15*math.Max(1, -want) {
			t.Errorf("logSeries(%v) = %v, want %v", u, got, want)
		}
	}
	for i := range 4096 {
		u := float64(uint64(i)<<20) / (1 << 32)
		if got, want := cos2PiSeries(u), math.Cos(2*math.Pi*u); math.Abs(got-want) > 1e-15 {
			t.Errorf("cos2PiSeries(%v) = %v, want %v", u, got, want)
		}
	}
	k := NewKey(11, "normal")
	for i := range uint64(100000) {
		x := k.At(i)
		u1, u2 := float64(x>>32+1)/(1<<32), float64(x&0xffffffff)/(1<<32)
		want := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		if got := float64(k.NormalAt(i)); math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("NormalAt(%d) = %v, Box–Muller gives %v", i, got, want)
		}
	}
}

// The values are a function of (seed, stream, counter) alone: these bits
// must never change, or every run that draws Gaussian noise changes.
func TestNormalAtBits(t *testing.T) {
	k := NewKey(1, "rsam", 7)
	for _, c := range []struct {
		i    uint64
		bits uint32
	}{{0, 0x3f282af6}, {1, 0xbefd396e}, {1 << 33, 0xbfb55846}} {
		if got := math.Float32bits(k.NormalAt(c.i)); got != c.bits {
			t.Errorf("NormalAt(%d) bits %#08x, want %#08x", c.i, got, c.bits)
		}
	}
}

// The draws have a standard normal's moments and tail, and neighbours are
// uncorrelated.
func TestNormalAtMoments(t *testing.T) {
	const n = 400000
	k := NewKey(5, "normal-moments")
	var s1, s2, s3, s4, lag float64
	below := 0
	prev := float64(k.NormalAt(0))
	for i := range uint64(n) {
		z := float64(k.NormalAt(i))
		s1 += z
		s2 += z * z
		s3 += z * z * z
		s4 += z * z * z * z
		lag += z * prev
		prev = z
		if z < -1.959963984540054 {
			below++
		}
	}
	se := 1 / math.Sqrt(n)
	for _, m := range []struct {
		what      string
		got, want float64
		sd        float64 // of one draw's contribution
	}{
		{"mean", s1 / n, 0, 1},
		{"second moment", s2 / n, 1, math.Sqrt(2)},
		{"third moment", s3 / n, 0, math.Sqrt(15)},
		{"fourth moment", s4 / n, 3, math.Sqrt(96)},
		{"lag-1 correlation", lag / n, 0, 1},
	} {
		if math.Abs(m.got-m.want) > 6*m.sd*se {
			t.Errorf("%s %v, want %v within 6 standard errors (%v)", m.what, m.got, m.want, 6*m.sd*se)
		}
	}
	q := 0.025
	if mean, sd := q*n, math.Sqrt(q*(1-q)*n); math.Abs(float64(below)-mean) > 6*sd {
		t.Errorf("%d of %d draws below −1.96, want %.0f ± %.0f", below, n, mean, sd)
	}
}
