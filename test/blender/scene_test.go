package blender

import (
	"encoding/json"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// Colours of the texture on the scenes' plane: distinctive, and far from
// magenta, Blender's colour for a missing texture.
var (
	texOrange = color.NRGBA{240, 140, 10, 255}
	texTeal   = color.NRGBA{10, 150, 140, 255}
)

// sceneScript builds P["blend"]: a 64x36, 3-frame Cycles animation (4
// samples) of an emissive plane textured with the image P["tex"] (stored
// as P["tex_rel"]) and a rotating cube, with every setting the grid pins
// already pinned the same way, so Blender run directly renders what a
// volunteer renders. Its output path is //render/shot_####.
const sceneScript = `
import bpy, json, math, os, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
s = bpy.context.scene
s.render.engine = 'CYCLES'
c = s.cycles
c.device = 'CPU'
c.samples = 4
c.seed = 0
c.use_animated_seed = False
c.use_adaptive_sampling = False
c.use_denoising = False
for vl in s.view_layers:
    vl.cycles.use_denoising = False
s.render.dither_intensity = 0.0
s.render.use_stamp = False
s.render.image_settings.file_format = 'PNG'
s.render.image_settings.color_mode = 'RGBA'
s.render.image_settings.color_depth = '8'
s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage = 64, 36, 100
s.render.filepath = "//render/shot_####"
s.frame_start, s.frame_end = 1, 3
s.view_settings.view_transform = 'Standard'
world = bpy.data.worlds.new("World")
world.color = (0.02, 0.02, 0.02)
s.world = world

img = bpy.data.images.load(P["tex"])
img.filepath = P["tex_rel"]
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
bpy.ops.mesh.primitive_plane_add(size=6, location=(0, 0, 0))
bpy.context.active_object.data.materials.append(mat)

bpy.ops.mesh.primitive_cube_add(size=0.8, location=(0, 0, 0.4))
cube = bpy.context.active_object
for f, a in ((1, 0), (3, 60)):
    cube.rotation_euler = (0, 0, math.radians(a))
    cube.keyframe_insert("rotation_euler", frame=f)

bpy.ops.object.light_add(type='SUN', location=(2, -2, 5))
bpy.ops.object.camera_add(location=(0, 0, 6), rotation=(0, 0, 0))
cam = bpy.context.active_object
cam.data.type = 'ORTHO'
cam.data.ortho_scale = 4
s.camera = cam

os.makedirs(os.path.dirname(P["blend"]), exist_ok=True)
bpy.ops.wm.save_as_mainfile(filepath=P["blend"], relative_remap=False, compress=False)
print("BLEND_OK", flush=True)
`

// makeScene writes dir/textures/checker.png and generates dir/scene.blend
// with Blender itself.
func makeScene(t *testing.T, dir string) string {
	t.Helper()
	tex := filepath.Join(dir, "textures", "checker.png")
	if err := rendertest.WriteChecker(tex, texOrange, texTeal); err != nil {
		t.Fatal(err)
	}
	blend := filepath.Join(dir, "scene.blend")
	p, _ := json.Marshal(map[string]any{"tex": tex, "tex_rel": "//textures/checker.png", "blend": blend})
	runBlender(t, nil, 2*time.Minute, "BLEND_OK", "--python-expr", sceneScript, "--", string(p))
	return blend
}
