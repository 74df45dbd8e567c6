package builtin

import (
	"cmp"
	"slices"
)

// bvhNode is a node of a flattened bounding volume hierarchy: an inner node
// has count 0 and children at index+1 and right; a leaf holds tris[first :
// first+count].
type bvhNode struct {
	lo, hi       vec
	right, first int32
	count        int32
	axis         int32 // split axis of an inner node
}

const leafSize = 4

// buildBVH orders tris in place and returns the nodes: median split on the
// widest axis of the centroids. Ties break by the original order, so the
// tree is the same on every machine.
func buildBVH(tris []triangle) []bvhNode {
	type item struct {
		c   vec
		idx int
	}
	items := make([]item, len(tris))
	for i, t := range tris {
		c := t.v0.add(t.e1.scale(1.0 / 3)).add(t.e2.scale(1.0 / 3))
		items[i] = item{c, i}
	}
	nodes := make([]bvhNode, 0, 2*len(tris)/leafSize+1)
	var build func(lo, hi int) int
	build = func(lo, hi int) int {
		ni := len(nodes)
		nodes = append(nodes, bvhNode{})
		bl, bh := triBounds(tris[items[lo].idx])
		cl, ch := items[lo].c, items[lo].c
		for _, it := range items[lo+1 : hi] {
			a, b := triBounds(tris[it.idx])
			bl, bh = vmin(bl, a), vmax(bh, b)
			cl, ch = vmin(cl, it.c), vmax(ch, it.c)
		}
		nodes[ni].lo, nodes[ni].hi = bl, bh
		if hi-lo <= leafSize {
			nodes[ni].first, nodes[ni].count = int32(lo), int32(hi-lo)
			return ni
		}
		ext := ch.sub(cl)
		axis := 0
		if ext.y > ext.x {
			axis = 1
		}
		if ext.z > ext.get(axis) {
			axis = 2
		}
		part := items[lo:hi]
		slices.SortFunc(part, func(a, b item) int {
			if c := cmp.Compare(a.c.get(axis), b.c.get(axis)); c != 0 {
				return c
			}
			return cmp.Compare(a.idx, b.idx)
		})
		nodes[ni].axis = int32(axis)
		mid := (lo + hi) / 2
		build(lo, mid)
		nodes[ni].right = int32(build(mid, hi))
		return ni
	}
	build(0, len(tris))
	sorted := make([]triangle, len(tris))
	for i, it := range items {
		sorted[i] = tris[it.idx]
	}
	copy(tris, sorted)
	return nodes
}

func triBounds(t triangle) (vec, vec) {
	b, c := t.v0.add(t.e1), t.v0.add(t.e2)
	return vmin(t.v0, vmin(b, c)), vmax(t.v0, vmax(b, c))
}

func newMesh(tris []triangle) *meshData {
	m := &meshData{tris: tris, nodes: buildBVH(tris)}
	m.lo, m.hi = m.nodes[0].lo, m.nodes[0].hi
	return m
}

// slab intersects the ray o + t·d (inv = 1/d per component) with the box
// [lo, hi] over (tmin, tmax) and returns the entry distance. Comparisons are
// written so that NaN (0·∞ on a face) never counts as a hit boundary.
func slab(o, inv, lo, hi vec, tmin, tmax float64) (float64, bool) {
	tmin, tmax = slab1(o.x, inv.x, lo.x, hi.x, tmin, tmax)
	if tmin > tmax {
		return 0, false
	}
	tmin, tmax = slab1(o.y, inv.y, lo.y, hi.y, tmin, tmax)
	if tmin > tmax {
		return 0, false
	}
	tmin, tmax = slab1(o.z, inv.z, lo.z, hi.z, tmin, tmax)
	return tmin, tmin <= tmax
}

func slab1(o, inv, lo, hi, tmin, tmax float64) (float64, float64) {
	t0 := float64((lo - o) * inv)
	t1 := float64((hi - o) * inv)
	if t0 > t1 {
		t0, t1 = t1, t0
	}
	if t0 > tmin {
		tmin = t0
	}
	if t1 < tmax {
		tmax = t1
	}
	return tmin, tmax
}

// intersect finds the closest triangle hit in (tmin, tmax) and returns its
// distance, index and barycentrics (u, v).
func (m *meshData) intersect(o, d vec, tmin, tmax float64) (t float64, idx int, u, v float64, ok bool) {
	inv := vec{1 / d.x, 1 / d.y, 1 / d.z}
	var stack [64]int32
	sp := 0
	stack[sp] = 0
	sp++
	for sp > 0 {
		sp--
		ni := stack[sp]
		n := &m.nodes[ni]
		if _, hit := slab(o, inv, n.lo, n.hi, tmin, tmax); !hit {
			continue
		}
		if n.count > 0 {
			for i := n.first; i < n.first+n.count; i++ {
				if th, uh, vh, hit := m.tris[i].intersect(o, d, tmin, tmax); hit {
					tmax, idx, u, v, ok = th, int(i), uh, vh, true
				}
			}
			continue
		}
		if sp+2 > len(stack) {
			continue // deeper than any balanced tree of maxTriangles
		}
		near, far := ni+1, n.right // visit the child nearer the ray first
		if d.get(int(n.axis)) < 0 {
			near, far = far, near
		}
		stack[sp] = far
		stack[sp+1] = near
		sp += 2
	}
	return tmax, idx, u, v, ok
}

// intersect is Möller–Trumbore.
func (tr *triangle) intersect(o, d vec, tmin, tmax float64) (t, u, v float64, ok bool) {
	p := d.cross(tr.e2)
	det := tr.e1.dot(p)
	if det > -1e-14 && det < 1e-14 {
		return 0, 0, 0, false
	}
	inv := 1 / det
	s := o.sub(tr.v0)
	u = float64(s.dot(p) * inv)
	if u < 0 || u > 1 {
		return 0, 0, 0, false
	}
	q := s.cross(tr.e1)
	v = float64(d.dot(q) * inv)
	if v < 0 || u+v > 1 {
		return 0, 0, 0, false
	}
	t = float64(tr.e2.dot(q) * inv)
	if t <= tmin || t >= tmax {
		return 0, 0, 0, false
	}
	return t, u, v, true
}

// normal interpolates the vertex normals at barycentrics (u, v).
func (tr *triangle) normal(u, v float64) vec {
	w := 1 - u - v
	return tr.n0.scale(w).add(tr.n1.scale(u)).add(tr.n2.scale(v)).norm()
}
