package builtin

// world is a scene placed at one frame: everything a pixel needs, read-only
// while rendering, so goroutines share it freely.
type world struct {
	prims   []prim
	lights  []int // indices into prims of sampled lights
	sun     *sunDef
	sky     skyDef
	bounces int
	cam     camera
}

type camera struct {
	pos, fwd, right, up vec
	tanHalf             float64
	width, height       float64
}

// at places the scene at frame for a width×height image.
func (s *scene) at(frame, width, height int) *world {
	w := &world{sun: s.sun, sky: s.sky, bounces: s.bounces}
	c := s.camera
	pos := c.value("pos", frame, vec{0, 1, 5})
	look := c.value("look", frame, vec{})
	up := c.value("up", frame, vec{0, 1, 0})
	fwd := look.sub(pos).norm()
	right := fwd.cross(up).norm()
	if right.length() == 0 {
		right = vec{1, 0, 0}
	}
	sn, cs := sincos(radians(c.scalar("fov", frame, 40)) / 2)
	w.cam = camera{pos: pos, fwd: fwd, right: right, up: right.cross(fwd),
		tanHalf: sn / cs, width: float64(width), height: float64(height)}
	for _, e := range s.entities {
		p := prim{kind: e.kind, xf: e.transformAt(frame), mat: e.mat, mesh: e.mesh}
		switch e.kind {
		case entSphere:
			p.radius = e.scalar("radius", frame, 1)
		case entBox:
			p.half = e.value("size", frame, vec{1, 1, 1}).scale(0.5)
		case entLight:
			p.radius = e.scalar("radius", frame, 0.25)
			p.light = true
			col := e.value("color", frame, vec{1, 1, 1})
			p.mat = &material{kind: matEmissive, color: col.scale(e.scalar("strength", frame, 10))}
			w.lights = append(w.lights, len(w.prims))
		}
		p.setBounds()
		w.prims = append(w.prims, p)
	}
	return w
}

// ray returns the camera ray through image position (x, y) in pixels from
// the top-left corner of the full frame.
func (c *camera) ray(x, y float64) (vec, vec) {
	aspect := c.width / c.height
	sx := float64(float64(float64(float64(2*x)/c.width-1)*c.tanHalf) * aspect)
	sy := float64((1 - float64(2*y)/c.height) * c.tanHalf)
	return c.pos, c.fwd.madd(c.right, sx).madd(c.up, sy).norm()
}

const eps = 1e-4

// closest finds the nearest hit along the ray.
func (w *world) closest(o, d vec) (hit, bool) {
	r := newRay(o, d)
	i, c := w.nearest(&r, inf)
	if i < 0 {
		return hit{}, false
	}
	return w.prims[i].finish(&r, c), true
}

// nearest returns the index of the nearest prim hit before tmax and the
// candidate, or -1.
func (w *world) nearest(r *ray, tmax float64) (int, cand) {
	best, bc := -1, cand{}
	for i := range w.prims {
		if c, ok := w.prims[i].intersect(r, eps, tmax, false); ok {
			best, bc, tmax = i, c, c.t
		}
	}
	return best, bc
}

// occluded reports whether anything but prims[skip] lies along the ray
// before tmax.
func (w *world) occluded(o, d vec, tmax float64, skip int) bool {
	r := newRay(o, d)
	for i := range w.prims {
		if i == skip {
			continue
		}
		if _, ok := w.prims[i].intersect(&r, eps, tmax, true); ok {
			return true
		}
	}
	return false
}

func (w *world) skyColor(d vec) vec {
	if d.y < 0 {
		return w.sky.ground
	}
	return vlerp(w.sky.horizon, w.sky.zenith, sqrt(d.y))
}

// maxIndirect caps each light contribution a path picks up after its first
// diffuse bounce (a wall lit by the bright spot a lamp makes on the ceiling,
// or a caustic through glass). Such paths are rare and bright, and without
// the cap they speckle the image with fireflies at low sample counts; the
// cap trades a little energy for that, as production renderers' "clamp
// indirect" does.
const maxIndirect = 1

func clampVec(v vec, m float64) vec { return vec{min(v.x, m), min(v.y, m), min(v.z, m)} }

