package blender

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxBoundaries runs a shell with the sandbox's mounts: the scene
// directory is read-only, the work directory writable, the rest of the
// scene's parent (standing in for the node's home) invisible, and the only
// network interface is loopback.
func TestSandboxBoundaries(t *testing.T) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("bubblewrap is not installed")
	}
	if out, err := exec.Command(bw, "--unshare-all", "--ro-bind", "/", "/", "true").CombinedOutput(); err != nil {
		t.Skipf("bubblewrap does not work here: %v %s", err, out)
	}
	home := t.TempDir()
	scene := filepath.Join(home, "scene")
	work := filepath.Join(home, "out", "work")
	secret := filepath.Join(home, "secret")
	for _, d := range []string{scene, work} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(secret, []byte("key"), 0o600)
	os.WriteFile(filepath.Join(scene, "s.blend"), []byte("x"), 0o644)
	script := strings.Join([]string{
		"cat " + filepath.Join(scene, "s.blend"),
		"touch " + filepath.Join(scene, "new") + " 2>/dev/null && echo SCENE_WRITABLE",
		"touch " + filepath.Join(work, "ok") + " && echo WORK_WRITABLE",
		"cat " + secret + " 2>/dev/null && echo SECRET_VISIBLE",
		"grep -c : /proc/net/dev",
	}, "; ")
	args := append(bwrapArgs("/bin/sh", runSpec{sceneDir: scene, work: work}), "-c", script)
	out, err := exec.Command(bw, args...).CombinedOutput()
	got := string(out)
	t.Logf("sandboxed shell said:\n%s", got)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if !strings.HasPrefix(got, "x") || !strings.Contains(got, "WORK_WRITABLE") ||
		strings.Contains(got, "SCENE_WRITABLE") || strings.Contains(got, "SECRET_VISIBLE") ||
		!strings.HasSuffix(strings.TrimSpace(got), "\n1") {
		t.Errorf("sandbox boundaries wrong:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(work, "ok")); err != nil {
		t.Error("the work directory write did not reach the host")
	}
}
