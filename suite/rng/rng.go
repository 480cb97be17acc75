// Package rng derives the suite's random streams. Every source of
// randomness in a run (initialisation, data order, augmentation, the RST
// Bernoulli draws, dropout, ESAM/SSAM choices) is a stream named for its
// purpose and keyed by the run's seed and any further integers (epoch, step),
// so that one stream never shifts another and a resumed run draws exactly
// what an uninterrupted one would.
package rng

import (
	"math/rand/v2"
)

// New returns a generator for the stream called name under seed, further
// keyed by keys (for example an epoch or a step index). The same arguments
// always give the same sequence; different arguments give independent ones.
func New(seed uint64, name string, keys ...uint64) *rand.Rand {
	return NewKey(seed, name, keys...).Rand()
}

// mix is the splitmix64 finaliser; it spreads FNV's weak low bits.
func mix(z uint64) uint64 {
	z += golden
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
