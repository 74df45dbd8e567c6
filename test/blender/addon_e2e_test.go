package blender

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// driverScript drives the installed add-on in a headless Blender as an
// artist would: it enables it from the user's add-on folder, draws the
// panel (through the add-on's check operator), edits the scene, publishes
// (the add-on saves first), pauses and resumes the job with the panel's
// operator, and then lets the add-on's timer function run until every
// frame is verified and written to the scene's output path. Background
// Blender runs no timers, so the script calls the timer's function itself
// at the timer's interval.
const driverScript = `
import addon_utils, bpy, json, os, sys, time
P = json.loads(sys.argv[sys.argv.index("--") + 1])

def fail(msg):
    print("DRIVER_FAIL " + msg, flush=True)
    os._exit(1)

errs = []
mod = addon_utils.enable("renderswarm_addon", default_set=True, handle_error=lambda e: errs.append(repr(e)))
if mod is None or errs:
    fail("enabling the add-on: %r" % errs)
if not os.path.realpath(mod.__file__).startswith(os.path.realpath(P["addons"]) + os.sep):
    fail("the add-on was loaded from %s, not the installed copy" % mod.__file__)
w = mod.watch

def draw(what):
    if bpy.ops.renderswarm.check_draw() != {'FINISHED'}:
        fail("the panel's draw code failed " + what)

w.refresh_node(force=True)
if P.get("expect_no_node"):
    draw("without a node")
    print("NODE_MESSAGE " + json.dumps(w.node_info.message), flush=True)
    if w.node_info.ok:
        fail("found a node where none runs")
    try:
        bpy.ops.renderswarm.publish()
        fail("publishing without a node did not refuse")
    except RuntimeError as e:  # an operator's error report, in background mode
        print("PUBLISH_REFUSED " + json.dumps(str(e)), flush=True)
    print("DRIVER_OK", flush=True)
    sys.exit(0)
if not w.node_info.ok:
    fail("the add-on found no node: " + w.node_info.message)
draw("before publishing")

s = bpy.context.scene
s.renderswarm.replicas = 2
s.renderswarm.extra_exr = True
# An unsaved edit the grid must render: the add-on saves before publishing.
s.camera.data.ortho_scale = 4.5
bpy.ops.ed.undo_push(message="zoom")
if not bpy.data.is_dirty:
    fail("the edit did not make the file dirty; the test would prove nothing")
if bpy.ops.renderswarm.publish() != {'FINISHED'}:
    fail("publish operator failed")

deadline = time.monotonic() + P["timeout"]
paused = resumed = False
while time.monotonic() < deadline:
    w.tick()
    job = s.renderswarm.job_id
    err = w.publish_errors.get(s.name)
    if err:
        fail("publishing: " + err)
    v = w.jobs.get(job) if job else None
    if v is not None and v.error:
        fail("watching: " + v.error)
    st = v.status if v else None
    if st and not paused:
        draw("with a job")
        if bpy.ops.renderswarm.control(action='pause') != {'FINISHED'} or v.status["state"] != "paused":
            fail("pause: %r" % (v.status,))
        paused = True
        continue
    if paused and not resumed:
        if bpy.ops.renderswarm.control(action='resume') != {'FINISHED'} or v.status["state"] == "paused":
            fail("resume: %r" % (v.status,))
        resumed = True
    if st and st["state"] in ("failed", "canceled"):
        fail("job %s: %r" % (st["state"], st))
    if job and w.all_fetched(s):
        break
    time.sleep(w.INTERVAL)
else:
    fail("not every frame was fetched in time: %r" % (w.jobs,))

v = w.jobs[s.renderswarm.job_id]
if not v.thumb_icon and not bpy.app.background:
    fail("no thumbnail")
draw("after the job completed")
print("DRIVER_RESULT " + json.dumps({
    "job": s.renderswarm.job_id,
    "files": {str(f): v.outputs[f] for f in sorted(v.fetched)},
    "thumb_frame": v.thumb_frame,
    "state": v.status["state"],
}), flush=True)
print("DRIVER_OK", flush=True)
`

