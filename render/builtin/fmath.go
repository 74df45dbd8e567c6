package builtin

import "math"

// Transcendental functions differ between architectures (Go's math package
// has assembly for some on some CPUs, and libm-style polynomials may be
// fused). Everything that reaches a pixel uses only +, -, *, / (rounded, see
// vec.go), math.Sqrt (correctly rounded by IEEE 754 everywhere),
// math.Floor, math.Abs, min and max, or the functions below, which are
// built from those alone.

func sqrt(x float64) float64 { return math.Sqrt(x) }

const (
	pi    = 3.14159265358979323846264338327950288419716939937510582097494459
	twoPi = 2 * pi
	halfP = pi / 2
)

// sincos returns sin(x) and cos(x), accurate to about 1e-15 for |x| up to a
// few thousand, from a range reduction to [-π/4, π/4] and Taylor polynomials
// evaluated with rounded products.
func sincos(x float64) (s, c float64) {
	q := math.Floor(x/halfP + 0.5)
	r := x - float64(q*halfP)
	r2 := float64(r * r)
	// sin r = r(1 - r²/6(1 - r²/20(1 - r²/42(1 - r²/72(1 - r²/110(1 - r²/156))))))
	ps := 1 - float64(r2/156)
	ps = 1 - float64(float64(r2/110)*ps)
	ps = 1 - float64(float64(r2/72)*ps)
	ps = 1 - float64(float64(r2/42)*ps)
	ps = 1 - float64(float64(r2/20)*ps)
	ps = 1 - float64(float64(r2/6)*ps)
	sr := float64(r * ps)
	// cos r = 1 - r²/2(1 - r²/12(1 - r²/30(1 - r²/56(1 - r²/90(1 - r²/132)))))
	pc := 1 - float64(r2/132)
	pc = 1 - float64(float64(r2/90)*pc)
	pc = 1 - float64(float64(r2/56)*pc)
	pc = 1 - float64(float64(r2/30)*pc)
	pc = 1 - float64(float64(r2/12)*pc)
	cr := 1 - float64(float64(r2/2)*pc)
	switch int64(q) & 3 { // two's complement: also right for q < 0
	case 0:
		return sr, cr
	case 1:
		return cr, -sr
	case 2:
		return -sr, -cr
	}
	return -cr, sr
}

func radians(deg float64) float64 { return float64(deg * (pi / 180)) }

// tonemap compresses linear radiance into [0, 1] with the rational ACES
// fit of Narkowicz (2015): only +, -, *, /.
func tonemap(x float64) float64 {
	if x <= 0 {
		return 0
	}
	n := float64(x * (float64(2.51*x) + 0.03))
	d := float64(x*(float64(2.43*x)+0.59)) + 0.14
	return min(n/d, 1)
}

// srgbEdges[i] is the smallest tone-mapped linear value whose sRGB encoding
// rounds to at least i+1; encoding is a binary search over it. The table is
// built once from +, -, *, / and bisection, so it is the same bit for bit on
// every machine.
var srgbEdges = buildSRGBEdges()

func buildSRGBEdges() [255]float64 {
	var e [255]float64
	for i := range e {
		s := (float64(i) + 0.5) / 255 // sRGB value halfway between codes i and i+1
		e[i] = srgbToLinear(s)
	}
	return e
}

// srgbToLinear inverts the sRGB transfer function: s/12.92 below 0.04045,
// else ((s+0.055)/1.055)^2.4 computed as the fifth root of u^12.
func srgbToLinear(s float64) float64 {
	if s <= 0.04045 {
		return s / 12.92
	}
	u := (s + 0.055) / 1.055
	u2 := float64(u * u)
	u4 := float64(u2 * u2)
	u12 := float64(float64(u4*u4) * u4)
	lo, hi := 0.0, 1.0
	for range 64 {
		mid := float64((lo + hi) * 0.5)
		m2 := float64(mid * mid)
		if float64(float64(m2*m2)*mid) < u12 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// encodeSRGB maps a linear value in [0, 1] to an 8-bit sRGB code.
func encodeSRGB(x float64) uint8 {
	lo, hi := 0, len(srgbEdges) // answer is the count of edges <= x
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if srgbEdges[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return uint8(lo)
}
