package builtin

import "math"

// prim is a shape or light placed for one frame.
type prim struct {
	kind    entityKind
	xf      transform
	mat     *material
	radius  float64   // sphere and light, object space
	half    vec       // box half size, object space
	mesh    *meshData // mesh
	light   bool      // sampled directly (light lines)
	bounded bool
	lo, hi  vec // world bounds when bounded
	normal  vec // plane's world normal
}

// hit is a ray–surface intersection.
type hit struct {
	t    float64
	p    vec // world point
	n    vec // unit world normal, outward for closed shapes
	op   vec // object-space point (for checker patterns)
	prim *prim
}

// cand is a candidate hit before the closest is known: just enough to
// finish it later.
type cand struct {
	t    float64
	u, v float64 // mesh barycentrics
	idx  int     // mesh triangle
	n    vec     // box face normal, object space
}

const inf = math.MaxFloat64

func mathFloor(x float64) float64 { return math.Floor(x) }

// ray is a world ray with its reciprocal direction, computed once.
type ray struct{ o, d, inv vec }

func newRay(o, d vec) ray { return ray{o, d, vec{1 / d.x, 1 / d.y, 1 / d.z}} }

// intersect reports the nearest hit of r with p in (tmin, tmax), or with
// anyHit some hit.
func (p *prim) intersect(r *ray, tmin, tmax float64, anyHit bool) (cand, bool) {
	if p.bounded {
		if _, ok := slab(r.o, r.inv, p.lo, p.hi, tmin, tmax); !ok {
			return cand{}, false
		}
	}
	if p.kind == entSphere || p.kind == entLight { // in world space: no rotation needed
		oc := r.o.sub(p.xf.pos)
		rad := float64(p.radius * p.xf.scale)
		b := oc.dot(r.d)
		c := oc.dot(oc) - float64(rad*rad)
		disc := float64(b*b) - c // |d| = 1
		if disc < 0 {
			return cand{}, false
		}
		sq := sqrt(disc)
		t := -b - sq
		if t <= tmin || t >= tmax {
			t = -b + sq
			if t <= tmin || t >= tmax {
				return cand{}, false
			}
		}
		return cand{t: t}, true
	}
	if p.kind == entPlane { // in world space too
		dn := r.d.dot(p.normal)
		if dn == 0 {
			return cand{}, false
		}
		t := p.xf.pos.sub(r.o).dot(p.normal) / dn
		return cand{t: t, n: vec{0, 1, 0}}, t > tmin && t < tmax
	}
	oo, od := p.xf.toObject(r.o, r.d)
	switch p.kind {
	case entBox:
		t, n, ok := boxHit(oo, od, p.half, tmin, tmax)
		return cand{t: t, n: n}, ok
	case entMesh:
		t, idx, u, v, ok := p.mesh.intersect(oo, od, tmin, tmax, anyHit)
		return cand{t: t, idx: idx, u: u, v: v}, ok
	}
	return cand{}, false
}

// finish turns the closest candidate into a full hit.
func (p *prim) finish(r *ray, c cand) hit {
	h := hit{t: c.t, p: r.o.madd(r.d, c.t), prim: p}
	switch p.kind {
	case entSphere, entLight:
		h.n = h.p.sub(p.xf.pos).norm()
		if p.mat.checker > 0 {
			h.op = p.xf.inv.apply(h.p.sub(p.xf.pos)).scale(1 / p.xf.scale)
		}
		return h
	case entMesh:
		c.n = p.mesh.tris[c.idx].normal(c.u, c.v)
	}
	h.n = p.xf.rot.apply(c.n).norm()
	if p.mat.checker > 0 {
		oo, od := p.xf.toObject(r.o, r.d)
		h.op = oo.madd(od, c.t)
		if p.kind == entPlane {
			h.op.y = 0
		}
	}
	return h
}

// boxHit intersects the box [-half, half] and returns the distance and the
// outward normal of the face hit.
func boxHit(o, d, half vec, tmin, tmax float64) (float64, vec, bool) {
	tnear, tfar := tmin, tmax
	nearAxis, farAxis := -1, -1
	var nearSign, farSign float64
	for a := range 3 {
		oa, da, h := o.get(a), d.get(a), half.get(a)
		if da == 0 {
			if oa < -h || oa > h {
				return 0, vec{}, false
			}
			continue
		}
		t0, t1 := (-h-oa)/da, (h-oa)/da
		s0, s1 := -1.0, 1.0
		if t0 > t1 {
			t0, t1, s0, s1 = t1, t0, s1, s0
		}
		if t0 > tnear {
			tnear, nearAxis, nearSign = t0, a, s0
		}
		if t1 < tfar {
			tfar, farAxis, farSign = t1, a, s1
		}
		if tnear > tfar {
			return 0, vec{}, false
		}
	}
	axis, sign, t := nearAxis, nearSign, tnear
	if axis < 0 { // origin inside: exit face
		axis, sign, t = farAxis, farSign, tfar
		if axis < 0 || t >= tmax {
			return 0, vec{}, false
		}
	}
	var n vec
	switch axis {
	case 0:
		n.x = sign
	case 1:
		n.y = sign
	default:
		n.z = sign
	}
	return t, n, true
}

// setBounds computes world bounds for shapes with finite object bounds.
func (p *prim) setBounds() {
	var lo, hi vec
	switch p.kind {
	case entSphere, entLight:
		r := vec{p.radius, p.radius, p.radius}
		lo, hi = r.neg(), r
	case entBox:
		lo, hi = p.half.neg(), p.half
	case entMesh:
		lo, hi = p.mesh.lo, p.mesh.hi
	case entPlane:
		p.normal = p.xf.rot.apply(vec{0, 1, 0})
		return
	default:
		return
	}
	first := true
	for i := range 8 {
		c := vec{lo.x, lo.y, lo.z}
		if i&1 != 0 {
			c.x = hi.x
		}
		if i&2 != 0 {
			c.y = hi.y
		}
		if i&4 != 0 {
			c.z = hi.z
		}
		w := p.xf.rot.apply(c.scale(p.xf.scale)).add(p.xf.pos)
		if first {
			p.lo, p.hi, first = w, w, false
		}
		p.lo, p.hi = vmin(p.lo, w), vmax(p.hi, w)
	}
	pad := vec{1e-9, 1e-9, 1e-9}.add(p.hi.sub(p.lo).scale(1e-9))
	p.lo, p.hi, p.bounded = p.lo.sub(pad), p.hi.add(pad), true
}
