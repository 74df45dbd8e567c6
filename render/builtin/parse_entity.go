package builtin

import (
	"path"
	"strings"
)

var matTypes = map[string]matKind{
	"diffuse": matDiffuse, "metal": matMetal, "glass": matGlass, "emissive": matEmissive,
}

func (p *parser) material(vals map[string]string) error {
	name := vals["name"]
	if name == "" {
		return p.errf("name", "missing")
	}
	if _, dup := p.sc.materials[name]; dup {
		return p.errf("name", "material %q defined twice", name)
	}
	kind, ok := matTypes[vals["type"]]
	if !ok {
		return p.errf("type", "want diffuse, metal, glass or emissive, got %q", vals["type"])
	}
	m := &material{kind: kind, color: vec{0.8, 0.8, 0.8}, ior: 1.5}
	if kind == matGlass || kind == matEmissive {
		m.color = vec{1, 1, 1}
	}
	strength := 1.0
	for f, s := range vals {
		if f == "name" || f == "type" {
			continue
		}
		v, err := p.num(f, s)
		if err != nil {
			return err
		}
		switch f {
		case "color":
			m.color = v
		case "color2":
			m.color2 = v
		case "checker":
			m.checker = v.x
		case "fuzz":
			m.fuzz = v.x
		case "ior":
			m.ior = v.x
		case "strength":
			strength = v.x
		}
	}
	if kind == matEmissive {
		m.color = m.color.scale(strength)
	}
	p.sc.materials[name] = m
	return nil
}

func (e *entity) keyword() string {
	for kw, spec := range keywords {
		if spec.kind == e.kind && spec.anim != nil {
			return kw
		}
	}
	return ""
}

// entity handles camera, shape and light lines.
func (p *parser) entity(kind entityKind, vals map[string]string, order []string) error {
	if len(p.sc.entities) >= maxEntities {
		return p.errf("", "more than %d objects", maxEntities)
	}
	e := &entity{kind: kind, line: p.line, tracks: map[string]*track{}}
	for _, f := range order {
		s := vals[f]
		switch f {
		case "material":
			m, ok := p.sc.materials[s]
			if !ok {
				return p.errf(f, "unknown material %q (define it on an earlier line)", s)
			}
			e.mat = m
		case "file":
			if !localPath(s) {
				return p.errf(f, "%q must be a relative path inside the scene's directory", s)
			}
			e.file = path.Clean(s)
		case "smooth":
			switch s {
			case "true":
				e.smooth = true
			case "false":
			default:
				return p.errf(f, "want true or false, got %q", s)
			}
		default:
			v, err := p.num(f, s)
			if err != nil {
				return err
			}
			e.tracks[f] = &track{keys: []key{{v: v, base: true}}}
		}
	}
	switch {
	case kind == entCamera && p.sc.camera != nil:
		return p.errf("", "a scene has one camera")
	case kind == entCamera:
		p.sc.camera = e
	case kind != entLight && e.mat == nil:
		return p.errf("material", "missing")
	case kind == entMesh && e.file == "":
		return p.errf("file", "missing")
	}
	if kind == entLight {
		e.mat = &material{kind: matEmissive}
	}
	if kind == entMesh {
		p.sc.files = append(p.sc.files, e.file)
	}
	if kind != entCamera {
		p.sc.entities = append(p.sc.entities, e)
	}
	p.last = e
	return nil
}

// localPath reports whether s is a slash-separated relative path that stays
// inside its directory.
func localPath(s string) bool {
	if strings.Contains(s, `\`) || strings.HasPrefix(s, "/") {
		return false
	}
	c := path.Clean(s)
	return c != ".." && !strings.HasPrefix(c, "../") && c != "."
}

func (p *parser) key(vals map[string]string, order []string) error {
	if p.last == nil {
		return p.errf("", "a key line must follow a camera, shape or light line")
	}
	fs, ok := vals["frame"]
	if !ok {
		return p.errf("frame", "missing")
	}
	fv, err := p.num("frame", fs)
	if err != nil {
		return err
	}
	smooth := false
	switch vals["ease"] {
	case "", "linear":
	case "smooth":
		smooth = true
	default:
		return p.errf("ease", "want linear or smooth, got %q", vals["ease"])
	}
	n := 0
	for _, f := range order {
		if f == "frame" || f == "ease" {
			continue
		}
		v, err := p.num(f, vals[f])
		if err != nil {
			return err
		}
		t := p.last.tracks[f]
		if t == nil {
			t = &track{}
			p.last.tracks[f] = t
		}
		t.keys = append(t.keys, key{frame: int(fv.x), v: v, smooth: smooth})
		n++
	}
	if n == 0 {
		return p.errf("", "sets no field (want one of %s)", strings.Join(keywords[p.last.keyword()].anim, ", "))
	}
	return nil
}
