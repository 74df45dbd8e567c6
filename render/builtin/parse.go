package builtin

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/renderswarm/renderswarm/render"
)

// SyntaxError is a problem at one line of a scene or OBJ file. It wraps
// render.ErrSceneInvalid.
type SyntaxError struct {
	File  string // as given to the parser, e.g. "demo.scene"
	Line  int    // 1-based; 0 when the problem is not at one line
	Field string // the keyword or keyword.field at fault, may be empty
	Msg   string
}

func (e *SyntaxError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return render.ErrSceneInvalid }

type valueType int

const (
	tNum valueType = iota
	tVec
	tInt
	tWord
	tRange // "A-B"
	tSize  // "WxH"
)

type fieldDef struct {
	typ    valueType
	lo, hi float64 // bounds of every component for tNum, tVec and tInt
}

const big = 1e6

var fieldDefs = map[string]fieldDef{
	"pos": {tVec, -big, big}, "look": {tVec, -big, big}, "up": {tVec, -big, big},
	"dir": {tVec, -big, big}, "rot": {tVec, -big, big}, "size": {tVec, 1e-6, big},
	"scale": {tNum, 1e-6, big}, "radius": {tNum, 1e-6, big}, "fov": {tNum, 1, 179},
	"color": {tVec, 0, big}, "color2": {tVec, 0, big}, "horizon": {tVec, 0, big},
	"zenith": {tVec, 0, big}, "ground": {tVec, 0, big}, "strength": {tNum, 0, big},
	"checker": {tNum, 0, big}, "fuzz": {tNum, 0, 1}, "ior": {tNum, 1, 4},
	"frame": {tInt, 0, maxFrame}, "samples": {tInt, 1, render.MaxSamples},
	"bounces": {tInt, 1, maxBounces}, "frames": {typ: tRange}, "resolution": {typ: tSize},
	"name": {typ: tWord}, "material": {typ: tWord}, "file": {typ: tWord},
	"type": {typ: tWord}, "smooth": {typ: tWord}, "ease": {typ: tWord},
}

var shapeFields = []string{"material", "pos", "rot", "scale"}

// keywords lists each line keyword's fields; anim lists which of them key
// lines may animate.
var keywords = map[string]struct {
	kind   entityKind
	fields []string
	anim   []string
}{
	"settings": {fields: []string{"frames", "resolution", "samples", "bounces"}},
	"sky":      {fields: []string{"horizon", "zenith", "ground"}},
	"sun":      {fields: []string{"dir", "color", "strength"}},
	"material": {fields: []string{"name", "type", "color", "color2", "checker", "fuzz", "ior", "strength"}},
	"camera":   {entCamera, []string{"pos", "look", "up", "fov"}, []string{"pos", "look", "up", "fov"}},
	"sphere":   {entSphere, append([]string{"radius"}, shapeFields...), shapeFields[1:]},
	"plane":    {entPlane, shapeFields, shapeFields[1:]},
	"box":      {entBox, append([]string{"size"}, shapeFields...), shapeFields[1:]},
	"mesh":     {entMesh, append([]string{"file", "smooth"}, shapeFields...), shapeFields[1:]},
	"light":    {entLight, []string{"pos", "radius", "color", "strength"}, []string{"pos", "color", "strength"}},
	"key":      {fields: []string{"frame", "ease"}},
}

// Header is the first line every scene file must start with.
const Header = "renderswarm-scene 1"

// parser holds the state of parsing one scene file.
type parser struct {
	file string
	line int
	kw   string
	sc   *scene
	last *entity // target of key lines
}

func (p *parser) errf(field, format string, args ...any) error {
	f := p.kw
	if field != "" {
		f = p.kw + "." + field
	}
	return &SyntaxError{File: p.file, Line: p.line, Field: f, Msg: fmt.Sprintf(format, args...)}
}

// parseScene parses the text of a scene file named file (for messages). It
// does not load meshes.
func parseScene(file string, src []byte) (*scene, error) {
	if len(src) > maxSceneBytes {
		return nil, &SyntaxError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxSceneBytes)}
	}
	p := &parser{file: file, sc: &scene{
		frameStart: 1, frameEnd: 1, width: 320, height: 180, samples: 16, bounces: 6,
		sky:       skyDef{horizon: vec{0.8, 0.85, 0.9}, zenith: vec{0.3, 0.45, 0.8}, ground: vec{0.3, 0.28, 0.25}},
		materials: map[string]*material{},
	}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	header := false
	for sc.Scan() {
		p.line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		words := strings.Fields(text)
		if len(words) == 0 {
			continue
		}
		if !header {
			if strings.Join(words, " ") != Header {
				return nil, &SyntaxError{File: file, Line: p.line, Msg: fmt.Sprintf("first line must be %q", Header)}
			}
			header = true
			continue
		}
		if err := p.parseLine(words); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &SyntaxError{File: file, Line: p.line + 1, Msg: err.Error()}
	}
	if !header {
		return nil, &SyntaxError{File: file, Msg: fmt.Sprintf("empty; the first line must be %q", Header)}
	}
	p.line, p.kw = 0, "camera"
	if p.sc.camera == nil {
		return nil, p.errf("", "missing: the scene needs a camera line")
	}
	p.finishTracks()
	return p.sc, nil
}

