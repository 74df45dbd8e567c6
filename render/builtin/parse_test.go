package builtin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render"
)

const okHead = "renderswarm-scene 1\nmaterial name=m type=diffuse\ncamera pos=0,1,5\n"

func TestParseErrorsNameLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"no header", "camera pos=0,0,1\n", "s.scene:1: first line must be"},
		{"empty", "# nothing\n", "s.scene: empty"},
		{"unknown keyword", okHead + "sphear radius=1\n", "s.scene:4: sphear: unknown keyword"},
		{"unknown field", okHead + "sphere material=m radus=1\n", `s.scene:4: sphere.radus: unknown field (want radius, material, pos, rot, scale)`},
		{"not field=value", okHead + "sphere material=m 1\n", `s.scene:4: sphere: "1" is not field=value`},
		{"bad number", okHead + "sphere material=m radius=big\n", `s.scene:4: sphere.radius: "big" is not a number`},
		{"NaN", okHead + "sphere material=m radius=NaN\n", `s.scene:4: sphere.radius: "NaN" is not a number`},
		{"short vector", okHead + "sphere material=m pos=1,2\n", `s.scene:4: sphere.pos: want three numbers x,y,z, got "1,2"`},
		{"negative radius", okHead + "sphere material=m radius=-1\n", "s.scene:4: sphere.radius: -1 outside"},
		{"twice", okHead + "sphere material=m radius=1 radius=2\n", "s.scene:4: sphere.radius: given twice"},
		{"unknown material", okHead + "sphere material=gold\n", `s.scene:4: sphere.material: unknown material "gold"`},
		{"no material", okHead + "box size=1,1,1\n", "s.scene:4: box.material: missing"},
		{"material type", okHead + "material name=x type=plastic\n", `s.scene:4: material.type: want diffuse, metal, glass or emissive, got "plastic"`},
		{"material twice", okHead + "material name=m type=metal\n", `s.scene:4: material.name: material "m" defined twice`},
		{"key first", "renderswarm-scene 1\nkey frame=2 pos=1,1,1\n", "s.scene:2: key.pos: unknown field"},
		{"key field", okHead + "sphere material=m\nkey frame=3 radius=2\n", "s.scene:5: key.radius: unknown field (want frame, ease, pos, rot, scale)"},
		{"key frame", okHead + "sphere material=m\nkey frame=1.5 pos=0,0,0\n", `s.scene:5: key.frame: "1.5" is not a whole number`},
		{"key nothing", okHead + "sphere material=m\nkey frame=3\n", "s.scene:5: key: sets no field"},
		{"ease", okHead + "sphere material=m\nkey frame=3 pos=1,1,1 ease=bouncy\n", `s.scene:5: key.ease: want linear or smooth`},
		{"two cameras", okHead + "camera pos=1,1,1\n", "s.scene:4: camera: a scene has one camera"},
		{"no camera", "renderswarm-scene 1\nsky zenith=0,0,1\n", "s.scene: camera: missing"},
		{"huge resolution", okHead + "settings resolution=20000x100\n", "s.scene:4: settings.resolution: 20000x100 outside 1..16384 per side"},
		{"bad resolution", okHead + "settings resolution=wide\n", `s.scene:4: settings.resolution: want WIDTHxHEIGHT`},
		{"huge samples", okHead + "settings samples=1000000\n", "s.scene:4: settings.samples: 1000000 outside 1..65536"},
		{"zero samples", okHead + "settings samples=0\n", "s.scene:4: settings.samples: 0 outside"},
		{"huge bounces", okHead + "settings bounces=1000\n", "s.scene:4: settings.bounces: 1000 outside 1..64"},
		{"backwards frames", okHead + "settings frames=9-3\n", `s.scene:4: settings.frames: want FIRST-LAST`},
		{"escaping mesh", okHead + "mesh material=m file=../secret.obj\n", `s.scene:4: mesh.file: "../secret.obj" must be a relative path inside`},
		{"absolute mesh", okHead + "mesh material=m file=/etc/passwd\n", `s.scene:4: mesh.file: "/etc/passwd" must be a relative path inside`},
		{"smooth", okHead + "mesh material=m file=a.obj smooth=yes\n", `s.scene:4: mesh.smooth: want true or false`},
		{"sun dir", okHead + "sun dir=0,0,0\n", "s.scene:4: sun.dir: want a non-zero direction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseScene("s.scene", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n %q\nwant prefix\n %q", err, tc.want)
			}
			if !errors.Is(err, render.ErrSceneInvalid) {
				t.Errorf("error %v does not wrap render.ErrSceneInvalid", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestParseKeyframes(t *testing.T) {
	sc, err := parseScene("s.scene", []byte(okHead+`settings frames=10-30
sphere material=m pos=0,0,0
key frame=20 pos=10,0,0
key frame=30 pos=10,20,0 ease=smooth
`))
	if err != nil {
		t.Fatal(err)
	}
	e := sc.entities[0]
	for _, tc := range []struct {
		frame int
		want  vec
	}{
		{1, vec{0, 0, 0}}, {10, vec{0, 0, 0}}, {15, vec{5, 0, 0}}, {20, vec{10, 0, 0}},
		{25, vec{10, 10, 0}}, {27, vec{10, float64(20 * 0.784), 0}}, {40, vec{10, 20, 0}},
	} {
		if got := e.value("pos", tc.frame, vec{}); got.sub(tc.want).length() > 1e-9 {
			t.Errorf("pos at frame %d = %v, want %v", tc.frame, got, tc.want)
		}
	}
}

func TestParseOBJErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"bad coordinate", "v 0 0 x\n", `m.obj:1: v: "x" is not a coordinate`},
		{"short vertex", "v 0 0\n", "m.obj:1: v: want three coordinates"},
		{"index range", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "m.obj:4: f: index 4 out of range 1..3"},
		{"zero index", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", `m.obj:4: f: bad index "0"`},
		{"two vertices", "v 0 0 0\nv 1 0 0\nf 1 2\n", "m.obj:3: f: want at least three vertices"},
		{"no faces", "v 0 0 0\n", "m.obj: no faces"},
		{"degenerate", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n", "m.obj: every face is degenerate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOBJ("m.obj", strings.NewReader(tc.src), 100, false)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
	_, err := parseOBJ("m.obj", strings.NewReader("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 4 3\n"), 1, false)
	if err == nil || !strings.Contains(err.Error(), "more than 1 triangles") {
		t.Errorf("triangle budget: error %v", err)
	}
	tris, err := parseOBJ("m.obj", strings.NewReader("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf -4 -3 -2 -1\n"), 10, true)
	if err != nil || len(tris) != 2 {
		t.Fatalf("quad with negative indices: %d triangles, err %v", len(tris), err)
	}
}

// writeScene writes files (name → content) into a new directory.
func writeScene(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMissingOBJ(t *testing.T) {
	dir := writeScene(t, map[string]string{
		"s.scene": okHead + "mesh material=m file=meshes/gone.obj\n",
	})
	_, err := New().Inspect(t.Context(), filepath.Join(dir, "s.scene"))
	const want = "s.scene: mesh.file: meshes/gone.obj: file not found"
	if err == nil || err.Error() != want || !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("Inspect: err = %v, want %q wrapping ErrSceneInvalid", err, want)
	}
	_, err = New().Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "s.scene", Frame: 1, Width: 8, Height: 8, OutputDir: t.TempDir(),
	}, nil)
	if err == nil || err.Error() != want {
		t.Errorf("Render: err = %v, want %q", err, want)
	}
}