// radiance traces one camera path (next-event estimation for the sun and
// light spheres, Russian roulette after three bounces).
func (w *world) radiance(o, d vec, r *rng) vec {
	var sum vec
	through := vec{1, 1, 1}
	specular := true // last bounce was a camera ray or a mirror/glass bounce
	diffuse := false // the path has bounced off a diffuse surface
	for depth := 0; depth <= w.bounces; depth++ {
		h, ok := w.closest(o, d)
		if !ok {
			return sum.add(through.mul(w.skyColor(d)))
		}
		m := h.prim.mat
		n := h.n
		front := d.dot(n) < 0
		if !front {
			n = n.neg()
		}
		switch m.kind {
		case matEmissive:
			if specular || !h.prim.light {
				e := through.mul(m.color)
				if diffuse { // caustic or indirect emission: clamp fireflies
					e = clampVec(e, maxIndirect)
				}
				sum = sum.add(e)
			}
			return sum
		case matDiffuse:
			alb := m.albedo(h.op)
			e := through.mul(alb).mul(w.direct(h.p, n, r))
			if diffuse {
				e = clampVec(e, maxIndirect)
			}
			sum = sum.add(e)
			through = through.mul(alb)
			d = cosineDir(n, r)
			specular, diffuse = false, true
		case matMetal:
			d = reflect(d, n)
			if m.fuzz > 0 {
				d = d.madd(inSphere(r), m.fuzz).norm()
				if d.dot(n) <= 0 {
					return sum
				}
			}
			through = through.mul(m.color)
			specular = true
		case matGlass:
			d = refract(d, n, front, m.ior, r)
			through = through.mul(m.color)
			specular = true
		}
		o = h.p
		if depth >= 3 {
			q := min(through.maxComp(), 0.95)
			if r.float() >= q {
				return sum
			}
			through = through.scale(1 / q)
		}
	}
	return sum
}

func (m *material) albedo(op vec) vec {
	if m.checker <= 0 {
		return m.color
	}
	k := 1 / m.checker
	c := int64(floor(float64(op.x*k))) + int64(floor(float64(op.y*k))) + int64(floor(float64(op.z*k)))
	if c&1 == 0 {
		return m.color
	}
	return m.color2
}

// direct is the light arriving at a diffuse point p with normal n from the
// sun and one sample of every light sphere, already divided by π (the
// Lambertian BRDF's factor).
func (w *world) direct(p, n vec, r *rng) vec {
	var sum vec
	if s := w.sun; s != nil {
		if c := n.dot(s.dir); c > 0 {
			if !w.occluded(p, s.dir, inf, -1) {
				sum = sum.add(s.color.scale(c))
			}
		}
	}
	for _, li := range w.lights {
		l := &w.prims[li]
		toC := l.xf.pos.sub(p)
		dist2 := toC.dot(toC)
		rad := float64(l.radius * l.xf.scale)
		r2 := float64(rad * rad)
		u1, u2 := r.float(), r.float()
		if dist2 <= r2 {
			continue
		}
		cosMax := sqrt(1 - r2/dist2)
		cosT := 1 - float64(u1*(1-cosMax))
		sinT := sqrt(max(0, 1-float64(cosT*cosT)))
		sp, cp := sincos(float64(twoPi * u2))
		wz := toC.scale(1 / sqrt(dist2))
		wx, wy := onb(wz)
		dir := wz.scale(cosT).madd(wx, float64(cp*sinT)).madd(wy, float64(sp*sinT))
		c := n.dot(dir)
		if c <= 0 {
			continue
		}
		sr := newRay(p, dir)
		lc, hitsLight := l.intersect(&sr, eps, inf, false)
		if hitsLight && !w.occluded(p, dir, lc.t, li) {
			// Le · cos / π / pdf with pdf = 1 / (2π (1 - cosMax))
			sum = sum.add(l.mat.color.scale(float64(float64(2*c) * (1 - cosMax))))
		}
	}
	return sum
}

// cosineDir samples a direction around n with density cos/π.
func cosineDir(n vec, r *rng) vec {
	u1, u2 := r.float(), r.float()
	rad := sqrt(u1)
	sp, cp := sincos(float64(twoPi * u2))
	u, v := onb(n)
	return n.scale(sqrt(max(0, 1-u1))).madd(u, float64(rad*cp)).madd(v, float64(rad*sp))
}

// inSphere samples a point in the unit ball by rejection.
func inSphere(r *rng) vec {
	for {
		p := vec{float64(2*r.float()) - 1, float64(2*r.float()) - 1, float64(2*r.float()) - 1}
		if p.dot(p) < 1 {
			return p
		}
	}
}

func reflect(d, n vec) vec { return d.madd(n, float64(-2*d.dot(n))) }

// refract picks reflection or refraction with Schlick's Fresnel weight; n
// faces the incoming ray, front says whether the ray enters the material.
func refract(d, n vec, front bool, ior float64, r *rng) vec {
	eta := ior
	if front {
		eta = 1 / ior
	}
	cosI := min(-d.dot(n), 1)
	sin2T := float64(float64(eta*eta) * (1 - float64(cosI*cosI)))
	if sin2T > 1 {
		return reflect(d, n)
	}
	r0 := (1 - ior) / (1 + ior)
	r0 = float64(r0 * r0)
	x := 1 - cosI
	x2 := float64(x * x)
	fres := r0 + float64((1-r0)*float64(float64(x2*x2)*x))
	if r.float() < fres {
		return reflect(d, n)
	}
	cosT := sqrt(1 - sin2T)
	return d.scale(eta).madd(n, float64(eta*cosI)-cosT).norm()
}

func floor(x float64) float64 { return mathFloor(x) }
