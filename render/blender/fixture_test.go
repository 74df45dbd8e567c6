package blender

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// Texture colours of the checker the fixture's plane shows.
var (
	checkerA = color.NRGBA{230, 20, 20, 255}
	checkerB = color.NRGBA{20, 20, 230, 255}
)

// fixtures is the directory of the generated test scenes:
//
//	scene/anim.blend      plane with //tex/checker.png, rotating cube (frames 1-3)
//	scene/tiles.blend     the same, rendered by Cycles in 16x16 tiles
//	scene/tex/checker.png
//	evil/evil.blend       the same plus a text block registered to run on load,
//	                      which writes marker files (see markerScript)
//	evil/tex/checker.png
//	abs/abs.blend         the texture by absolute path
//	esc/esc.blend         the texture as //../scene/tex/checker.png
//	missing/missing.blend //tex/checker.png, which does not exist
//	seq/seq.blend         the scene plus a sequencer image strip //tex/strip.png
//	linked/main.blend     links the plane from //lib/lib.blend, whose image is
//	                      //tex/checker.png relative to the library
type fixtures struct {
	dir    string
	marker string // absolute path the evil text block writes
}

var (
	fixOnce sync.Once
	fix     fixtures
	fixErr  string
)

// requireBlender skips t when Blender is missing, unless
// RENDERSWARM_REQUIRE_RENDERERS=1.
func requireBlender(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("blender")
	if err != nil {
		if os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1" {
			t.Fatalf("blender is not installed and RENDERSWARM_REQUIRE_RENDERERS=1: %v", err)
		}
		t.Skip("blender is not installed (apt-get install blender); set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead")
	}
	return p
}

// getFixtures builds the scenes once per test binary, with Blender itself.
func getFixtures(t *testing.T) fixtures {
	t.Helper()
	requireBlender(t)
	fixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "renderswarm-blender-test-")
		if err != nil {
			fixErr = err.Error()
			return
		}
		fix = fixtures{dir: dir, marker: filepath.Join(dir, "marker-outside")}
		if msg := buildFixtures(fix); msg != "" {
			fixErr = msg
		}
	})
	if fixErr != "" {
		t.Fatalf("building test scenes: %s", fixErr)
	}
	return fix
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fix.dir != "" {
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

// markerScript is the text block of evil.blend: were it ever run, it would
// write the marker at an absolute path and next to Blender's TMPDIR (the
// backend's work directory, inside the output directory).
const markerScript = `
import os
for p in (%q, os.path.join(os.path.dirname(os.environ.get("TMPDIR", "/nonexistent")), "MARKER")):
    try:
        open(p, "w").write("autoexec ran")
    except Exception:
        pass
`

const fixtureScript = `
import bpy, json, math, os, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 16
s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage = 64, 48, 100
s.frame_start, s.frame_end = 1, 3
s.view_settings.view_transform = 'Standard'
world = bpy.data.worlds.new("World")
world.color = (0.05, 0.05, 0.05)
s.world = world

img = bpy.data.images.load(P["tex"])
img.filepath = "//tex/checker.png"
mat = bpy.data.materials.new("Checker")
mat.use_nodes = True
nt = mat.node_tree
nt.nodes.clear()
tex = nt.nodes.new("ShaderNodeTexImage")
tex.image = img
tex.interpolation = 'Closest'
em = nt.nodes.new("ShaderNodeEmission")
outn = nt.nodes.new("ShaderNodeOutputMaterial")
nt.links.new(tex.outputs["Color"], em.inputs["Color"])
nt.links.new(em.outputs["Emission"], outn.inputs["Surface"])
bpy.ops.mesh.primitive_plane_add(size=4, location=(0, 0, 0))
bpy.context.active_object.data.materials.append(mat)

grey = bpy.data.materials.new("Grey")
grey.diffuse_color = (0.8, 0.8, 0.8, 1)
bpy.ops.mesh.primitive_cube_add(size=1, location=(0, 0, 0.5))
cube = bpy.context.active_object
cube.data.materials.append(grey)
for f, a in ((1, 0), (3, 60)):
    cube.rotation_euler = (0, 0, math.radians(a))
    cube.keyframe_insert("rotation_euler", frame=f)

bpy.ops.object.light_add(type='SUN', location=(2, -2, 5))
bpy.context.active_object.data.energy = 3
bpy.ops.object.camera_add(location=(0, 0, 6), rotation=(0, 0, 0))
cam = bpy.context.active_object
cam.data.type = 'ORTHO'
cam.data.ortho_scale = 3.5
s.camera = cam

def save(rel):
    p = os.path.join(P["dir"], rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=p, copy=True, relative_remap=False, compress=False)

save("scene/anim.blend")
s.cycles.use_auto_tile, s.cycles.tile_size = True, 16
save("scene/tiles.blend")
s.cycles.tile_size = 2048
save("missing/missing.blend")
img.filepath = P["tex"]
save("abs/abs.blend")
img.filepath = "//../scene/tex/checker.png"
save("esc/esc.blend")
img.filepath = "//tex/checker.png"
txt = bpy.data.texts.new("autorun.py")
txt.write(P["marker_script"])
txt.use_module = True
save("evil/evil.blend")
bpy.data.texts.remove(txt)
ed = s.sequence_editor_create()
st = ed.sequences.new_image("Strip", P["strip"], 2, 1)
st.directory = "//tex/"
save("seq/seq.blend")
ed.sequences.remove(st)
save("linked/lib/lib.blend")
bpy.ops.wm.read_factory_settings(use_empty=True)
with bpy.data.libraries.load(os.path.join(P["dir"], "linked", "lib", "lib.blend"), link=True) as (src, dst):
    dst.objects = ["Plane"]
for o in dst.objects:
    bpy.context.scene.collection.objects.link(o)
bpy.data.libraries[0].filepath = "//lib/lib.blend"
bpy.context.scene.render.engine = 'CYCLES'
save("linked/main.blend")
print("FIXTURES_OK", flush=True)
`

func buildFixtures(f fixtures) string {
	tex := filepath.Join(f.dir, "scene", "tex", "checker.png")
	strip := filepath.Join(f.dir, "seq", "tex", "strip.png")
	for _, p := range []string{tex, strip, filepath.Join(f.dir, "evil", "tex", "checker.png"), filepath.Join(f.dir, "seq", "tex", "checker.png"),
		filepath.Join(f.dir, "linked", "lib", "tex", "checker.png")} {
		if err := rendertest.WriteChecker(p, checkerA, checkerB); err != nil {
			return err.Error()
		}
	}
	params, _ := json.Marshal(map[string]string{
		"dir": f.dir, "tex": tex, "strip": strip,
		"marker_script": fmt.Sprintf(markerScript, f.marker),
	})
	cmd := exec.Command("blender", "-b", "--factory-startup", "--python-exit-code", "1",
		"--python-expr", fixtureScript, "--", string(params))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return err.Error() + "\n" + string(out)
	}
	if !strings.Contains(string(out), "FIXTURES_OK") {
		return "fixture script did not finish:\n" + string(out)
	}
	return ""
}
