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

// item is a triangle's centroid and index while building.
type item struct {
	c   vec
	idx int
}

const sahBins = 12

// sahSplit partitions part (in place, keeping relative order within each
// side, so the result is the same everywhere) by the binned surface-area
// heuristic over centroid bounds [cl, ch]; it falls back to a median split
// on the widest axis. It returns the axis and the size of the left side.
func sahSplit(part []item, tris []triangle, cl, ch vec) (int, int) {
	ext := ch.sub(cl)
	bestAxis, bestBin, bestCost := -1, 0, inf
	for axis := range 3 {
		e := ext.get(axis)
		if e <= 0 {
			continue
		}
		var cnt [sahBins]int
		var blo, bhi [sahBins]vec
		for i := range sahBins {
			blo[i], bhi[i] = vec{inf, inf, inf}, vec{-inf, -inf, -inf}
		}
		for _, it := range part {
			b := binOf(it.c.get(axis), cl.get(axis), e)
			lo, hi := triBounds(tris[it.idx])
			cnt[b]++
			blo[b], bhi[b] = vmin(blo[b], lo), vmax(bhi[b], hi)
		}
		// right-to-left prefix of area·count, then sweep left to right
		var rightCost [sahBins]float64
		rlo, rhi, rn := vec{inf, inf, inf}, vec{-inf, -inf, -inf}, 0
		for i := sahBins - 1; i > 0; i-- {
			rlo, rhi, rn = vmin(rlo, blo[i]), vmax(rhi, bhi[i]), rn+cnt[i]
			rightCost[i] = float64(area(rlo, rhi) * float64(rn))
		}
		llo, lhi, ln := vec{inf, inf, inf}, vec{-inf, -inf, -inf}, 0
		for i := 0; i < sahBins-1; i++ {
			llo, lhi, ln = vmin(llo, blo[i]), vmax(lhi, bhi[i]), ln+cnt[i]
			if ln == 0 || ln == len(part) {
				continue
			}
			if c := float64(area(llo, lhi)*float64(ln)) + rightCost[i+1]; c < bestCost {
				bestAxis, bestBin, bestCost = axis, i, c
			}
		}
	}
	if bestAxis < 0 { // all centroids in one bin: median on the widest axis
		axis := 0
		if ext.y > ext.x {
			axis = 1
		}
		if ext.z > ext.get(axis) {
			axis = 2
		}
		slices.SortStableFunc(part, func(a, b item) int { return cmp.Compare(a.c.get(axis), b.c.get(axis)) })
		return axis, len(part) / 2
	}
	e := ext.get(bestAxis)
	left := make([]item, 0, len(part))
	var right []item
	for _, it := range part {
		if binOf(it.c.get(bestAxis), cl.get(bestAxis), e) <= bestBin {
			left = append(left, it)
		} else {
			right = append(right, it)
		}
	}
	n := len(left)
	copy(part, append(left, right...))
	return bestAxis, n
}

func binOf(c, lo, ext float64) int {
	b := int(float64(float64((c-lo)/ext) * sahBins))
	return min(max(b, 0), sahBins-1)
}

// area is half the surface area of the box [lo, hi].
func area(lo, hi vec) float64 {
	d := hi.sub(lo)
	return float64(d.x*d.y) + float64(d.y*d.z) + float64(d.z*d.x)
}

// buildBVH orders tris in place and returns the nodes: median split on the
// widest axis of the centroids. Ties break by the original order, so the
// tree is the same on every machine.
func buildBVH(tris []triangle) []bvhNode {
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
		axis, mid := sahSplit(items[lo:hi], tris, cl, ch)
		mid += lo
		nodes[ni].axis = int32(axis)
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
// distance, index and barycentrics (u, v); with anyHit, it returns the first
// hit found (for shadow rays).
func (m *meshData) intersect(o, d vec, tmin, tmax float64, anyHit bool) (t float64, idx int, u, v float64, ok bool) {
	inv := vec{1 / d.x, 1 / d.y, 1 / d.z}
	var stack [64]int32
	sp := 0
	stack[sp] = 0
	sp++
	for sp > 0 {
		sp--
		ni := stack[sp]
		n := &m.nodes[ni]
		// slab test, written out: a call here costs a fifth of the frame
		t0, t1 := tmin, tmax
		t0, t1 = slab1(o.x, inv.x, n.lo.x, n.hi.x, t0, t1)
		t0, t1 = slab1(o.y, inv.y, n.lo.y, n.hi.y, t0, t1)
		t0, t1 = slab1(o.z, inv.z, n.lo.z, n.hi.z, t0, t1)
		if t0 > t1 {
			continue
		}
		if n.count > 0 {
			for i := n.first; i < n.first+n.count; i++ {
				if th, uh, vh, hit := m.tris[i].intersect(o, d, tmin, tmax); hit {
					tmax, idx, u, v, ok = th, int(i), uh, vh, true
					if anyHit {
						return tmax, idx, u, v, ok
					}
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
