package blender

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openEXRScript loads every P["files"] in Blender and prints its size.
const openEXRScript = `
import bpy, json, sys
P = json.loads(sys.argv[sys.argv.index("--") + 1])
for f in P["files"]:
    im = bpy.data.images.load(f)
    w, h = im.size
    px = list(im.pixels[:])
    print("EXR %s %dx%d float=%s max=%.3f" % (f, w, h, im.is_float, max(px)), flush=True)
print("EXR_OK", flush=True)
`

// A Blender job with an extra OpenEXR output, rendered on two volunteers:
// every frame's EXR is fetched beside its PNG, opens in Blender at the
// frame's size with float pixels, and fetch says which files were
// verified pixel by pixel and which rode along. The two volunteers' EXRs
// are byte for byte the same (the publisher compares them).
func TestBlenderExtraEXROutput(t *testing.T) {
	requireBlender(t)
	blend := makeScene(t, t.TempDir())
	pub, _ := swarm(t, 2)
	waitVolunteers(t, pub, 2)
	start := time.Now()
	id := lastLine(mustRun(t, pub.home, 2*time.Minute, "publish", blend, "--renderer", "blender",
		"--frames", "1-2", "--replicas", "2", "--extra", "exr"))
	waitCompleted(t, pub.home, id, start, 4*time.Minute)
	// Two honest volunteers on one machine deliver the same EXR bytes:
	// the publisher does not report them as differing.
	if st := mustRun(t, pub.home, 20*time.Second, "status", id, "--json"); strings.Contains(st, "differs") {
		t.Errorf("honest replicas' EXRs reported as differing:\n%s", st)
	}
	out := t.TempDir()
	said := mustRun(t, pub.home, time.Minute, "fetch", id, "-o", out)
	if !strings.Contains(said, "verified pixel by pixel: the PNGs") || !strings.Contains(said, "frame_0001.exr") {
		t.Errorf("fetch does not tell what was verified and what rode along: %q", said)
	}
	var files []string
	for f := 1; f <= 2; f++ {
		p := filepath.Join(out, fmt.Sprintf("frame_%04d.exr", f))
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("frame %d: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(out, frameName(f))); err != nil {
			t.Fatalf("frame %d: %v", f, err)
		}
		files = append(files, p)
	}
	res := runBlender(t, nil, 2*time.Minute, "EXR_OK", "--python-expr", openEXRScript, "--", jsonArg(map[string]any{"files": files}))
	for _, f := range files {
		if !hasLine(res, "EXR "+f+" 64x36 float=True", "max=") {
			t.Errorf("%s did not open in Blender as a 64x36 float image:\n%s", f, tail(res, 10))
		}
	}
	if strings.Contains(res, "max=0.000") {
		t.Errorf("an EXR is black:\n%s", tail(res, 10))
	}
}
