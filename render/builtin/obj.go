package builtin

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// corner is one vertex of a face: position and normal indices.
type corner struct{ v, n int }

// meshData is a triangle mesh in object space with its BVH.
type meshData struct {
	tris  []triangle
	nodes []bvhNode
	lo    vec // bounds
	hi    vec
}

type triangle struct {
	v0, e1, e2 vec // first vertex and the two edges from it
	n          vec // unit face normal
	n0, n1, n2 vec // unit vertex normals (smooth shading), or n
}

// parseOBJ reads the vertices (v), normals (vn) and faces (f) of a Wavefront
// OBJ file; polygons are fanned into triangles, negative indices count from
// the end, texture coordinates and every other statement (o, g, s, usemtl,
// mtllib, l, …) are ignored. maxTris bounds the triangles it will accept.
// With smooth and no vn, vertex normals are the average of adjacent faces.
func parseOBJ(name string, r io.Reader, maxTris int, smooth bool) ([]triangle, error) {
	o, err := readOBJ(name, r, maxTris)
	if err != nil {
		return nil, err
	}
	tris := o.triangles(smooth)
	if len(tris) == 0 {
		return nil, &SyntaxError{File: name, Msg: "every face is degenerate (zero area)"}
	}
	return tris, nil
}

// objData is what readOBJ keeps of a file: positions, normals and
// triangulated faces.
type objData struct {
	verts, norms []vec
	faces        [][3]corner
}

func readOBJ(name string, r io.Reader, maxTris int) (*objData, error) {
	var verts, norms []vec
	var faces [][3]corner
	sc := bufio.NewScanner(io.LimitReader(r, maxOBJBytes+1))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, read := 0, 0
	bad := func(format string, args ...any) error {
		return &SyntaxError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	for sc.Scan() {
		line++
		read += len(sc.Bytes()) + 1
		if read > maxOBJBytes {
			return nil, bad("file larger than %d bytes", maxOBJBytes)
		}
		w := strings.Fields(sc.Text())
		if len(w) == 0 {
			continue
		}
		switch w[0] {
		case "v", "vn":
			if len(w) < 4 {
				return nil, bad("%s: want three coordinates", w[0])
			}
			var c [3]float64
			for i := range 3 {
				x, err := strconv.ParseFloat(w[i+1], 64)
				if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > big {
					return nil, bad("%s: %q is not a coordinate", w[0], w[i+1])
				}
				c[i] = x
			}
			if w[0] == "v" {
				verts = append(verts, vec{c[0], c[1], c[2]})
			} else {
				norms = append(norms, vec{c[0], c[1], c[2]}.norm())
			}
		case "f":
			if len(w) < 4 {
				return nil, bad("f: want at least three vertices")
			}
			cs := make([]corner, len(w)-1)
			for i, s := range w[1:] {
				var err error
				if cs[i], err = objCorner(s, len(verts), len(norms)); err != nil {
					return nil, bad("f: %v", err)
				}
			}
			for i := 1; i+1 < len(cs); i++ {
				faces = append(faces, [3]corner{cs[0], cs[i], cs[i+1]})
			}
			if len(faces) > maxTris {
				return nil, bad("more than %d triangles", maxTris)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, bad("%v", err)
	}
	if len(faces) == 0 {
		return nil, &SyntaxError{File: name, Msg: "no faces"}
	}
	return &objData{verts, norms, faces}, nil
}

// triangles builds the mesh's triangles, dropping degenerate ones. With
// smooth, faces without vn get vertex normals averaged (area-weighted) over
// the faces sharing each vertex.
func (o *objData) triangles(smooth bool) []triangle {
	verts, norms, faces := o.verts, o.norms, o.faces
	var acc []vec
	if smooth {
		acc = make([]vec, len(verts))
	}
	tris := make([]triangle, 0, len(faces))
	var smoothFaces [][3]corner // faces of tris[i] needing averaged normals
	for _, f := range faces {
		a, b, c := verts[f[0].v], verts[f[1].v], verts[f[2].v]
		t := triangle{v0: a, e1: b.sub(a), e2: c.sub(a)}
		cr := t.e1.cross(t.e2)
		if cr.length() == 0 {
			continue // degenerate
		}
		t.n = cr.norm()
		t.n0, t.n1, t.n2 = t.n, t.n, t.n
		hasN := f[0].n >= 0 && f[1].n >= 0 && f[2].n >= 0
		if hasN {
			t.n0, t.n1, t.n2 = norms[f[0].n], norms[f[1].n], norms[f[2].n]
		}
		if smooth {
			for _, k := range f {
				acc[k.v] = acc[k.v].add(cr) // area-weighted
			}
			if hasN {
				f = [3]corner{{-1, 0}, {-1, 0}, {-1, 0}}
			}
			smoothFaces = append(smoothFaces, f)
		}
		tris = append(tris, t)
	}
	for i, f := range smoothFaces {
		if f[0].v >= 0 {
			tris[i].n0, tris[i].n1, tris[i].n2 = acc[f[0].v].norm(), acc[f[1].v].norm(), acc[f[2].v].norm()
		}
	}
	return tris
}

// objCorner parses "v", "v/vt", "v//vn" or "v/vt/vn" into 0-based indices;
// n is -1 without a normal.
func objCorner(s string, nv, nn int) (c corner, err error) {
	parts := strings.Split(s, "/")
	idx := func(s string, n int) (int, error) {
		i, err := strconv.Atoi(s)
		if err != nil || i == 0 {
			return 0, fmt.Errorf("bad index %q", s)
		}
		if i < 0 {
			i += n
		} else {
			i--
		}
		if i < 0 || i >= n {
			return 0, fmt.Errorf("index %s out of range 1..%d", s, n)
		}
		return i, nil
	}
	c.n = -1
	if c.v, err = idx(parts[0], nv); err != nil {
		return c, err
	}
	if len(parts) == 3 && parts[2] != "" {
		if c.n, err = idx(parts[2], nn); err != nil {
			return c, err
		}
	}
	return c, nil
}