func TestSymlinkOutOfSceneDirRefused(t *testing.T) {
	outside := writeScene(t, map[string]string{"secret.obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"})
	dir := writeScene(t, map[string]string{"s.scene": okHead + "mesh material=m file=link.obj\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.obj"), filepath.Join(dir, "link.obj")); err != nil {
		t.Skip("no symlinks:", err)
	}
	_, err := New().Render(t.Context(), render.Task{
		SceneDir: dir, SceneFile: "s.scene", Frame: 1, Width: 8, Height: 8, OutputDir: t.TempDir(),
	}, nil)
	if !errors.Is(err, render.ErrSceneInvalid) {
		t.Errorf("mesh symlinked outside the scene dir: err = %v, want ErrSceneInvalid", err)
	}
}

func TestInspectDemo(t *testing.T) {
	info, err := New().Inspect(t.Context(), demoScene)
	if err != nil {
		t.Fatal(err)
	}
	if info.FrameStart != 1 || info.FrameEnd != 24 || info.Width != 320 || info.Height != 180 {
		t.Errorf("demo: %+v, want frames 1-24 at 320x180", info)
	}
	if len(info.Files) != 1 || info.Files[0] != "knot.obj" {
		t.Errorf("demo files %v, want [knot.obj]", info.Files)
	}
}
