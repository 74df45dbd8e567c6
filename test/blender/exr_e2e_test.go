package blender

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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

// tamperingBlender is a "blender" that runs the real one and, whenever
// the renderswarm script says a frame is done, flips a byte near the end
// of the OpenEXR it just wrote, before the volunteer reads it: a volunteer
// whose PNGs are honest and whose EXRs are not, committed as they are.
const tamperingBlender = `#!/usr/bin/python3
import os, re, subprocess, sys
p = subprocess.Popen([%q] + sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
for line in iter(p.stdout.readline, b""):
    if re.match(rb"RENDERSWARM_[0-9a-f]+_DONE", line) and os.path.exists("frame.exr"):
        with open("frame.exr", "r+b") as f:
            f.seek(-8, os.SEEK_END)
            b = f.read(1)
            f.seek(-8, os.SEEK_END)
            f.write(bytes([b[0] ^ 0xFF]))
    sys.stdout.buffer.write(line)
    sys.stdout.flush()
sys.exit(p.wait())
`

// A volunteer that changes its EXRs (not its PNGs) before committing: the
// job completes on its PNGs, and the publisher's status reports, for every
// frame, that the replicas' EXRs differ, naming the volunteers.
func TestBlenderTamperedEXRIsReported(t *testing.T) {
	requireBlender(t)
	real, err := exec.LookPath("blender")
	if err != nil {
		t.Fatal(err)
	}
	wrapDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(wrapDir, "blender"), []byte(fmt.Sprintf(tamperingBlender, real)), 0o755); err != nil {
		t.Fatal(err)
	}
	blend := makeScene(t, t.TempDir())
	pub := startNode(t, "--no-volunteer")
	honest := startNode(t, "--bootstrap", pub.tcpAddr(), "--cpus", "1")
	cheat := startNodeEnv(t, []string{"PATH=" + wrapDir + ":" + os.Getenv("PATH")}, "--bootstrap", pub.tcpAddr(), "--cpus", "1")
	waitVolunteers(t, pub, 2)
	start := time.Now()
	id := lastLine(mustRun(t, pub.home, 2*time.Minute, "publish", blend, "--renderer", "blender",
		"--frames", "1-2", "--replicas", "2", "--extra", "exr"))
	waitCompleted(t, pub.home, id, start, 4*time.Minute)
	var st struct {
		Errors []struct {
			Frame  int    `json:"frame"`
			Peer   string `json:"peer"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	out := mustRun(t, pub.home, 20*time.Second, "status", id, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for f := 1; f <= 2; f++ {
		found := false
		for _, e := range st.Errors {
			named := strings.Contains(e.Peer+" "+e.Reason, cheat.id) && strings.Contains(e.Peer+" "+e.Reason, honest.id)
			found = found || e.Frame == f && strings.Contains(e.Reason, "exr differs") && named
		}
		if !found {
			t.Errorf("frame %d: the tampered EXR was not reported: %s", f, out)
		}
	}
}
