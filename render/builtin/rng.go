package builtin

// rng is a per-pixel-sample random stream (SplitMix64). Each (seed, frame,
// x, y, sample) gets its own stream, so a pixel's value does not depend on
// which goroutine renders it, in what order, or in which tile.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func newRNG(seed uint64, frame, x, y, sample int) rng {
	h := mix64(seed ^ 0x52454e4445525357) // "RENDERSW"
	h = mix64(h ^ uint64(frame))
	h = mix64(h ^ uint64(x))
	h = mix64(h ^ uint64(y))
	h = mix64(h ^ uint64(sample))
	return rng{h}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float returns a uniform value in [0, 1) with 53 random bits (exact).
func (r *rng) float() float64 {
	return float64(float64(r.next()>>11) * (1.0 / (1 << 53)))
}