// The add-on, installed from the repository with `renderswarm blender
// install-addon` into the user's add-on folder Blender reports, publishes a
// generated .blend from a headless Blender (saving an unsaved edit
// first), pauses and resumes it, and writes every verified frame into the
// scene's output path; the job completes on two volunteers, and the frames
// equal `renderswarm render` of the saved file pixel for pixel. The panel
// draws without errors before, during and after the job, and says so
// plainly when no node runs.
func TestAddonPublishesWatchesAndFetches(t *testing.T) {
	requireBlender(t)
	userScripts := t.TempDir()
	env := []string{"BLENDER_USER_SCRIPTS=" + userScripts}

	// Installed the way a user installs it: Blender is asked where.
	out := mustRunEnv(t, env, "blender", "install-addon")
	addons := filepath.Join(userScripts, "addons")
	if !strings.Contains(out, filepath.Join(addons, "renderswarm_addon")) {
		t.Fatalf("install-addon says %q, want it installed under %s", out, addons)
	}

	scene := t.TempDir()
	blend := makeScene(t, scene)
	before, err := os.Stat(blend)
	if err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join(t.TempDir(), "driver.py")
	if err := os.WriteFile(driver, []byte(driverScript), 0o644); err != nil {
		t.Fatal(err)
	}

	// No node: a clear message, and publishing refuses with it.
	noNode := t.TempDir()
	res := runBlender(t, append(env, "RENDERSWARM_HOME="+noNode), 2*time.Minute, "DRIVER_OK",
		blend, "--python", driver, "--", jsonArg(map[string]any{"addons": addons, "expect_no_node": true}))
	for _, marker := range []string{"NODE_MESSAGE", "PUBLISH_REFUSED"} {
		if !hasLine(res, marker, "no renderswarm node is running on "+noNode) {
			t.Errorf("without a node the add-on does not say so plainly (%s):\n%s", marker, tail(res, 20))
		}
	}

	pub, vs := swarm(t, 2)
	waitVolunteers(t, pub, 2)

	start := time.Now()
	res = runBlender(t, append(env, "RENDERSWARM_HOME="+pub.home), 5*time.Minute, "DRIVER_OK",
		blend, "--python", driver, "--", jsonArg(map[string]any{"addons": addons, "timeout": 240}))
	t.Logf("publish to every frame fetched, from Blender: %v", time.Since(start).Round(100*time.Millisecond))
	var got struct {
		Job        string              `json:"job"`
		Files      map[string][]string `json:"files"`
		ThumbFrame int                 `json:"thumb_frame"`
		State      string              `json:"state"`
	}
	for _, l := range strings.Split(res, "\n") {
		if rest, ok := strings.CutPrefix(l, "DRIVER_RESULT "); ok {
			if err := json.Unmarshal([]byte(rest), &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got.State != "completed" || len(got.Files) != 3 {
		t.Fatalf("the add-on reports %+v, want a completed job with 3 frames written", got)
	}
	if after, err := os.Stat(blend); err != nil || !after.ModTime().After(before.ModTime()) {
		t.Errorf("the add-on did not save the edited .blend before publishing (%v)", err)
	}
	st := mustRun(t, pub.home, 20*time.Second, "status", got.Job, "--json")
	if !strings.Contains(st, `"verified": 3`) {
		t.Errorf("the publisher's status of the add-on's job: %s", st)
	}

	t.Logf("the add-on reports %+v", got)
	for _, v := range vs {
		waitEarned(t, v)
	}

	local := renderLocal(t, blend, "--renderer", "blender")
	for f := 1; f <= 3; f++ {
		want := filepath.Join(scene, "render", "shot_"+frameName(f)[len("frame_"):])
		files := got.Files[itoa(f)]
		if len(files) == 0 || files[0] != want {
			t.Errorf("frame %d written to %v, want the scene's output path %s", f, files, want)
			continue
		}
		exr := strings.TrimSuffix(want, ".png") + ".exr"
		if len(files) != 2 || files[1] != exr {
			t.Errorf("frame %d: the add-on wrote %v, want its OpenEXR %s too", f, files, exr)
		} else if b, err := os.ReadFile(exr); err != nil || !strings.HasPrefix(string(b), "\x76\x2f\x31\x01") {
			t.Errorf("frame %d: %s is not an OpenEXR file (%v)", f, exr, err)
		}
		img := samePixels(t, want, filepath.Join(local, frameName(f)), "frame "+itoa(f)+" fetched by the add-on vs renderswarm render")
		if countNear(img, texOrange, 8) == 0 {
			t.Errorf("frame %d from the add-on shows no texture", f)
		}
	}
}

// mustRunEnv runs the CLI with env added to the test's environment.
func mustRunEnv(t *testing.T, env []string, args ...string) string {
	t.Helper()
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	return mustRun(t, t.TempDir(), 2*time.Minute, args...)
}

func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

// countNear counts pixels within tol (per channel) of c.
func countNear(img *image.NRGBA, c color.NRGBA, tol int) int {
	n := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		ok := true
		for k, v := range []uint8{c.R, c.G, c.B} {
			if d := int(img.Pix[i+k]) - int(v); d < -tol || d > tol {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// hasLine reports whether a line of out starts with prefix and holds part.
func hasLine(out, prefix, part string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// waitEarned waits (bounded) until volunteer v holds credit for work.
func waitEarned(t *testing.T, v *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var c struct{ Earned float64 }
		json.Unmarshal([]byte(mustRun(t, v.home, 20*time.Second, "credits", "--json")), &c)
		if c.Earned > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volunteer %s earned nothing for the add-on's job within 30s", v.id)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
