package test

import (
	"context"
	"encoding/json"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// Colours of the texture the Blender scenes' plane shows: distinctive, and
// far from magenta (#FF00FF), Blender's colour for a missing texture.
var (
	texOrange = color.NRGBA{240, 140, 10, 255}
	texTeal   = color.NRGBA{10, 150, 140, 255}
	magenta   = color.NRGBA{255, 0, 255, 255}
)

// blendScript builds P["blend"]: a 64x36, 3-frame Cycles animation (4
// samples) of an emissive plane textured with //textures/checker.png and a
// rotating cube, with every setting the grid pins already pinned the same
// way (seed 0, no adaptive sampling or denoising, dither 0), so Blender run
// directly on the file renders what a volunteer renders. With P["evil"] it
// also carries a text block registered to run on load and a Python driver,
// both writing marker files.
const blendScript = `
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
s.frame_start, s.frame_end = 1, 3
s.view_settings.view_transform = 'Standard'
world = bpy.data.worlds.new("World")
world.color = (0.02, 0.02, 0.02)
s.world = world

img = bpy.data.images.load(P["tex"])
img.filepath = "//textures/checker.png"
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

if P.get("evil"):
    txt = bpy.data.texts.new("autorun.py")
    txt.write(P["onload"])
    txt.use_module = True
    fc = cube.driver_add("location", 0)
    fc.driver.type = 'SCRIPTED'
    fc.driver.expression = "(open(%r, 'w').write('driver ran') * 0) + (open('driver-rel-marker.txt', 'w').write('x') * 0)" % P["driver_marker"]

os.makedirs(os.path.dirname(P["blend"]), exist_ok=True)
bpy.ops.wm.save_as_mainfile(filepath=P["blend"], relative_remap=False, compress=False)
print("BLEND_OK", flush=True)
`

// onLoadScript is the evil scene's text block: were it ever run, it would
// register a load/frame handler and write markers at an absolute path, in
// the working directory and next to the .blend — and paint the frame:
// hide every mesh and make the world pure green, a marker no sandbox can
// keep from reaching the publisher, so a run where the file markers are
// blocked still shows whether the script ran.
const onLoadScript = `
import bpy, os
def mark(*_):
    for p in (%q, "rel-marker.txt", bpy.path.abspath("//blend-rel-marker.txt")):
        try:
            open(p, "w").write("on-load script ran")
        except Exception:
            pass
    try:
        for sc in bpy.data.scenes:
            if sc.world is not None:
                sc.world.use_nodes = False
                sc.world.color = (0.0, 1.0, 0.0)
        for o in bpy.data.objects:
            if o.type == 'MESH':
                o.hide_render = True
    except Exception:
        pass
mark()
bpy.app.handlers.frame_change_pre.append(mark)
bpy.app.handlers.render_pre.append(mark)
`

// green is the frame the evil scene's script paints.
var green = color.NRGBA{0, 255, 0, 255}

// markerNames are the file names the evil scene would write.
var markerNames = []string{"abs-marker.txt", "driver-marker.txt", "rel-marker.txt", "blend-rel-marker.txt", "driver-rel-marker.txt"}

// makeBlend writes dir/textures/checker.png and generates dir/scene.blend
// with Blender itself. evil adds the on-load script and driver writing
// markers under markerDir.
func makeBlend(t *testing.T, dir string, evil bool, markerDir string) string {
	t.Helper()
	tex := filepath.Join(dir, "textures", "checker.png")
	if err := rendertest.WriteChecker(tex, texOrange, texTeal); err != nil {
		t.Fatal(err)
	}
	blend := filepath.Join(dir, "scene.blend")
	p := map[string]any{"tex": tex, "blend": blend}
	if evil {
		p["evil"] = true
		p["onload"] = strings.Replace(onLoadScript, "%q", pyQuote(filepath.Join(markerDir, "abs-marker.txt")), 1)
		p["driver_marker"] = filepath.Join(markerDir, "driver-marker.txt")
	}
	params, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", "-b", "--factory-startup", "--python-exit-code", "1",
		"--python-expr", blendScript, "--", string(params))
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "BLEND_OK") {
		t.Fatalf("generating %s with Blender: %v\n%s", blend, err, tail(string(out), 30))
	}
	return blend
}

func pyQuote(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid Python string literal for these paths
	return string(b)
}

// A .blend whose material uses an external image at //textures/checker.png,
// published alone (the packer asks Blender for its dependencies): every
// frame from the grid shows the texture and equals `renderswarm render` of
// the same file, and Blender run directly on it, pixel for pixel.
func TestBlenderTextureAcrossProcesses(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "blender")
	scene := t.TempDir()
	blend := makeBlend(t, scene, false, "")
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2, "blender")

	start := time.Now()
	id := publishScene(t, pub.home, blend, "--renderer", "blender")
	st := waitCompleted(t, pub.home, id, start, 4*time.Minute)
	if st.Frames.Verified != 3 {
		t.Fatalf("completed with %+v, want 3 verified frames (the file's range 1-3)", st.Frames)
	}
	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, blend, "--renderer", "blender")

	// Blender run directly, outside renderswarm, on the same file.
	direct := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", "-b", "--factory-startup", "--disable-autoexec", blend,
		"-o", filepath.Join(direct, "frame_####"), "-F", "PNG", "-s", "1", "-e", "3", "-a")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("blender directly: %v\n%s", err, tail(string(out), 20))
	}

	for f := 1; f <= 3; f++ {
		img := samePixels(t, grid, local, f, "the grid's frame vs renderswarm render")
		samePixels(t, grid, direct, f, "the grid's frame vs Blender run directly")
		n := img.Bounds().Dx() * img.Bounds().Dy()
		a, b, m := countNear(img, texOrange, 8), countNear(img, texTeal, 8), countNear(img, magenta, 40)
		t.Logf("frame %d: %d orange, %d teal, %d magenta of %d pixels", f, a, b, m, n)
		if a < n/5 || b < n/5 || m > 0 {
			t.Errorf("frame %d does not show the texture: %d orange, %d teal, %d magenta of %d pixels", f, a, b, m, n)
		}
	}
}

