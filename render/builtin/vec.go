package builtin

// Every floating-point product in this package is written float64(a*b): the
// explicit conversion forces rounding of the product, which stops the Go
// compiler from fusing it with a following addition or subtraction into an
// FMA instruction (it does so on arm64, ppc64, s390x, riscv64 and on amd64
// with GOAMD64=v3). Fused and unfused results differ in the last bit, and a
// last bit is enough to flip a pixel. TestNoUnroundedProducts enforces the
// rule on the package's source.

// vec is a 3-vector: a point, a direction or an RGB colour.
type vec struct{ x, y, z float64 }

func (a vec) add(b vec) vec { return vec{a.x + b.x, a.y + b.y, a.z + b.z} }
func (a vec) sub(b vec) vec { return vec{a.x - b.x, a.y - b.y, a.z - b.z} }
func (a vec) neg() vec      { return vec{-a.x, -a.y, -a.z} }

// mul multiplies component-wise (colours).
func (a vec) mul(b vec) vec {
	return vec{float64(a.x * b.x), float64(a.y * b.y), float64(a.z * b.z)}
}

func (a vec) scale(s float64) vec {
	return vec{float64(a.x * s), float64(a.y * s), float64(a.z * s)}
}

// madd returns a + b*s, rounded twice like the unfused expression.
func (a vec) madd(b vec, s float64) vec {
	return vec{a.x + float64(b.x*s), a.y + float64(b.y*s), a.z + float64(b.z*s)}
}

func (a vec) dot(b vec) float64 {
	return float64(a.x*b.x) + float64(a.y*b.y) + float64(a.z*b.z)
}

func (a vec) cross(b vec) vec {
	return vec{
		float64(a.y*b.z) - float64(a.z*b.y),
		float64(a.z*b.x) - float64(a.x*b.z),
		float64(a.x*b.y) - float64(a.y*b.x),
	}
}

func (a vec) length() float64 { return sqrt(a.dot(a)) }

func (a vec) norm() vec {
	l := a.length()
	if l == 0 {
		return a
	}
	return a.scale(1 / l)
}

func (a vec) get(axis int) float64 {
	switch axis {
	case 0:
		return a.x
	case 1:
		return a.y
	}
	return a.z
}

func (a vec) maxComp() float64 { return max(a.x, a.y, a.z) }

func vmin(a, b vec) vec { return vec{min(a.x, b.x), min(a.y, b.y), min(a.z, b.z)} }
func vmax(a, b vec) vec { return vec{max(a.x, b.x), max(a.y, b.y), max(a.z, b.z)} }

// lerp returns a + (b-a)*t.
func lerp(a, b, t float64) float64 { return a + float64((b-a)*t) }

func vlerp(a, b vec, t float64) vec {
	return vec{lerp(a.x, b.x, t), lerp(a.y, b.y, t), lerp(a.z, b.z, t)}
}

// mat3 is a row-major 3×3 matrix (rotation and uniform scale).
type mat3 [3]vec

func (m mat3) apply(v vec) vec { return vec{m[0].dot(v), m[1].dot(v), m[2].dot(v)} }

func (m mat3) transpose() mat3 {
	return mat3{
		{m[0].x, m[1].x, m[2].x},
		{m[0].y, m[1].y, m[2].y},
		{m[0].z, m[1].z, m[2].z},
	}
}

func (m mat3) mulm(n mat3) mat3 {
	t := n.transpose()
	var r mat3
	for i := range 3 {
		r[i] = vec{m[i].dot(t[0]), m[i].dot(t[1]), m[i].dot(t[2])}
	}
	return r
}

var identity = mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

// onb builds an orthonormal basis (u, v) around the unit vector n
// (Duff et al. 2017), branch-free except for the sign.
func onb(n vec) (u, v vec) {
	s := 1.0
	if n.z < 0 {
		s = -1
	}
	a := -1 / (s + n.z)
	b := float64(float64(n.x*n.y) * a)
	u = vec{1 + float64(float64(s*n.x)*float64(n.x*a)), float64(s * b), float64(-s * n.x)}
	v = vec{b, s + float64(float64(n.y*n.y)*a), -n.y}
	return u, v
}
