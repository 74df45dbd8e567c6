package builtin

import "sort"

// Scene-level limits, on top of render.MaxSide and render.MaxSamples.
const (
	maxBounces    = 64
	maxFrame      = 1_000_000
	maxEntities   = 10_000
	maxTriangles  = 2_000_000 // over all meshes of a scene
	maxSceneBytes = 1 << 20
	maxOBJBytes   = 64 << 20
)

// scene is a parsed scene file: static definitions plus keyframe tracks.
type scene struct {
	frameStart, frameEnd int
	width, height        int
	samples, bounces     int
	sky                  skyDef
	sun                  *sunDef
	camera               *entity
	entities             []*entity // shapes and lights, in file order
	materials            map[string]*material
	files                []string // OBJ paths as written, relative to the scene's dir
}

type skyDef struct{ horizon, zenith, ground vec }

type sunDef struct {
	dir   vec // towards the sun, unit length
	color vec // colour × strength
}

type matKind int

const (
	matDiffuse matKind = iota
	matMetal
	matGlass
	matEmissive
)

type material struct {
	kind    matKind
	color   vec
	color2  vec     // second checker colour
	checker float64 // checker cell size; 0 = plain
	fuzz    float64 // metal roughness
	ior     float64 // glass index of refraction
}

type entityKind int

const (
	entCamera entityKind = iota
	entSphere
	entPlane
	entBox
	entMesh
	entLight
)

// entity is a camera, shape or light with animatable fields.
type entity struct {
	kind   entityKind
	line   int
	mat    *material
	mesh   *meshData // entMesh only, shared between frames
	file   string    // entMesh only
	smooth bool
	tracks map[string]*track
}

// key is one keyframe of one field.
type key struct {
	frame  int
	v      vec
	smooth bool // ease into this key with smoothstep instead of linearly
	base   bool // given on the entity line: placed at the first frame
}

type track struct{ keys []key }

// set records v at frame, replacing an earlier key at the same frame.
func (t *track) set(k key) {
	for i := range t.keys {
		if t.keys[i].frame == k.frame {
			t.keys[i] = k
			return
		}
	}
	t.keys = append(t.keys, k)
	sort.Slice(t.keys, func(i, j int) bool { return t.keys[i].frame < t.keys[j].frame })
}

// at interpolates the track at frame; values hold before the first and
// after the last key.
func (t *track) at(frame int) vec {
	ks := t.keys
	if frame <= ks[0].frame {
		return ks[0].v
	}
	for i := 1; i < len(ks); i++ {
		if frame <= ks[i].frame {
			a, b := ks[i-1], ks[i]
			u := float64(frame-a.frame) / float64(b.frame-a.frame)
			if b.smooth {
				u = float64(float64(u*u) * (3 - float64(2*u)))
			}
			return vlerp(a.v, b.v, u)
		}
	}
	return ks[len(ks)-1].v
}

// value returns field f at frame, or def if the entity has no such field.
func (e *entity) value(f string, frame int, def vec) vec {
	if t, ok := e.tracks[f]; ok && len(t.keys) > 0 {
		return t.at(frame)
	}
	return def
}

func (e *entity) scalar(f string, frame int, def float64) float64 {
	return e.value(f, frame, vec{def, 0, 0}).x
}

// transform is the placement of a shape at one frame: world = rot·(s·p) + pos.
type transform struct {
	pos   vec
	rot   mat3 // rotation, world from object
	inv   mat3 // rotation transposed, object from world
	scale float64
}

func (e *entity) transformAt(frame int) transform {
	r := e.value("rot", frame, vec{})
	sx, cx := sincos(radians(r.x))
	sy, cy := sincos(radians(r.y))
	sz, cz := sincos(radians(r.z))
	rx := mat3{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}
	ry := mat3{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}
	rz := mat3{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}}
	rot := rz.mulm(ry).mulm(rx) // X first, then Y, then Z
	return transform{
		pos:   e.value("pos", frame, vec{}),
		rot:   rot,
		inv:   rot.transpose(),
		scale: e.scalar("scale", frame, 1),
	}
}

// toObject maps a world ray into object space. The direction is not
// renormalised, so hit distances are the same in both spaces.
func (t *transform) toObject(o, d vec) (vec, vec) {
	inv := 1 / t.scale
	return t.inv.apply(o.sub(t.pos)).scale(inv), t.inv.apply(d).scale(inv)
}

// triangles is the number of distinct mesh triangles the loaded scene
// holds (a mesh shared by several entities counts once).
func (s *scene) triangles() int {
	seen := map[*meshData]bool{}
	n := 0
	for _, e := range s.entities {
		if e.mesh != nil && !seen[e.mesh] {
			seen[e.mesh] = true
			n += len(e.mesh.tris)
		}
	}
	return n
}