// A .blend carrying a text block registered to run on load (which also
// installs frame-change and render handlers) and a Python driver, all
// writing marker files at an absolute path and at relative ones, the
// script also painting the frame green: rendered through the grid, none
// of it runs. The volunteers' sandbox would block the file markers even if
// it did, so the pixels decide: a control render of a copy with
// --enable-autoexec is green, the grid's frames are not.
func TestBlenderOnLoadScriptNeverRuns(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "blender")
	root := t.TempDir()
	markers := filepath.Join(root, "markers")
	os.MkdirAll(markers, 0o755)
	scene := filepath.Join(root, "scene")
	blend := makeBlend(t, scene, true, markers)

	// Control: a copy of the scene, with autoexec on, does write them.
	control := t.TempDir()
	ctlMarkers := filepath.Join(control, "markers")
	os.MkdirAll(ctlMarkers, 0o755)
	ctlBlend := makeBlend(t, filepath.Join(control, "scene"), true, ctlMarkers)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", "-b", "--factory-startup", "--enable-autoexec", ctlBlend,
		"--python-expr", "import bpy; bpy.context.scene.frame_set(2); bpy.context.view_layer.update()",
		"-o", filepath.Join(control, "render_#"), "-F", "PNG", "-f", "1")
	cmd.Dir = control
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("control run: %v\n%s", err, tail(string(out), 20))
	}
	ctl := decodePixels(t, filepath.Join(control, "render_1.png"))
	if n := ctl.Bounds().Dx() * ctl.Bounds().Dy(); countNear(ctl, green, 8) < n*9/10 {
		t.Fatalf("control: with --enable-autoexec the frame is not green (%d of %d pixels); the test would prove nothing", countNear(ctl, green, 8), n)
	}
	for _, m := range []string{filepath.Join(ctlMarkers, "abs-marker.txt"), filepath.Join(ctlMarkers, "driver-marker.txt"),
		filepath.Join(control, "rel-marker.txt"), filepath.Join(control, "scene", "blend-rel-marker.txt")} {
		if _, err := os.Stat(m); err != nil {
			t.Fatalf("control: with --enable-autoexec %s was not written (%v); the test would prove nothing", m, err)
		}
	}

	pub, vs := swarm(t, 2)
	waitVolunteers(t, pub, 2, "blender")
	start := time.Now()
	id := publishScene(t, pub.home, blend, "--renderer", "blender", "--frames", "1-2")
	waitCompleted(t, pub.home, id, start, 4*time.Minute)
	grid := fetchJob(t, pub.home, id)
	for f := 1; f <= 2; f++ {
		img := decodePixels(t, filepath.Join(grid, frameName(f)))
		if countNear(img, texOrange, 8) == 0 || countNear(img, green, 8) != 0 {
			t.Errorf("frame %d from the grid: %d texture pixels, %d painted green by the scene's script; want the texture only",
				f, countNear(img, texOrange, 8), countNear(img, green, 8))
		}
	}

	for _, m := range []string{filepath.Join(markers, "abs-marker.txt"), filepath.Join(markers, "driver-marker.txt"),
		filepath.Join(scene, "blend-rel-marker.txt"), filepath.Join(scene, "rel-marker.txt")} {
		if _, err := os.Stat(m); err == nil {
			t.Errorf("the scene's script ran: %s exists", m)
		}
	}
	// Anywhere else: the test's temporary directories (homes, asset
	// stores, scratch and output directories), the nodes' working
	// directory and the system temporary directory.
	wd, _ := os.Getwd()
	dirs := []string{root, wd, os.TempDir()}
	for _, p := range append(vs, pub) {
		dirs = append(dirs, p.home)
	}
	for _, d := range dirs {
		args := []string{d, "-xdev", "-maxdepth", "12", "("}
		for i, n := range markerNames {
			if i > 0 {
				args = append(args, "-o")
			}
			args = append(args, "-name", n)
		}
		args = append(args, ")", "-print")
		out, _ := exec.Command("find", args...).Output()
		if found := strings.TrimSpace(string(out)); found != "" {
			for _, l := range strings.Split(found, "\n") {
				if !strings.HasPrefix(l, control) {
					t.Errorf("the scene's script ran: found %s", l)
				}
			}
		}
	}
}

// A Blender still split into 3 tiles (border renders), each rendered by
// two volunteers: the stitched frame equals `renderswarm render` of the
// whole frame pixel for pixel.
func TestBlenderTilesEqualWholeFrame(t *testing.T) {
	t.Parallel() // a swarm of its own (harness_test.go)
	requireRenderer(t, "blender")
	blend := makeBlend(t, t.TempDir(), false, "")
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2, "blender")
	start := time.Now()
	id := publishScene(t, pub.home, blend, "--renderer", "blender", "--frames", "2", "--tiles", "3", "--replicas", "2")
	st := waitCompleted(t, pub.home, id, start, 4*time.Minute)
	if st.Frames.Total != 3 {
		t.Errorf("a 3-tile still has %d tasks, want 3", st.Frames.Total)
	}
	grid := fetchJob(t, pub.home, id)
	local := renderLocal(t, blend, "--renderer", "blender", "--frames", "2")
	img := samePixels(t, grid, local, 2, "the grid's stitched tiles vs renderswarm render of the whole frame")
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 36 {
		t.Errorf("stitched frame is %v, want 64x36", b)
	}
}
