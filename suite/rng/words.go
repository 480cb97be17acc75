package rng

// Words returns the key's two 64-bit words, so that a device kernel can
// compute At(i) itself: mix(mix(s1 ^ i·golden) ^ s2) with the splitmix64
// finaliser of rng.go.
func (k Key) Words() (s1, s2 uint64) { return k.s1, k.s2 }
