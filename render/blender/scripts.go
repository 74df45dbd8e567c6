package blender

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// The Python run inside Blender. It is the only Python that ever runs:
// Blender starts with --factory-startup --disable-autoexec, so scripts
// stored in a .blend file (registered text blocks, drivers) do not run.
// Parameters arrive as one JSON argument after "--" (Blender ignores
// everything after it); results come back as single stdout lines starting
// with a marker, so Blender's own chatter can be told apart.

// markers are the prefixes of the lines the scripts print. Each run gets
// its own random token, so a line Blender prints about the scene (an object
// name may hold a newline) cannot pass for one.
type markers struct {
	info  string // Inspect: JSON sceneJSON
	err   string // JSON string: the scene is unusable
	fail  string // JSON string: Blender failed to render
	done  string // Render: the frame was written
	ready string // serving: the scene is loaded, tasks may come
}

func newMarkers() markers {
	var b [8]byte
	rand.Read(b[:])
	p := "RENDERSWARM_" + hex.EncodeToString(b[:]) + "_"
	return markers{info: p + "INFO ", err: p + "ERROR ", fail: p + "FAIL ", done: p + "DONE", ready: p + "READY"}
}

func (m markers) inspectScript() string {
	return fmt.Sprintf(pyCommon, m.err, exitSceneError) + fmt.Sprintf(pyInspect, m.info)
}

func (m markers) renderScript() string {
	return fmt.Sprintf(pyCommon, m.err, exitSceneError) + fmt.Sprintf(pyRenderTask, m.fail, exitRenderError) +
		fmt.Sprintf("\nrender_task(P)\nprint(%q, flush=True)\n", m.done)
}

// serveScript keeps Blender running with the scene loaded: it prints the
// ready marker, then renders one task per JSON line on stdin (the render
// script's parameters plus "id") and answers each with the done marker
// and {"id", "cpu"}: the processor seconds the task took (Cycles renders
// in Blender's own threads, so process_time counts them all). It exits
// when stdin closes.
func (m markers) serveScript() string {
	return fmt.Sprintf(pyCommon, m.err, exitSceneError) + fmt.Sprintf(pyRenderTask, m.fail, exitRenderError) +
		fmt.Sprintf(pyServe, m.ready, m.done)
}

// pyRenderTask is pyRender as a function of its parameters, so a
// long-lived Blender renders one task after another.
var pyRenderTask = "def render_task(P):\n" + indent(pyRender)

