package blender

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// propsScript builds P["lib"]: a library whose collection "Props" holds
// an emissive plane textured with //tex/wood.png, an image beside the
// library.
const propsScript = `
import bpy, json, os, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
os.makedirs(os.path.dirname(P["lib"]), exist_ok=True)
bpy.ops.wm.save_as_mainfile(filepath=P["lib"])
img = bpy.data.images.load(P["tex"])
img.filepath = "//tex/wood.png"
mat = bpy.data.materials.new("Wood")
mat.use_nodes = True
nt = mat.node_tree
nt.nodes.clear()
tex = nt.nodes.new("ShaderNodeTexImage")
tex.image = img
tex.interpolation = 'Closest'
em = nt.nodes.new("ShaderNodeEmission")
out = nt.nodes.new("ShaderNodeOutputMaterial")
nt.links.new(tex.outputs["Color"], em.inputs["Color"])
nt.links.new(em.outputs["Emission"], out.inputs["Surface"])
coll = bpy.data.collections.new("Props")
bpy.context.scene.collection.children.link(coll)
bpy.ops.mesh.primitive_plane_add(size=6)
plane = bpy.context.active_object
plane.data.materials.append(mat)
for c in plane.users_collection:
    c.objects.unlink(plane)
coll.objects.link(plane)
bpy.ops.wm.save_as_mainfile(filepath=P["lib"], relative_remap=False, compress=False)
print("LIB_OK", flush=True)
`

// shotScript builds P["blend"]: a 64x36 Cycles still (4 samples, every
// setting the grid pins pinned the same way) that links the collection
// "Props" from P["lib"] by a relative path and shows it through an
// instance, with a cube of its own.
const shotScript = `
import bpy, json, os, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
os.makedirs(os.path.dirname(P["blend"]), exist_ok=True)
bpy.ops.wm.save_as_mainfile(filepath=P["blend"])
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
s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage = 64, 36, 100
s.frame_start = s.frame_end = 1
s.view_settings.view_transform = 'Standard'
world = bpy.data.worlds.new("World")
world.color = (0.02, 0.02, 0.02)
s.world = world
with bpy.data.libraries.load(P["lib"], link=True, relative=True) as (src, dst):
    dst.collections = ["Props"]
inst = bpy.data.objects.new("PropsInstance", None)
inst.instance_type = 'COLLECTION'
inst.instance_collection = dst.collections[0]
s.collection.objects.link(inst)
bpy.ops.mesh.primitive_cube_add(size=0.8, location=(0.5, 0, 0.4))
bpy.ops.object.light_add(type='SUN', location=(2, -2, 5))
bpy.ops.object.camera_add(location=(0, 0, 6), rotation=(0, 0, 0))
cam = bpy.context.active_object
cam.data.type = 'ORTHO'
cam.data.ortho_scale = 4
s.camera = cam
print("LIBRARY " + bpy.data.libraries[0].filepath, flush=True)
bpy.ops.wm.save_as_mainfile(filepath=P["blend"], relative_remap=False, compress=False)
print("SHOT_OK", flush=True)
`

// makeProject lays out project/lib/props.blend (with lib/tex/wood.png
// beside it) and project/shots/shot.blend linking its collection by
// "//../lib/props.blend"; it returns the shot.
func makeProject(t *testing.T, project string) string {
	t.Helper()
	tex := filepath.Join(project, "lib", "tex", "wood.png")
	if err := rendertest.WriteChecker(tex, texOrange, texTeal); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(project, "lib", "props.blend")
	shot := filepath.Join(project, "shots", "shot.blend")
	runBlender(t, nil, 2*time.Minute, "LIB_OK", "--python-expr", propsScript, "--", jsonArg(map[string]any{"lib": lib, "tex": tex}))
	out := runBlender(t, nil, 2*time.Minute, "SHOT_OK", "--python-expr", shotScript, "--", jsonArg(map[string]any{"lib": lib, "blend": shot}))
	if !strings.Contains(out, "LIBRARY //../lib/props.blend") {
		t.Fatalf("the shot does not link the library by //../lib/props.blend:\n%s", tail(out, 10))
	}
	return shot
}

// A studio's shot in project/shots/ linking a collection from
// ../lib/props.blend, whose texture sits beside the library: published
// alone it is refused in one line naming the library; published with
// --root project it renders on two volunteers with the library's texture,
// equal to Blender run directly in the project. A file outside the root
// is still refused, named.
func TestProjectRootPacksLinkedLibraries(t *testing.T) {
	requireBlender(t)
	base := t.TempDir()
	project := filepath.Join(base, "project")
	shot := makeProject(t, project)

	pub, _ := swarm(t, 2)

	r := run(t, pub.home, 2*time.Minute, "publish", shot, "--renderer", "blender")
	if r.code != 1 || !strings.Contains(r.stderr, "../lib/props.blend") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("publishing the shot without --root: exit %d, %q; want one line naming ../lib/props.blend", r.code, r.stderr)
	}
	// With the root at shots/, the library is still outside.
	r = run(t, pub.home, 2*time.Minute, "publish", shot, "--renderer", "blender", "--root", filepath.Join(project, "shots"))
	if r.code != 1 || !strings.Contains(r.stderr, "props.blend") || !strings.Contains(r.stderr, "outside the project root") {
		t.Errorf("publishing with a root that leaves the library out: exit %d, %q", r.code, r.stderr)
	}

	waitVolunteers(t, pub, 2)
	start := time.Now()
	out := mustRun(t, pub.home, 2*time.Minute, "publish", shot, "--renderer", "blender", "--root", project, "--replicas", "2")
	id := lastLine(out)
	waitCompleted(t, pub.home, id, start, 4*time.Minute)
	grid := t.TempDir()
	mustRun(t, pub.home, time.Minute, "fetch", id, "-o", grid)

	// Blender run directly on the shot, in the project.
	direct := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "blender", "-b", "--factory-startup", "--disable-autoexec", shot,
		"-o", filepath.Join(direct, "frame_####"), "-F", "PNG", "-f", "1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("blender directly: %v\n%s", err, tail(string(b), 20))
	}
	img := samePixels(t, filepath.Join(grid, frameName(1)), filepath.Join(direct, frameName(1)), "the grid's frame vs Blender run directly in the project")
	n := img.Bounds().Dx() * img.Bounds().Dy()
	if a, b := countNear(img, texOrange, 8), countNear(img, texTeal, 8); a < n/5 || b < n/5 {
		t.Errorf("the linked plane does not show the library's texture: %d orange, %d teal of %d pixels", a, b, n)
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// waitCompleted waits (bounded) for a job to complete.
func waitCompleted(t *testing.T, home, id string, start time.Time, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := mustRun(t, home, 20*time.Second, "status", id, "--json")
		switch {
		case strings.Contains(out, `"state": "completed"`):
			t.Logf("job completed in %v", time.Since(start).Round(100*time.Millisecond))
			return
		case strings.Contains(out, `"state": "failed"`), strings.Contains(out, `"state": "canceled"`), time.Now().After(deadline):
			t.Fatalf("job %s, waiting for completion:\n%s", id, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
