package test

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireRenderer skips t when the renderer program is not on PATH or
// bubblewrap, which strangers' renders need, is missing or cannot create
// its namespaces here, unless RENDERSWARM_REQUIRE_RENDERERS=1, when it
// fails. It also skips under -short: these tests run real renderers in
// several node processes.
func requireRenderer(t *testing.T, name string) string {
	t.Helper()
	skipIfShort(t)
	require := os.Getenv("RENDERSWARM_REQUIRE_RENDERERS") == "1"
	var path string
	for _, prog := range []string{name, "bwrap"} {
		p, err := exec.LookPath(prog)
		if err != nil {
			if require {
				t.Fatalf("%s is required (RENDERSWARM_REQUIRE_RENDERERS=1) but not on PATH: %v", prog, err)
			}
			t.Skipf("%s is not on PATH (apt-get install blender povray povray-examples bubblewrap); set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead", prog)
		}
		if prog == name {
			path = p
		}
	}
	if out, err := exec.Command("bwrap", "--unshare-all", "--ro-bind", "/", "/", "true").CombinedOutput(); err != nil {
		if require {
			t.Fatalf("bubblewrap cannot create its sandbox here and RENDERSWARM_REQUIRE_RENDERERS=1: %v %s", err, out)
		}
		t.Skipf("bubblewrap cannot create its sandbox here (%v %s), so volunteers render no stranger's %s scene; set RENDERSWARM_REQUIRE_RENDERERS=1 to fail instead", err, out, name)
	}
	return path
}

// taskError is one entry of `status --json`'s errors.
type taskError struct {
	Frame  int    `json:"frame"`
	Tile   int    `json:"tile"`
	Peer   string `json:"peer"`
	Reason string `json:"reason"`
}

// fullStatus is `status --json` with the failed renders.
type fullStatus struct {
	jobStatus
	Renderer string      `json:"renderer"`
	Errors   []taskError `json:"errors"`
}

func statusWithErrors(t *testing.T, home, id string) fullStatus {
	t.Helper()
	var st fullStatus
	out := mustRun(t, home, 20*time.Second, "status", id, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	return st
}

// publishScene publishes scene with args and returns the job ID.
func publishScene(t *testing.T, home, scene string, args ...string) string {
	t.Helper()
	out := mustRun(t, home, 2*time.Minute, append([]string{"publish", scene}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// waitCompleted waits (bounded) for a job to complete, logs the wall time
// since start, and returns its status.
func waitCompleted(t *testing.T, home, id string, start time.Time, d time.Duration) jobStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	var st jobStatus
	for {
		full := statusWithErrors(t, home, id)
		st = full.jobStatus
		if st.State == "completed" {
			break
		}
		if st.State == "failed" || st.State == "canceled" || time.Now().After(deadline) {
			t.Fatalf("job %s after %v, waiting for completion: %+v; failed renders: %+v",
				st.State, time.Since(start).Round(100*time.Millisecond), st.Frames, full.Errors)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("job %s completed in %v (publish to completed): %+v", id, time.Since(start).Round(100*time.Millisecond), st.Frames)
	return st
}

// waitVolunteers waits (bounded) until pub sees n peers advertising
// renderer.
func waitVolunteers(t *testing.T, pub *proc, n int, renderer string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var peers []struct {
			Renderers []string `json:"renderers"`
		}
		json.Unmarshal([]byte(mustRun(t, pub.home, 20*time.Second, "peers", "--json")), &peers)
		got := 0
		for _, p := range peers {
			if slices.ContainsFunc(p.Renderers, func(r string) bool { return strings.HasPrefix(r, renderer+" ") }) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s %d peers advertise %s, want %d: %+v", got, renderer, n, peers)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// renderLocal runs `renderswarm render` with a fresh home and returns the
// output directory.
func renderLocal(t *testing.T, scene string, args ...string) string {
	t.Helper()
	out := t.TempDir()
	start := time.Now()
	mustRun(t, t.TempDir(), 3*time.Minute, append([]string{"render", scene, "-o", out}, args...)...)
	t.Logf("renderswarm render %s %s: %v", filepath.Base(scene), strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
	return out
}

// fetchJob fetches a job's verified frames into a new directory.
func fetchJob(t *testing.T, home, id string) string {
	t.Helper()
	dir := t.TempDir()
	mustRun(t, home, time.Minute, "fetch", id, "-o", dir)
	return dir
}

func frameName(f int) string { return fmt.Sprintf("frame_%04d.png", f) }

// samePixels fails t unless frame f decodes to the same pixels in dirs a
// and b, and returns a's image.
func samePixels(t *testing.T, a, b string, f int, what string) *image.NRGBA {
	t.Helper()
	ia, ib := decodePixels(t, filepath.Join(a, frameName(f))), decodePixels(t, filepath.Join(b, frameName(f)))
	if ia.Bounds() != ib.Bounds() {
		t.Errorf("frame %d: %s is %v, the other %v", f, what, ia.Bounds(), ib.Bounds())
		return ia
	}
	if diff := countDiff(ia, ib); diff > 0 {
		t.Errorf("frame %d: %s differs in %d of %d pixels", f, what, diff, ia.Bounds().Dx()*ia.Bounds().Dy())
	}
	return ia
}

func countDiff(a, b *image.NRGBA) int {
	n := 0
	for i := 0; i+3 < len(a.Pix); i += 4 {
		if string(a.Pix[i:i+4]) != string(b.Pix[i:i+4]) {
			n++
		}
	}
	return n
}

// countNear counts pixels within tol (per channel) of c.
func countNear(img *image.NRGBA, c color.NRGBA, tol int) int {
	n := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		ok := true
		for k, v := range []uint8{c.R, c.G, c.B} {
			d := int(img.Pix[i+k]) - int(v)
			if d < -tol || d > tol {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