func indent(code string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(code, "\n"), "\n") {
		if l != "" {
			b.WriteString("    ")
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

const pyServe = `
import time
print(%q, flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    line = line.strip()
    if not line:
        continue
    Q = json.loads(line)
    t0 = time.process_time()
    render_task(Q)
    print(%q + json.dumps({"id": Q["id"], "cpu": time.process_time() - t0}), flush=True)
`

// Exit codes of a script that printed markError or markFail.
const (
	exitSceneError  = 3
	exitRenderError = 5
)

// pyCommon loads the parameters, checks that Blender really opened the
// requested file (if it cannot read it, Blender carries on with its factory
// scene, which must never be rendered instead) and collects the external
// files the scene uses.
const pyCommon = `
import bpy, json, os, re, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])

def fail(msg):
    print(%q + json.dumps(msg), flush=True)
    sys.stdout.flush()
    os._exit(%d)

if not bpy.data.filepath or os.path.realpath(bpy.data.filepath) != os.path.realpath(P["blend"]):
    fail("Blender could not read " + P["blend"] + " as a .blend file")

def deps():
    """External files the scene uses, as [kind, name, raw path, absolute path]."""
    out = []
    def add(kind, idb, fp, lib):
        if fp:
            out.append([kind, getattr(idb, "name_full", idb.name), fp, bpy.path.abspath(fp, library=lib)])
    def add_sequence(kind, idb, fp, lib):
        """Every file of the numbered sequence fp belongs to: the same name
        with any number in place of its last run of digits."""
        add(kind, idb, fp, lib)
        ab = bpy.path.abspath(fp, library=lib)
        d, base = os.path.split(ab)
        m = re.match(r"^(.*?)(\d+)(\D*)$", base)
        if not m or not os.path.isdir(d):
            return
        pat = re.compile("^" + re.escape(m.group(1)) + r"\d+" + re.escape(m.group(3)) + "$")
        rd = os.path.dirname(fp)
        for name in sorted(os.listdir(d)):
            if name != base and pat.match(name):
                add(kind, idb, rd + "/" + name, lib)
    for im in bpy.data.images:
        if im.source not in {'FILE', 'SEQUENCE', 'MOVIE', 'TILED'} or im.packed_file:
            continue
        fp = im.filepath
        if im.source == 'SEQUENCE':
            add_sequence("image sequence", im, fp, im.library)
        elif im.source == 'TILED' and ('<UDIM>' in fp or '<UVTILE>' in fp):
            for t in im.tiles:
                n = t.number
                uv = "u%%d_v%%d" %% ((n - 1001) %% 10 + 1, (n - 1001) // 10 + 1)
                add("image", im, fp.replace('<UDIM>', str(n)).replace('<UVTILE>', uv), im.library)
        else:
            add("image", im, fp, im.library)
    for lib in bpy.data.libraries:
        if not lib.packed_file:
            add("library", lib, lib.filepath, getattr(lib, "parent", None))
    for f in bpy.data.fonts:
        if f.filepath != "<builtin>" and not f.packed_file:
            add("font", f, f.filepath, f.library)
    for s in bpy.data.sounds:
        if not s.packed_file:
            add("sound", s, s.filepath, s.library)
    for c in bpy.data.movieclips:
        add("movie clip", c, c.filepath, c.library)
    for c in bpy.data.cache_files:
        add("cache file", c, c.filepath, c.library)
    for v in getattr(bpy.data, "volumes", []):
        if not v.packed_file:
            if getattr(v, "is_sequence", False):
                add_sequence("volume sequence", v, v.filepath, v.library)
            else:
                add("volume", v, v.filepath, v.library)
    trees = [(i, i.node_tree) for coll in (bpy.data.materials, bpy.data.worlds, bpy.data.lights)
             for i in coll if getattr(i, "node_tree", None) is not None]
    trees += [(g, g) for g in bpy.data.node_groups]
    for idb, tree in trees:
        for n in tree.nodes:
            if n.bl_idname == 'ShaderNodeScript' and n.mode == 'EXTERNAL' and n.filepath:
                add("OSL script", idb, n.filepath, idb.library)
    for sc in bpy.data.scenes:
        ed = sc.sequence_editor
        if ed is None:
            continue
        for st in ed.sequences_all:
            if st.type == 'IMAGE':
                for el in st.elements:
                    add("sequencer strip", st, os.path.join(st.directory, el.filename), sc.library)
            elif st.type == 'MOVIE':
                add("sequencer strip", st, st.filepath, sc.library)
    return out

scene = bpy.context.scene
engine = scene.render.engine
`

// pyInspect prints the scene's defaults and dependencies.
const pyInspect = `
r = scene.render
print(%q + json.dumps({
    "frame_start": scene.frame_start,
    "frame_end": scene.frame_end,
    "width": r.resolution_x * r.resolution_percentage // 100,
    "height": r.resolution_y * r.resolution_percentage // 100,
    "samples": scene.cycles.samples if engine == 'CYCLES' else 0,
    "engine": engine,
    "deps": deps(),
}), flush=True)
`

// pyRender pins every setting that makes the output reproducible and
// renders one frame (or a border region) to P["out"] + ".png".
const pyRender = `
if engine not in ('CYCLES', 'BLENDER_EEVEE', 'BLENDER_EEVEE_NEXT'):
    fail("render engine %%s is not supported (want Cycles or Eevee)" %% engine)

root = os.path.realpath(P["scene_dir"])
for kind, name, raw, ab in deps():
    shown = "%%s %%r (%%s)" %% (kind, name, raw)
    if not raw.startswith("//"):
        fail(shown + ": absolute path; make paths relative to the .blend file")
    real = os.path.realpath(ab)
    if os.path.commonpath([real, root]) != root:
        fail(shown + ": outside the scene directory")
    if not os.path.exists(real):
        fail(shown + ": file not found")

def pin(obj, attr, value):
    if obj is not None and hasattr(obj, attr):
        setattr(obj, attr, value)

r = scene.render
r.resolution_x = P["width"]
r.resolution_y = P["height"]
r.resolution_percentage = 100
r.dither_intensity = 0.0
r.threads_mode = 'FIXED'
r.threads = P["threads"]
r.use_stamp = False
if P.get("extras"):
    # Stamp metadata that differs between honest renders (date, file
    # path, render time) is captured when rendering: leave it out, so the
    # extra files of the same pixels are the same bytes.
    for a in dir(r):
        if a.startswith("use_stamp_"):
            try:
                setattr(r, a, False)
            except (AttributeError, TypeError):
                pass
pin(r, "use_multiview", False)
pin(r, "use_persistent_data", False)
b = P.get("border")
r.use_border = b is not None
r.use_crop_to_border = True
if b is not None:
    r.border_min_x, r.border_max_x, r.border_min_y, r.border_max_y = b
im = r.image_settings
im.file_format = 'PNG'
im.color_mode = 'RGBA'
im.color_depth = '8'
im.compression = 15
r.use_file_extension = True
pin(r, "use_overwrite", True)
pin(r, "use_placeholder", False)
r.filepath = P["out"]

if engine == 'CYCLES':
    c = scene.cycles
    c.device = 'CPU'
    if P["samples"] > 0:
        c.samples = P["samples"]
    c.seed = P["seed"]
    c.use_animated_seed = False
    pin(c, "use_adaptive_sampling", False)
    pin(c, "time_limit", 0.0)
    pin(c, "use_denoising", False)
    for vl in scene.view_layers:
        pin(getattr(vl, "cycles", None), "use_denoising", False)
        pin(vl, "use_denoising", False)
elif P["samples"] > 0:
    pin(scene.eevee, "taa_render_samples", P["samples"])

# The compositor must neither write files elsewhere nor run a denoiser.
if scene.node_tree is not None:
    for n in scene.node_tree.nodes:
        if n.bl_idname in ('CompositorNodeOutputFile', 'CompositorNodeDenoise'):
            n.mute = True

scene.frame_set(P["frame"])
try:
    bpy.ops.render.render(write_still=True)
except RuntimeError as e:
    msg = str(e).strip()
    if "camera" in msg.lower():  # "No camera found in scene"
        fail(msg)
    print(%q + json.dumps(msg), flush=True)  # e.g. out of memory or disk
    sys.stdout.flush()
    os._exit(%d)
# Extra outputs ride along with the verified PNG: the same render result,
# saved again in another format (OpenEXR: half float, RGBA, ZIP).
for ext in P.get("extras", []):
    if ext == "exr":
        im.file_format = 'OPEN_EXR'
        im.color_mode = 'RGBA'
        im.color_depth = '16'
        im.exr_codec = 'ZIP'
        bpy.data.images['Render Result'].save_render(P["out"] + ".exr", scene=scene)
`
