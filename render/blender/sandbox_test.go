package blender

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renderswarm/renderswarm/render/rendertest"
)

// TestSandboxBoundaries runs a shell with the sandbox's mounts: the scene
// directory is read-only, the work directory writable, the rest of the
// scene's parent (standing in for the node's home), /etc beyond the
// loader's files, /opt, the sandbox's root and /tmp invisible or
// read-only, and the only network interface is loopback.
func TestSandboxBoundaries(t *testing.T) {
	requireBlender(t)
	b := New()
	rendertest.RequireSandbox(t, b)
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
		"touch /tmp/x /x 2>/dev/null && echo TMP_WRITABLE",
		"ls /etc/passwd /etc/hostname /etc/ssl 2>/dev/null && echo ETC_VISIBLE",
		"ls -d /opt /home /root /var 2>/dev/null && echo OTHER_VISIBLE",
		"grep -c : /proc/net/dev",
	}, "; ")
	bw, _ := exec.LookPath("bwrap")
	argv := append(sandbox("/bin/sh", runSpec{sceneDir: scene, work: work}).Args(bw), "/bin/sh", "-c", script)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	got := string(out)
	t.Logf("sandboxed shell said:\n%s", got)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, bad := range []string{"SCENE_WRITABLE", "SECRET_VISIBLE", "TMP_WRITABLE", "ETC_VISIBLE", "OTHER_VISIBLE"} {
		if strings.Contains(got, bad) {
			t.Errorf("sandbox boundaries wrong: %s", bad)
		}
	}
	if !strings.HasPrefix(got, "x") || !strings.Contains(got, "WORK_WRITABLE") || !strings.HasSuffix(strings.TrimSpace(got), "\n1") {
		t.Errorf("sandbox boundaries wrong:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(work, "ok")); err != nil {
		t.Error("the work directory write did not reach the host")
	}
}