// finishTracks places entity-line values at the first frame (a key line at
// that frame wins) and sorts every track.
func (p *parser) finishTracks() {
	ents := append([]*entity{p.sc.camera}, p.sc.entities...)
	for _, e := range ents {
		for _, t := range e.tracks {
			ks := t.keys
			t.keys = nil
			for _, k := range ks {
				if k.base {
					k.frame = p.sc.frameStart
					t.set(k)
				}
			}
			for _, k := range ks {
				if !k.base {
					t.set(k)
				}
			}
		}
	}
}

func (p *parser) parseLine(words []string) error {
	p.kw = words[0]
	spec, ok := keywords[p.kw]
	if !ok {
		return &SyntaxError{File: p.file, Line: p.line, Field: p.kw, Msg: "unknown keyword (want " + strings.Join(sortedKeys(keywords), ", ") + ")"}
	}
	vals := map[string]string{}
	var order []string
	for _, w := range words[1:] {
		name, val, ok := strings.Cut(w, "=")
		if !ok || name == "" || val == "" {
			return p.errf("", "%q is not field=value", w)
		}
		allowed := spec.fields
		if p.kw == "key" && p.last != nil {
			allowed = append(slices.Clone(allowed), keywords[p.last.keyword()].anim...)
		}
		if !slices.Contains(allowed, name) {
			return p.errf(name, "unknown field (want %s)", strings.Join(allowed, ", "))
		}
		if _, dup := vals[name]; dup {
			return p.errf(name, "given twice")
		}
		vals[name] = val
		order = append(order, name)
	}
	switch p.kw {
	case "settings":
		return p.settings(vals)
	case "sky", "sun":
		return p.skySun(vals)
	case "material":
		return p.material(vals)
	case "key":
		return p.key(vals, order)
	}
	return p.entity(spec.kind, vals, order)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// num parses field's value as a number, vector or integer within its bounds.
func (p *parser) num(field, val string) (vec, error) {
	d := fieldDefs[field]
	parts := strings.Split(val, ",")
	want := 1
	if d.typ == tVec {
		want = 3
	}
	if len(parts) != want {
		if want == 3 {
			return vec{}, p.errf(field, "want three numbers x,y,z, got %q", val)
		}
		return vec{}, p.errf(field, "want one number, got %q", val)
	}
	var xs [3]float64
	for i, s := range parts {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return vec{}, p.errf(field, "%q is not a number", s)
		}
		if d.typ == tInt && x != math.Floor(x) {
			return vec{}, p.errf(field, "%q is not a whole number", s)
		}
		if x < d.lo || x > d.hi {
			return vec{}, p.errf(field, "%s outside %g..%g", s, d.lo, d.hi)
		}
		xs[i] = x
	}
	return vec{xs[0], xs[1], xs[2]}, nil
}

func (p *parser) settings(vals map[string]string) error {
	s := p.sc
	if v, ok := vals["frames"]; ok {
		a, b, ok := strings.Cut(v, "-")
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || x < 0 || y < x || y > maxFrame {
			return p.errf("frames", "want FIRST-LAST with 0 <= FIRST <= LAST <= %d, got %q", maxFrame, v)
		}
		s.frameStart, s.frameEnd = x, y
	}
	if v, ok := vals["resolution"]; ok {
		w, h, err := render.ParseResolution(v)
		if err != nil {
			return p.errf("resolution", "%v", err)
		}
		s.width, s.height = w, h
	}
	for _, f := range []string{"samples", "bounces"} {
		if v, ok := vals[f]; ok {
			n, err := p.num(f, v)
			if err != nil {
				return err
			}
			if f == "samples" {
				s.samples = int(n.x)
			} else {
				s.bounces = int(n.x)
			}
		}
	}
	return nil
}

func (p *parser) skySun(vals map[string]string) error {
	v := map[string]vec{}
	for f, s := range vals {
		x, err := p.num(f, s)
		if err != nil {
			return err
		}
		v[f] = x
	}
	if p.kw == "sky" {
		sky := &p.sc.sky
		for f, dst := range map[string]*vec{"horizon": &sky.horizon, "zenith": &sky.zenith, "ground": &sky.ground} {
			if x, ok := v[f]; ok {
				*dst = x
			}
		}
		return nil
	}
	dir, ok := v["dir"]
	if !ok || dir.length() == 0 {
		return p.errf("dir", "want a non-zero direction towards the sun")
	}
	color, ok := v["color"]
	if !ok {
		color = vec{1, 1, 1}
	}
	strength, ok := v["strength"]
	if !ok {
		strength.x = 1
	}
	p.sc.sun = &sunDef{dir: dir.norm(), color: color.scale(strength.x)}
	return nil
}
